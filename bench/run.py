"""`make bench`: measured, not timed-in-tests. Writes Markdown to docs/benchmarks.md (and stdout).

Sections
1. Cold start: import time of each handler module from the built layer (bench/bench_cold_start.py),
   next to bare `import boto3` in the same run.
2. AWS API calls per operation, counted (not timed) against in-process moto.
   Cost per delivered message (bench/bench_cost.py): calls, DynamoDB units and $ per million, for a single
   send and for a campaign recipient measured on a real campaign (`--campaign-cost-recipients`, 150).
   The sender's rate against the channel limit, alone and with a campaign backlog and replies mixed
   (bench/bench_sender_rate.py, `--mixed-recipients`, 30).
3. The text engine's throughput (bench/bench_text.py), side by side with smsutil.
4. The web app (bench/bench_web.py): first-load transferred size (gzip) and the time to an interactive
   inbox in Chromium on the local stack.
5. Contacts (bench/bench_contacts.py): importing N contacts from a CSV (AWS calls per contact, wall time
   on the local stack) and resolving a dynamic group over them (CPU, peak memory). `--contacts N`
   (default 5,000; `--contacts 100000` for the full size, which takes hours on moto: see the notes).
6. Campaigns (bench/bench_campaigns.py): planning 100,000 recipients (resolve, merge, count, price) in CPU s.

`--only SECTION` (repeatable; see SECTIONS) runs just those sections and replaces them in place in the
output file; `--small` runs every size not given explicitly at a small size (a few minutes in all).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "smsdesk"))
sys.path.insert(0, str(ROOT / "bench"))

from smsdesk import manifest  # noqa: E402

NOTES = """How to read these numbers
- Cold start is the import of the handler module only (what Lambda's init phase runs before the first
  event), from the layer as `make synth` builds it (the lock's wheels for this machine's architecture,
  bytecode compiled by the runtime's Python version), with boto3 from a stand-in for the runtime's copy
  and nothing from the development venv on `sys.path`. Lambda runs arm64 on other CPUs, so only the
  ratio to bare `import boto3`, measured the same way in the same run, is portable. "without .pyc" is
  the same layer with its bytecode removed, as the layer shipped before (Lambda's /opt is read-only, so
  such a layer recompiles every module at every cold start).
- AWS calls are counted per handler invocation (the local stack's own polling is not counted: in AWS
  that is the event source mapping's work, not ours). Fewer calls = lower latency and cost.
- The text engine's throughput is compared with the pure-Python `smsutil` package on the same corpus
  in the same run; only the ratio is portable between machines.
"""


class Report:
    """Collects Markdown lines and echoes them to stdout as they come."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        self.lines.append(text)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-text", action="store_true")
    ap.add_argument("--rate-messages", type=int, default=1000, help="messages per local-rate batch")
    ap.add_argument("--rate-filler", type=int, default=100_000, help="items the table grows by between batches")
    ap.add_argument("--contacts", type=int, default=5000, help="contacts imported and resolved (issue 13: 100000)")
    ap.add_argument("--campaign-recipients", type=int, default=100_000, help="campaign planning size (issue 14)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="Markdown file to write ('-': none)")
    ap.add_argument(
        "--campaign-cost-recipients",
        type=int,
        default=None,
        help=f"recipients of the campaign measured in the cost section (default {SIZES['campaign_cost_recipients'][0]})",
    )
    ap.add_argument(
        "--mixed-recipients",
        type=int,
        default=None,
        help=f"campaign backlog of the bulk-and-replies row (default {SIZES['mixed_recipients'][0]})",
    )
    ap.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only this section (repeat for more); its output replaces the same section of --out in place",
    )
    ap.add_argument("--small", action="store_true", help="small sizes for every size not given: a few minutes")
    args = ap.parse_args()
    for name, (full, small) in SIZES.items():
        if getattr(args, name) is None or (args.small and getattr(args, name) == ap.get_default(name)):
            setattr(args, name, small if args.small else full)
    only = set(args.only or ())

    def want(section: str) -> bool:
        return not only or section in only

    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    logging.getLogger("smsdesk_local").setLevel(logging.WARNING)
    out = Report()

    if not only:
        out(
            f"# smsdesk benchmarks\n\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}."
        )
        out(
            f"Command: `make bench` (`.venv/bin/python bench/run.py --repeats {args.repeats}`); this file is its output.\n"
        )
        out(NOTES)

    if want("cold"):
        import bench_cold_start

        load = os.getloadavg()[0]
        setup, base, rows = bench_cold_start.run([fn.entry for fn in manifest.FUNCTIONS], args.repeats)
        out(f"## Cold start from the built layer: handler import time (fresh interpreter, best of {args.repeats})\n")
        out(
            f"Interpreter: Python {setup.version} ({setup.note}). Layer ({bench_cold_start.host_platform()}):"
            f" {setup.layer_mb:.1f} MB in {setup.layer_files} files unzipped (no boto3/botocore; .pyc included)."
            " CPU time of the import (`time.process_time`, robust to other load on the machine) and wall time;"
            f" rounds interleave all imports. Load average when it started: {load:.1f} on {os.cpu_count()} cores.\n"
        )
        out(
            "| import | CPU ms | ÷ `import boto3` | wall ms (best) | wall ms (median) | without .pyc: CPU ms |\n"
            "|---|---:|---:|---:|---:|---:|"
        )
        for row in (base, *rows):
            bare = f"{min(row.bare_cpu):.0f}" if row.bare_cpu else ""
            label = "bare `import boto3`" if row is base else row.name
            out(
                f"| {label} | {row.best:.0f} | {row.best / base.best:.2f} | {min(row.wall):.0f} |"
                f" {statistics.median(row.wall):.0f} | {bare} |"
            )
        out()

    import bench_aws_calls

    if want("calls") or want("timers"):
        out("## AWS API calls per operation (counted on the local stack)\n")
        out("| operation | calls | by function and API |\n|---|---:|---|")
        for op, total, by_api in bench_aws_calls.run():
            detail = ", ".join(f"{k} ×{v}" for k, v in sorted(by_api.items()))
            out(f"| {op} | {total} | {detail} |")
        out()
    if want("cost"):
        import bench_cost

        for line in bench_cost.run(campaign_recipients=args.campaign_cost_recipients):
            out(line)
    if want("calls") or want("timers"):
        out("## Timer lateness on the local stack (action run − due)\n")
        out("| timer path | timers | median ms | max ms |\n|---|---:|---:|---:|")
        for path, count, median, worst in bench_aws_calls.TIMER_LATENESS:
            out(f"| {path} | {count} | {median:.0f} | {worst:.0f} |")
        out()

    if want("sender"):
        import bench_sender_rate

        out("## Sender rate against the channel limit under a backlog (local stack)\n")
        out("| limit msg/s | backlog | achieved msg/s | achieved ÷ limit |\n|---:|---:|---:|---:|")
        for mps, n, achieved, ratio in bench_sender_rate.run():
            out(f"| {mps:g} | {n} | {achieved:.3f} | {ratio:.2f} |")
        out()
        out(
            "Higher limits than the local stack's own rate (next section) are measured with a controllable clock"
            " in `tests/unit/test_ratelimit.py` (100 jobs at 5/s: ratio 1.00).\n"
        )
        for line in bench_sender_rate.mixed_lines(bench_sender_rate.run_mixed(recipients=args.mixed_recipients)):
            out(line)

    if want("local-rate"):
        import bench_local_rate

        out("## The local stack's sustained rate (`bench/bench_local_rate.py`)\n")
        out(
            "Messages sent through `POST /v1/messages` by 8 client threads to a sandbox channel limited to 1,000/s,"
            " until every one is `delivered` (the sandbox's receipts through the webhook, the outbox, the receipts"
            " function); then the table is grown with unrelated items straight in moto and the batch runs again.\n"
        )
        out("| table items before | messages | delivered msg/s |\n|---:|---:|---:|")
        for size, n, rate in bench_local_rate.run(n=args.rate_messages, filler=args.rate_filler):
            out(f"| {size} | {n} | {rate:.1f} |")
        out()

    if want("web"):
        import bench_web

        for line in bench_web.run():
            out(line)

    if want("contacts"):
        import bench_contacts

        for line in bench_contacts.run(args.contacts):
            out(line)
        out(bench_contacts.NOTES)

    if want("campaigns"):
        import bench_campaigns

        for line in bench_campaigns.run(args.campaign_recipients):
            out(line)

    if want("text") and not args.skip_text:
        out("## Text engine throughput (`bench/bench_text.py`)\n")
        text = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "bench_text.py")], check=True, capture_output=True, text=True
        )
        out(text.stdout.rstrip())
    if want("bots"):
        import bench_bots

        for line in bench_bots.run():
            out(line)

    if args.out != "-":
        path = Path(args.out)
        if only and path.exists():
            path.write_text(replace_sections(path.read_text(), out.lines))
        else:
            Path(args.out).write_text("\n".join(out.lines) + "\n")
    return 0


# -- sections (--only) and sizes (--small) -------------------------------------------------------------

#: What ``--only`` selects, in the order ``make bench`` writes them ("calls" and "timers" share one run).
SECTIONS = (
    "cold",
    "calls",
    "cost",
    "timers",
    "sender",
    "local-rate",
    "web",
    "contacts",
    "campaigns",
    "text",
    "bots",
)

#: Size option -> (full, --small).
SIZES: dict[str, tuple[int, int]] = {
    "repeats": (5, 2),
    "rate_messages": (1000, 200),
    "rate_filler": (100_000, 10_000),
    "contacts": (5000, 500),
    "campaign_recipients": (100_000, 10_000),
    "campaign_cost_recipients": (150, 40),
    "mixed_recipients": (30, 16),
}


def _heading_key(line: str) -> str:
    """A ``## `` heading without its numbers, so a section run at another size replaces its old self."""
    return re.sub(r"\d[\d,.]*", "N", line.strip())


def replace_sections(doc: str, lines: list[str]) -> str:
    """``doc`` with each ``## `` section of ``lines`` put in place of the section of ``doc`` that has the
    same heading (numbers aside), or appended at the end when it has none."""
    text = "\n".join(lines)
    new = [("## " + part).rstrip("\n") for part in re.split(r"^## ", text, flags=re.M)[1:]]
    old = re.split(r"^(?=## )", doc, flags=re.M)
    for section in new:
        key = _heading_key(section.split("\n", 1)[0])
        at = next((i for i, part in enumerate(old) if _heading_key(part.split("\n", 1)[0]) == key), None)
        if at is None:
            old.append(section + "\n\n")
        else:
            old[at] = section + "\n\n"
    return "".join(old).rstrip("\n") + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
