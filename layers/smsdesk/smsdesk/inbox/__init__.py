"""The shared inbox: conversations, the contact-center queue (strategies, capacity, overflow),
timers (queue timeouts, transfer returns), transfers, teams, service-level stats and notifications."""
