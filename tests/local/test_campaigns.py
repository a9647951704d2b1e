"""Campaigns through the local stack (issue 14): plan, reserve, fan out, send, refund."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from local_api import wait

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def status_of(api: Any, cid: str) -> str:
    """The campaign's status from the list (cheap: no message outcomes counted)."""
    items = api("GET", "/v1/campaigns?limit=100", expect=200)["items"]
    return next(c["status"] for c in items if c["id"] == cid)


def balance(api: Any) -> int:
    return api("GET", "/v1/credits", expect=200)["balance"]


def channel(api: Any, sender: str, mps: float = 100, provider: str = "sandbox") -> dict[str, Any]:
    return api(
        "POST",
        "/v1/channels",
        {
            "name": f"Campaigns {sender}",
            "type": "two_way",
            "sender": sender,
            "provider": provider,
            "throughput_mps": mps,
        },
        201,
    )


def outbox_to(api: Any, numbers: set[str]) -> list[dict[str, Any]]:
    """Every sandbox send attempt to ``numbers`` (the carrier's side)."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api("GET", "/sandbox/outbox?limit=200" + (f"&cursor={cursor}" if cursor else ""), expect=200)
        out.extend(m for m in page["messages"] if m.get("to") in numbers)
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def all_recipients(api: Any, cid: str, status: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        q = f"/v1/campaigns/{cid}/recipients?limit=100" + (f"&status={status}" if status else "")
        page = api("GET", q + (f"&cursor={cursor}" if cursor else ""), expect=200)
        out.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return out


@pytest.fixture(scope="module")
def team_field(api: Any) -> None:
    api("POST", "/v1/contact-fields", {"key": "team", "label": "Team", "type": "text"}, 201)


def make_families(n: int, team: str, prefix: str) -> list[tuple[Any, Any]]:
    """``n`` children in ``team``, each with a parent (a manager): 2n contacts, created in process."""
    from smsdesk.crm import contacts

    out = []
    for i in range(n):
        parent = contacts.create(contacts.ContactIn(first_name=f"Parent{i}", mobile=f"+31620{prefix}{i + 1:04d}"))
        number = f"+31610{prefix}{i + 1:04d}"
        kid = contacts.create(
            contacts.ContactIn(
                first_name=f"Kid{i}", mobile=number, custom_fields={"team": team}, manager_ids=[parent.id]
            )
        )
        out.append((kid, parent))
    return out


@pytest.mark.usefixtures("fast_pipeline")
def test_a_failing_number_is_refunded_while_the_rest_go_on(stack: LocalStack, api: Any) -> None:
    ch = channel(api, "+3197010000110")
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "failing"}, 201)
    before = balance(api)
    nums = [*numbers("80", 3), "+31630800000", *numbers("81", 3)]  # the sandbox refuses ...0000
    campaign = launch_numbers(api, ch, nums, "One bad number")

    def finished() -> Any:
        c = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
        return c if c["status"] == "completed" and c["counts"]["delivered"] + c["counts"]["failed"] == 7 else None

    done = wait(finished, 60, every=1)
    assert done["counts"]["delivered"] == 6 and done["counts"]["failed"] == 1
    failed = [r for r in all_recipients(api, campaign["id"]) if r["message_status"] == "failed"]
    assert [r["number"] for r in failed] == ["+31630800000"]
    stack.wait_streams()
    assert balance(api) == before - 6
    ledger = api("GET", "/v1/credits/ledger?limit=20", expect=200)["items"]
    mine = sorted((e["kind"], e["amount"]) for e in ledger if e.get("campaign_id") == campaign["id"])
    assert mine == [("charge", -7), ("refund", 1)]  # the failed message's refund names the campaign


def numbers(prefix: str, n: int) -> list[str]:
    return [f"+31630{prefix}{i + 2:04d}" for i in range(n)]  # never ending 0000 or 0001


def launch_numbers(api: Any, ch: dict[str, Any], nums: list[str], text: str, **more: Any) -> dict[str, Any]:
    body = {"title": text[:40], "channel_id": ch["id"], "text": text, "audience": {"numbers": nums}, **more}
    campaign = api("POST", "/v1/campaigns", body, 201)
    return api("POST", f"/v1/campaigns/{campaign['id']}/launch", {}, 200)


def test_402_when_short_and_409_for_the_same_campaign_within_10_minutes(api: Any) -> None:
    ch = channel(api, "+3197010000102")
    bal = balance(api)
    body = {"title": "Too big", "channel_id": ch["id"], "text": "x" * 161, "audience": {"numbers": numbers("20", 3)}}
    many = {**body, "text": "é" * 300, "audience": {"numbers": numbers("21", 1000)}}  # 5 segments each
    big = api("POST", "/v1/campaigns", many, 201)
    need = api("POST", f"/v1/campaigns/{big['id']}/preview", {}, 200)["credits"]
    assert need > bal
    status, err = api("POST", f"/v1/campaigns/{big['id']}/launch", {})
    assert status == 402 and err["error"]["needed"] == need and err["error"]["balance"] == bal
    assert balance(api) == bal and api("GET", f"/v1/campaigns/{big['id']}", expect=200)["status"] == "draft"
    api("DELETE", f"/v1/campaigns/{big['id']}", expect=204)
    assert api("GET", f"/v1/campaigns/{big['id']}")[0] == 404

    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "dup"}, 201)
    first = api("POST", "/v1/campaigns", body, 201)
    api("POST", f"/v1/campaigns/{first['id']}/launch", {}, 200)
    again = api("POST", "/v1/campaigns", {**body, "title": "Again"}, 201)
    status, err = api("POST", f"/v1/campaigns/{again['id']}/launch", {})
    assert status == 409 and err["error"]["code"] == "duplicate_campaign" and err["error"]["field"] == "confirm"
    assert api("POST", f"/v1/campaigns/{again['id']}/launch", {"confirm": True}, 200)["status"] == "running"
    for cid in (first["id"], again["id"]):
        wait(lambda cid=cid: status_of(api, cid) == "completed", 60, every=1)


@pytest.mark.usefixtures("fast_pipeline")
def test_a_reply_overtakes_the_campaign_backlog(stack: LocalStack, api: Any) -> None:
    import datetime as dt

    ch = channel(api, "+3197010000103", mps=2)  # one send every 0.5 s
    api("POST", "/v1/credits/top-ups", {"credits": 100, "reference": "overtake"}, 201)
    nums = numbers("30", 30)
    # 20 messages per wave, all at the sender at once: a 10 s backlog at the channel's rate
    with stack.configure("fanout", CAMPAIGN_WAVE_S="10", CAMPAIGN_SPREAD="0"):
        campaign = launch_numbers(api, ch, nums, "Big announcement")
        wait(lambda: len([m for m in outbox_to(api, set(nums)) if m["outcome"] == "accepted"]) >= 4, 60)
        reply = api("POST", "/v1/messages", {"channel_id": ch["id"], "to": "+31640000002", "text": "Your answer"}, 202)
        wait(lambda: outbox_to(api, {"+31640000002"}), 30)
        api("POST", f"/v1/campaigns/{campaign['id']}/cancel", {}, 200)
    stack.wait_streams()  # listed through their index entries, which the outbox writes
    msgs = api("GET", f"/v1/messages?channel_id={ch['id']}&limit=100", expect=200)["items"]

    def sending_at(m: dict[str, Any]) -> str | None:
        return next((h["at"] for h in m["history"] if h["status"] == "sending"), None)

    mine = next(m for m in msgs if m["id"] == reply["id"])
    behind = [
        m
        for m in msgs
        if m.get("campaign_id") == campaign["id"]
        and m["created_at"] < mine["created_at"]
        and (sending_at(m) is None or sending_at(m) > sending_at(mine))
    ]
    print(
        f"reply left {sending_at(mine)} (created {mine['created_at']}); campaign messages queued before it and "
        f"still waiting: {len(behind)}"
    )
    assert len(behind) >= 5  # it did not wait behind the backlog that was queued before it
    waited = dt.datetime.fromisoformat(sending_at(mine)) - dt.datetime.fromisoformat(mine["created_at"])
    # about one send interval (0.5 s) plus the local pipeline's own latency (seconds on a loaded machine;
    # without the bulk lane it waited for the whole backlog: 7.9 s, none overtaken)
    assert waited.total_seconds() < 5.0


@pytest.mark.usefixtures("fast_pipeline")
def test_cancel_mid_run_refunds_the_rest(stack: LocalStack, api: Any) -> None:
    ch = channel(api, "+3197010000104", mps=2)
    api("POST", "/v1/credits/top-ups", {"credits": 100, "reference": "cancel"}, 201)
    before = balance(api)
    nums = numbers("40", 24)
    campaign = launch_numbers(api, ch, nums, "Cancel me")
    wait(lambda: outbox_to(api, set(nums)), 60)
    out = api("POST", f"/v1/campaigns/{campaign['id']}/cancel", {}, 200)
    assert out["status"] == "cancelled"
    assert api("POST", f"/v1/campaigns/{campaign['id']}/cancel", {})[0] == 409
    time.sleep(3)  # what was handed to the pipeline still leaves; nothing else does
    stack.wait_streams()
    c = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
    queued = c["counts"]["queued"]
    assert 0 < queued < 24 and c["counts"]["cancelled"] == 24 - queued
    wait(lambda: len(outbox_to(api, set(nums))) == queued, 30)
    time.sleep(2)
    assert len(outbox_to(api, set(nums))) == queued
    assert len(all_recipients(api, campaign["id"], "cancelled")) == 24 - queued
    assert balance(api) == before - queued
    ledger = api("GET", "/v1/credits/ledger?limit=50", expect=200)["items"]
    assert sorted((e["kind"], e["amount"]) for e in ledger if e.get("campaign_id") == campaign["id"]) == [
        ("charge", -24),
        ("refund", 24 - queued),
    ]


@pytest.mark.usefixtures("fast_pipeline")
def test_a_redelivered_wave_sends_nothing_twice(stack: LocalStack, api: Any) -> None:
    import threading

    from smsdesk.campaigns import fanout, service
    from smsdesk.envelopes import FanoutJob

    ch = channel(api, "+3197010000105", mps=50)
    api("POST", "/v1/credits/top-ups", {"credits": 100, "reference": "redelivery"}, 201)
    before = balance(api)
    nums = numbers("50", 12)
    campaign = launch_numbers(api, ch, nums, "Only once")
    wait(lambda: (got := service.load(campaign["id"])) is not None and got[1]["expanded_run"] == 1, 30, every=0.05)
    # the first wave's job, delivered three more times at once (as SQS may, alongside its own delivery)
    job = FanoutJob(campaign_id=campaign["id"], phase="send", run=1, seq=1)
    outcomes: list[str] = []
    threads = [threading.Thread(target=lambda: outcomes.append(fanout.send_wave(job))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(outcomes) <= {"next", "stopped", "completed"}, outcomes
    wait(lambda: status_of(api, campaign["id"]) == "completed", 60, every=1)
    wait(lambda: len(outbox_to(api, set(nums))) == 12, 60, every=1)
    time.sleep(2)
    sent = Counter(m["to"] for m in outbox_to(api, set(nums)))
    assert set(sent) == set(nums) and set(sent.values()) == {1}
    c = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
    assert c["counts"]["queued"] == 12 and c["counts"]["credits"] == 12
    stack.wait_streams()
    assert balance(api) == before - 12


@pytest.mark.usefixtures("fast_pipeline")
def test_a_scheduled_campaign_fires_from_its_schedule(stack: LocalStack, api: Any) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from smsdesk import aws, config

    ch = channel(api, "+3197010000106")
    api("POST", "/v1/credits/top-ups", {"credits": 10, "reference": "scheduled"}, 201)
    nums = numbers("60", 2)
    when = (dt.datetime.now(ZoneInfo("Europe/Paris")) + dt.timedelta(seconds=5)).replace(tzinfo=None, microsecond=0)
    schedule = {"at": when.isoformat(), "time_zone": "Europe/Paris"}
    campaign = launch_numbers(api, ch, nums, "Later", schedule=schedule)
    assert campaign["status"] == "scheduled" and campaign["reserved"] == 0
    s = aws.scheduler().get_schedule(Name=f"campaign-{campaign['id']}", GroupName=config.schedule_group_name())
    assert s["ScheduleExpression"] == f"at({when.isoformat()})" and s["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert not outbox_to(api, set(nums))
    wait(lambda: status_of(api, campaign["id"]) == "completed", 60, every=1)
    wait(lambda: len(outbox_to(api, set(nums))) == 2, 30)
    fired = [e for e in stack.invocations.entries(kind="schedule") if e.get("schedule") == f"campaign-{campaign['id']}"]
    assert len(fired) == 1


@pytest.mark.usefixtures("fast_pipeline")
def test_a_recurring_campaign_runs_each_time_its_schedule_fires(stack: LocalStack, api: Any) -> None:
    """The schedule itself fires, twice: ``rate(1 minute)`` on the local schedule driver, whose clock
    the test moves a minute ahead each time (no real minute waited). Each run resolves its audience
    afresh; cancelling deletes the schedule."""
    from botocore.exceptions import ClientError

    from smsdesk import aws, config
    from smsdesk.crm import contacts

    ch = channel(api, "+3197010000107")
    api("POST", "/v1/credits/top-ups", {"credits": 10, "reference": "recurring"}, 201)
    group = api("POST", "/v1/groups", {"name": "Weekly"}, 201)
    first = contacts.create(contacts.ContactIn(first_name="Ann", mobile="+31650000002"))
    api("POST", f"/v1/groups/{group['id']}/members", {"contact_ids": [first.id]}, 200)
    body = {
        "title": "Weekly",
        "channel_id": ch["id"],
        "text": "Hello {{first_name}}",
        "audience": {"group_ids": [group["id"]]},
        "schedule": {"rate": "1 minute", "time_zone": "Europe/Paris"},
    }
    campaign = api("POST", "/v1/campaigns", body, 201)
    assert api("POST", f"/v1/campaigns/{campaign['id']}/launch", {}, 200)["status"] == "scheduled"
    name = f"campaign-{campaign['id']}"
    s = aws.scheduler().get_schedule(Name=name, GroupName=config.schedule_group_name())
    assert s["ScheduleExpression"] == "rate(1 minute)" and s["ScheduleExpressionTimezone"] == "Europe/Paris"
    driver = stack.scheduler

    def fired() -> list[dict[str, Any]]:
        return [e for e in stack.invocations.entries(kind="schedule") if e.get("schedule") == name]

    time.sleep(1.5)  # the driver has seen the schedule; nothing is due for a minute
    assert not fired() and api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)["run"] == 0

    def minute_later(run: int) -> dict[str, Any]:
        driver.advance(61)
        wait(lambda: len(fired()) == run, 10, every=0.2)
        return wait(
            lambda: (
                (c := api("GET", f"/v1/campaigns/{campaign['id']}", expect=200))["run"] == run
                and c["status"] == "scheduled"
                and c
            ),
            60,
            every=1,
        )

    one = minute_later(1)
    assert one["counts"]["recipients"] == 1
    second = contacts.create(contacts.ContactIn(first_name="Bob", mobile="+31650000003"))
    api("POST", f"/v1/groups/{group['id']}/members", {"contact_ids": [second.id]}, 200)
    two = minute_later(2)
    assert two["counts"]["recipients"] == 2 and two["reserved_left"] == 0
    wait(lambda: len(outbox_to(api, {"+31650000002", "+31650000003"})) == 3, 30)
    sent = Counter((m["to"], m["text"]) for m in outbox_to(api, {"+31650000002", "+31650000003"}))
    assert sent == {("+31650000002", "Hello Ann"): 2, ("+31650000003", "Hello Bob"): 1}
    api("POST", f"/v1/campaigns/{campaign['id']}/cancel", {}, 200)
    with pytest.raises(ClientError):
        aws.scheduler().get_schedule(Name=name, GroupName=config.schedule_group_name())


@pytest.mark.usefixtures("fast_pipeline")
def test_marketing_waits_for_the_end_of_quiet_hours_in_the_recipients_zone(stack: LocalStack, api: Any) -> None:
    """Controllable clock: the fan-out's clock is put at 23:00 in Paris, then at 08:00 the next morning."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from smsdesk.models import utcnow

    paris = ZoneInfo("Europe/Paris")
    now = utcnow()
    day = now.astimezone(paris).date() + dt.timedelta(days=1)
    from smsdesk.campaigns.quiet import public_holidays

    # Monday-Thursday: the next day is a weekday too; and no French public holiday (quiet too)
    def next_is_holiday(d: dt.date) -> bool:
        return (nxt := d + dt.timedelta(days=1)) in public_holidays("FR", nxt.year)

    while day.weekday() not in (0, 1, 2, 3) or next_is_holiday(day):
        day += dt.timedelta(days=1)
    night = dt.datetime.combine(day, dt.time(23, 0), tzinfo=paris)
    morning = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(8, 0), tzinfo=paris)
    ch = channel(api, "+3197010000108")
    api("POST", "/v1/credits/top-ups", {"credits": 10, "reference": "quiet"}, 201)
    nums = ["+33612340002", "+33612340003"]  # French numbers: Europe/Paris
    env = stack.function_env("fanout")
    with stack.configure(
        "fanout", SMSDESK_CLOCK_OFFSET_S=str((night - now).total_seconds()), CAMPAIGN_HOLD_MAX_DELAY_S="1"
    ):
        campaign = launch_numbers(api, ch, nums, "Black Friday: -20%", kind="marketing")
        held = wait(lambda: len(r := all_recipients(api, campaign["id"], "held")) == 2 and r, 30)
        assert {dt.datetime.fromisoformat(r["not_before"]) for r in held} == {morning}
        assert held[0]["text"] == "Black Friday: -20%\nSTOP to opt out"  # the footer, counted in the preview
        # an opt-out while it waits is honoured at send time
        api("POST", "/v1/opt-outs", {"number": nums[1], "channel_id": ch["id"], "reason": "replied STOP"}, 201)
        time.sleep(3)
        assert not outbox_to(api, set(nums)) and status_of(api, campaign["id"]) == "running"
        env["SMSDESK_CLOCK_OFFSET_S"] = str((morning - utcnow()).total_seconds() + 1)
        wait(lambda: status_of(api, campaign["id"]) == "completed", 30)
    sent = wait(lambda: outbox_to(api, set(nums)), 30)
    assert [m["to"] for m in sent] == [nums[0]]
    skipped = all_recipients(api, campaign["id"], "excluded")
    assert [(r["number"], r["reason"]) for r in skipped] == [(nums[1], "opted_out")]


@pytest.mark.usefixtures("fast_pipeline")
def test_pause_and_resume(stack: LocalStack, api: Any) -> None:
    ch = channel(api, "+3197010000109", mps=2)
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "pause"}, 201)
    nums = numbers("70", 12)
    campaign = launch_numbers(api, ch, nums, "Pause me")
    wait(lambda: outbox_to(api, set(nums)), 60)
    assert api("POST", f"/v1/campaigns/{campaign['id']}/pause", {}, 200)["status"] == "paused"
    assert api("POST", f"/v1/campaigns/{campaign['id']}/pause", {})[0] == 409
    time.sleep(4)  # the wave in flight leaves; no new one starts
    queued = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)["counts"]["queued"]
    time.sleep(3)
    assert api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)["counts"]["queued"] == queued < 12
    assert api("POST", f"/v1/campaigns/{campaign['id']}/resume", {}, 200)["status"] == "running"
    wait(lambda: status_of(api, campaign["id"]) == "completed", 60, every=1)
    wait(lambda: len(outbox_to(api, set(nums))) == 12, 30)
    sent = Counter(m["to"] for m in outbox_to(api, set(nums)))
    assert set(sent.values()) == {1}


@pytest.mark.usefixtures("fast_pipeline")
def test_300_recipients_from_a_dynamic_group_with_managers(stack: LocalStack, api: Any, team_field: None) -> None:
    families = make_families(150, "U12", "11")
    group = api(
        "POST",
        "/v1/groups",
        {"name": "U12", "kind": "dynamic", "rule": {"field": "team", "op": "equals", "value": "U12"}},
        201,
    )
    # AWS End User Messaging SMS as the local stack fakes it: its receipts come through SNS and the
    # receipts queue (the sandbox's come through the local gateway, which runs one HTTP call at a time)
    ch = channel(api, "+3197010000101", mps=50, provider="aws_sms")
    api("POST", "/v1/credits/top-ups", {"credits": 1000, "reference": "campaigns"}, 201)
    before = balance(api)
    body = {
        "title": "Training moved",
        "channel_id": ch["id"],
        "text": "Hi {{first_name|there}}, U12 training moves to 18:00",
        "audience": {"group_ids": [group["id"]], "include_managers": True},
    }
    preview = api("POST", "/v1/campaigns/preview", {**body, "per_recipient": 3}, 200)
    assert preview["recipients"] == 300 and preview["credits"] == 300 and preview["segments"] == 300
    assert preview["by_country"] == {"NL": {"recipients": 300, "segments": 300, "credits": 300}}
    assert preview["longest_text"].startswith("Hi Parent") or preview["longest_text"].startswith("Hi Kid")
    campaign = api("POST", "/v1/campaigns", body, 201)
    assert campaign["status"] == "draft"

    t0 = time.monotonic()
    launched = api("POST", f"/v1/campaigns/{campaign['id']}/launch", {}, 200)
    assert launched["status"] == "running" and launched["reserved"] == 300
    assert balance(api) == before - 300  # reserved in one step

    from smsdesk.campaigns import service

    def finished() -> Any:
        # read in process (moto directly): the local gateway runs HTTP invocations one at a time, and the
        # sandbox's 600 receipts need that lane
        got = service.load(campaign["id"])
        assert got is not None
        if got[0].status != "completed":
            return None
        from smsdesk.data import campaigns as repo
        from smsdesk.data import table

        ids = [r["message_id"] for r in repo.rows(campaign["id"], 1, statuses=("queued",))]
        final = [m for m in table.batch_get([(f"MSG#{i}", "META") for i in ids]) if m["status"] == "delivered"]
        return len(final) == 300

    wait(lambda: (got := service.load(campaign["id"])) is not None and got[0].status == "completed", 300, every=2.0)
    handed_over = time.monotonic() - t0
    wait(finished, 300, every=2.0)
    done = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
    numbers = {f.mobile for pair in families for f in pair}
    elapsed = time.monotonic() - t0
    print(
        f"300-recipient campaign: all handed to the pipeline in {handed_over:.1f} s, all delivered in {elapsed:.1f} s"
    )
    assert done["counts"]["recipients"] == 300 and done["counts"]["queued"] == 300
    sent = [m for m in stack.sms_voice.sent if m["DestinationPhoneNumber"] in numbers]
    assert Counter(m["DestinationPhoneNumber"] for m in sent) == Counter(numbers)  # each number once
    by_number = {m["DestinationPhoneNumber"]: m["MessageBody"] for m in sent}
    for kid, parent in families:
        assert by_number[kid.mobile] == f"Hi {kid.first_name}, U12 training moves to 18:00"
        assert by_number[parent.mobile] == f"Hi {parent.first_name}, U12 training moves to 18:00"
    rows = all_recipients(api, campaign["id"])
    assert len(rows) == 300 and {(r["status"], r["message_status"]) for r in rows} == {("queued", "delivered")}
    # reserved 300 in one step, all used: nothing left to refund
    stack.wait_streams()
    assert balance(api) == before - 300
    ledger = api("GET", "/v1/credits/ledger?limit=20", expect=200)["items"]
    mine = [e for e in ledger if e.get("campaign_id") == campaign["id"]]
    assert [(e["kind"], e["amount"]) for e in mine] == [("charge", -300)]


# -- editing (PATCH) and deleting ------------------------------------------------------------------------


def _schedule_of(campaign_id: str) -> dict[str, Any]:
    from smsdesk import aws, config

    return aws.scheduler().get_schedule(Name=f"campaign-{campaign_id}", GroupName=config.schedule_group_name())


def _campaign_items(campaign_id: str) -> list[dict[str, Any]]:
    """Every item left in the campaign's partition (the campaign, its recipient rows, its counts)."""
    from smsdesk import aws, config

    resp = aws.dynamodb().query(
        TableName=config.table_name(),
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CAMPAIGN#{campaign_id}"}},
        ProjectionExpression="PK, SK",
        ConsistentRead=True,
    )
    return resp["Items"]


def _later(days: int, hour: int = 9) -> str:
    import datetime as dt

    return (
        (dt.datetime.now() + dt.timedelta(days=days)).replace(hour=hour, minute=30, second=0, microsecond=0).isoformat()
    )


def test_editing_a_draft(api: Any) -> None:
    ch = channel(api, "+3197010000120")
    body = {"title": "Draft", "channel_id": ch["id"], "text": "First text", "audience": {"numbers": numbers("90", 2)}}
    campaign = api("POST", "/v1/campaigns", body, 201)
    changes = {
        "title": "Draft 2",
        "text": "Second text {{first_name|there}}",
        "audience": {"numbers": numbers("90", 3)},
    }
    edited = api("PATCH", f"/v1/campaigns/{campaign['id']}", changes, 200)
    assert (edited["title"], edited["text"], edited["status"]) == (
        "Draft 2",
        "Second text {{first_name|there}}",
        "draft",
    )
    got = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
    assert got["audience"]["numbers"] == numbers("90", 3) and got["title"] == "Draft 2"
    preview = api("POST", f"/v1/campaigns/{campaign['id']}/preview", {"per_recipient": 1}, 200)
    assert preview["recipients"] == 3 and preview["longest_text"] == "Second text there"
    # a draft with a schedule is not armed until it is launched
    with_time = api("PATCH", f"/v1/campaigns/{campaign['id']}", {"schedule": {"at": _later(3)}}, 200)
    assert with_time["status"] == "draft" and with_time["schedule"]["at"] == _later(3)
    with pytest.raises(Exception, match="ResourceNotFound"):
        _schedule_of(campaign["id"])


def test_editing_a_scheduled_campaign_moves_its_schedule(api: Any) -> None:
    ch = channel(api, "+3197010000121")
    body = {
        "title": "Reminder",
        "channel_id": ch["id"],
        "text": "See you Saturday",
        "audience": {"numbers": numbers("91", 2)},
        "schedule": {"at": _later(2), "time_zone": "Europe/Paris"},
    }
    campaign = api("POST", "/v1/campaigns", body, 201)
    assert api("POST", f"/v1/campaigns/{campaign['id']}/launch", {}, 200)["status"] == "scheduled"
    assert _schedule_of(campaign["id"])["ScheduleExpression"] == f"at({_later(2)})"
    # the text and the time: the schedule follows
    changes = {"text": "See you Sunday", "schedule": {"at": _later(3, 10), "time_zone": "America/New_York"}}
    edited = api("PATCH", f"/v1/campaigns/{campaign['id']}", changes, 200)
    assert edited["status"] == "scheduled" and edited["text"] == "See you Sunday"
    s = _schedule_of(campaign["id"])
    assert s["ScheduleExpression"] == f"at({_later(3, 10)})"
    assert s["ScheduleExpressionTimezone"] == "America/New_York" and s["ActionAfterCompletion"] == "DELETE"
    assert api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)["text"] == "See you Sunday"
    # once → recurring (moto's UpdateSchedule keeps the ActionAfterCompletion it was created with)
    api("PATCH", f"/v1/campaigns/{campaign['id']}", {"schedule": {"cron": "0 9 ? * SAT *", "time_zone": "UTC"}}, 200)
    s = _schedule_of(campaign["id"])
    assert (s["ScheduleExpression"], s["ScheduleExpressionTimezone"]) == ("cron(0 9 ? * SAT *)", "UTC")
    api("POST", f"/v1/campaigns/{campaign['id']}/cancel", {}, 200)
    with pytest.raises(Exception, match="ResourceNotFound"):
        _schedule_of(campaign["id"])


def test_bad_edits_are_refused_naming_the_field_and_change_nothing(api: Any) -> None:
    ch = channel(api, "+3197010000122")
    body = {
        "title": "Untouched",
        "channel_id": ch["id"],
        "text": "Keep me",
        "audience": {"numbers": numbers("92", 2)},
        "schedule": {"at": _later(2), "time_zone": "Europe/Paris"},
    }
    campaign = api("POST", "/v1/campaigns", body, 201)
    api("POST", f"/v1/campaigns/{campaign['id']}/launch", {}, 200)
    before = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
    schedule_before = _schedule_of(campaign["id"])
    cases = [
        ({"text": ""}, 422, "text"),
        ({"title": ""}, 422, "title"),
        ({"audience": {}}, 422, "audience"),
        ({"kind": "spam"}, 422, "kind"),
        ({"schedule": {"cron": "every monday"}}, 422, "schedule.cron"),
        ({"schedule": {"at": "2020-01-01T09:00:00", "time_zone": "Europe/Paris"}}, 422, "schedule.at"),
        ({"schedule": None}, 422, "schedule"),
        ({"status": "running"}, 422, "status"),
        ({"audience": {"group_ids": ["nope"]}}, 404, "audience.group_ids.0"),
        ({"channel_id": "nope"}, 404, "channel_id"),
    ]
    for change, code, field in cases:
        status, err = api("PATCH", f"/v1/campaigns/{campaign['id']}", {"title": "Changed", **change})
        assert (status, (err.get("error") or {}).get("field")) == (code, field), (change, status, err)
    after = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
    assert after == before
    s = _schedule_of(campaign["id"])
    assert (s["ScheduleExpression"], s["LastModificationDate"]) == (
        schedule_before["ScheduleExpression"],
        schedule_before["LastModificationDate"],
    )
    api("POST", f"/v1/campaigns/{campaign['id']}/cancel", {}, 200)


@pytest.mark.usefixtures("fast_pipeline")
def test_a_running_or_finished_campaign_cannot_be_edited(api: Any) -> None:
    ch = channel(api, "+3197010000123", mps=1)
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "no edits"}, 201)
    running = launch_numbers(api, ch, numbers("93", 8), "Running one")
    status, err = api("PATCH", f"/v1/campaigns/{running['id']}", {"text": "Too late"})
    assert status == 409 and err["error"]["code"] == "campaign_state" and err["error"]["field"] == "status"
    assert "running" in err["error"]["message"]
    api("POST", f"/v1/campaigns/{running['id']}/cancel", {}, 200)
    status, err = api("PATCH", f"/v1/campaigns/{running['id']}", {"text": "Too late"})
    assert status == 409 and "cancelled" in err["error"]["message"]
    assert api("GET", f"/v1/campaigns/{running['id']}", expect=200)["text"] == "Running one"


@pytest.mark.usefixtures("fast_pipeline")
def test_deleting_a_campaign_removes_its_recipient_rows(stack: LocalStack, api: Any) -> None:
    """Delete: the campaign is gone at once (404, not listed); its rows go in pages behind it."""
    ch = channel(api, "+3197010000124")
    api("POST", "/v1/credits/top-ups", {"credits": 40, "reference": "delete"}, 201)
    nums = numbers("94", 23)
    with stack.configure("fanout", CAMPAIGN_PURGE_PAGE="7"):
        campaign = launch_numbers(api, ch, [*nums, "+3120123"], "Delete me")  # + one excluded landline row
        status, err = api("DELETE", f"/v1/campaigns/{campaign['id']}")
        assert status == 409 and err["error"]["field"] == "status"  # running: cancel it first

        def done() -> bool:
            c = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
            return c["status"] == "completed" and c["counts"]["delivered"] == 23

        wait(done, 60, every=1)
        assert len(_campaign_items(campaign["id"])) > 24
        api("DELETE", f"/v1/campaigns/{campaign['id']}", expect=204)
        assert api("GET", f"/v1/campaigns/{campaign['id']}")[0] == 404
        assert campaign["id"] not in {c["id"] for c in api("GET", "/v1/campaigns?limit=100", expect=200)["items"]}
        assert api("GET", f"/v1/campaigns/{campaign['id']}/recipients")[0] == 404
        assert api("DELETE", f"/v1/campaigns/{campaign['id']}")[0] == 404
        wait(lambda: not _campaign_items(campaign["id"]), 30)
    # the messages it sent stay (the log of what was sent); a late receipt counts nothing back into being
    from smsdesk.campaigns import results

    body = f'{{"campaign_id":"{campaign["id"]}","message_id":"late","status":"delivered","with_provider_id":true}}'
    assert results.handle_batch({"Records": [{"messageId": "r", "body": body}]}) == {"batchItemFailures": []}
    assert not _campaign_items(campaign["id"])


def test_deleting_a_draft_or_scheduled_campaign_deletes_its_schedule(api: Any) -> None:
    ch = channel(api, "+3197010000125")
    body = {"title": "Gone", "channel_id": ch["id"], "text": "Bye", "audience": {"numbers": numbers("95", 2)}}
    draft = api("POST", "/v1/campaigns", body, 201)
    api("DELETE", f"/v1/campaigns/{draft['id']}", expect=204)
    assert api("GET", f"/v1/campaigns/{draft['id']}")[0] == 404
    wait(lambda: not _campaign_items(draft["id"]), 30)
    scheduled = api("POST", "/v1/campaigns", {**body, "schedule": {"rate": "1 day"}}, 201)
    api("POST", f"/v1/campaigns/{scheduled['id']}/launch", {}, 200)
    assert _schedule_of(scheduled["id"])["ScheduleExpression"] == "rate(1 day)"
    api("DELETE", f"/v1/campaigns/{scheduled['id']}", expect=204)
    with pytest.raises(Exception, match="ResourceNotFound"):
        _schedule_of(scheduled["id"])
    wait(lambda: not _campaign_items(scheduled["id"]), 30)


def test_an_edit_whose_schedule_cannot_follow_leaves_the_campaign_as_it_was(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsdesk.campaigns import schedules

    ch = channel(api, "+3197010000126")
    body = {
        "title": "Steady",
        "channel_id": ch["id"],
        "text": "Old text",
        "audience": {"numbers": numbers("96", 2)},
        "schedule": {"at": _later(2), "time_zone": "Europe/Paris"},
    }
    campaign = api("POST", "/v1/campaigns", body, 201)
    api("POST", f"/v1/campaigns/{campaign['id']}/launch", {}, 200)
    before = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)

    def scheduler_down(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("Scheduler unavailable")

    monkeypatch.setattr(schedules, "put", scheduler_down)
    changes = {"text": "New text", "schedule": {"at": _later(4), "time_zone": "Europe/Paris"}}
    status, err = api("PATCH", f"/v1/campaigns/{campaign['id']}", changes)
    assert status == 500 and err["error"]["code"] == "internal_error"
    after = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
    assert (after["text"], after["schedule"], after["status"]) == ("Old text", before["schedule"], "scheduled")
    monkeypatch.undo()
    assert api("PATCH", f"/v1/campaigns/{campaign['id']}", changes, 200)["text"] == "New text"
    assert _schedule_of(campaign["id"])["ScheduleExpression"] == f"at({_later(4)})"
    api("POST", f"/v1/campaigns/{campaign['id']}/cancel", {}, 200)


# -- schedule fires checked against the schedule's version --------------------------------------------------


def _replay(stack: LocalStack, body: str) -> None:
    """Deliver ``body`` to the bulk queue as a schedule's fire (late, or already queued) and wait until
    the ``fanout`` function has handled it."""
    from smsdesk import aws, config, manifest

    since = stack.invocations.last_seq
    aws.sqs().send_message(QueueUrl=config.queue_url(manifest.BULK_QUEUE), MessageBody=body)
    stack.invocations.wait_for(
        lambda e: e["kind"] == "invocation" and e.get("function") == "fanout", since=since, timeout=15
    )


@pytest.mark.usefixtures("fast_pipeline")
def test_a_fire_of_the_schedule_before_an_edit_starts_no_run(stack: LocalStack, api: Any) -> None:
    """A scheduled campaign moved to a later time (PATCH): a fire for the old time (already queued when
    the edit came, or delivered late) starts nothing and charges nothing; the new time's fire starts the
    run, once."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    ch = channel(api, "+3197010000127")
    api("POST", "/v1/credits/top-ups", {"credits": 10, "reference": "stale fire"}, 201)
    before = balance(api)
    nums = numbers("97", 2)
    now = dt.datetime.now(ZoneInfo("Europe/Paris")).replace(tzinfo=None, microsecond=0)
    old_at, new_at = now + dt.timedelta(minutes=10), now + dt.timedelta(minutes=20)
    campaign = launch_numbers(api, ch, nums, "Moved", schedule={"at": old_at.isoformat(), "time_zone": "Europe/Paris"})
    old_fire = _schedule_of(campaign["id"])["Target"]["Input"]
    api(
        "PATCH",
        f"/v1/campaigns/{campaign['id']}",
        {"schedule": {"at": new_at.isoformat(), "time_zone": "Europe/Paris"}},
        200,
    )
    assert _schedule_of(campaign["id"])["ScheduleExpression"] == f"at({new_at.isoformat()})"

    _replay(stack, old_fire)
    c = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
    assert (c["status"], c["run"], c["reserved"]) == ("scheduled", 0, 0)
    stack.wait_streams()
    assert balance(api) == before
    ledger = api("GET", "/v1/credits/ledger?limit=50", expect=200)["items"]
    assert not [e for e in ledger if e.get("campaign_id") == campaign["id"]]

    name = f"campaign-{campaign['id']}"
    driver = stack.scheduler
    since = stack.invocations.last_seq
    driver.advance(21 * 60)  # the new time
    try:
        stack.invocations.wait_for(lambda e: e["kind"] == "schedule" and e.get("schedule") == name, since=since)
        wait(lambda: status_of(api, campaign["id"]) == "completed", 60, every=1)
    finally:
        driver.advance(-21 * 60)
    wait(lambda: len(outbox_to(api, set(nums))) == 2, 30)
    time.sleep(1)
    assert Counter(m["to"] for m in outbox_to(api, set(nums))) == dict.fromkeys(nums, 1)
    assert api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)["run"] == 1
    stack.wait_streams()
    assert balance(api) == before - 2


@pytest.mark.usefixtures("fast_pipeline")
def test_an_edit_that_keeps_the_time_keeps_its_fires(stack: LocalStack, api: Any) -> None:
    """Only a new time makes earlier fires stale: a fire of a recurring campaign delivered just after
    an edit of its text (same schedule) still runs it, with the new text."""
    ch = channel(api, "+3197010000128")
    api("POST", "/v1/credits/top-ups", {"credits": 10, "reference": "same time"}, 201)
    nums = numbers("98", 2)
    campaign = launch_numbers(api, ch, nums, "Old words", schedule={"rate": "1 day", "time_zone": "Europe/Paris"})
    fire = _schedule_of(campaign["id"])["Target"]["Input"]
    api("PATCH", f"/v1/campaigns/{campaign['id']}", {"text": "New words"}, 200)

    _replay(stack, fire)
    wait(
        lambda: (
            (c := api("GET", f"/v1/campaigns/{campaign['id']}", expect=200))["run"] == 1 and c["status"] == "scheduled"
        ),
        60,
        every=1,
    )
    wait(lambda: len(outbox_to(api, set(nums))) == 2, 30)
    assert {m["text"] for m in outbox_to(api, set(nums))} == {"New words"}
    api("POST", f"/v1/campaigns/{campaign['id']}/cancel", {}, 200)


# -- fan-out clean-ups -----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("fast_pipeline")
def test_a_purge_deletes_the_counts_once(stack: LocalStack, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deleted campaign's purge deletes its counts item (STATS) with its first page, not on every page."""
    from smsdesk.data import campaigns as repo

    calls: list[str] = []
    real = repo.delete_stats

    def delete_stats(campaign_id: str) -> None:
        calls.append(campaign_id)
        real(campaign_id)

    monkeypatch.setattr(repo, "delete_stats", delete_stats)
    ch = channel(api, "+3197010000129")
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "purge once"}, 201)
    nums = numbers("99", 12)
    with stack.configure("fanout", CAMPAIGN_PURGE_PAGE="5"):
        campaign = launch_numbers(api, ch, nums, "Purge me")
        wait(lambda: status_of(api, campaign["id"]) == "completed", 60, every=1)
        assert len(_campaign_items(campaign["id"])) > 12  # rows + counts: three pages and more
        api("DELETE", f"/v1/campaigns/{campaign['id']}", expect=204)
        wait(lambda: not _campaign_items(campaign["id"]), 30)
    assert calls.count(campaign["id"]) == 1


@pytest.mark.usefixtures("fast_pipeline")
def test_a_row_set_back_after_its_message_was_recorded_is_queued_once(stack: LocalStack, api: Any) -> None:
    """A late duplicate of the expand job (SQS delivers at least once; a big audience's expand is slow)
    writes the run's rows again as ``pending`` with its unconditional batch write, also a row whose message
    a wave recorded meanwhile. A later wave finds that message recorded: the row is pointed at it, nothing
    is sent or charged twice and the counts stay right, so the run completes. Here the row was also held
    by then (as quiet hours hold a marketing row): the held count must come down with it."""
    from smsdesk.campaigns import fanout, service
    from smsdesk.data import campaigns as repo
    from smsdesk.models import utcnow

    ch = channel(api, "+3197010000130", mps=1)
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "set back"}, 201)
    before = balance(api)
    nums = numbers("89", 6)
    campaign = launch_numbers(api, ch, nums, "Once only")
    cid = campaign["id"]
    row = wait(lambda: next(iter(repo.rows(cid, 1, statuses=("queued",))), None), 30, every=0.05)
    api("POST", f"/v1/campaigns/{cid}/pause", {}, 200)
    # the late expand's write of this row, then the hold a wave in quiet hours gives it
    again = {k: v for k, v in row.items() if k not in ("PK", "SK", "message_id")} | {"status": "pending"}
    repo.put_rows(cid, [again])
    got = service.load(cid)
    assert got is not None
    fanout._hold(got[0], {**again, "SK": row["SK"]}, utcnow())
    assert api("GET", f"/v1/campaigns/{cid}", expect=200)["counts"]["held"] == 1
    api("POST", f"/v1/campaigns/{cid}/resume", {}, 200)

    wait(lambda: status_of(api, cid) == "completed", 40, every=1)
    c = api("GET", f"/v1/campaigns/{cid}", expect=200)
    assert (c["counts"]["queued"], c["counts"]["held"], c["counts"]["credits"]) == (6, 0, 6)
    again_row = next(r for r in all_recipients(api, cid) if r["number"] == row["number"])
    assert (again_row["status"], again_row["message_id"]) == ("queued", row["message_id"])
    wait(lambda: len(outbox_to(api, set(nums))) == 6, 30)
    time.sleep(1)
    assert Counter(m["to"] for m in outbox_to(api, set(nums))) == dict.fromkeys(nums, 1)
    stack.wait_streams()
    assert balance(api) == before - 6


@pytest.mark.usefixtures("fast_pipeline")
def test_the_last_pass_of_a_run_reads_the_campaign_once(
    stack: LocalStack, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain's last pass (every row handed over, nothing held) reads the campaign once: what it read
    first is still the campaign when it writes nothing before finishing the run."""
    from smsdesk.campaigns import fanout, service
    from smsdesk.data import campaigns as repo
    from smsdesk.envelopes import FanoutJob

    ch = channel(api, "+3197010000131")
    api("POST", "/v1/credits/top-ups", {"credits": 10, "reference": "last pass"}, 201)
    campaign = launch_numbers(api, ch, numbers("88", 2), "Last pass")
    cid = campaign["id"]
    wait(lambda: status_of(api, cid) == "completed", 60, every=1)
    # the run as its last pass finds it: every row queued, the chain's job current
    assert repo.run_update(
        repo.update(cid, "SET #s = :r", "#s = :c", {":r": "running", ":c": "completed"}, {"#s": "status"})
    )
    got = service.load(cid)
    assert got is not None
    reads: list[str] = []
    real = repo.get

    def get(campaign_id: str) -> Any:
        if campaign_id == cid:
            reads.append(campaign_id)
        return real(campaign_id)

    monkeypatch.setattr(repo, "get", get)
    job = FanoutJob(campaign_id=cid, phase="send", run=1, seq=got[1]["pump_seq"])
    assert fanout.send_wave(job) == "completed"
    assert len(reads) == 1
    assert status_of(api, cid) == "completed"


@pytest.mark.usefixtures("fast_pipeline")
def test_a_late_copy_of_the_expand_rewrites_no_row_a_wave_moved(
    stack: LocalStack, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies of one expand job (SQS delivers at least once; a big audience's expand is slow): the
    second read the campaign before the first recorded the run as expanded, and writes its rows after
    waves moved some: one queued, one skipped (an opt-out since planning), one held (quiet hours). It
    must write none: no row back to ``pending`` (its message id dropped, a skip counted twice, a hold
    never released), so the run ends with its counts right and every number sent once."""
    import datetime as dt
    import threading

    from smsdesk.campaigns import fanout, service
    from smsdesk.data import campaigns as repo
    from smsdesk.envelopes import FanoutJob
    from smsdesk.models import utcnow

    ch = channel(api, "+3197010000132", mps=1)
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "late expand"}, 201)
    before = balance(api)
    nums = numbers("87", 6)
    campaign = launch_numbers(api, ch, nums, "Expanded once")
    cid = campaign["id"]
    wait(lambda: next(iter(repo.rows(cid, 1, statuses=("queued",))), None), 30, every=0.05)
    api("POST", f"/v1/campaigns/{cid}/pause", {}, 200)
    got = service.load(cid)
    assert got is not None
    pending = list(repo.rows(cid, 1, statuses=("pending",)))
    assert len(pending) >= 2
    skipped, held = pending[0]["number"], pending[1]["number"]
    fanout._skip(got[0], pending[0], "opted_out")
    fanout._hold(got[0], pending[1], utcnow() + dt.timedelta(hours=1))
    moved = {r["number"]: r for r in repo.rows(cid, 1)}
    counts = api("GET", f"/v1/campaigns/{cid}", expect=200)["counts"]
    assert (counts["skipped"], counts["held"]) == (1, 1)

    # the late copy: its read of the campaign was before the first copy's last write (this thread only)
    got = service.load(cid)
    assert got is not None
    stale = [(got[0], {**got[1], "expanded_run": 0, "expanding": None})]
    real_load, me = service.load, threading.get_ident()
    monkeypatch.setattr(
        service, "load", lambda c: stale.pop() if stale and threading.get_ident() == me else real_load(c)
    )
    assert fanout.expand(FanoutJob(campaign_id=cid, phase="expand", run=1)) == "skipped"
    monkeypatch.undo()
    assert {r["number"]: r for r in repo.rows(cid, 1)} == moved
    plan = ("recipients", "queued", "held", "excluded", "skipped", "credits")  # not the messages' outcomes
    now = api("GET", f"/v1/campaigns/{cid}", expect=200)["counts"]
    assert {k: now[k] for k in plan} == {k: counts[k] for k in plan}

    api("POST", f"/v1/campaigns/{cid}/resume", {}, 200)
    wait(lambda: status_of(api, cid) == "completed", 40, every=1)
    c = api("GET", f"/v1/campaigns/{cid}", expect=200)["counts"]
    assert (c["queued"], c["skipped"], c["held"], c["credits"]) == (5, 1, 0, 5)
    rows = {r["number"]: r for r in repo.rows(cid, 1)}
    assert rows[skipped]["status"] == "excluded" and rows[held]["status"] == "queued"
    wait(lambda: len(outbox_to(api, set(nums))) == 5, 30)
    time.sleep(1)
    assert Counter(m["to"] for m in outbox_to(api, set(nums))) == {n: 1 for n in nums if n != skipped}
    stack.wait_streams()
    assert balance(api) == before - 5


@pytest.mark.usefixtures("fast_pipeline")
def test_an_expand_waits_for_a_live_copy_and_takes_over_from_a_dead_one(
    stack: LocalStack, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copies of one expand job: the first claims the run's expansion (a lease on the campaign item for
    the function's timeout); another arriving meanwhile writes no row and comes back when the lease
    ends (``busy``: its job queued again, delayed); one arriving after a copy died mid-expand (its lease
    expired; no wave ran, the run is not expanded) writes the rows. Each number gets one message."""
    import json
    import threading

    from smsdesk.campaigns import fanout, service
    from smsdesk.data import campaigns as repo
    from smsdesk.envelopes import FanoutJob

    real_expand, real_pages = fanout.expand, service.planned_pages
    delivered: list[FanoutJob] = []
    # the stack's own deliveries of the expand job are only noted: the test runs the copies itself
    monkeypatch.setattr(fanout, "expand", lambda job: delivered.append(job) or "skipped")
    ch = channel(api, "+3197010000133", mps=50)
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "expand lease"}, 201)
    before = balance(api)
    nums = numbers("86", 5)
    cid = launch_numbers(api, ch, nums, "One expand at a time")["id"]
    job = wait(lambda: next((j for j in delivered if j.campaign_id == cid), None), 30, every=0.05)

    def dies(*args: Any, **kwargs: Any) -> Any:
        raise TimeoutError("the function timed out while planning")

    monkeypatch.setattr(service, "planned_pages", dies)
    with pytest.raises(TimeoutError):
        real_expand(job)  # claimed the run, then died
    monkeypatch.setattr(service, "planned_pages", real_pages)
    assert real_expand(job) == "busy"  # the dead copy's lease still runs: nothing written, back later
    assert not list(repo.rows(cid, 1))
    item = repo.get(cid)
    assert item is not None and not item.get("expanded_run")
    [again] = item["ob"]["jobs"]
    assert json.loads(again["body"])["phase"] == "expand" and 60 < int(again["delay_s"]) <= 900

    # the lease has ended: the next copy takes over; a copy arriving while it plans is busy
    monkeypatch.setenv("SMSDESK_CLOCK_OFFSET_S", str(fanout.expand_lease_s() + 1))
    planning, go_on = threading.Event(), threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "copy-a":
            planning.set()
            go_on.wait(10)
        return real_pages(*args, **kwargs)

    monkeypatch.setattr(service, "planned_pages", slow)
    outcome: list[str] = []
    copy_a = threading.Thread(target=lambda: outcome.append(real_expand(job)), name="copy-a")
    copy_a.start()
    assert planning.wait(10)
    api("POST", f"/v1/campaigns/{cid}/pause", {}, 200)  # a pause meanwhile keeps the lease
    assert real_expand(job) == "busy"
    go_on.set()
    copy_a.join(30)
    assert outcome == ["expanded"]
    api("POST", f"/v1/campaigns/{cid}/resume", {}, 200)
    assert real_expand(job) == "skipped"  # its retry, once the run is expanded
    item = repo.get(cid)
    assert item is not None and item["expanded_run"] == 1 and "expanding" not in item
    assert sorted(r["number"] for r in repo.rows(cid, 1)) == sorted(nums)

    wait(lambda: status_of(api, cid) == "completed", 40, every=1)
    wait(lambda: len(outbox_to(api, set(nums))) == 5, 30)
    time.sleep(1)
    assert Counter(m["to"] for m in outbox_to(api, set(nums))) == dict.fromkeys(nums, 1)
    stack.wait_streams()
    assert balance(api) == before - 5


@pytest.mark.usefixtures("fast_pipeline")
def test_a_resume_while_the_run_is_expanded_waits_for_its_rows(
    stack: LocalStack, api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Paused and resumed while its expand still writes the rows (a big audience): the resumed chain must
    not find the run without rows and end it (completed, the reservation refunded, nothing sent); the
    run goes on once expanded and every number gets one message."""
    import threading

    from smsdesk.campaigns import fanout, service

    real_expand, real_pages = fanout.expand, service.planned_pages
    delivered: list[Any] = []
    monkeypatch.setattr(fanout, "expand", lambda job: delivered.append(job) or "skipped")
    ch = channel(api, "+3197010000134", mps=50)
    api("POST", "/v1/credits/top-ups", {"credits": 20, "reference": "resume while expanding"}, 201)
    before = balance(api)
    nums = numbers("85", 4)
    cid = launch_numbers(api, ch, nums, "Resumed early")["id"]
    job = wait(lambda: next((j for j in delivered if j.campaign_id == cid), None), 30, every=0.05)
    planning, go_on = threading.Event(), threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "slow-expand":
            planning.set()
            go_on.wait(20)
        return real_pages(*args, **kwargs)

    monkeypatch.setattr(service, "planned_pages", slow)
    outcome: list[str] = []
    expanding = threading.Thread(target=lambda: outcome.append(real_expand(job)), name="slow-expand")
    expanding.start()
    assert planning.wait(10)
    api("POST", f"/v1/campaigns/{cid}/pause", {}, 200)
    api("POST", f"/v1/campaigns/{cid}/resume", {}, 200)
    time.sleep(3)  # the resumed chain's first wave runs meanwhile
    assert status_of(api, cid) == "running"
    go_on.set()
    expanding.join(30)
    assert outcome == ["expanded"]
    wait(lambda: status_of(api, cid) == "completed", 40, every=1)
    wait(lambda: len(outbox_to(api, set(nums))) == 4, 30)
    time.sleep(1)
    assert Counter(m["to"] for m in outbox_to(api, set(nums))) == dict.fromkeys(nums, 1)
    stack.wait_streams()
    assert balance(api) == before - 4
