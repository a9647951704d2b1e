"""The webhook application (public API Gateway routes under /webhooks, local-only /sandbox).

Each provider's connector verifies its signature here and the raw event is stored durably on the
inbound or receipts queue before the 2xx answer (``webhooks.routes``: delivery receipts and inbound
SMS). ``webhooks.sandbox`` serves the sandbox provider's side on the local stack (its outbox, and
simulated inbound SMS posted through the real inbound route).
Unknown paths answer 404 with the standard error body.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from smsdesk.errors import AppError, error_body
from smsdesk.webhooks import routes, sandbox

app = APIGatewayHttpResolver(enable_validation=True)
app.include_router(routes.router)
app.include_router(sandbox.router)


@app.exception_handler(AppError)
def _app_error(exc: AppError) -> Response:
    return Response(status_code=exc.status, content_type=content_types.APPLICATION_JSON, body=exc.body())


@app.not_found
def _not_found(_exc: Exception) -> Response:
    ev = app.current_event
    return Response(
        status_code=404,
        content_type=content_types.APPLICATION_JSON,
        body=error_body("not_found", f"no webhook at {ev.http_method} {ev.path}"),
    )
