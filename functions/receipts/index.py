"""Lambda entry point: the delivery-receipts queue (SQS batch, partial failures)."""

from smsdesk.envelopes import ReceiptEnvelope
from smsdesk.observability import logger, metrics
from smsdesk.runtime import process_queue_batch
from smsdesk.sending.receipts import handle_receipt


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    return process_queue_batch(event, context, ReceiptEnvelope, handle_receipt)
