"""The webhook application (public API Gateway routes under /webhooks, local-only /sandbox).

Each provider's connector verifies its signature here and the raw event is stored durably on the
inbound or receipts queue before the 2xx answer (``webhooks.routes``: delivery receipts and inbound
SMS). ``webhooks.sandbox`` serves the sandbox provider's side on the local stack (its outbox, and
simulated inbound SMS posted through the real inbound route).
The resolver runs without Powertools' OpenAPI validation: no route takes a typed parameter or body
(the sandbox routes parse theirs with pydantic), and its machinery would only cost cold-start time.
Errors (an unknown path: 404; a bad signature: 403; anything unexpected: 500) answer the standard
error body (``smsdesk.api.errors``).
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from smsdesk.api import errors
from smsdesk.webhooks import routes, sandbox

app = APIGatewayHttpResolver()
app.include_router(routes.router)
app.include_router(sandbox.router)
errors.install(app, what="webhook")
