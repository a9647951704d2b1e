"""Transcript notes' pure rules (issue 16): 24-hour windows from message times, whatever the order the
messages arrived in; windows matched to the notes they already are; the note's text."""

from __future__ import annotations

import datetime as dt
import itertools

from smsdesk.crm import notes
from smsdesk.crm.currencies import is_currency
from smsdesk.models import Message, StatusChange

T0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.UTC)


def at(hours: float) -> str:
    return (T0 + dt.timedelta(hours=hours)).isoformat()


def test_windows_start_at_their_first_message_and_last_under_24_hours() -> None:
    msgs = [(at(0), "a"), (at(3), "b"), (at(23.99), "c"), (at(24), "d"), (at(47), "e"), (at(48.5), "f")]
    assert notes.partition(msgs) == [["a", "b", "c"], ["d", "e"], ["f"]]


def test_windows_do_not_depend_on_arrival_order() -> None:
    msgs = [(at(0), "a"), (at(1), "b"), (at(25), "c"), (at(26), "d"), (at(26), "e")]
    expected = notes.partition(msgs)
    assert expected == [["a", "b"], ["c", "d", "e"]]
    for perm in itertools.permutations(msgs):
        assert notes.partition(perm) == expected


def test_windows_keep_the_notes_they_overlap_most() -> None:
    old = [{"id": "n1", "message_ids": ["a", "b"]}, {"id": "n2", "message_ids": ["c"]}]
    assert [m and m["id"] for m in notes.match([["a", "b", "x"], ["c", "d"], ["z"]], old)] == ["n1", "n2", None]
    assert [m and m["id"] for m in notes.match([["q"]], old)] == [None]


def _msg(mid: str, direction: str, hours: float, text: str, by: str | None = None) -> Message:
    return Message(
        id=mid,
        direction=direction,  # type: ignore[arg-type]
        channel_id="ch",
        to="+31600000000",
        sender="+31611111111" if direction == "inbound" else "+31600000000",
        text=text,
        encoding="GSM-7",
        segments=1,
        credits=0,
        status="received" if direction == "inbound" else "queued",
        history=[StatusChange(status="received" if direction == "inbound" else "queued", at=T0)],
        created_by=by,
        created_at=T0 + dt.timedelta(hours=hours),
        provider="sandbox",
    )


def test_the_note_lists_time_direction_and_sender_in_time_order() -> None:
    msgs = [
        _msg("2", "outbound", 1, "Sure", by="u1"),
        _msg("1", "inbound", 0, "Hi"),
        _msg("3", "outbound", 2, "Auto reply"),
    ]
    text = notes.render(
        msgs, conversation_id="c1", status="open, assigned to Ann", names={"u1": "Ann"}, web_url="https://app.x/"
    )
    assert text.splitlines() == [
        "SMS conversation: https://app.x/inbox/c1",
        "Status: open, assigned to Ann",
        "",
        "2026-11-01 08:00 UTC · in · Customer (+31611111111): Hi",
        "2026-11-01 09:00 UTC · out · Agent Ann: Sure",
        "2026-11-01 10:00 UTC · out · Bot: Auto reply",
    ]


def test_currencies_are_iso_4217() -> None:
    assert is_currency("EUR") and is_currency("USD") and is_currency("JPY")
    assert not is_currency("EUX") and not is_currency("eur")


def test_closed_windows_are_forgotten_by_the_link_but_not_an_open_one() -> None:
    placed = {"a": at(0), "b": at(1), "c": at(8 * 24), "d": at(16 * 24), "e": at(16 * 24 + 1)}
    windows = notes.partition((t, m) for m, t in placed.items())
    assert windows == [["a", "b"], ["c"], ["d", "e"]]
    written = [{"id": "n1", "message_ids": ["a", "b"]}, {"id": "n2", "message_ids": ["c"]}, None]
    link = {"msgs": dict(placed), "note_ids": ["n1", "n2", "f1"], "since": at(0)}
    notes._prune(link, windows, written, {"f1": {"message_ids": ["z"]}})
    assert link["msgs"] == {"d": at(16 * 24), "e": at(16 * 24 + 1)}
    assert link["note_ids"] == [] and link["since"] == at(16 * 24)
    # a window whose note is not written as it is yet, or that is recent, stays (and so does all after it)
    link = {"msgs": dict(placed), "note_ids": ["n1", "n2"], "since": at(0)}
    notes._prune(link, windows, [None, written[1], None], {})
    assert link["msgs"] == placed and link["note_ids"] == ["n1", "n2"]
    recent = {"a": at(0), "c": at(24 * 3)}
    link = {"msgs": dict(recent), "note_ids": ["n1"], "since": at(0)}
    notes._prune(link, [["a"], ["c"]], [{"id": "n1", "message_ids": ["a"]}, None], {})
    assert link["msgs"] == recent
