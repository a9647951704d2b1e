"""Throughput of the SMS segment calculator vs smsutil, on the same corpus in the same run.

    .venv/bin/python bench/bench_text.py [--json] [--messages 2000] [--repeats 5] [--seed 42]

Corpus (deterministic): 4 kinds of messages in equal parts -- GSM-7 plain, GSM-7 with extension
characters, UCS-2 by accents (ê ç ...), UCS-2 with emoji -- with lengths uniform in 1..1000
characters. Each timing is the best of ``--repeats`` passes over the whole corpus
(``time.perf_counter``); throughput is corpus characters / second.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections.abc import Callable

import smsutil

from smsdesk.text import count_segments, split_segments
from smsdesk.text.gsm import GSM_BASIC

GSM_PLAIN = [c for c in sorted(GSM_BASIC) if c.isalnum()] + [" "] * 12 + list(".,!?'-:")
EXT = list("{}[]~^|\\€")
ACCENTS = list("êçâîôûëïœÊÀÁ")
EMOJI = ["😀", "👍", "🎉", "❤", "🙏", "🚀"]


def make_corpus(n: int, seed: int) -> dict[str, list[str]]:
    rnd = random.Random(seed)
    kinds: dict[str, list[str]] = {"gsm": [], "gsm+ext": [], "ucs2-accents": [], "ucs2-emoji": []}
    for i in range(n):
        kind = list(kinds)[i % 4]
        length = rnd.randint(1, 1000)
        chars = rnd.choices(GSM_PLAIN, k=length)
        if kind == "gsm+ext":
            for j in rnd.sample(range(length), max(1, length // 20)):
                chars[j] = rnd.choice(EXT)
        elif kind == "ucs2-accents":
            for j in rnd.sample(range(length), max(1, length // 15)):
                chars[j] = rnd.choice(ACCENTS)
        elif kind == "ucs2-emoji":
            for j in rnd.sample(range(length), max(1, length // 25)):
                chars[j] = rnd.choice(EMOJI)
        kinds[kind].append("".join(chars))
    return kinds


def best_of(impls: dict[str, Callable[[str], object]], texts: list[str], repeats: int) -> dict[str, float]:
    """Best wall time per implementation; the implementations alternate within each repeat so a
    load spike on a shared machine does not penalise only one of them."""
    best = dict.fromkeys(impls, float("inf"))
    for _ in range(repeats):
        for name, fn in impls.items():
            t0 = time.perf_counter()
            for t in texts:
                fn(t)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def run(messages: int, repeats: int, seed: int) -> dict:
    kinds = make_corpus(messages, seed)
    kinds["all"] = [t for ts in kinds.values() for t in ts]
    # sanity: both libraries agree on this corpus (no empty text, no ESC)
    for t in kinds["all"]:
        assert len(smsutil.split(t).parts) == count_segments(t).segments
    impls: dict[str, Callable[[str], object]] = {
        "smsdesk count_segments": count_segments,
        "smsdesk split_segments": split_segments,
        "smsutil.split": smsutil.split,
    }
    rows = []
    for kind, texts in kinds.items():
        chars = sum(map(len, texts))
        secs = best_of(impls, texts, repeats)
        rows.append(
            {
                "corpus": kind,
                "messages": len(texts),
                "characters": chars,
                **{f"{name} chars/s": chars / s for name, s in secs.items()},
                "ratio count/smsutil": secs["smsutil.split"] / secs["smsdesk count_segments"],
                "ratio split/smsutil": secs["smsutil.split"] / secs["smsdesk split_segments"],
            }
        )
    return {
        "command": "python bench/bench_text.py " + " ".join(sys.argv[1:]),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "smsutil": getattr(smsutil, "__version__", None) or _smsutil_version(),
        "messages": messages,
        "repeats": repeats,
        "seed": seed,
        "results": rows,
    }


def _smsutil_version() -> str:
    from smsutil.__version__ import __version__

    return __version__


def markdown(report: dict) -> str:
    head = (
        "| corpus | msgs | chars | count_segments (Mchar/s) | split_segments (Mchar/s) "
        "| smsutil.split (Mchar/s) | count ÷ smsutil | split ÷ smsutil |"
    )
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in report["results"]:
        lines.append(
            f"| {r['corpus']} | {r['messages']} | {r['characters']} "
            f"| {r['smsdesk count_segments chars/s'] / 1e6:.1f} "
            f"| {r['smsdesk split_segments chars/s'] / 1e6:.1f} "
            f"| {r['smsutil.split chars/s'] / 1e6:.2f} "
            f"| {r['ratio count/smsutil']:.0f}x | {r['ratio split/smsutil']:.0f}x |"
        )
    lines.append("")
    lines.append(
        f"Python {report['python']} ({report['machine']}), smsutil {report['smsutil']}, "
        f"{report['messages']} messages, seed {report['seed']}, best of {report['repeats']}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print JSON instead of a Markdown table")
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    report = run(args.messages, args.repeats, args.seed)
    print(json.dumps(report, indent=2) if args.json else markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
