"""The shared inbox: conversation views, one conversation with its messages, agents' actions,
replies and new conversations (both through the send pipeline)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.errors import ValidationError
from smsdesk.inbox import conversations
from smsdesk.models import Conversation, Message, View
from smsdesk.text import MessageText

router = APIGatewayHttpRouter()


class ReplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: MessageText


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel_id: str = Field(min_length=1)
    to: str = Field(min_length=1, max_length=40, description="The customer's number as typed; normalised to E.164")
    text: MessageText


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: str = Field(min_length=1)


class Started(BaseModel):
    conversation: Conversation
    message: Message
    created: bool = Field(description="A new conversation was started (false: the open one was used)")


class Deleted(BaseModel):
    conversation_id: str
    messages_deleted: int


def _idempotency_key() -> str | None:
    key = router.current_event.headers.get("idempotency-key") or None
    if key is not None and not (1 <= len(key) <= 255):
        raise ValidationError("Idempotency-Key must be 1-255 characters", field="Idempotency-Key")
    return key


def _json(status: int, body: BaseModel) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body.model_dump(mode="json"))


@router.get(
    "/v1/conversations",
    summary="An inbox view, most recent activity first (only channels you may use)",
    description="`unassigned`: open, nobody's; `mine`: open, yours; `others`: open, assigned to someone "
    "else; `closed`.",
    tags=["conversations"],
    openapi_extensions=errors(403, 404),
)
def list_conversations(
    view: Annotated[View, Query()] = "unassigned",
    channel_id: Annotated[str | None, Query()] = None,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> conversations.ConversationPage:
    return conversations.list_view(caller(router), view, channel_id=channel_id, limit=limit, cursor=cursor)


@router.post(
    "/v1/conversations",
    summary="Start a conversation (or continue the open one) with a first message (202; credits charged)",
    description="Two-way channels only (422 `one_way_channel`); every check of `POST /v1/messages` applies. "
    "The conversation is assigned to you if nobody has it. `Idempotency-Key` makes retries safe.",
    tags=["conversations"],
    responses={202: {"description": "Queued", "content": {"application/json": {"model": Started}}}},
    openapi_extensions=errors(402, 403, 404, 409, 503),
)
def start_conversation(body: StartRequest) -> Response[Started]:
    who = caller(router)
    conv, msg, created = conversations.start(
        who,
        body.channel_id,
        body.to,
        body.text,
        idempotency_key=_idempotency_key(),
        lambda_context=router.lambda_context,
    )
    return _json(202, Started(conversation=conv, message=msg, created=created))


@router.get(
    "/v1/conversations/<conversation_id>",
    summary="One conversation with its messages in order (inbound and outbound, with delivery status)",
    tags=["conversations"],
    openapi_extensions=errors(403),
)
def get_conversation(
    conversation_id: str,
    before: Annotated[str | None, Query(description="messages_cursor of the previous response")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> conversations.ConversationDetail:
    return conversations.detail(caller(router), conversation_id, limit=limit, before=before)


@router.post(
    "/v1/conversations/<conversation_id>/messages",
    summary="Reply (202; through the send pipeline: credits, blocklist, opt-outs)",
    description="422 `one_way_channel` on one-way channels, 409 `conversation_closed` on a closed one.",
    tags=["conversations"],
    responses={202: {"description": "Queued", "content": {"application/json": {"model": Message}}}},
    openapi_extensions=errors(402, 403, 409, 503),
)
def reply(conversation_id: str, body: ReplyRequest) -> Response[Message]:
    msg = conversations.reply(
        caller(router),
        conversation_id,
        body.text,
        idempotency_key=_idempotency_key(),
        lambda_context=router.lambda_context,
    )
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=msg.model_dump(mode="json"))


@router.post(
    "/v1/conversations/<conversation_id>/assign",
    summary="Assign to an available colleague who may use the channel",
    description="409 `user_unavailable`, 422 `cannot_assign` (unknown user or no access to the channel), "
    "409 `conversation_closed`.",
    tags=["conversations"],
    openapi_extensions=errors(403, 409),
)
def assign(conversation_id: str, body: AssignRequest) -> Conversation:
    return conversations.assign(caller(router), conversation_id, body.user_id)


@router.post(
    "/v1/conversations/<conversation_id>/unassign",
    summary="Back to Unassigned",
    tags=["conversations"],
    openapi_extensions=errors(403, 409),
)
def unassign(conversation_id: str) -> Conversation:
    return conversations.unassign(caller(router), conversation_id)


@router.post(
    "/v1/conversations/<conversation_id>/close",
    summary="Close",
    tags=["conversations"],
    openapi_extensions=errors(403, 409),
)
def close(conversation_id: str) -> Conversation:
    return conversations.close(caller(router), conversation_id)


@router.post(
    "/v1/conversations/<conversation_id>/reopen",
    summary="Reopen (409 `conversation_open_exists` if another one is open for the number)",
    tags=["conversations"],
    openapi_extensions=errors(403, 409),
)
def reopen(conversation_id: str) -> Conversation:
    return conversations.reopen(caller(router), conversation_id)


@router.delete(
    "/v1/conversations/<conversation_id>",
    summary="Delete for good with every message (owner only)",
    tags=["conversations"],
    openapi_extensions=errors(403, 409),
)
def delete(conversation_id: str) -> Deleted:
    removed = conversations.delete(caller(router), conversation_id)
    return Deleted(conversation_id=conversation_id, messages_deleted=removed)
