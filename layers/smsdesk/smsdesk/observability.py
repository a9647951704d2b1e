"""Powertools Logger and Metrics, shared by every function (service name from POWERTOOLS_SERVICE_NAME)."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

logger = Logger(service="smsdesk")
metrics = Metrics(namespace="smsdesk", service="smsdesk")

# Handlers that record no metric of their own must not warn on every invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish")
