"""Powertools Logger and Metrics, shared by every function (service name from POWERTOOLS_SERVICE_NAME)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="smsdesk")
metrics = Metrics(namespace="smsdesk", service="smsdesk")
