"""Quiet hours for marketing, set per account and per channel (issue 14 item 6), through the local stack."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from local_api import wait

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local

PARIS = ZoneInfo("Europe/Paris")
DEFAULT = {
    "start": "08:00:00",
    "end": "20:00:00",
    "sundays": False,
    "public_holidays": True,
    "holidays": [],
}


def channel(api: Any, sender: str, team_ids: list[str] | None = None) -> dict[str, Any]:
    body = {"name": f"Quiet {sender}", "type": "two_way", "sender": sender, "provider": "sandbox", "throughput_mps": 50}
    ch = api("POST", "/v1/channels", body, 201)
    if team_ids:
        api("PUT", f"/v1/channels/{ch['id']}/teams", {"team_ids": team_ids}, 200)
    return ch


def error_field(out: Any) -> str | None:
    return out["error"]["field"]


def test_account_and_channel_rules_admins_write_everyone_reads(api: Any, make_user: Any) -> None:
    team = api("POST", "/v1/teams", {"name": "Quiet team"}, 201)
    ch = channel(api, "+3197010000301", [team["id"]])
    _, agent = make_user("agent", [team["id"]])

    # nothing set: the built-in French rule
    assert api("GET", "/v1/quiet-hours", expect=200) == {"quiet_hours": None, "effective": DEFAULT, "source": "default"}
    assert api("GET", f"/v1/channels/{ch['id']}/quiet-hours", expect=200, token=agent)["source"] == "default"

    # only admins write
    nine = {**DEFAULT, "start": "09:00"}
    status, out = api("PUT", "/v1/quiet-hours", nine, token=agent)
    assert status == 403, out
    status, out = api("PUT", f"/v1/channels/{ch['id']}/quiet-hours", nine, token=agent)
    assert status == 403, out
    assert api("DELETE", "/v1/quiet-hours", token=agent)[0] == 403

    # the account's rule applies on every channel without its own
    account = api("PUT", "/v1/quiet-hours", {**nine, "holidays": ["2027-12-24"]}, 200)
    want = {**DEFAULT, "start": "09:00:00", "holidays": ["2027-12-24"]}
    assert account == {"quiet_hours": want, "effective": want, "source": "account"}
    got = api("GET", f"/v1/channels/{ch['id']}/quiet-hours", expect=200, token=agent)
    assert got == {"quiet_hours": None, "effective": want, "source": "account"}

    # a channel's own rule overrides it there
    own = {"start": "10:00", "end": "18:30", "sundays": True, "public_holidays": False, "holidays": []}
    put = api("PUT", f"/v1/channels/{ch['id']}/quiet-hours", own, 200)
    own_out = {**own, "start": "10:00:00", "end": "18:30:00"}
    assert put == {"quiet_hours": own_out, "effective": own_out, "source": "channel"}
    assert api("GET", f"/v1/channels/{ch['id']}/quiet-hours", expect=200, token=agent) == put
    assert api("GET", "/v1/quiet-hours", expect=200, token=agent)["source"] == "account"

    # removing the override: the account's again; removing the account's: the built-in rule
    assert api("DELETE", f"/v1/channels/{ch['id']}/quiet-hours", expect=204) is None
    assert api("GET", f"/v1/channels/{ch['id']}/quiet-hours", expect=200)["source"] == "account"
    assert api("DELETE", "/v1/quiet-hours", expect=204) is None
    assert api("GET", f"/v1/channels/{ch['id']}/quiet-hours", expect=200)["effective"] == DEFAULT


def test_bad_rules_are_422_naming_the_field(api: Any, make_user: Any) -> None:
    ch = channel(api, "+3197010000302")
    for path in ("/v1/quiet-hours", f"/v1/channels/{ch['id']}/quiet-hours"):
        status, out = api("PUT", path, {**DEFAULT, "start": "20:00", "end": "08:00"})
        assert status == 422 and error_field(out) == "end", out
        assert "cross midnight" in out["error"]["message"]
        status, out = api("PUT", path, {"start": "20:30"})  # after the default end
        assert status == 422 and error_field(out) == "end", out
        status, out = api("PUT", path, {**DEFAULT, "start": "25:00"})
        assert status == 422 and error_field(out) == "start", out
        status, out = api("PUT", path, {**DEFAULT, "holidays": ["2027-02-30"]})
        assert status == 422 and error_field(out) == "holidays.0", out
        status, out = api("PUT", path, {**DEFAULT, "saturdays": False})
        assert status == 422 and error_field(out) == "saturdays", out
    assert api("GET", "/v1/quiet-hours", expect=200)["source"] == "default"  # nothing stored
    status, out = api("PUT", "/v1/channels/nope/quiet-hours", DEFAULT)
    assert status == 404 and error_field(out) == "channel_id", out
    _, agent = make_user("agent")
    status, out = api("GET", f"/v1/channels/{ch['id']}/quiet-hours", token=agent)
    assert status == 403, out  # not in a team of the channel


def outbox_to(api: Any, numbers: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api("GET", "/sandbox/outbox?limit=200" + (f"&cursor={cursor}" if cursor else ""), expect=200)
        out.extend(m for m in page["messages"] if m.get("to") in numbers)
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def recipients(api: Any, cid: str) -> list[dict[str, Any]]:
    return api("GET", f"/v1/campaigns/{cid}/recipients?limit=100", expect=200)["items"]


def _working_evening() -> tuple[dt.datetime, dt.date]:
    """A coming Monday-Thursday at 20:30 in Paris, that day and the next no French public holiday."""
    from smsdesk.campaigns.quiet import public_holidays

    day = dt.datetime.now(PARIS).date() + dt.timedelta(days=1)
    while day.weekday() > 3 or {day, day + dt.timedelta(days=1)} & (
        public_holidays("FR", day.year) | public_holidays("FR", day.year + 1)
    ):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(20, 30), tzinfo=PARIS), day


@pytest.mark.usefixtures("fast_pipeline")
def test_a_channels_quiet_hours_override_the_accounts_for_marketing(stack: LocalStack, api: Any) -> None:
    """Controllable clock at 20:30 in Paris. The account allows marketing until 21:00 (the built-in rule
    would not); channel B's own rule ends at 20:00 and opens at 09:00: its recipient waits until 09:00."""
    from smsdesk.models import utcnow

    evening, day = _working_evening()
    api("PUT", "/v1/quiet-hours", {**DEFAULT, "end": "21:00"}, 200)
    a = channel(api, "+3197010000303")
    b = channel(api, "+3197010000304")
    api("PUT", f"/v1/channels/{b['id']}/quiet-hours", {**DEFAULT, "start": "09:00", "end": "20:00"}, 200)
    api("POST", "/v1/credits/top-ups", {"credits": 10, "reference": "quiet hours"}, 201)
    to_a, to_b = "+33612340301", "+33612340302"  # French numbers: Europe/Paris
    with stack.configure(
        "fanout", SMSDESK_CLOCK_OFFSET_S=str((evening - utcnow()).total_seconds()), CAMPAIGN_HOLD_MAX_DELAY_S="1"
    ):
        launched = []
        for ch, number in ((a, to_a), (b, to_b)):
            body = {
                "title": f"Soldes {ch['sender']}",
                "channel_id": ch["id"],
                "text": "Soldes: -20%",
                "audience": {"numbers": [number]},
                "kind": "marketing",
            }
            campaign = api("POST", "/v1/campaigns", body, 201)
            assert campaign["quiet_hours"] is None  # none of its own: the channel's, else the account's
            launched.append(api("POST", f"/v1/campaigns/{campaign['id']}/launch", {}, 200))
        # channel A: the account's rule (until 21:00) lets it leave now
        wait(lambda: outbox_to(api, {to_a}), 30)
        # channel B: its own rule (until 20:00) holds it until 09:00 the next morning
        held = wait(lambda: [r for r in recipients(api, launched[1]["id"]) if r["status"] == "held"], 30)
        opens = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(9, 0), tzinfo=PARIS)
        assert dt.datetime.fromisoformat(held[0]["not_before"]) == opens
        time.sleep(2)
        assert not outbox_to(api, {to_b})
    api("DELETE", "/v1/quiet-hours", expect=204)


def test_setting_a_rule_answers_what_was_written_without_reading_it_back(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PUT answers with the rule it wrote (as a GET then shows it) and does not read the rules back."""
    from smsdesk.data import quiet_hours as repo

    ch = channel(api, "+3197010000305")
    reads: list[str | None] = []
    real = repo.get_many

    def get_many(channel_id: str | None) -> Any:
        reads.append(channel_id)
        return real(channel_id)

    monkeypatch.setattr(repo, "get_many", get_many)
    rule = {"start": "09:15", "end": "19:00", "sundays": False, "public_holidays": True, "holidays": ["2027-05-05"]}
    account = api("PUT", "/v1/quiet-hours", rule, 200)
    own = {**rule, "start": "11:00", "sundays": True, "holidays": []}
    channel_rule = api("PUT", f"/v1/channels/{ch['id']}/quiet-hours", own, 200)
    assert reads == []
    assert account == api("GET", "/v1/quiet-hours", expect=200)
    assert account["source"] == "account" and account["effective"]["start"] == "09:15:00"
    assert channel_rule == api("GET", f"/v1/channels/{ch['id']}/quiet-hours", expect=200)
    assert channel_rule["source"] == "channel" and channel_rule["quiet_hours"]["start"] == "11:00:00"
    api("DELETE", f"/v1/channels/{ch['id']}/quiet-hours", expect=204)
    api("DELETE", "/v1/quiet-hours", expect=204)
