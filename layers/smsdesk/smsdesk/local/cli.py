"""``smsdesk local``: run the local stack until Ctrl-C (``make run``).

``smsdesk.cli`` registers this with ``add_parser(subparsers)``; ``python -m smsdesk.local`` runs it
on its own. Importing this module is cheap (moto loads when the command runs).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import warnings
from typing import Any

DEFAULT_PORT = 8787


def _default_port() -> int:
    try:
        return int(os.environ.get("PORT") or DEFAULT_PORT)
    except ValueError:
        return DEFAULT_PORT


def configure(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    from smsdesk.config import MESSAGE_EVENTS_DEFAULT, MESSAGE_EVENTS_MODES

    parser.add_argument("--host", default="127.0.0.1", help="gateway address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=_default_port(), help="gateway port (default $PORT or %(default)s)")
    parser.add_argument(
        "--state-dir",
        default=None,
        help="keep DynamoDB, Cognito, Scheduler and Secrets Manager data here across restarts and crashes "
        "(each write is on disk before it is answered; files encrypted with <dir>/key)",
    )
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION") or "eu-west-1")
    parser.add_argument("--default-country", default=os.environ.get("DEFAULT_COUNTRY") or "NL")
    parser.add_argument(
        "--message-events",
        choices=MESSAGE_EVENTS_MODES,
        default=os.environ.get("MESSAGE_EVENTS") or MESSAGE_EVENTS_DEFAULT,
        help="which message.<status> events are published (docs/events.md; default %(default)s)",
    )
    parser.add_argument("--repo-root", default=None, help="repository root (default: found from the package)")
    parser.add_argument(
        "--local-json", default=None, help="where to write base_url/token (default <repo>/.smsdesk/local.json)"
    )
    parser.add_argument(
        "--retry-visibility",
        type=int,
        default=1,
        help="seconds before a failed SQS record is retried (AWS: the queue's visibility timeout)",
    )
    parser.set_defaults(func=func)
    return parser


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "local",
        help="run the whole stack locally against moto (same handlers as AWS)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return configure(parser)


def _console_logging() -> None:
    logger = logging.getLogger("smsdesk_local")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def terminal_info(info: dict[str, Any], password: str | None, tty: bool) -> dict[str, Any]:
    """What ``smsdesk local`` prints on stdout: the sign-in password and the token only when stdout is
    a terminal, so they never land in a log file or a CI transcript (the token is in ``local.json``,
    the password can be shown again by starting on a terminal)."""
    shown = dict(info)
    if tty and password:
        shown["password"] = password
    elif not tty:
        shown.pop("token", None)
    return shown


def func(args: argparse.Namespace) -> int:
    from smsdesk.local.paths import repo_root
    from smsdesk.local.stack import LocalStack

    _console_logging()
    # Handlers that add no metric warn on every cold start; locally that is noise (metrics are off).
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    root = repo_root(args.repo_root)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    stack = LocalStack(
        host=args.host,
        port=args.port,
        region=args.region,
        default_country=args.default_country,
        message_events=args.message_events,
        state_dir=args.state_dir,
        repo_root=root,
        local_json=args.local_json or root / ".smsdesk" / "local.json",
        retry_visibility_s=args.retry_visibility,
    )
    try:
        try:
            stack.start()
        except OSError as exc:
            print(f"smsdesk local: cannot start: {exc}", file=sys.stderr)
            return 1
        password = stack.tokens.password if stack.tokens else None
        print(json.dumps(terminal_info(stack.info(), password, sys.stdout.isatty()), indent=2), flush=True)
        print(
            f"\nsmsdesk local ready in {stack.startup_s:.2f} s"
            + (" (state restored)" if stack.restored else "")
            + f"; written to {stack.local_json}\n"
            f'  curl -s -H "Authorization: Bearer $(jq -r .token {stack.local_json})" {stack.base_url}/v1/me\n'
            f"  curl -s {stack.base_url}/local/invocations\n"
            "Ctrl-C to stop.",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            pass
        print("smsdesk local: stopping", file=sys.stderr, flush=True)
    finally:
        stack.stop()
        for s, h in previous.items():
            signal.signal(s, h)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = configure(argparse.ArgumentParser(prog="smsdesk local", description=__doc__))
    args = parser.parse_args(argv)
    return int(args.func(args))
