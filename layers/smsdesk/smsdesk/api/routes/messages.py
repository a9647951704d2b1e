"""Messages: preview (counts and credits before sending)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk import config
from smsdesk.api.identity import caller
from smsdesk.data import channels as channels_repo
from smsdesk.errors import NotFound
from smsdesk.text import Preview, TextSettings, preview

router = APIGatewayHttpRouter()


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=5000, description="Message text; may contain {{field|default}} placeholders.")
    channel_id: str | None = Field(default=None, description="Use this channel's text settings.")
    to: str | None = Field(default=None, description="Recipient as typed; priced by its country.")
    fields: dict[str, str] | None = Field(default=None, description="Contact fields for mail merge.")


def text_settings(channel_id: str | None) -> TextSettings:
    """The text settings that apply: the channel's, or the account defaults."""
    if channel_id is None:
        return TextSettings(default_region=config.default_country())
    channel = channels_repo.get_channel(channel_id)
    if channel is None:
        raise NotFound(f"channel {channel_id} not found", field="channel_id")
    return TextSettings(
        smart_encoding=channel.get("smart_encoding", False),
        max_segments=channel.get("max_segments", 10),
        country_multipliers=channel.get("country_multipliers") or {"*": 1},
        default_region=channel.get("default_region") or config.default_country(),
    )


@router.post("/v1/messages/preview", summary="Count encoding, segments and credits of a text", tags=["messages"])
def preview_message(body: PreviewRequest) -> Preview:
    caller(router)
    return preview(body.text, settings=text_settings(body.channel_id), to=body.to, contact=body.fields)
