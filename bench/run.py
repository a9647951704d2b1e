"""`make bench`: measured, not timed-in-tests. Writes Markdown to docs/benchmarks.md (and stdout).

Sections
1. Cold start: import time of each handler module in a fresh interpreter (best of N).
2. AWS API calls per operation, counted (not timed) against in-process moto.
3. The text engine's throughput (bench/bench_text.py), side by side with smsutil.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "smsdesk"))
sys.path.insert(0, str(ROOT / "bench"))

from smsdesk import manifest  # noqa: E402

IMPORT_SNIPPET = """
import importlib.util, sys, time
t = time.perf_counter()
spec = importlib.util.spec_from_file_location("index", sys.argv[1])
mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mod)
print((time.perf_counter() - t) * 1000)
"""


def cold_starts(repeats: int) -> list[tuple[str, float, float]]:
    rows = []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}
    for fn in manifest.FUNCTIONS:
        path = ROOT / "functions" / fn.entry / "index.py"
        samples = []
        for _ in range(repeats):
            out = subprocess.run(
                [sys.executable, "-c", IMPORT_SNIPPET, str(path)], capture_output=True, text=True, env=env, check=True
            )
            samples.append(float(out.stdout.strip().splitlines()[-1]))
        rows.append((fn.name, min(samples), statistics.median(samples)))
    return rows


NOTES = """How to read these numbers
- Cold start is the import of the handler module only (what Lambda's init phase runs before the first
  event), measured locally on CPython 3.11; Lambda runs 3.14 on arm64, so absolute values differ. The
  big shares are Powertools' OpenAPI/validation models (api, webhooks) and boto3 itself; the package's
  own modules read configuration lazily and create AWS clients on first use.
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
    ap.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="Markdown file to write ('-': none)")
    args = ap.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    logging.getLogger("smsdesk_local").setLevel(logging.WARNING)
    out = Report()

    out(
        f"# smsdesk benchmarks\n\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}."
    )
    out(f"Command: `make bench` (`.venv/bin/python bench/run.py --repeats {args.repeats}`); this file is its output.\n")
    out(NOTES)

    out(f"## Cold start: handler import time (fresh interpreter, best and median of {args.repeats})\n")
    out("| function | best ms | median ms |\n|---|---:|---:|")
    for name, best, med in cold_starts(args.repeats):
        out(f"| {name} | {best:.0f} | {med:.0f} |")
    out()

    import bench_aws_calls

    out("## AWS API calls per operation (counted on the local stack)\n")
    out("| operation | calls | by function and API |\n|---|---:|---|")
    for op, total, by_api in bench_aws_calls.run():
        detail = ", ".join(f"{k} ×{v}" for k, v in sorted(by_api.items()))
        out(f"| {op} | {total} | {detail} |")
    out()
    out("## Timer lateness on the local stack (action run − due)\n")
    out("| timer path | timers | median ms | max ms |\n|---|---:|---:|---:|")
    for path, count, median, worst in bench_aws_calls.TIMER_LATENESS:
        out(f"| {path} | {count} | {median:.0f} | {worst:.0f} |")
    out()

    import bench_sender_rate

    out("## Sender rate against the channel limit under a backlog (local stack)\n")
    out("| limit msg/s | backlog | achieved msg/s | achieved ÷ limit |\n|---:|---:|---:|---:|")
    for mps, n, achieved, ratio in bench_sender_rate.run():
        out(f"| {mps:g} | {n} | {achieved:.3f} | {ratio:.2f} |")
    out()
    out(
        "The local stack sends ~1.6 msg/s at most (one poller, moto calls ~40 ms each), so higher limits are"
        " measured with a controllable clock in `tests/unit/test_ratelimit.py` (100 jobs at 5/s: ratio 1.00).\n"
    )

    if not args.skip_text:
        out("## Text engine throughput (`bench/bench_text.py`)\n")
        text = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "bench_text.py")], check=True, capture_output=True, text=True
        )
        out(text.stdout.rstrip())
    if args.out != "-":
        Path(args.out).write_text("\n".join(out.lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
