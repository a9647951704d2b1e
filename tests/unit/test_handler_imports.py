"""Each Lambda handler's cold start loads only what that handler uses (issue 11 item 4).

Every handler module is imported in a fresh interpreter (``-I``: nothing from the environment, the
function's directory and the package source first on ``sys.path``, as in Lambda) and the modules it
loaded are checked against what it must not load: each of these costs cold-start time and is used
elsewhere or only on demand. ``make bench`` measures the time itself (``bench/bench_cold_start.py``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Powertools' SQS batch processor and event data classes (the queue functions report partial
#: failures with ``smsdesk.runtime``): they load asyncio, every parser model and every event class.
BATCH = [
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_lambda_powertools.utilities.parser",
    "aws_lambda_powertools.event_handler",
    "asyncio",
]
#: The OpenAPI document's models and the Swagger UI: loaded when a document is asked for.
OPENAPI_DOCUMENT = [
    "aws_lambda_powertools.event_handler.openapi.models",
    "aws_lambda_powertools.event_handler.openapi.swagger_ui",
]
#: Powertools' request validation (the webhooks take no typed parameter or body).
VALIDATION = [
    "aws_lambda_powertools.event_handler.middlewares.openapi_validation",
    "aws_lambda_powertools.event_handler.openapi.params",
]
#: Powertools' event handler: its package ``__init__`` loads every resolver (AppSync's asyncio, Bedrock,
#: VPC Lattice) and every event data class; the webhooks function routes with ``webhooks.http``.
EVENT_HANDLER = [
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.data_classes",
    "asyncio",
]
#: The text engine's preview (its pydantic models) and mail merge: what composes a message, not what
#: moves one or reads a channel (``smsdesk.text`` loads each name's module on first use).
TEXT_COMPOSING = ["smsdesk.text.preview", "smsdesk.text.merge"]
#: Only on demand, in every function (``holidays``: when a marketing recipient's moment is first checked).
ON_DEMAND = ["aws_lambda_powertools.utilities.idempotency", "smsdesk.local", "smsdesk.cli", "holidays"]
#: The management side: never needed to send a message or apply a receipt.
MANAGEMENT = [
    "smsdesk.api.app",
    "smsdesk.api.routes",
    "smsdesk.api.openapi",
    "smsdesk.inbox.conversations",
    "smsdesk.inbox.queueing",
    "smsdesk.inbox.transfers",
    "smsdesk.users",
]

#: The send side's checks and what only number parsing or team grants need (issue 11): the functions
#: that only move a message's status, or verify and queue a webhook, load none of them.
SEND_CHECKS = ["smsdesk.access", "smsdesk.lists", "smsdesk.inbox.teams", "phonenumbers"]

MUST_NOT_LOAD: dict[str, list[str]] = {
    # a request loads only its area's routers (api.app.AREAS): none at import
    "api": [*OPENAPI_DOCUMENT, "smsdesk.api.routes", "smsdesk.sending.messages", "smsdesk.crm", *MANAGEMENT[3:]],
    "webhooks": [
        *OPENAPI_DOCUMENT,
        *VALIDATION,
        # the sandbox provider's local-only routes import these when they run
        "smsdesk.lists",
        "smsdesk.data.sandbox",
        "smsdesk.connectors.sandbox",
        *MANAGEMENT,
        *SEND_CHECKS,
        "smsdesk.sending",  # a final receipt's write loads the status code with the first one
    ],
    "inbound": BATCH,
    "sender": [*BATCH, *OPENAPI_DOCUMENT, *MANAGEMENT, *SEND_CHECKS],
    "receipts": [*BATCH, *OPENAPI_DOCUMENT, *MANAGEMENT, *SEND_CHECKS],
    "fanout": BATCH,
    "timers": [*BATCH, "smsdesk.inbox.transfers", "smsdesk.bots"],  # actions load with the first timer of their kind
    "notifier": [*BATCH, *OPENAPI_DOCUMENT],
    # the stream's outbox only forwards what writes announced: nothing of the send or management side
    "outbox": [
        *BATCH,
        *OPENAPI_DOCUMENT,
        *VALIDATION,
        *MANAGEMENT,
        "smsdesk.sending.messages",
        "smsdesk.text",
        *SEND_CHECKS,
    ],
    # a contacts file: the contact rules and their tables, nothing of the API, the send side or groups' rules
    "imports": [*BATCH, *OPENAPI_DOCUMENT, *VALIDATION, *MANAGEMENT, "smsdesk.sending.messages", "smsdesk.crm.rules"],
    # transcript notes: links, notes and stored messages; nothing of the API, the send side or contacts' rules
    "crmnotes": [
        *BATCH,
        *OPENAPI_DOCUMENT,
        *VALIDATION,
        *MANAGEMENT,
        "smsdesk.sending.messages",
        "smsdesk.crm.contacts",
        "smsdesk.crm.rules",
    ],
    # bus events: no API, no batch processor; the contact rules load with a bot's first set_field
    "bots": [*BATCH, *OPENAPI_DOCUMENT, *VALIDATION, "smsdesk.api", "smsdesk.users", "smsdesk.crm.contacts"],
}

#: Issue 11 item 4 (every handler's cold start well under 2 x ``import boto3``): what each handler
#: stopped loading at import, on top of the rows above.
COLD_START_CUTS: dict[str, list[str]] = {
    "webhooks": [*EVENT_HANDLER, *TEXT_COMPOSING],
    "sender": TEXT_COMPOSING,
    "receipts": TEXT_COMPOSING,
    "timers": [*TEXT_COMPOSING, "phonenumbers"],
    "notifier": [*TEXT_COMPOSING, "phonenumbers"],
    "imports": [*TEXT_COMPOSING, "phonenumbers"],
    "crmnotes": [*TEXT_COMPOSING, "phonenumbers"],
    # phonenumbers: loaded by the first number parsed (as smsdesk.text.phone does), not at import
    # send waves (most fan-out jobs) neither plan nor resolve an audience: the run phase loads those
    "fanout": [
        "phonenumbers",
        "smsdesk.campaigns.plan",
        "smsdesk.crm.audience",
        "smsdesk.crm.groups",
        "smsdesk.crm.rules",
    ],
    # the inbox's conversation and queue rules and the send side: loaded by a bot's first action
    "bots": [
        "phonenumbers",
        "smsdesk.inbox.conversations",
        "smsdesk.inbox.queueing",
        "smsdesk.sending",
        "smsdesk.access",
        "smsdesk.credits",
    ],
}
for _function, _modules in COLD_START_CUTS.items():
    MUST_NOT_LOAD[_function] = [*MUST_NOT_LOAD[_function], *_modules]


def loaded_modules(function: str) -> set[str]:
    code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(ROOT / 'functions' / function)!r}, {str(ROOT / 'layers' / 'smsdesk')!r}]\n"
        "import index\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "POWERTOOLS_SERVICE_NAME": "test"}
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_every_function_is_covered() -> None:
    from smsdesk import manifest

    assert {fn.entry for fn in manifest.FUNCTIONS} == set(MUST_NOT_LOAD)


@pytest.mark.parametrize("function", sorted(MUST_NOT_LOAD))
def test_a_handler_loads_only_what_it_uses(function: str) -> None:
    loaded = loaded_modules(function)
    assert "index" in loaded
    unwanted = sorted(
        {p for p in MUST_NOT_LOAD[function] + ON_DEMAND for m in loaded if m == p or m.startswith(p + ".")}
    )
    assert not unwanted, f"{function} loads at cold start: {unwanted}"


#: pydantic models a handler may build at import (its queue's envelope is built with the others in
#: ``smsdesk.envelopes``: every invocation validates one). Every other model is ``defer_build``: built
#: by its first use, so a handler pays only for the models its events use (issue 11 item 4).
BUILT_AT_IMPORT: dict[str, list[str]] = {
    "api": ["aws_lambda_powertools.event_handler."],
}


def built_models(function: str) -> set[str]:
    code = (
        "import json, sys\n"
        f"sys.path[:0] = [{str(ROOT / 'functions' / function)!r}, {str(ROOT / 'layers' / 'smsdesk')!r}]\n"
        "import index\n"
        "from pydantic import BaseModel\n"
        "def subclasses(c):\n"
        "    for s in c.__subclasses__():\n"
        "        yield s\n"
        "        yield from subclasses(s)\n"
        "print(json.dumps(sorted({f'{c.__module__}.{c.__qualname__}' for c in subclasses(BaseModel)"
        " if c.__dict__.get('__pydantic_complete__') and not c.__module__.startswith('pydantic')})))\n"
    )
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1", "POWERTOOLS_SERVICE_NAME": "test"}
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, env=env, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("function", sorted(MUST_NOT_LOAD))
def test_a_handler_builds_no_model_it_may_not_use_at_import(function: str) -> None:
    allowed = ("smsdesk.envelopes.", *BUILT_AT_IMPORT.get(function, ()))
    unwanted = sorted(m for m in built_models(function) if not m.startswith(allowed))
    assert not unwanted, f"{function} builds at import: {unwanted}"
