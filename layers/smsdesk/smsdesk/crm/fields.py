"""Custom contact fields: typed definitions (text, number, date, boolean, choice) and the check of a
contact's values against them (422 naming ``custom_fields.<key>``).

Definitions live in one partition (``smsdesk.data.contact_fields``): a contact write reads them all
with one Query. A field's type never changes (delete it and create another); a choice field's options
may be edited, values already stored stay as they are.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smsdesk.data import contact_fields as repo
from smsdesk.errors import Conflict, NotFound, ValidationError
from smsdesk.models import utcnow

FieldType = Literal["text", "number", "date", "boolean", "choice"]
MAX_FIELDS = 100
TEXT_MAX = 1000
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

#: Built-in contact fields: a custom field may not take their names (rules and mail merge use both).
BUILTIN = frozenset(
    {
        "id",
        "name",
        "first_name",
        "last_name",
        "mobile",
        "other_phone",
        "email",
        "language",
        "time_zone",
        "tags",
        "manager_ids",
        "custom_fields",
        "created_at",
        "updated_at",
        "country",
    }
)


class FieldDefinition(BaseModel):
    model_config = ConfigDict(defer_build=True)
    key: str = Field(description="The field's name in `custom_fields`, rules and mail merge: a-z, 0-9, _")
    label: str
    type: FieldType
    options: list[str] | None = Field(default=None, description="The allowed values of a `choice` field")
    created_at: dt.datetime


class FieldCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    key: str = Field(min_length=1, max_length=40, pattern=KEY_RE.pattern)
    label: str = Field(min_length=1, max_length=100)
    type: FieldType
    options: list[str] | None = Field(default=None, max_length=100)

    @field_validator("key")
    @classmethod
    def _not_builtin(cls, key: str) -> str:
        if key in BUILTIN:
            raise ValueError(f"{key!r} is a built-in contact field")
        return key

    @field_validator("options")
    @classmethod
    def _options(cls, options: list[str] | None) -> list[str] | None:
        return _clean_options(options)

    @model_validator(mode="after")
    def _choice_has_options(self) -> FieldCreate:
        if self.type == "choice" and not self.options:
            raise ValueError("a choice field needs options")
        if self.type != "choice" and self.options is not None:
            raise ValueError("only a choice field has options")
        return self


class FieldPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    label: str | None = Field(default=None, min_length=1, max_length=100)
    options: list[str] | None = Field(default=None, max_length=100, description="Replaces the options (choice only)")

    @field_validator("options")
    @classmethod
    def _options(cls, options: list[str] | None) -> list[str] | None:
        return _clean_options(options)


def _clean_options(options: list[str] | None) -> list[str] | None:
    if options is None:
        return None
    cleaned = [o.strip() for o in options]
    if any(not o or len(o) > 100 for o in cleaned):
        raise ValueError("each option has 1 to 100 characters")
    if len(set(cleaned)) != len(cleaned):
        raise ValueError("options must be distinct")
    return cleaned


# -- values (pure) ------------------------------------------------------------------------------------


def check_value(definition: FieldDefinition, value: Any, *, field: str) -> Any:
    """``value`` as stored for ``definition`` (dates as ``YYYY-MM-DD``); None clears it; 422 on ``field``."""
    if value is None:
        return None
    kind = definition.type
    if kind == "text":
        if not isinstance(value, str) or len(value) > TEXT_MAX:
            raise ValidationError(f"{field} must be text of at most {TEXT_MAX} characters", field=field)
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError(f"{field} must be a number", field=field)
        if abs(value) > 1e15:
            raise ValidationError(f"{field} must be between -1e15 and 1e15", field=field)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise ValidationError(f"{field} must be true or false", field=field)
        return value
    if kind == "date":
        if not isinstance(value, str):
            raise ValidationError(f"{field} must be a date (YYYY-MM-DD)", field=field)
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise ValidationError(f"{field} must be a date (YYYY-MM-DD)", field=field) from exc
    options = definition.options or []
    if value not in options:
        raise ValidationError(f"{field} must be one of {', '.join(options)}", field=field)
    return value


def check_values(
    definitions: dict[str, FieldDefinition], values: dict[str, Any], *, prefix: str = "custom_fields"
) -> dict[str, Any]:
    """Each value checked against its definition (unknown keys: 422 naming them). None values are kept
    (they clear the field in a merge)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        field = f"{prefix}.{key}"
        definition = definitions.get(key)
        if definition is None:
            raise ValidationError(f"{field}: no such contact field (create it in /v1/contact-fields)", field=field)
        out[key] = check_value(definition, value, field=field)
    return out


# -- definitions ----------------------------------------------------------------------------------------


def definitions() -> dict[str, FieldDefinition]:
    return {d["key"]: FieldDefinition.model_validate(d) for d in repo.list_all()}


def get(key: str) -> FieldDefinition:
    item = repo.get(key)
    if item is None:
        raise NotFound(f"contact field {key} not found", field="key")
    return FieldDefinition.model_validate(item)


def create(body: FieldCreate) -> FieldDefinition:
    if len(repo.list_all()) >= MAX_FIELDS:
        raise ValidationError(f"at most {MAX_FIELDS} contact fields", field="key")
    definition = FieldDefinition(**body.model_dump(), created_at=utcnow())
    if not repo.put_new(definition.model_dump(mode="json")):
        raise Conflict(f"contact field {body.key} exists", field="key", code="field_exists")
    return definition


def update(key: str, body: FieldPatch) -> FieldDefinition:
    current = get(key)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("label") is None:
        changes.pop("label", None)
    if "options" in changes:
        if current.type != "choice":
            raise ValidationError("only a choice field has options", field="options")
        if not changes["options"]:
            raise ValidationError("a choice field needs options", field="options")
    updated = current.model_copy(update=changes)
    repo.put(updated.model_dump(mode="json"))
    return updated


def delete(key: str) -> None:
    """Remove the definition; values stored on contacts stay (and are no longer validated or listed)."""
    if not repo.delete(key):
        raise NotFound(f"contact field {key} not found", field="key")
