"""The pure message status rules (smsdesk.sending.status): monotonic, duplicates, multi-part, out of order."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

from smsdesk.models import STATUS_RANK, Message, Receipt, StatusChange
from smsdesk.sending import status

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def msg(state: str = "sent", parts_total: int | None = None) -> Message:
    history = [StatusChange(status="queued", at=T0)]
    for s in ("sending", "sent"):
        if STATUS_RANK[s] <= STATUS_RANK[state]:
            history.append(StatusChange(status=s, at=T0))
    return Message(
        id="m1",
        channel_id="c1",
        to="+31612345678",
        sender="Shop",
        text="hi",
        encoding="GSM-7",
        segments=parts_total or 1,
        credits=parts_total or 1,
        status=state,
        history=history,
        created_at=T0,
        provider="sandbox",
        provider_id="p1",
        parts_total=parts_total,
    )


def rcpt(state: str, raw_id: str, *, part: int | None = None, parts: int | None = None, minute: int = 1) -> Receipt:
    return Receipt(
        provider="sandbox",
        provider_id="p1",
        status=state,
        at=T0 + dt.timedelta(minutes=minute),
        part=part,
        parts=parts,
        raw_id=raw_id,
        error_code="E30003" if state in ("failed", "undelivered") else None,
        error_message="unreachable" if state in ("failed", "undelivered") else None,
    )


def run(
    m: Message, receipts: list[Receipt], state: status.ReceiptState | None = None
) -> tuple[Message, status.ReceiptState]:
    state = state or status.ReceiptState()
    for r in receipts:
        out = status.apply_receipt(m, state, r)
        if out is not None:
            m, state = out.message, out.state
    return m, state


def test_advance_is_monotonic_and_appends_history() -> None:
    m = msg("queued")
    sending = status.advance(m, "sending", T0)
    assert sending is not None and sending.status == "sending"
    assert [h.status for h in sending.history] == ["queued", "sending"]
    assert status.advance(sending, "sending", T0) is None
    assert status.advance(sending, "queued", T0) is None
    delivered = status.advance(sending, "delivered", T0, "ok")
    assert delivered is not None and delivered.history[-1].detail == "ok"
    for later in ("sent", "failed", "undelivered", "delivered"):
        assert status.advance(delivered, later, T0) is None, later


def test_late_sent_never_overwrites_delivered() -> None:
    m, _ = run(msg("sending"), [rcpt("delivered", "a", minute=2), rcpt("sent", "b", minute=1)])
    assert m.status == "delivered"
    assert [h.status for h in m.history] == ["queued", "sending", "delivered"]


def test_first_final_status_wins() -> None:
    m, _ = run(msg(), [rcpt("undelivered", "a"), rcpt("delivered", "b")])
    assert m.status == "undelivered"
    assert m.error is not None and m.error.code == "E30003"


def test_duplicates_change_nothing() -> None:
    m = msg("sending")
    out = status.apply_receipt(m, status.ReceiptState(), rcpt("sent", "a"))
    assert out is not None and out.entered == "sent"
    again = status.apply_receipt(out.message, out.state, rcpt("sent", "a"))
    assert again is None
    # Same raw id, even claiming a different status: still a duplicate.
    assert status.apply_receipt(out.message, out.state, rcpt("delivered", "a")) is None


def test_same_status_new_receipt_is_a_noop() -> None:
    m = msg("sent")
    assert status.apply_receipt(m, status.ReceiptState(), rcpt("sent", "x")) is None


def test_whole_message_delivery_counts_parts() -> None:
    out = status.apply_receipt(msg("sent", parts_total=3), status.ReceiptState(), rcpt("delivered", "a"))
    assert out is not None and out.message.status == "delivered" and out.message.parts_delivered == 3


def test_multipart_delivered_only_when_all_parts_are() -> None:
    m = msg("sent", parts_total=3)
    m, state = run(m, [rcpt("delivered", "p1", part=1, parts=3), rcpt("delivered", "p2", part=2, parts=3)])
    assert m.status == "sent" and m.parts_delivered == 2
    assert state.parts == {1: "delivered", 2: "delivered"}
    m, state = run(m, [rcpt("delivered", "p3", part=3, parts=3)], state)
    assert m.status == "delivered" and m.parts_delivered == 3


def test_multipart_one_failed_part_fails_the_message() -> None:
    m, _ = run(
        msg("sent", parts_total=2),
        [rcpt("delivered", "p1", part=1, parts=2), rcpt("undelivered", "p2", part=2, parts=2)],
    )
    assert m.status == "undelivered" and m.parts_delivered == 1
    m2, _ = run(
        msg("sent", parts_total=3),
        [rcpt("undelivered", "a", part=1, parts=3), rcpt("failed", "b", part=2, parts=3)],
    )
    assert m2.status == "undelivered"  # the first final status wins, later parts cannot change it


def test_combine_parts_rule() -> None:
    assert status.combine_parts({}, 2) is None
    assert status.combine_parts({1: "sent"}, 2) == "sent"
    assert status.combine_parts({1: "delivered"}, 2) == "sent"
    assert status.combine_parts({1: "delivered", 2: "delivered"}, 2) == "delivered"
    assert status.combine_parts({1: "delivered", 2: "failed", 3: "undelivered"}, 3) == "failed"


def test_parts_reported_by_the_receipt_when_unknown() -> None:
    m = msg("sent", parts_total=None)
    m, _ = run(m, [rcpt("delivered", "p1", part=1, parts=2)])
    assert m.parts_total == 2 and m.status == "sent" and m.parts_delivered == 1


def test_a_part_never_goes_back() -> None:
    m = msg("sent", parts_total=2)
    m, state = run(m, [rcpt("delivered", "p1", part=1, parts=2), rcpt("sent", "p1-late", part=1, parts=2)])
    assert state.parts[1] == "delivered"
    assert "p1-late" not in state.seen


def test_final_message_ignores_everything() -> None:
    m = msg("sent")
    failed = status.advance(m, "failed", T0)
    assert failed is not None
    assert status.apply_receipt(failed, status.ReceiptState(), rcpt("delivered", "z")) is None


def test_seen_is_bounded() -> None:
    state = status.ReceiptState(seen=tuple(f"r{i}" for i in range(status.MAX_SEEN)))
    m = msg("sent", parts_total=2)
    out = status.apply_receipt(m, state, rcpt("delivered", "new", part=1, parts=2))
    assert out is not None and len(out.state.seen) == status.MAX_SEEN and out.state.seen[-1] == "new"


MULTI = [
    rcpt("sent", "s1", part=1, parts=2),
    rcpt("sent", "s2", part=2, parts=2),
    rcpt("delivered", "d1", part=1, parts=2),
    rcpt("delivered", "d2", part=2, parts=2),
]


def test_any_order_and_duplication_of_multipart_receipts_ends_delivered() -> None:
    for order in itertools.permutations(MULTI):
        m, _ = run(msg("sent", parts_total=2), [*order, *order[:2]])
        assert m.status == "delivered", [r.raw_id for r in order]
        assert m.parts_delivered == 2
        ranks = [STATUS_RANK[h.status] for h in m.history]
        assert ranks == sorted(ranks) and len(set(h.status for h in m.history)) == len(m.history)


@given(st.lists(st.sampled_from(["sent", "delivered", "undelivered", "failed"]), min_size=1, max_size=8))
def test_status_rank_never_decreases(statuses: list[str]) -> None:
    m = msg("sending")
    state = status.ReceiptState()
    for i, s in enumerate(statuses):
        out = status.apply_receipt(m, state, rcpt(s, f"r{i}"))
        if out is not None:
            assert STATUS_RANK[out.message.status] >= STATUS_RANK[m.status]
            m, state = out.message, out.state
    first_final = next((s for s in statuses if STATUS_RANK[s] == 3), None)
    assert m.status == (first_final or "sent")
