"""Transfers: hand a conversation to a colleague, who accepts it (or it returns after the channel's
``max_transfer_s``)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.inbox import transfers
from smsdesk.models import Conversation

router = APIGatewayHttpRouter()


class TransferRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1)


@router.post(
    "/v1/conversations/<conversation_id>/transfer",
    summary="Transfer to an available colleague; returns to you if not taken within the max transfer time",
    description="The assignee (or an admin) transfers; the receiver takes it with `accept` or a first reply. "
    "409 `user_unavailable`, 422 `cannot_assign`, 409 `conversation_closed`, 403 if it is someone else's.",
    tags=["conversations"],
    openapi_extensions=errors(403, 409),
)
def transfer(conversation_id: str, body: TransferRequest) -> Conversation:
    return transfers.transfer(caller(router), conversation_id, body.user_id)


@router.post(
    "/v1/conversations/<conversation_id>/accept",
    summary="Take a conversation transferred to you (cancels its return)",
    description="409 `no_pending_transfer` if it is not assigned to you.",
    tags=["conversations"],
    openapi_extensions=errors(403, 409),
)
def accept(conversation_id: str) -> Conversation:
    return transfers.accept(caller(router), conversation_id)
