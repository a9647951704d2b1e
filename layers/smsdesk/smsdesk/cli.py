"""``smsdesk`` command line.

Each subcommand is registered by an ``add_parser(subparsers)`` function that creates its
subparser and sets ``func=callable(args) -> int`` (the exit code). To add one, write such a
function and list it in :data:`SUBCOMMANDS`; a module that may be absent (or has heavy imports)
goes in :data:`OPTIONAL_SUBCOMMANDS` and is imported only if it exists.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from smsdesk.errors import AppError

# -- preview ------------------------------------------------------------------------------------


def _key_value(s: str) -> tuple[str, str]:
    key, sep, value = s.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {s!r}")
    return key.strip(), value


def _cmd_preview(args: argparse.Namespace) -> int:
    from smsdesk.text import TextSettings, preview

    if args.channel:
        print(
            f"error: --channel {args.channel}: channel settings live in the deployed stack and "
            "cannot be looked up offline; pass --smart / --max-segments / --multiplier / "
            "--region instead.",
            file=sys.stderr,
        )
        return 2
    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        multipliers: dict[str, Any] = {"*": 1}
        for k, v in args.multiplier or []:
            multipliers[k] = int(v)
        settings = TextSettings(
            smart_encoding=args.smart,
            max_segments=args.max_segments,
            country_multipliers=multipliers,
            default_region=args.region,
        )
        contact = dict(args.field) if args.field else None
        result = preview(text, settings=settings, to=args.to, contact=contact)
    except AppError as exc:
        print(f"error: {exc.message}" + (f" [{exc.field}]" if exc.field else ""), file=sys.stderr)
        return 2
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        print(f"error: invalid option: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return 0
    unit = "septets" if result.encoding == "GSM-7" else "UTF-16 units"
    lines = [
        f"{result.segments} segment{'s' if result.segments != 1 else ''}, {result.encoding}, "
        f"{result.characters} characters, {result.units} {unit} "
        f"({result.units_left} left in this segment of {result.per_segment})",
        f"credits: {result.credits}"
        + (f" (to {result.to}, {result.country}, x{result.multiplier})" if result.to else ""),
    ]
    if result.non_gsm_characters:
        lines.append("UCS-2 because of: " + " ".join(repr(c) for c in result.non_gsm_characters))
    for r in result.replacements:
        lines.append(f"smart encoding: {r.char!r} -> {r.replacement!r} x{r.count}")
    if not result.within_limit:
        lines.append(
            f"TOO LONG: the limit is {result.max_segments} segment{'s' if result.max_segments != 1 else ''} "
            f"({result.max_units} {unit}); the message would be refused"
        )
    print("\n".join(lines))
    return 0


def add_preview_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "preview",
        help="count segments, encoding and credits of an SMS text (offline)",
        description="Count segments, encoding and credits of an SMS text, as the carrier bills it.",
    )
    p.add_argument("text", metavar="TEXT", help="message text or template ('-' reads stdin)")
    p.add_argument("--json", action="store_true", help="print the full preview as JSON")
    p.add_argument("--channel", metavar="ID", help="use a channel's settings (needs the running stack)")
    p.add_argument("--to", metavar="NUMBER", help="recipient; prices with its country's multiplier")
    p.add_argument("--region", default="NL", metavar="CC", help="region for national numbers (default NL)")
    p.add_argument("--smart", action="store_true", help="enable smart encoding")
    p.add_argument("--max-segments", type=int, default=10, metavar="N", help="limit (1-10, default 10)")
    p.add_argument(
        "--multiplier",
        action="append",
        type=_key_value,
        metavar="CC=N",
        help="credits multiplier per country, '*' for the others (repeatable)",
    )
    p.add_argument(
        "--field",
        action="append",
        type=_key_value,
        metavar="NAME=VALUE",
        help="contact field for mail merge (repeatable); renders the template",
    )
    p.set_defaults(func=_cmd_preview)


# -- simulate -----------------------------------------------------------------------------------


def _local_base_url() -> str | None:
    """The running local stack's URL from ``.smsdesk/local.json`` (cwd or a parent), if any."""
    from pathlib import Path

    cwd = Path.cwd().resolve()
    for d in (cwd, *cwd.parents):
        f = d / ".smsdesk" / "local.json"
        if f.is_file():
            try:
                return str(json.loads(f.read_text())["base_url"])
            except (ValueError, KeyError, OSError):
                return None
    return None


def _cmd_simulate_inbound(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    base = args.base_url or _local_base_url()
    if not base:
        print(
            "error: no --base-url and no .smsdesk/local.json: is the local stack running (make run)?", file=sys.stderr
        )
        return 2
    text = sys.stdin.read() if args.text == "-" else args.text
    body: dict[str, Any] = {"from": args.from_, "to": args.to, "text": text}
    if args.id:
        body["id"] = args.id
    req = urllib.request.Request(
        f"{base.rstrip('/')}/sandbox/inbound",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except urllib.error.URLError as exc:
        print(f"error: cannot reach {base}: {exc.reason}", file=sys.stderr)
        return 1
    try:
        result: Any = json.loads(raw or b"null")
    except ValueError:
        result = raw.decode(errors="replace")
    if status >= 400:
        err = result.get("error", {}) if isinstance(result, dict) else {}
        message = err.get("message") or result
        print(f"error: {status} {message}" + (f" [{err['field']}]" if err.get("field") else ""), file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def add_simulate_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate provider traffic against the local stack (sandbox provider)",
        description="Simulate what a provider sends, through the real webhook routes of the local stack.",
    )
    sub = p.add_subparsers(dest="what", metavar="WHAT", required=True)
    inbound = sub.add_parser(
        "inbound",
        help="a customer texts a sandbox channel (a signed sandbox webhook through the real route)",
        description="A customer texts the sandbox channel whose number is --to: the sandbox carrier signs an "
        "inbound webhook and posts it to /webhooks/sandbox/<channel>/inbound. Prints the provider message id.",
    )
    inbound.add_argument("text", metavar="TEXT", help="the message ('-' reads stdin)")
    inbound.add_argument("--from", dest="from_", required=True, metavar="NUMBER", help="the customer's number")
    inbound.add_argument("--to", required=True, metavar="NUMBER", help="the channel's number (its sender)")
    inbound.add_argument("--id", metavar="ID", help="provider message id (the same id again simulates a retry)")
    inbound.add_argument("--base-url", metavar="URL", help="the local stack (default: base_url in .smsdesk/local.json)")
    inbound.set_defaults(func=_cmd_simulate_inbound)


# -- registry -----------------------------------------------------------------------------------

#: Always-available subcommands: ``add_parser(subparsers)`` callables.
SUBCOMMANDS: list[Callable[[Any], None]] = [add_preview_parser, add_simulate_parser]

#: Modules exposing ``add_parser(subparsers)``, registered only when importable.
#: ``smsdesk.local.cli`` provides ``smsdesk local ...`` (the local stack).
OPTIONAL_SUBCOMMANDS: list[str] = ["smsdesk.local.cli"]


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsdesk", description="smsdesk command line")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    for name in OPTIONAL_SUBCOMMANDS:
        if _module_exists(name):  # present but broken must fail loudly, not vanish
            importlib.import_module(name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return 2
    return int(func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
