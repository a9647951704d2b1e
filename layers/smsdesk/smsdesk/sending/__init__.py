"""The send pipeline: accepting a message (charge + record + job), the sender (rate limit, connector,
retries, expiry, refunds), delivery receipts, and the message statuses (bulk fan-out: ``smsdesk.campaigns.fanout``)."""
