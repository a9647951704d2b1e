"""Campaign planning over N recipients in CPU seconds (issue 14): resolve (normalise each number,
deduplicate by number and contact), render the mail merge, count segments, price per country, and
total as the preview and the launch do. The contacts come from memory (the DynamoDB reads of the
audience are measured by ``bench_contacts.py``), the lists' BatchGetItems answer "nobody opted out".

    .venv/bin/python bench/bench_campaigns.py 100000
"""

from __future__ import annotations

import datetime as dt
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "smsdesk"))

TEXT = "Hello {{first_name|there}}, the {{team|club}} match moves to Sunday 10:00. Bring {{kit|your kit}}!"


def _contacts(n: int) -> list[Any]:
    from smsdesk.models import Contact

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    out = []
    for i in range(n):
        # every 50th number repeats an earlier one (deduplicated); 1 in 100 is French (another price)
        j = i - 1 if i % 50 == 49 else i
        number = f"+3361{j:07d}" if j % 100 == 7 else f"+3161{j:07d}"
        out.append(
            Contact(
                id=f"c{i:07d}",
                first_name=f"Name{i}" if i % 10 else None,
                mobile=number,
                custom_fields={"team": "U12" if i % 3 else "U14"},
                time_zone="Europe/Amsterdam",
                created_at=now,
            )
        )
    return out


def plan(n: int) -> tuple[int, int, float, float, int]:
    """(recipients, credits, cpu seconds, wall seconds, peak RSS growth in MB) of planning ``n`` contacts."""
    from smsdesk import lists
    from smsdesk.campaigns import plan as plan_mod
    from smsdesk.crm import audience
    from smsdesk.models import Channel

    contacts = _contacts(n)
    pages = [contacts[i : i + audience.PAGE] for i in range(0, n, audience.PAGE)]
    audience._selected = lambda selection: ([(c, None, "contact", None, None) for c in p] for p in pages)  # type: ignore[assignment]
    lists.outbound_refusals = lambda channel_id, numbers: {}  # type: ignore[assignment]
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    channel = Channel(
        id="ch",
        name="c",
        type="two_way",
        sender="+3197010000001",
        provider="sandbox",
        country_multipliers={"FR": 2, "*": 1},
        created_at=now,
        updated_at=now,
    )
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0, wall0 = time.process_time(), time.perf_counter()
    planner = plan_mod.Planner(channel, plan_mod.full_template(TEXT, "marketing", channel), "NL")
    resolved = audience.resolve(audience.Selection(all=True), channel_id=channel.id, region="NL")
    preview = plan_mod.summarise(plan_mod.plan_pages(planner, resolved), footer=plan_mod.footer_for(channel))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) // 1024
    return preview.recipients, preview.credits, cpu, wall, rss


def run(n: int = 100_000) -> list[str]:
    recipients, credits, cpu, wall, rss = plan(n)
    return [
        f"## Campaigns: planning {n:,} recipients (`bench/bench_campaigns.py`)\n",
        "Resolve (normalise, deduplicate), mail merge, segment count and pricing per country, as the preview and "
        "the launch do; contacts from memory, no opt-outs.\n",
        "| contacts | recipients | credits | CPU s | wall s | µs per recipient | peak memory growth |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {n:,} | {recipients:,} | {credits:,} | {cpu:.2f} | {wall:.2f} | {cpu / max(1, n) * 1e6:.0f} | {rss} MB |",
        "",
    ]


if __name__ == "__main__":
    for line in run(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000):
        print(line)
