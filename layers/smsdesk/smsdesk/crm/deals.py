"""Leads, deals and deal pipelines (issue 16).

A lead and a deal have a title, a person (a contact, which must exist), an owner (a user, by default
whoever creates it), a value with its ISO 4217 currency, and a status (open / won / lost). A deal also
sits in a stage of a pipeline. Pipelines are configurable (``/v1/pipelines``): the pipeline ``default``
always exists (its built-in stages until someone changes it), so a deal created without naming one
lands in its first stage.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import ids
from smsdesk.crm.currencies import is_currency
from smsdesk.data import contacts as contacts_repo
from smsdesk.data import crm as repo
from smsdesk.data import users as users_repo
from smsdesk.errors import Conflict, NotFound, ValidationError
from smsdesk.models import utcnow

Status = Literal["open", "won", "lost"]
Kind = Literal["lead", "deal"]
DEFAULT_PIPELINE = "default"
_DEFAULT_STAGES = ("Qualified", "Contact made", "Proposal made", "Negotiations started")
_MAX_ATTEMPTS = 5

Title = Field(min_length=1, max_length=200)
Money = Field(default=None, ge=0, max_digits=15, decimal_places=2, description='Amount, e.g. 1500 or "1500.50"')
Currency = Field(default=None, min_length=3, max_length=3, description="ISO 4217 code, e.g. EUR")


class Stage(BaseModel):
    id: str
    name: str


class Pipeline(BaseModel):
    id: str
    name: str
    stages: list[Stage]
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class StageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(default=None, max_length=64, description="Keep an existing stage (its deals stay)")
    name: str = Field(min_length=1, max_length=100)


class PipelineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    stages: list[StageIn] = Field(min_length=1, max_length=30, description="In order")


class PipelinePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    stages: list[StageIn] | None = Field(default=None, min_length=1, max_length=30)


class Lead(BaseModel):
    id: str
    title: str
    person_id: str = Field(description="A contact id")
    owner_id: str = Field(description="A user id")
    value: Decimal | None = None
    currency: str | None = None
    status: Status = "open"
    created_at: dt.datetime
    created_by: str | None = None
    updated_at: dt.datetime | None = None


class Deal(Lead):
    pipeline_id: str
    stage_id: str


class LeadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = Title
    person_id: str = Field(min_length=1, max_length=64, description="A contact id")
    owner_id: str | None = Field(default=None, max_length=64, description="A user id; absent: you")
    value: Decimal | None = Money
    currency: str | None = Currency
    status: Status = "open"


class DealIn(LeadIn):
    pipeline_id: str | None = Field(default=None, max_length=64, description="Absent: the `default` pipeline")
    stage_id: str | None = Field(default=None, max_length=64, description="Absent: the pipeline's first stage")


class LeadPatch(BaseModel):
    """Only the fields given change (null clears ``value``/``currency``)."""

    model_config = ConfigDict(extra="forbid")
    title: str | None = Field(default=None, min_length=1, max_length=200)
    person_id: str | None = Field(default=None, min_length=1, max_length=64)
    owner_id: str | None = Field(default=None, min_length=1, max_length=64)
    value: Decimal | None = Money
    currency: str | None = Currency
    status: Status | None = None


class DealPatch(LeadPatch):
    pipeline_id: str | None = Field(default=None, min_length=1, max_length=64)
    stage_id: str | None = Field(default=None, min_length=1, max_length=64)


# -- pipelines -------------------------------------------------------------------------------------------


def _builtin_default() -> Pipeline:
    return Pipeline(
        id=DEFAULT_PIPELINE,
        name="Default pipeline",
        stages=[Stage(id=f"stage{n + 1}", name=name) for n, name in enumerate(_DEFAULT_STAGES)],
    )


def _stages(given: list[StageIn], old: list[Stage]) -> list[Stage]:
    known = {s.id for s in old}
    out: list[Stage] = []
    for n, s in enumerate(given):
        if s.id is not None and s.id not in known:
            raise ValidationError(f"stage {s.id} is not a stage of this pipeline", field=f"stages.{n}.id")
        out.append(Stage(id=s.id or ids.new_id("stg_"), name=s.name.strip()))
    if len({s.id for s in out}) != len(out):
        raise ValidationError("a stage is listed twice", field="stages")
    return out


def get_pipeline(pipeline_id: str) -> Pipeline:
    got = repo.item_get("pipeline", pipeline_id)
    if got is not None:
        return Pipeline.model_validate(got[0])
    if pipeline_id == DEFAULT_PIPELINE:
        return _builtin_default()
    raise NotFound(f"pipeline {pipeline_id} not found", field="pipeline_id")


def list_pipelines() -> list[Pipeline]:
    out: list[Pipeline] = []
    cursor: str | None = None
    while True:
        items, cursor = repo.item_page("pipeline", limit=100, cursor=cursor)
        out.extend(Pipeline.model_validate(i) for i in items)
        if not cursor:
            break
    if not any(p.id == DEFAULT_PIPELINE for p in out):
        out.append(_builtin_default())
    return sorted(out, key=lambda p: (p.id != DEFAULT_PIPELINE, p.id))


def create_pipeline(body: PipelineIn) -> Pipeline:
    p = Pipeline(id=ids.new_id("pl_"), name=body.name.strip(), stages=_stages(body.stages, []), created_at=utcnow())
    repo.transact([repo.item_put("pipeline", p.model_dump(mode="json"), version=None)])
    return p


def update_pipeline(pipeline_id: str, body: PipelinePatch) -> Pipeline:
    for _ in range(_MAX_ATTEMPTS):
        got = repo.item_get("pipeline", pipeline_id)
        if got is None and pipeline_id != DEFAULT_PIPELINE:
            raise NotFound(f"pipeline {pipeline_id} not found", field="pipeline_id")
        old = Pipeline.model_validate(got[0]) if got else _builtin_default()
        new = old.model_copy(
            update={
                "name": body.name.strip() if body.name else old.name,
                "stages": _stages(body.stages, old.stages) if body.stages is not None else old.stages,
                "updated_at": utcnow(),
            }
        )
        try:
            repo.transact([repo.item_put("pipeline", new.model_dump(mode="json"), version=got[1] if got else None)])
        except repo.TransactionCanceled:
            continue
        return new
    raise Conflict("the pipeline keeps changing; try again", field="pipeline_id")


# -- leads and deals ---------------------------------------------------------------------------------------


def _check_person(person_id: str) -> None:
    if contacts_repo.get(person_id, consistent=True) is None:
        raise ValidationError(f"contact {person_id} does not exist", field="person_id")


def _check_owner(owner_id: str) -> None:
    if users_repo.get_profile(owner_id) is None:
        raise ValidationError(f"user {owner_id} does not exist", field="owner_id")


def _check_money(value: Decimal | None, currency: str | None) -> str | None:
    if currency is not None:
        currency = currency.upper()
        if not is_currency(currency):
            raise ValidationError(f"{currency!r} is not an ISO 4217 currency code", field="currency")
    if value is not None and currency is None:
        raise ValidationError("a value needs its currency", field="currency")
    return currency


def _check_stage(pipeline_id: str, stage_id: str | None) -> str:
    pipeline = get_pipeline(pipeline_id) if pipeline_id else get_pipeline(DEFAULT_PIPELINE)
    if stage_id is None:
        return pipeline.stages[0].id
    if stage_id not in {s.id for s in pipeline.stages}:
        raise ValidationError(f"stage {stage_id} is not a stage of pipeline {pipeline.id}", field="stage_id")
    return stage_id


def _model(kind: Kind) -> type[Lead]:
    return Deal if kind == "deal" else Lead


def create(kind: Kind, body: LeadIn, *, by: str | None) -> Lead:
    _check_person(body.person_id)
    owner = body.owner_id or by
    if owner is None:
        raise ValidationError("an owner is needed", field="owner_id")
    if body.owner_id:
        _check_owner(body.owner_id)
    data: dict[str, Any] = {
        "id": ids.new_id("lead_" if kind == "lead" else "deal_"),
        "title": body.title.strip(),
        "person_id": body.person_id,
        "owner_id": owner,
        "value": body.value,
        "currency": _check_money(body.value, body.currency),
        "status": body.status,
        "created_at": utcnow(),
        "created_by": by,
    }
    if kind == "deal":
        assert isinstance(body, DealIn)
        pipeline_id = body.pipeline_id or DEFAULT_PIPELINE
        if body.pipeline_id:
            try:
                get_pipeline(pipeline_id)
            except NotFound as exc:
                raise ValidationError(str(exc), field="pipeline_id") from exc
        data |= {"pipeline_id": pipeline_id, "stage_id": _check_stage(pipeline_id, body.stage_id)}
    item = _model(kind).model_validate(data)
    repo.transact([repo.item_put(kind, item.model_dump(mode="json"), version=None)])
    return item


def get(kind: Kind, item_id: str) -> Lead:
    got = repo.item_get(kind, item_id)
    if got is None:
        raise NotFound(f"{kind} {item_id} not found", field=f"{kind}_id")
    return _model(kind).model_validate(got[0])


def update(kind: Kind, item_id: str, body: LeadPatch) -> Lead:
    given = body.model_fields_set
    if "person_id" in given and body.person_id:
        _check_person(body.person_id)
    if "owner_id" in given and body.owner_id:
        _check_owner(body.owner_id)
    for _ in range(_MAX_ATTEMPTS):
        got = repo.item_get(kind, item_id)
        if got is None:
            raise NotFound(f"{kind} {item_id} not found", field=f"{kind}_id")
        data, version = got
        for name in given:
            value = getattr(body, name)
            if value is None and name not in ("value", "currency"):
                continue
            data[name] = value
        if "title" in given and body.title:
            data["title"] = body.title.strip()
        data["currency"] = _check_money(
            Decimal(str(data["value"])) if data.get("value") is not None else None, data.get("currency")
        )
        if kind == "deal":
            assert isinstance(body, DealPatch)
            if "pipeline_id" in given and body.pipeline_id:
                try:
                    get_pipeline(body.pipeline_id)
                except NotFound as exc:
                    raise ValidationError(str(exc), field="pipeline_id") from exc
                if "stage_id" not in given:
                    data["stage_id"] = None
            data["stage_id"] = _check_stage(data["pipeline_id"], data.get("stage_id"))
        data["updated_at"] = utcnow()
        item = _model(kind).model_validate(data)
        try:
            repo.transact([repo.item_put(kind, item.model_dump(mode="json"), version=version)])
        except repo.TransactionCanceled:
            continue
        return item
    raise Conflict(f"the {kind} keeps changing; try again", field=f"{kind}_id")


def delete(kind: Kind, item_id: str) -> None:
    if repo.item_get(kind, item_id) is None:
        raise NotFound(f"{kind} {item_id} not found", field=f"{kind}_id")
    repo.transact([repo.item_delete(kind, item_id)])


def list_page(kind: Kind, *, limit: int, cursor: str | None) -> tuple[list[Lead], str | None]:
    items, nxt = repo.item_page(kind, limit=limit, cursor=cursor)
    model = _model(kind)
    return [model.model_validate(i) for i in items], nxt
