"""Bots CRUD (``/v1/bots``, admin): a scripted bot's flow is checked on save (:func:`flow.check`)."""

from __future__ import annotations

import datetime as dt
from typing import Literal
from urllib.parse import urlsplit

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from smsdesk import aws, config, ids
from smsdesk.bots.flow import Flow, FlowError, check
from smsdesk.data import bots as repo
from smsdesk.errors import Conflict, NotFound, ValidationError
from smsdesk.models import utcnow


class BotBase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    kind: Literal["scripted", "webhook"] = Field(
        default="scripted",
        description="scripted: a declarative flow; webhook: your HTTPS endpoint answers with actions",
    )
    flow: Flow | None = Field(default=None, description="scripted: the steps; the first one starts the run")
    webhook_url: str | None = Field(
        default=None, max_length=2000, description="webhook: the HTTPS endpoint smsdesk POSTs each event to"
    )
    enabled: bool = Field(default=True, description="A disabled bot does not start (runs in progress go on)")


class BotIn(BotBase):
    webhook_secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="webhook: the HMAC-SHA256 key (write-only; stored in Secrets Manager). Required on create; "
        "left out on replace: the current one is kept",
    )


class Bot(BotBase):
    id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    has_secret: bool = False


class BotPage(BaseModel):
    items: list[Bot]
    next_cursor: str | None = None


def _fields() -> set[str]:
    from smsdesk.crm import fields

    return set(fields.definitions())


def checked(body: BotIn, *, has_secret: bool = False) -> BotIn:
    """422 naming the field: the step of a flow that could not run (``flow.steps.3.next``), a webhook
    bot without an HTTPS URL or secret."""
    if body.kind == "scripted":
        if body.flow is None:
            raise ValidationError("a scripted bot needs a flow", field="flow")
        try:
            check(body.flow, fields=_fields())
        except FlowError as exc:
            raise ValidationError(f"{exc.field}: {exc.message}", field=exc.field, code="invalid_flow") from exc
        return body
    if not body.webhook_url or not _url_ok(body.webhook_url):
        raise ValidationError("a webhook bot needs an https:// webhook_url", field="webhook_url")
    if not body.webhook_secret and not has_secret:
        raise ValidationError("a webhook bot needs a webhook_secret (at least 16 characters)", field="webhook_secret")
    return body


def _url_ok(url: str) -> bool:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return False
    if parts.scheme == "https" and parts.hostname:
        return True
    # the local stack: a test's own server on loopback
    return config.is_local() and parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")


def secret_name(bot_id: str) -> str:
    """Webhook secrets live beside the providers' (the same prefix and grants): ``{prefix}bot-{id}``."""
    return f"{config.secrets_prefix()}bot-{bot_id}"


def _write_secret(bot_id: str, secret: str) -> None:
    sm = aws.secrets()
    try:
        sm.put_secret_value(SecretId=secret_name(bot_id), SecretString=secret)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        sm.create_secret(Name=secret_name(bot_id), SecretString=secret, Description=f"smsdesk bot {bot_id} webhook key")


def _delete_secret(bot_id: str) -> None:
    try:
        aws.secrets().delete_secret(SecretId=secret_name(bot_id), ForceDeleteWithoutRecovery=True)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise


def _stored(bot: Bot) -> dict:
    return bot.model_dump(mode="json")


def create(body: BotIn) -> Bot:
    checked(body)
    now = utcnow()
    bot_id = ids.new_id()
    if body.kind == "webhook" and body.webhook_secret:
        _write_secret(bot_id, body.webhook_secret)
    data = body.model_dump(exclude={"webhook_secret"})
    bot = Bot(**data, id=bot_id, created_at=now, updated_at=now, has_secret=body.kind == "webhook")
    repo.put_bot(_stored(bot), version=None)
    return bot


def get(bot_id: str) -> Bot:
    got = repo.get_bot(bot_id)
    if got is None:
        raise NotFound(f"bot {bot_id} not found", field="bot_id")
    return Bot.model_validate(got[0])


def exists(bot_id: str) -> bool:
    return repo.get_bot(bot_id) is not None


def update(bot_id: str, body: BotIn) -> Bot:
    got = repo.get_bot(bot_id, consistent=True)
    if got is None:
        raise NotFound(f"bot {bot_id} not found", field="bot_id")
    old = Bot.model_validate(got[0])
    checked(body, has_secret=old.has_secret)
    if body.kind == "webhook" and body.webhook_secret:
        _write_secret(bot_id, body.webhook_secret)
    has_secret = body.kind == "webhook" and (bool(body.webhook_secret) or old.has_secret)
    data = body.model_dump(exclude={"webhook_secret"})
    bot = Bot(**data, id=bot_id, created_at=old.created_at, updated_at=utcnow(), has_secret=has_secret)
    try:
        repo.put_bot(_stored(bot), version=got[1])
    except repo.Conflict as exc:
        raise Conflict("the bot was changed concurrently; read it again and retry", field=None) from exc
    return bot


AUTOMATIONS = ("bot_on_start", "bot_on_finish", "bot_after_timeout")


def _used_by(bot_id: str) -> list[tuple[str, str]]:
    """(channel id, automation) of every channel whose automations name the bot."""
    from smsdesk import channels

    used: list[tuple[str, str]] = []
    cursor: str | None = None
    while True:
        page, cursor = channels.list_channels(None, limit=100, cursor=cursor)
        used += [(c.id, name) for c in page for name in AUTOMATIONS if getattr(c, name) == bot_id]
        if not cursor:
            return used


def delete(bot_id: str) -> None:
    """409 ``bot_in_use`` while a channel's automation names it (runs in progress would stop)."""
    used = _used_by(bot_id)
    if used:
        channel_id, name = used[0]
        raise Conflict(
            f"bot {bot_id} is the {name} of channel {channel_id}; change the channel first",
            field="bot_id",
            code="bot_in_use",
            details={"channels": [c for c, _ in used]},
        )
    if not repo.delete_bot(bot_id):
        raise NotFound(f"bot {bot_id} not found", field="bot_id")
    _delete_secret(bot_id)


def list_page(*, limit: int, cursor: str | None) -> BotPage:
    items, nxt = repo.list_bots(limit=limit, cursor=cursor)
    return BotPage(items=[Bot.model_validate(i) for i in items], next_cursor=nxt)
