"""smsdesk infrastructure (AWS CDK, Python): the stack is generated from ``smsdesk.manifest``."""
