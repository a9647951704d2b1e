"""The send pipeline: accepting a message (charge + record + job), the sender (rate limit, connector,
retries, expiry, refunds), delivery receipts, bulk fan-out and the message statuses."""
