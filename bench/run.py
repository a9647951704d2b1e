"""`make bench`: measured, not timed-in-tests. Prints Markdown; paste into docs/benchmarks.md.

Sections
1. Cold start: import time of each handler module in a fresh interpreter (best of N).
2. AWS API calls per operation, counted (not timed) against in-process moto.
3. The text engine's throughput (bench/bench_text.py), side by side with smsutil.
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-text", action="store_true")
    args = ap.parse_args()

    print(
        f"# smsdesk benchmarks\n\nMachine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print("Command: `make bench` (`.venv/bin/python bench/run.py`)\n")

    print(f"## Cold start: handler import time (fresh interpreter, best and median of {args.repeats})\n")
    print("| function | best ms | median ms |\n|---|---:|---:|")
    for name, best, med in cold_starts(args.repeats):
        print(f"| {name} | {best:.0f} | {med:.0f} |")
    print()

    import bench_aws_calls

    print("## AWS API calls per operation (counted against moto, in-process)\n")
    print("| operation | calls | by API |\n|---|---:|---|")
    for op, total, by_api in bench_aws_calls.run():
        detail = ", ".join(f"{k} {v}" for k, v in sorted(by_api.items()))
        print(f"| {op} | {total} | {detail} |")
    print()

    if not args.skip_text and (ROOT / "bench" / "bench_text.py").exists():
        print("## Text engine throughput\n")
        sys.stdout.flush()
        subprocess.run([sys.executable, str(ROOT / "bench" / "bench_text.py")], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
