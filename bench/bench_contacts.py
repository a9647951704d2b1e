"""Contacts at scale (issue 13): importing N contacts from a CSV, and resolving a dynamic group over them.

Import (on the local stack): a CSV of ``n`` valid rows (names, mobile, e-mail, two custom fields) is
uploaded with the presigned POST; the time from the upload to the import's ``done`` (S3 event, queue,
the ``imports`` function in batches of 25, its continuations) and the AWS calls the ``imports``
function made (counted by the local IAM check, per action) per contact. The same file again measures
the update path (every row finds its contact by number).

Dynamic group ``city equals Lyon and age greater 17`` over the imported contacts:

* end to end on the local stack: ``crm.audience.resolve`` (the function campaigns call) with the group,
  page by page; wall time (moto's: its Query on an index costs time in proportion to the table), the CPU
  time of the resolving thread (``time.thread_time``: our code, botocore included, not moto's server
  threads) and the DynamoDB calls;
* our code alone: the same rule over at least 100,000 contacts as a dynamic group reads them (items
  projected to the rule's attributes, then the members' whole items), a page at a time, without any AWS
  call: the CPU a Lambda spends, and its peak memory.

``python bench/bench_contacts.py --resolve N`` measures the resolution alone over N contacts written
straight to the table (no import: minutes instead of hours of moto at 20,000 and more).
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
import tracemalloc
import urllib.request
from collections import Counter
from typing import Any

NOTES = """How to read the contacts numbers
- AWS calls per contact are what the `imports` function calls, counted per API operation: they hold in
  AWS. Wall times on the local stack are mostly moto's: a Query on an index costs moto time in
  proportion to the whole table (the resolution's wall time), which DynamoDB's does not.
- A dynamic group's resolution is bounded by reading the contacts (GSI2, 500 per page, projected to
  the attributes its rule names; the members then read whole with BatchGetItem). DynamoDB reads hand
  their items over as `json` decodes them (`aws.fast_items`: botocore's own parsing of each attribute
  was most of the CPU). "Our code alone" measures the rest without AWS. Its peak memory stays one
  page: the group is never held in one list.
"""

RULE = {
    "all": [
        {"field": "city", "op": "equals", "value": "Lyon"},
        {"field": "age", "op": "greater", "value": 17},
    ]
}
CITIES = ("Lyon", "Paris", "Lille", "Nantes")


def _http(stack: Any, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(
        stack.base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


def csv_file(n: int, seed: int = 13) -> tuple[bytes, int]:
    """``n`` rows; how many match the rule."""
    rnd = random.Random(seed)
    lines = ["first_name,last_name,mobile,email,city,age"]
    matching = 0
    for i in range(n):
        city, age = rnd.choice(CITIES), rnd.randint(5, 70)
        matching += city == "Lyon" and age > 17
        lines.append(f"First{i},Last{i},+3161{i:07d},p{i}@example.org,{city},{age}")
    return ("\n".join(lines) + "\n").encode(), matching


class _ApiCalls:
    """AWS API operations made by the ``imports`` function (while one of its invocations runs)."""

    def __init__(self) -> None:
        self.calls: Counter = Counter()

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        from smsdesk.local.isolation import current_function

        if current_function() == "imports":
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1


def _import(stack: Any, counter: _ApiCalls, data: bytes, timeout_s: float) -> tuple[dict[str, Any], float, Counter]:
    import requests

    before = Counter(counter.calls)
    started = _http(stack, "POST", "/v1/contact-imports", {"file_name": "bench.csv"})
    up = started["upload"]
    t0 = time.perf_counter()
    resp = requests.post(up["url"], data=up["fields"], files={"file": ("bench.csv", data)}, timeout=120)
    resp.raise_for_status()
    deadline = time.monotonic() + timeout_s
    while True:
        got = _http(stack, "GET", f"/v1/contact-imports/{started['import']['id']}")
        if got["status"] in ("done", "failed"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"import not done in {timeout_s} s: {got}")
        time.sleep(0.5)
    wall = time.perf_counter() - t0
    return got, wall, Counter(counter.calls) - before


def _resolve_local(group_id: str) -> tuple[int, float, float, int]:
    """(recipients, wall s, thread CPU s, DynamoDB calls) of resolving the group."""
    from smsdesk import aws
    from smsdesk.crm import audience

    calls = Counter()

    def count(**kwargs: Any) -> None:
        calls[kwargs.get("event_name", "")] += 1

    client = aws.dynamodb()
    client.meta.events.register("before-call.dynamodb", count)
    t0, c0 = time.perf_counter(), time.thread_time()
    recipients = 0
    for page in audience.resolve(audience.Selection(group_ids=[group_id]), channel_id=None, region="NL"):
        recipients += len(page.recipients)
    cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
    client.meta.events.unregister("before-call.dynamodb", count)
    return recipients, wall, cpu, sum(calls.values())


def rule_only(n: int, page_size: int = 500) -> tuple[int, float, float]:
    """(matches, CPU s, peak MB) of the rule over ``n`` contacts as a dynamic group reads them, without
    any AWS call: a page of items projected to the rule's attributes (as ``json`` decodes DynamoDB's
    answer), the rule on each, then the members' whole items (as BatchGetItem answers) loaded as
    contacts. Each page's raw items are made outside the measured CPU; the peak includes the page."""
    from smsdesk.crm import rules
    from smsdesk.data import contacts as repo
    from smsdesk.data import table

    rnd = random.Random(7)
    rule = rules.parse(RULE)
    paths = rules.stored_paths(rule)

    def project(item: dict[str, Any]) -> dict[str, Any]:
        out = {k: item[k] for k in ("PK", "SK", "GSI2PK", "GSI2SK")}
        for path in paths:
            if path[0] in item and (len(path) == 1 or path[1] in item[path[0]]["M"]):
                if len(path) == 1:
                    out[path[0]] = item[path[0]]
                else:
                    out.setdefault(path[0], {"M": {}})["M"][path[1]] = item[path[0]]["M"][path[1]]
        return out

    tracemalloc.start()
    cpu = 0.0
    matched = 0
    for start in range(0, n, page_size):
        full = {
            f"C{i:08d}": table.serialize(repo._item(_contact(i, rnd), 1))
            for i in range(start, min(n, start + page_size))
        }
        raw = [project(i) for i in full.values()]
        c0 = time.process_time()
        hits = []
        for item in raw:  # as crm.groups.member_pages
            stored = table.deserialize(item)
            if rules.matches(rule, rules.contact_view(stored)):
                hits.append(stored["PK"].removeprefix("CONTACT#"))
        members = [repo.load(table.deserialize(full[cid])) for cid in hits]
        matched += len(members)
        cpu += time.process_time() - c0
        del full, raw, members
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return matched, cpu, peak / 1e6


def _contact(i: int, rnd: random.Random) -> Any:
    from smsdesk.models import Contact

    return Contact(
        id=f"C{i:08d}",
        first_name=f"First{i}",
        last_name=f"Last{i}",
        mobile=f"+3161{i:07d}",
        email=f"p{i}@example.org",
        custom_fields={"city": rnd.choice(CITIES), "age": rnd.randint(5, 70)},
        tags=["member", f"team{i % 12}"],
        time_zone="Europe/Amsterdam",
        time_zone_derived=True,
        created_at="2026-01-01T00:00:00Z",
    )


def seed(n: int, seed: int = 13) -> int:
    """``n`` contact items written straight to the table (BatchWriteItem; no number guards or search
    items: what a dynamic group reads), as an import would store them. Returns how many match RULE."""
    from smsdesk import aws, config
    from smsdesk.data import contacts as repo
    from smsdesk.data import table

    rnd = random.Random(seed)
    matching, batch = 0, []
    for i in range(n):
        c = _contact(i, rnd)
        matching += c.custom_fields["city"] == "Lyon" and c.custom_fields["age"] > 17
        batch.append({"PutRequest": {"Item": table.serialize(repo._item(c, 1))}})
        if len(batch) == 25 or i == n - 1:
            pending: dict[str, Any] = {config.table_name(): batch}
            while pending:
                pending = aws.dynamodb().batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            batch = []
    return matching


def resolve_only(n: int) -> list[str]:
    """Resolution alone over ``n`` contacts written straight to the local stack's table (no import)."""
    from smsdesk.local.stack import LocalStack

    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0, local_json=f"{tmp}/local.json") as stack:
        _http(stack, "POST", "/v1/contact-fields", {"key": "city", "label": "City", "type": "text"})
        _http(stack, "POST", "/v1/contact-fields", {"key": "age", "label": "Age", "type": "number"})
        expected = seed(n)
        group = _http(stack, "POST", "/v1/groups", {"name": "Lyon adults", "kind": "dynamic", "rule": RULE})
        found, wall, cpu, calls = _resolve_local(group["id"])
        if found != expected:
            raise RuntimeError(f"resolved {found} recipients, expected {expected}")
    return [
        "| measure | contacts | members | wall s | CPU s | DynamoDB calls | CPU s per 100,000 |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| end to end (local stack, seeded) | {n:,} | {found:,} | {wall:.2f} | {cpu:.2f} | {calls} |"
        f" {cpu * 100_000 / n:.1f} |",
    ]


def run(n: int = 5000, *, progress: bool = False) -> list[str]:
    """Markdown lines for ``bench/run.py``."""
    from smsdesk.local.stack import LocalStack

    out: list[str] = []
    data, expected = csv_file(n)
    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0, local_json=f"{tmp}/local.json") as stack:
        _http(stack, "POST", "/v1/contact-fields", {"key": "city", "label": "City", "type": "text"})
        _http(stack, "POST", "/v1/contact-fields", {"key": "age", "label": "Age", "type": "number"})
        from smsdesk import aws

        counter = _ApiCalls()
        aws.client_hooks.append(counter.attach)
        aws.reset()
        rows = []
        changed = data.replace(b"@example.org", b"@example.net")  # every row changes its e-mail
        try:
            for label, file in (("new contacts", data), ("the same numbers, every e-mail changed (updates)", changed)):
                got, wall, calls = _import(stack, counter, file, timeout_s=max(600, n / 5))
                if got["status"] != "done" or got["failed"]:
                    raise RuntimeError(f"import {label}: {got}")
                rows.append((label, got, wall, calls))
                if progress:
                    print(f"  {label}: {wall:.1f} s, {dict(calls)}", file=sys.stderr, flush=True)
        finally:
            aws.client_hooks.remove(counter.attach)
        group = _http(stack, "POST", "/v1/groups", {"name": "Lyon adults", "kind": "dynamic", "rule": RULE})
        found, r_wall, r_cpu, r_calls = _resolve_local(group["id"])
        if found != expected:
            raise RuntimeError(f"resolved {found} recipients, expected {expected}")
    out.append(f"## Contacts: importing {n:,} contacts from a CSV (local stack, `bench/bench_contacts.py`)\n")
    out.append(
        "Upload (presigned POST) to `done`: the S3 event, the `imports` function in batches of 25 rows (each"
        " batch: one BatchGetItem of the number guards, one transaction per new contact, or a BatchGetItem of"
        " the contacts and a transaction per changed one, and one UpdateItem of the import's progress).\n"
    )
    out.append("| file | rows | created | updated | wall s | rows/s | AWS calls per contact | by API |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for label, got, wall, calls in rows:
        detail = ", ".join(f"{k.split(':')[1]} ×{v}" for k, v in sorted(calls.items()))
        out.append(
            f"| {label} | {got['rows']:,} | {got['created']:,} | {got['updated']:,} | {wall:.1f} | {n / wall:.0f} |"
            f" {sum(calls.values()) / n:.2f} | {detail} |"
        )
    out.append("")
    alone = max(n, 100_000)
    _matched, m_cpu, m_peak = rule_only(alone)
    out.append(f"## Contacts: resolving a dynamic group over {n:,} contacts\n")
    out.append(
        f"Rule `city equals Lyon and age greater 17` ({expected:,} members). End to end: `crm.audience.resolve`"
        " on the local stack (GSI2 pages of 500 contacts projected to the rule's two attributes, a BatchGetItem"
        " of each page's members, then the opt-out/blocklist BatchGetItems of their numbers); CPU is the resolving thread's (`time.thread_time`: our code and botocore, not moto's"
        f" server threads). Our code alone: the same rule over {alone:,} contacts handed over a page at a"
        " time as DynamoDB answers them (projected items, then the members' items), no AWS call; CPU by `time.process_time`, peak memory by `tracemalloc` (the page included).\n"
    )
    out.append("| measure | contacts | wall s | CPU s | DynamoDB calls | peak MB | CPU s per 100,000 |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    out.append(
        f"| end to end (local stack) | {n:,} | {r_wall:.2f} | {r_cpu:.2f} | {r_calls} | | {r_cpu * 100_000 / n:.1f} |"
    )
    out.append(f"| our code alone | {alone:,} | | {m_cpu:.2f} | 0 | {m_peak:.1f} | {m_cpu * 100_000 / alone:.1f} |")
    out.append("")
    return out


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    import logging

    logging.getLogger("smsdesk_local").setLevel(logging.WARNING)
    if sys.argv[1:2] == ["--resolve"]:
        for line in resolve_only(int(sys.argv[2]) if len(sys.argv) > 2 else 5000):
            print(line)
        sys.exit(0)
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    for line in run(count, progress=True):
        print(line)
