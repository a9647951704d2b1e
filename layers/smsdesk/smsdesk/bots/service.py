"""Bots CRUD (``/v1/bots``, admin): a scripted bot's flow is checked on save (:func:`flow.check`)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import ids
from smsdesk.bots.flow import Flow, FlowError, check
from smsdesk.data import bots as repo
from smsdesk.errors import Conflict, NotFound, ValidationError
from smsdesk.models import utcnow


class BotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    kind: Literal["scripted"] = Field(default="scripted", description="scripted: a declarative flow")
    flow: Flow = Field(description="The steps; the first one starts the run")
    enabled: bool = Field(default=True, description="A disabled bot does not start (runs in progress go on)")


class Bot(BotIn):
    id: str
    created_at: dt.datetime
    updated_at: dt.datetime


class BotPage(BaseModel):
    items: list[Bot]
    next_cursor: str | None = None


def _fields() -> set[str]:
    from smsdesk.crm import fields

    return set(fields.definitions())


def checked(body: BotIn) -> BotIn:
    """422 naming the step (``flow.steps.3.next``) for a flow that could not run."""
    try:
        check(body.flow, fields=_fields())
    except FlowError as exc:
        raise ValidationError(f"{exc.field}: {exc.message}", field=exc.field, code="invalid_flow") from exc
    return body


def create(body: BotIn) -> Bot:
    checked(body)
    now = utcnow()
    bot = Bot(**body.model_dump(), id=ids.new_id(), created_at=now, updated_at=now)
    repo.put_bot(bot.model_dump(mode="json"), version=None)
    return bot


def get(bot_id: str) -> Bot:
    got = repo.get_bot(bot_id)
    if got is None:
        raise NotFound(f"bot {bot_id} not found", field="bot_id")
    return Bot.model_validate(got[0])


def exists(bot_id: str) -> bool:
    return repo.get_bot(bot_id) is not None


def update(bot_id: str, body: BotIn) -> Bot:
    checked(body)
    got = repo.get_bot(bot_id, consistent=True)
    if got is None:
        raise NotFound(f"bot {bot_id} not found", field="bot_id")
    old = Bot.model_validate(got[0])
    bot = Bot(**body.model_dump(), id=bot_id, created_at=old.created_at, updated_at=utcnow())
    try:
        repo.put_bot(bot.model_dump(mode="json"), version=got[1])
    except repo.Conflict as exc:
        raise Conflict("the bot was changed concurrently; read it again and retry", field=None) from exc
    return bot


def delete(bot_id: str) -> None:
    if not repo.delete_bot(bot_id):
        raise NotFound(f"bot {bot_id} not found", field="bot_id")


def list_page(*, limit: int, cursor: str | None) -> BotPage:
    items, nxt = repo.list_bots(limit=limit, cursor=cursor)
    return BotPage(items=[Bot.model_validate(i) for i in items], next_cursor=nxt)
