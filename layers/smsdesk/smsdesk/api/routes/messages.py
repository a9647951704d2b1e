"""Messages: preview (counts and credits before sending), send, the sent overview."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk import channels, config
from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.errors import ValidationError
from smsdesk.models import Message, MessageStatus, SendRequest
from smsdesk.sending import messages
from smsdesk.text import MessageText, Preview, TextSettings, preview

router = APIGatewayHttpRouter()


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: MessageText = Field(
        description="Message text; may contain {{field|default}} placeholders. Not only spaces or control characters."
    )
    channel_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Use this channel's text settings."
    )
    to: str | None = Field(default=None, max_length=40, description="Recipient as typed; priced by its country.")
    fields: dict[str, str] | None = Field(default=None, max_length=200, description="Contact fields for mail merge.")


def text_settings(channel_id: str | None) -> TextSettings:
    """The text settings that apply: the channel's, or the account defaults."""
    if channel_id is None:
        return TextSettings(default_region=config.default_country())
    channel = channels.get_channel(channel_id)  # as stored, sanitised: multipliers are whole numbers >= 1
    return TextSettings(
        smart_encoding=channel.smart_encoding,
        max_segments=channel.max_segments,
        country_multipliers=channel.country_multipliers,
        default_region=channel.default_region or config.default_country(),
    )


@router.post(
    "/v1/messages/preview",
    summary="Count encoding, segments and credits of a text",
    tags=["messages"],
    openapi_extensions=errors(403, 404),
)
def preview_message(body: PreviewRequest) -> Preview:
    caller(router)
    return preview(body.text, settings=text_settings(body.channel_id), to=body.to, contact=body.fields)


# -- send and the sent overview ----------------------------------------------------------------------


class MessagePage(BaseModel):
    items: list[Message]
    cursor: str | None = Field(default=None, description="Pass as ?cursor= for the next (older) page; null: last page")


@router.post(
    "/v1/messages",
    summary="Send an SMS (202: queued; credits charged)",
    description="Checks, each with its own error: channel access (404/403), channel enabled (409 "
    "`channel_disabled`), number (422 `invalid_phone_number`), blocklist/opt-out (422), length (422 "
    "`message_too_long`), credits (402 `insufficient_credits` with `balance` and `cost`). Send an "
    "`Idempotency-Key` header to make retries safe: the same key returns the first response, and a key "
    "names one message (a retry after a failed attempt finishes that message; it never sends a second).",
    tags=["messages"],
    responses={202: {"description": "Queued", "content": {"application/json": {"model": Message}}}},
    openapi_extensions=errors(402, 403, 404, 409, 503),
)
def send_message(body: SendRequest) -> Response[Message]:
    who = caller(router)
    key = router.current_event.headers.get("idempotency-key") or None
    if key is not None and not (1 <= len(key) <= 255):
        raise ValidationError("Idempotency-Key must be 1-255 characters", field="Idempotency-Key")
    msg = messages.send(who, body, idempotency_key=key, lambda_context=router.lambda_context)
    return Response(status_code=202, content_type=content_types.APPLICATION_JSON, body=msg.model_dump(mode="json"))


@router.get(
    "/v1/messages",
    summary="Sent overview: newest first, only channels you may use",
    tags=["messages"],
    openapi_extensions=errors(403, 404),
)
def list_messages(
    channel_id: Annotated[str | None, Query()] = None,
    status: Annotated[MessageStatus | None, Query()] = None,
    to: Annotated[str | None, Query(max_length=40, description="Recipient as typed; normalised")] = None,
    since: Annotated[dt.datetime | None, Query(description="Only messages created at or after this time")] = None,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> MessagePage:
    who = caller(router)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    items, nxt = messages.list_messages(
        who, channel_id=channel_id, status_=status, to=to, since=since, limit=limit, cursor=cursor
    )
    return MessagePage(items=items, cursor=nxt)


@router.get(
    "/v1/messages/<message_id>",
    summary="One message with its status history",
    tags=["messages"],
    openapi_extensions=errors(403),
)
def get_message(message_id: str) -> Message:
    return messages.get_for(caller(router), message_id)
