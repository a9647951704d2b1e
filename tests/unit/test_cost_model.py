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
