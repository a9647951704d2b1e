"""The cost model's pure parts (bench/cost_model.py): DynamoDB item sizes and units, as AWS documents
them, billing chunks and the $ per million arithmetic."""

from __future__ import annotations

import pytest

from bench import cost_model as cm

GSI1 = cm.Index("GSI1PK", "GSI1SK")


def s(v: str) -> dict:
    return {"S": v}


def test_item_size_counts_names_and_values_as_aws_documents() -> None:
    # names are UTF-8 bytes, strings their UTF-8 length, numbers ~1 byte per 2 significant digits + 1
    assert cm.item_size({"PK": s("abc")}) == 2 + 3
    assert cm.item_size({"é": s("ü")}) == 2 + 2
    assert cm.item_size({"n": {"N": "12345"}}) == 1 + 4  # ceil(5/2) + 1
    assert cm.item_size({"n": {"N": "-1.500"}}) == 1 + 2  # trailing zeros and sign do not count
    assert cm.item_size({"b": {"BOOL": True}, "z": {"NULL": True}}) == 2 + 2
    assert cm.item_size({"b": {"B": b"\x00" * 10}}) == 1 + 10
    # a map: 3 bytes + per element 1 byte + its name + its value
    assert cm.item_size({"m": {"M": {"ab": s("xyz")}}}) == 1 + 3 + 1 + 2 + 3
    assert cm.item_size({"l": {"L": [s("a"), {"N": "1"}]}}) == 1 + 3 + (1 + 1) + (1 + 2)
    assert cm.item_size({"ss": {"SS": ["a", "bc"]}}) == 2 + 3
    assert cm.item_size(None) == 0


def test_units_round_up_and_never_fall_below_one() -> None:
    assert cm.units(0, 1024) == 1
    assert cm.units(1024, 1024) == 1
    assert cm.units(1025, 1024) == 2
    assert cm.units(3500, 1024) == 4  # AWS's example: a 3.5 KB item is 4 WRU


def test_read_units_strong_eventual_and_transactional() -> None:
    assert cm.read_units(3000, consistent=True) == 1.0
    assert cm.read_units(3000, consistent=False) == 0.5
    assert cm.read_units(8193, consistent=True) == 3.0
    assert cm.read_units(8193, consistent=False) == 1.5
    assert cm.read_units(100, consistent=True, transactional=True) == 2.0
    assert cm.read_units(0, consistent=False) == 0.5  # nothing found still costs the minimum


def test_write_units_take_the_larger_of_before_and_after() -> None:
    small = {"PK": s("a"), "v": s("x" * 100)}
    big = {"PK": s("a"), "v": s("x" * 2000)}
    assert cm.write_units(None, small) == cm.WriteUnits(1, 0)
    assert cm.write_units(big, small) == cm.WriteUnits(2, 0)  # shrinking a 2 KB item costs 2
    assert cm.write_units(big, None) == cm.WriteUnits(2, 0)  # a delete: the deleted item's size


def test_transactions_double_the_table_write() -> None:
    item = {"PK": s("a"), "v": s("x" * 1500)}
    assert cm.write_units(None, item, transactional=True) == cm.WriteUnits(4, 0)


def test_gsi_writes_follow_the_item_in_and_out_of_a_sparse_index() -> None:
    base = {"PK": s("a"), "SK": s("b")}
    indexed = {**base, "GSI1PK": s("x"), "GSI1SK": s("1")}
    moved = {**base, "GSI1PK": s("y"), "GSI1SK": s("1")}
    changed = {**indexed, "status": s("sent")}
    assert cm.write_units(base, {**base, "v": s("1")}, indexes=[GSI1]).indexes == 0  # never in the index
    assert cm.write_units(base, indexed, indexes=[GSI1]).indexes == 1  # enters
    assert cm.write_units(indexed, base, indexes=[GSI1]).indexes == 1  # leaves
    assert cm.write_units(indexed, changed, indexes=[GSI1]).indexes == 1  # same index key, new attribute
    assert cm.write_units(indexed, moved, indexes=[GSI1]).indexes == 2  # index key changed: delete + put
    assert cm.write_units(indexed, dict(indexed), indexes=[GSI1]).indexes == 0  # nothing changed
    # a transaction doubles the table write, not the index update it propagates
    assert cm.write_units(base, indexed, indexes=[GSI1], transactional=True) == cm.WriteUnits(2, 1)


def test_a_failed_condition_still_costs_the_item_and_writes_no_index() -> None:
    indexed = {"PK": s("a"), "GSI1PK": s("x"), "GSI1SK": s("1"), "v": s("x" * 1500)}
    assert cm.write_units(indexed, indexed, indexes=[GSI1], applied=False) == cm.WriteUnits(2, 0)
    assert cm.write_units(None, None, applied=False, transactional=True) == cm.WriteUnits(2, 0)


def test_sqs_and_eventbridge_bill_per_64kb_chunk() -> None:
    assert cm.chunks(10, cm.SQS_CHUNK_BYTES) == 1
    assert cm.chunks(64 * 1024, cm.SQS_CHUNK_BYTES) == 1
    assert cm.chunks(64 * 1024 + 1, cm.EVENT_CHUNK_BYTES) == 2


def test_gb_seconds_round_duration_up_to_the_millisecond() -> None:
    assert cm.gb_seconds(1024, 100.0) == pytest.approx(0.1)
    assert cm.gb_seconds(512, 10.2) == pytest.approx(0.5 * 0.011)


def test_prices_are_the_list_prices_the_docs_cite() -> None:
    assert cm.PRICES["dynamodb_wru"] * 1e6 == pytest.approx(0.625)  # on-demand since Nov 2024
    assert cm.PRICES["dynamodb_rru"] * 1e6 == pytest.approx(0.125)
    assert cm.PRICES["lambda_request"] * 1e6 == pytest.approx(0.20)
    assert cm.PRICES["sqs_request"] * 1e6 == pytest.approx(0.40)
    assert cm.PRICES["apigw_http_request"] * 1e6 == pytest.approx(1.00)


def test_per_million_prices_each_service() -> None:
    usage = cm.Usage(
        lambda_requests=2,
        lambda_gb_s=0.1,
        wru=10,
        rru=4,
        sqs_requests=3,
        events=2,
        scheduler=1,
        apigw_requests=1,
        secrets_calls=1,
    )
    by = cm.per_million(usage)
    assert by["Lambda requests"] == pytest.approx(0.40)
    assert by["Lambda GB-s"] == pytest.approx(1.33334)
    assert by["DynamoDB writes"] == pytest.approx(6.25)
    assert by["DynamoDB reads"] == pytest.approx(0.50)
    assert by["SQS"] == pytest.approx(1.20)
    assert by["EventBridge"] == pytest.approx(2.00)
    assert by["Scheduler"] == pytest.approx(1.00)
    assert by["API Gateway"] == pytest.approx(1.00)
    assert by["Secrets Manager"] == pytest.approx(5.00)
    assert cm.total_per_million(usage) == pytest.approx(sum(by.values()))


def test_usage_adds_and_scales() -> None:
    a = cm.Usage(wru=2, calls=3)
    b = cm.Usage(wru=1, rru=1)
    assert (a + b).wru == 3 and (a + b).rru == 1 and (a + b).calls == 3
    assert a.scaled(0.5).wru == 1


def test_provisioned_capacity_at_full_use_is_the_hourly_price_per_second() -> None:
    # one WRU per message, every provisioned unit busy: $0.00065 / 3600 per message
    assert cm.provisioned_per_million(1, 0, utilisation=1.0) == pytest.approx(0.00065 / 3600 * 1e6)
    # half used: twice the price
    assert cm.provisioned_per_million(1, 1, utilisation=0.5) == pytest.approx(2 * (0.00065 + 0.00013) / 3600 * 1e6)
    with pytest.raises(ValueError):
        cm.provisioned_per_million(1, 1, utilisation=0)


def test_batched_consumers_are_regrouped_into_batches_of_the_modelled_size() -> None:
    from bench import bench_cost

    # 10 messages measured one per invocation (100 ms each) at 512 MB
    m = bench_cost.Measured(
        messages=10,
        calls=[],
        invocations={"sender": (10, 10, 1000.0)},
        cpu_ms={},
        http={},
        memory_mb={"sender": 512},
    )
    one, ten = bench_cost._lambda_usage(m, "sender", 1), bench_cost._lambda_usage(m, "sender", 10)
    assert (one.lambda_requests, one.sqs_requests) == (1.0, 2.0)  # receive + delete per batch of one
    assert ten.lambda_requests == pytest.approx(0.1) and ten.sqs_requests == pytest.approx(0.2)
    assert one.lambda_gb_s == pytest.approx(ten.lambda_gb_s) == pytest.approx(0.05)  # per-record time kept


def test_functions_outside_the_known_stages_are_priced_too() -> None:
    from bench import bench_cost

    m = bench_cost.Measured(
        messages=2,
        calls=[bench_cost.Call("outbox", "events:PutEvents", events=2)],
        invocations={"outbox": (2, 2, 200.0)},
        cpu_ms={},
        http={},
        memory_mb={"outbox": 256},
    )
    (_name, usage), *_ = [s for s in bench_cost.single_send(m, 1) if "outbox" in s[0]]
    assert (usage.events, usage.lambda_requests, usage.calls) == (1, 1, 0.5)  # one PutEvents of 2 entries, 2 sends


def test_the_outboxs_batched_requests_are_shared_in_a_full_batch_but_not_what_they_write() -> None:
    """At batches of 10, one SendMessageBatch carries 10 jobs (one SQS request), one BatchWriteItem up
    to 25 entries (one call), but every entry still writes its own units."""
    from bench import bench_cost

    def call(api: str, **kw: float) -> bench_cost.Call:
        return bench_cost.Call("outbox", api, per_batch=True, entries=1, **kw)

    m = bench_cost.Measured(
        messages=1,
        calls=[call("dynamodb:BatchWriteItem", wru_table=1, wru_index=2), call("sqs:SendMessageBatch", sqs_requests=1)],
        invocations={"outbox": (1, 1, 10.0)},
        cpu_ms={},
        http={},
        memory_mb={"outbox": 256},
    )
    one = bench_cost._calls_usage(m.calls, 1, batch=1)
    ten = bench_cost._calls_usage(m.calls, 1, batch=10)
    assert (one.calls, one.wru, one.sqs_requests) == (2, 3, 1)
    assert ten.calls == pytest.approx(0.2) and ten.sqs_requests == pytest.approx(0.1)
    assert ten.wru == 3


# -- the measured campaign (bench_cost.measure_campaign's arithmetic) ---------------------------------------


def _campaign() -> object:
    """Two recipients: the launch (one HTTP invocation), one expand (bulk queue), one sender batch of two,
    two callbacks, the outbox, the campaign-results queue, a function outside the stages, carrier writes."""
    from bench import bench_cost as bc

    calls = [
        bc.Call("api", "dynamodb:TransactWriteItems", trigger="http", wru_table=4),
        bc.Call("fanout", "dynamodb:BatchWriteItem", trigger="sqs", source="bulk", wru_table=2),
        bc.Call("sender", "dynamodb:UpdateItem", trigger="sqs", wru_table=2, wru_index=2),
        bc.Call("sender", "dynamodb:UpdateItem", trigger="sqs", wru_table=2, wru_index=2),
        bc.Call("sender", "dynamodb:PutItem", trigger="sqs", wru_table=50, carrier=True),  # the sandbox's own
        bc.Call("webhooks", "sqs:SendMessage", trigger="http", sqs_requests=1),
        bc.Call("webhooks", "sqs:SendMessage", trigger="http", sqs_requests=1),
        bc.Call("outbox", "events:PutEvents", trigger="stream", events=4, entries=4),
        bc.Call("fanout", "dynamodb:TransactWriteItems", trigger="sqs", source="campaign-results", wru_table=6),
        bc.Call("crmnotes", "dynamodb:GetItem", trigger="bus", rru=1),
    ]
    invocations = [
        bc.Invocation("api", "http", "POST /v1/campaigns/{id}/launch", 1, 100.0),
        bc.Invocation("fanout", "sqs", "bulk", 1, 200.0),
        bc.Invocation("sender", "sqs", "outbound", 2, 300.0),
        bc.Invocation("webhooks", "http", "POST /webhooks/sandbox", 1, 10.0),
        bc.Invocation("webhooks", "http", "POST /webhooks/sandbox", 1, 10.0),
        bc.Invocation("outbox", "stream", "outbox", 3, 50.0),
        bc.Invocation("outbox", "stream", "outbox", 1, 20.0),
        bc.Invocation("fanout", "sqs", "campaign-results", 2, 30.0),
        bc.Invocation("crmnotes", "bus", "crm", 1, 5.0),
    ]
    memory = {fn: 1024 for fn in ("api", "fanout", "sender", "webhooks", "receipts", "outbox", "crmnotes")}
    return bc.CampaignMeasured(recipients=2, calls=calls, invocations=invocations, memory_mb=memory, seconds=3.0)


def test_a_measured_campaign_prices_each_call_and_invocation_once_per_recipient() -> None:
    from bench import bench_cost as bc

    stages = dict(bc.campaign_stages(_campaign()))  # type: ignore[arg-type]
    launch = stages["launch (POST /v1/campaigns + /launch → api)"]
    assert (launch.wru, launch.lambda_requests, launch.apigw_requests) == (2.0, 0.5, 0.5)
    fan = stages["fan-out (bulk queue → fanout: expand, waves)"]
    assert (fan.wru, fan.lambda_requests, fan.sqs_requests) == (1.0, 0.5, 1.0)  # receive + delete of its job
    send = stages["send (outbound queue → sender)"]
    assert send.wru == 4.0 and send.calls == 1.0  # the carrier's 50 WRU left out
    assert send.lambda_requests == 0.5 and send.sqs_requests == 1.0  # one batch of two: ESM's 2 requests / 2
    assert send.lambda_gb_s == pytest.approx(0.15)  # 1 GB × 0.3 s, shared by the two
    receipts = stages["receipts (webhook → receipts queue → receipts)"]
    assert (receipts.apigw_requests, receipts.sqs_requests, receipts.lambda_requests) == (1.0, 1.0, 1.0)
    results = stages["campaign results (campaign-results queue → fanout)"]  # the same function, its other queue
    assert (results.wru, results.lambda_requests, results.sqs_requests) == (3.0, 0.5, 1.0)  # one batch of two
    assert stages["outbox (table stream → PutEvents, SendMessageBatch)"].events == 2.0
    other = stages["other functions (crmnotes)"]
    assert (other.rru, other.lambda_requests) == (0.5, 0.5)
    whole = bc.total(list(stages.items()))
    assert whole.wru == 2 + 1 + 4 + 3 and whole.lambda_requests == 9 / 2


def test_batch_sizes_are_the_ones_the_run_saw() -> None:
    from bench import bench_cost as bc

    sizes = bc.batch_sizes(_campaign())  # type: ignore[arg-type]
    assert sizes["outbox (outbox)"] == (2, 2.0, 3)
    assert sizes["sender (outbound)"] == (1, 2.0, 2)
    assert not any(k.startswith(("api", "webhooks")) for k in sizes)  # HTTP invocations are not batches


def _row(lines: list[str], label: str) -> list[str]:
    """The cells of the first table row whose first cell is ``label`` (bold or not)."""
    for line in lines:
        cells = [cell.strip().strip("*") for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == label:
            return cells
    raise AssertionError(f"no row {label!r}")


def _after(lines: list[str], heading: str) -> list[str]:
    return lines[next(i for i, line in enumerate(lines) if line.startswith(heading)) :]


def test_the_campaign_column_is_the_sum_of_its_services_and_of_its_stages() -> None:
    from bench import bench_cost as bc

    single = bc.Measured(
        messages=1,
        calls=[bc.Call("api", "dynamodb:TransactWriteItems", wru_table=4)],
        invocations={"api": (1, 1, 50.0)},
        cpu_ms={"api": 10.0},
        http={"api": 1},
        memory_mb={"api": 1024},
    )
    lines = bc.report(single, _campaign())  # type: ignore[arg-type]
    by_service = _after(lines, "### $ per million delivered messages, by service")
    head = _row(by_service, "service")
    col = head.index("campaign recipient (measured)")
    services = [float(_row(by_service, name)[col]) for name, _attr, _price in cm.SERVICES]
    total = float(_row(by_service, "total")[col])
    assert total == pytest.approx(sum(services), abs=0.011) and total > 0
    # the per-stage table's total row (its last column) is the same figure
    stage_total = _row(_after(lines, "### Per stage, campaign recipient"), "total")[-1]
    assert float(stage_total) == total
    # 20 WRU (not the carrier's 50) over 2 recipients at $0.625 per million; the single send's 4 WRU are its own
    assert float(_row(by_service, "DynamoDB writes")[col]) == pytest.approx(10 * 0.625, abs=0.006)
    assert float(_row(by_service, "DynamoDB writes")[1]) == pytest.approx(4 * 0.625, abs=0.006)


def test_the_load_independent_total_swaps_local_durations_for_cpu_plus_call_latency() -> None:
    from bench import bench_cost as bc

    campaign = _campaign()
    campaign.cpu_ms = {"sender": 170.0}  # type: ignore[attr-defined]  # + 3 calls × 10 ms = 0.2 s at 1 GB
    single = bc.Measured(messages=1, calls=[], invocations={}, cpu_ms={}, http={}, memory_mb={})
    by_service = _after(bc.report(single, campaign), "### $ per million")  # type: ignore[arg-type]
    col = _row(by_service, "service").index("campaign recipient (measured)")
    total = float(_row(by_service, "total")[col])
    local_gb_s = float(_row(by_service, "Lambda GB-s")[col])
    steady = float(_row(by_service, "total, GB-s from CPU + 10 ms per call")[col])
    assert steady == pytest.approx(total - local_gb_s + 0.1 * cm.PRICES["lambda_gb_s"] * 1e6, abs=0.011)
    assert steady < total  # the local handlers' 755 ms of wall time are more than 200 ms of work


def test_the_floor_prices_each_guarantee_and_scales_per_batch_parts_only() -> None:
    def total(kind: str, **kw: int) -> cm.Usage:
        out = cm.Usage()
        for _name, u in cm.floor_components(kind, **kw):
            out = out + u
        return out

    single = total("single", batch=10, events=1)
    # transaction of balance + message (2 WRU each) + index entry in two GSIs (3) + claim, sent,
    # a tenth of a rate-limit slot + the receipt's write
    assert single.wru == pytest.approx(4 + 3 + 2.1 + 1)
    assert single.apigw_requests == 2 and single.events == 1
    # per-batch parts grow when every message is its own batch; per-message parts do not
    lone = total("single", batch=1, events=1)
    assert lone.wru == pytest.approx(single.wru + 0.9)
    assert lone.sqs_requests == pytest.approx(single.sqs_requests * 10)
    assert total("single", batch=10, events=0).events == 0
    # a campaign recipient writes its row, its queued move, a bulk slot per message and an exact count
    campaign = total("campaign", batch=10, events=0)
    assert campaign.wru == pytest.approx(1 + 4 + 3 + 3 + 1 + 2.2)
    assert cm.total_per_million(campaign) > 10  # the issue asks ≤ $4: these items alone cost more
