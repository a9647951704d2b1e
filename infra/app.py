"""CDK app entry point: ``python -m infra.app`` synthesizes ``cdk.out/smsdesk-<stage>.template.json``.

Runs without the CDK CLI and without AWS credentials (the stack is environment-agnostic unless a region
is given). The CDK CLI can drive it too (``cdk.json``: ``"app": "python -m infra.app"``).

Deployment parameters (CDK context)
-----------------------------------
Set them in ``cdk.json`` (``context``), with ``cdk deploy -c key=value``, or, when running this module
directly, with ``python -m infra.app -c key=value [-c key=value ...]``.

================  ===========  =========================================================================
key               default      meaning
================  ===========  =========================================================================
``stage``         ``dev``      Deployment stage; stack name ``smsdesk-<stage>``, resource name prefix,
                               secrets prefix ``smsdesk/<stage>/providers/``. Lowercase letters, digits,
                               ``-``; starts with a letter; at most 20 characters.
``region``        (none)       AWS region to pin the stack to. Default: ``CDK_DEFAULT_REGION`` (set by the
                               CDK CLI from your profile); if that is unset too the stack is
                               environment-agnostic and deploys to the CLI's region.
``defaultCountry`` ``NL``      ISO 3166-1 alpha-2 country used to parse phone numbers typed without a
                               country code (``DEFAULT_COUNTRY`` in every function).
``alarmEmail``    (none)       E-mail address subscribed to the alarm topic (confirm the e-mail AWS sends).
``messageEvents`` ``final``    Which ``message.<status>`` events are put on the bus (``MESSAGE_EVENTS`` in
                               every function; docs/events.md): ``all`` (queued, sent and the final one),
                               ``final`` (the final one of every outbound message) or ``conversations``
                               (the final one of messages in a conversation only).
================  ===========  =========================================================================

cdk-nag (``AwsSolutionsChecks``) runs at synth as a policy-validation plugin: an unacknowledged finding
fails the synth (``ValidationFailed``) and writes ``validation-report.json``.

Bundling: the shared layer is built with pip on this machine (no Docker), see ``infra/layer.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

# jsii (the bridge to aws-cdk-lib's JavaScript) prints a large banner on end-of-life Node versions.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.layer import REPO_ROOT
from infra.stack import SmsdeskStack
from smsdesk.config import MESSAGE_EVENTS_MODES

CONTEXT_DEFAULTS = {"stage": "dev", "defaultCountry": "NL", "messageEvents": "final"}
_STAGE_RE = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def cdk_json_context() -> dict:
    """``context`` of cdk.json (the CLI passes it itself; a direct run reads it here)."""
    path = REPO_ROOT / "cdk.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text()).get("context", {})


def _ctx(app: App, key: str) -> str | None:
    value = app.node.try_get_context(key)
    if value is None or value == "":
        return None
    return str(value)


def parameters(app: App) -> dict:
    """Validated deployment parameters from the app's context."""
    stage = _ctx(app, "stage") or CONTEXT_DEFAULTS["stage"]
    if not _STAGE_RE.match(stage):
        raise ValueError(f"context stage={stage!r}: use lowercase letters, digits and '-', start with a letter")
    country = (_ctx(app, "defaultCountry") or CONTEXT_DEFAULTS["defaultCountry"]).upper()
    if not _COUNTRY_RE.match(country):
        raise ValueError(f"context defaultCountry={country!r}: expected an ISO 3166-1 alpha-2 code such as NL")
    email = _ctx(app, "alarmEmail")
    if email and not _EMAIL_RE.match(email):
        raise ValueError(f"context alarmEmail={email!r} is not an e-mail address")
    region = _ctx(app, "region") or os.environ.get("CDK_DEFAULT_REGION") or None
    message_events = (_ctx(app, "messageEvents") or CONTEXT_DEFAULTS["messageEvents"]).lower()
    if message_events not in MESSAGE_EVENTS_MODES:
        raise ValueError(f"context messageEvents={message_events!r}: expected one of {', '.join(MESSAGE_EVENTS_MODES)}")
    return {
        "stage": stage,
        "default_country": country,
        "alarm_email": email,
        "region": region,
        "message_events": message_events,
    }


def build(app: App, *, nag: bool = True) -> SmsdeskStack:
    """Add the smsdesk stack (and cdk-nag) to ``app``."""
    p = parameters(app)
    env = Environment(region=p["region"]) if p["region"] else None
    stack = SmsdeskStack(
        app,
        f"smsdesk-{p['stage']}",
        stage=p["stage"],
        default_country=p["default_country"],
        alarm_email=p["alarm_email"],
        message_events=p["message_events"],
        env=env,
        description=f"smsdesk serverless SMS contact center ({p['stage']})",
    )
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return stack


def _parse_args(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m infra.app", description="Synthesize the smsdesk stack.")
    parser.add_argument(
        "-c", "--context", action="append", default=[], metavar="KEY=VALUE", help="context value (repeatable)"
    )
    args = parser.parse_args(argv)
    out = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--context {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def main(argv: list[str] | None = None) -> None:
    overrides = _parse_args(sys.argv[1:] if argv is None else argv)
    kwargs: dict = {"context": {**CONTEXT_DEFAULTS, **cdk_json_context()}, "post_cli_context": overrides}
    if "CDK_OUTDIR" not in os.environ:  # run directly, not by the CDK CLI
        kwargs["outdir"] = str(REPO_ROOT / "cdk.out")
    app = App(**kwargs)
    build(app)
    app.synth()


if __name__ == "__main__":
    main()
