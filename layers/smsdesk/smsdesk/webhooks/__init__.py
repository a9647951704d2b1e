"""Provider webhooks: verify, enqueue raw, answer fast."""
