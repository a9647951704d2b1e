"""The webhook application (public API Gateway routes under /webhooks, local-only /sandbox).

Each provider's connector verifies its signature here and the raw event is stored durably on the
inbound or receipts queue before the 2xx answer (``webhooks.routes``: delivery receipts and inbound
SMS). ``webhooks.sandbox`` serves the sandbox provider's side on the local stack (its outbox, and
simulated inbound SMS posted through the real inbound route).
The resolver is ``webhooks.http``'s, not Powertools' (no route takes a typed parameter or body: the
sandbox routes parse theirs with pydantic; Powertools' event handler would only cost cold-start time).
Errors (an unknown path: 404; a bad signature: 403; anything unexpected: 500) answer the standard
error body, as the management API's do (``smsdesk.api.errors``).
"""

from __future__ import annotations

from smsdesk.webhooks import routes, sandbox
from smsdesk.webhooks.http import App

app = App(what="webhook")
app.include_router(routes.router)
app.include_router(sandbox.router)
