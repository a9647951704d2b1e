"""Credits API: the balance (everyone: agents see what a send will leave), top-ups and the ledger
(admin/owner: they carry payment references)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from smsdesk import credits
from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.credits import Balance, LedgerEntry, LedgerPage, TopUpRequest

router = APIGatewayHttpRouter()


@router.get("/v1/credits", summary="The credit balance", tags=["credits"])
def get_balance() -> Balance:
    caller(router)
    return Balance(balance=credits.balance())


@router.post(
    "/v1/credits/top-ups",
    summary="Add credits (admin/owner)",
    tags=["credits"],
    responses={201: {"description": "Ledger entry", "content": {"application/json": {"model": LedgerEntry}}}},
    openapi_extensions=errors(403),
)
def top_up(body: TopUpRequest) -> Response[LedgerEntry]:
    entry = credits.top_up(caller(router), body.credits, body.reference)
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body=entry.model_dump(mode="json"))


@router.get(
    "/v1/credits/ledger",
    summary="Every balance change, newest first; sums to the balance (admin/owner)",
    tags=["credits"],
    openapi_extensions=errors(403),
)
def get_ledger(
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> LedgerPage:
    caller(router).require_admin()  # references are invoices and payments: admin/owner only
    return credits.ledger(limit=limit, cursor=cursor)
