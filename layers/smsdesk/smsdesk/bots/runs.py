"""A bot run as stored and shown (``GET /v1/conversations/{id}/bot-runs``)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk.bots.engine import RunState
from smsdesk.data import bots as repo

Trigger = Literal["on_start", "on_finish", "after_timeout"]
#: How many handled event keys a run remembers (a redelivery comes within minutes, not 50 steps later).
SEEN_KEPT = 50


class TranscriptLine(BaseModel):
    model_config = ConfigDict(defer_build=True)
    at: dt.datetime
    direction: Literal["in", "out", "note"]
    text: str
    step_id: str | None = None


class BotRun(BaseModel):
    model_config = ConfigDict(defer_build=True)
    id: str
    bot_id: str
    conversation_id: str
    channel_id: str
    trigger: Trigger
    kind: Literal["scripted", "webhook"] = "scripted"
    status: Literal["active", "done", "stopped"] = "active"
    outcome: str | None = Field(
        default=None, description="handoff, assign, close, end; stopped: taken_over, opted_out, bot_missing"
    )
    state: RunState = Field(default_factory=RunState)
    started_at: dt.datetime
    ended_at: dt.datetime | None = None
    csat: int | None = Field(default=None, description="The rating a csat step received")
    csat_asked: bool = False
    transcript: list[TranscriptLine] = Field(default_factory=list)
    seen: list[str] = Field(default_factory=list, description="Keys of the events it handled (exactly once)")
    flow: dict[str, Any] = Field(default_factory=dict, description="The bot's flow as it was when the run started")
    sent: int = Field(default=0, description="Messages sent: each has an id derived from (run, its number)")


def load(item: dict[str, Any]) -> BotRun:
    return BotRun.model_validate(item)


def of_conversation(conversation_id: str) -> list[BotRun]:
    return [load(i) for i in repo.runs_of(conversation_id)]
