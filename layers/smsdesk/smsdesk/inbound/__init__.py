"""Inbound SMS: the queue consumer and its routing rules (issue 5).

* :mod:`smsdesk.inbound.keywords` — STOP/START/HELP (and localised) keyword matching, pure.
* :mod:`smsdesk.inbound.hours` — business hours (``is_open``), pure.
* :mod:`smsdesk.inbound.routing` — the routing decision for one inbound SMS, pure.
* :mod:`smsdesk.inbound.consumer` — the inbound-queue consumer that parses, routes and acts.

``handle_inbound`` (the record handler of ``functions/inbound/index.py``) is imported lazily so the
pure modules can be used (and unit-tested) without loading the AWS-facing code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from smsdesk.envelopes import InboundEnvelope
    from smsdesk.runtime import SQSRecord

__all__ = ["handle_inbound"]


def handle_inbound(job: InboundEnvelope, record: SQSRecord) -> Any:
    from smsdesk.inbound.consumer import handle_inbound as handle

    return handle(job, record)
