"""Consumer of the receipts queue: provider receipts (stored raw by the webhook, or SNS for AWS SMS)
parsed by the provider's connector and applied with ``messages.apply_receipt``; and
:func:`apply_at_once`, the status webhook's own share: a final receipt that names its message is one
conditional write there, with no queue message and no receipts invocation.

The webhook already verified the signature before enqueueing; the queue is only writable by smsdesk's
own functions and SNS, so nothing is re-verified here. Applying is idempotent (``apply_receipt``
ignores duplicates and never moves a status backwards), so SQS redeliveries are harmless. A body the
connector cannot parse raises: the record is retried and then dead-lettered, never silently dropped.
"""

from __future__ import annotations

import base64
import json

from aws_lambda_powertools.metrics import MetricUnit

from smsdesk.connectors._util import RECEIVED_AT_HEADER
from smsdesk.connectors.base import WebhookRequest
from smsdesk.connectors.registry import get_connector, is_known
from smsdesk.envelopes import ReceiptEnvelope
from smsdesk.models import Receipt, iso
from smsdesk.observability import logger, metrics
from smsdesk.runtime import SQSRecord
from smsdesk.sending import messages


def request_from_envelope(env: ReceiptEnvelope) -> WebhookRequest:
    """The webhook request as received (or, for SNS events, the event as a JSON body)."""
    raw = env.raw
    if env.provider == "aws_sms" and "body" not in raw and "body_b64" not in raw:
        body = json.dumps(raw).encode()
        headers: dict[str, str] = {"content-type": "application/json"}
        url, method = "sns://aws-sms-events", "POST"
    else:
        body = base64.b64decode(raw["body_b64"]) if "body_b64" in raw else str(raw.get("body", "")).encode()
        headers = {str(k).lower(): str(v) for k, v in (raw.get("headers") or {}).items()}
        url, method = str(raw.get("url", "")), str(raw.get("method", "POST"))
    headers[RECEIVED_AT_HEADER] = iso(env.received_at)
    return WebhookRequest(url=url, method=method, headers=headers, body=body)


def parse(env: ReceiptEnvelope) -> list[Receipt]:
    return get_connector(env.provider).parse_receipts(request_from_envelope(env))


def handle_receipt(env: ReceiptEnvelope, record: SQSRecord) -> None:
    if not is_known(env.provider):
        # Retrying cannot teach us a provider we do not have; make it loud instead of a DLQ loop.
        logger.error("receipt from an unknown provider dropped", extra={"provider": env.provider})
        metrics.add_metric(name="ReceiptsUnknownProvider", unit=MetricUnit.Count, value=1)
        return
    receipts = parse(env)
    for receipt in receipts:
        messages.apply_receipt(receipt)
    logger.info(
        "receipts applied",
        extra={
            "provider": env.provider,
            "channel_id": env.channel_id,
            "receipts": [(r.provider_id, r.status, r.part) for r in receipts],
        },
    )
    metrics.add_metric(name="ReceiptsApplied", unit=MetricUnit.Count, value=len(receipts))


def apply_at_once(provider: str, channel_id: str, receipts: list[Receipt]) -> bool:
    """Called by the status webhook (signature verified) before it queues the callback: apply each
    receipt that can be applied with one conditional write (``messages.apply_receipt_at_once``: final,
    about a whole message it names). True when nothing is left for the receipts function; False: queue
    the callback as a whole (its receipts applied here are duplicates there, which change nothing).
    Never raises: a throttled or failed write is the receipts function's to retry."""
    done = 0
    for receipt in receipts:
        try:
            if not messages.apply_receipt_at_once(receipt):
                return False
        except Exception:
            logger.warning(
                "receipt not applied by the webhook; queued",
                extra={"provider": provider, "channel_id": channel_id, "message_id": receipt.message_id},
                exc_info=True,
            )
            return False
        done += 1
    if done:
        logger.info(
            "receipts applied by the webhook",
            extra={
                "provider": provider,
                "channel_id": channel_id,
                "receipts": [(r.provider_id, r.status, r.message_id) for r in receipts],
            },
        )
        metrics.add_metric(name="ReceiptsApplied", unit=MetricUnit.Count, value=done)  # the dashboard counts both ways
    return True
