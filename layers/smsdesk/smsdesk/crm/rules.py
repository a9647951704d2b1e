"""Dynamic group rules: a condition tree over contact fields, and its evaluation (pure).

A rule is a condition ``{"field", "op", "value"}`` or a combination ``{"all": [rules]}`` /
``{"any": [rules]}`` (nesting allowed, depth ≤ :data:`MAX_DEPTH`, ≤ :data:`MAX_CONDITIONS` conditions).
Fields are the built-in ones (:data:`BUILTIN_TYPES`) or custom fields (their definitions give the
type). Operators:

* ``equals`` / ``not_equals`` / ``in``: text compares ignoring case and accents; a list field (``tags``)
  matches when one element does; ``not_equals`` is the negation of ``equals`` (a contact without the
  field is "not equal");
* ``contains`` / ``starts_with``: text (or an element of a list);
* ``greater`` / ``less``: numbers, or dates (``YYYY-MM-DD``; ``created_at`` compares its date); a
  contact without the field, or with a value of another type, does not match;
* ``is_set``: ``value`` true (default) = has a non-empty value; false = has none.

:func:`parse` turns a JSON value into a :data:`Rule` and names the part that is wrong the way a client
wrote it (``rule.all.1.op``); :func:`check_fields` checks fields and value types against the
definitions; :func:`matches` evaluates a rule on :func:`contact_view` of a contact.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from smsdesk.crm.search import fold
from smsdesk.errors import ValidationError

Op = Literal["equals", "not_equals", "contains", "starts_with", "greater", "less", "is_set", "in"]
FieldKind = Literal["text", "number", "date", "boolean", "choice", "list"]
MAX_DEPTH = 5
MAX_CONDITIONS = 50
MAX_IN = 100

#: The built-in fields a rule may use, with how they compare.
BUILTIN_TYPES: dict[str, FieldKind] = {
    "first_name": "text",
    "last_name": "text",
    "name": "text",
    "mobile": "text",
    "other_phone": "text",
    "email": "text",
    "language": "text",
    "time_zone": "text",
    "country": "text",
    "tags": "list",
    "created_at": "date",
}


def _kind(value: Any) -> str | None:
    if isinstance(value, dict):
        return "all" if "all" in value else "any" if "any" in value else "condition"
    if isinstance(value, BaseModel):
        return {"All": "all", "AnyOf": "any", "Condition": "condition"}.get(type(value).__name__)
    return None


class Condition(BaseModel):
    """``field op value``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    field: str = Field(min_length=1, max_length=60, description="A built-in field (e.g. `tags`) or a custom field key")
    op: Op
    value: str | int | float | bool | list[str | int | float] | None = Field(
        default=None, description="A list for `in`; a boolean (default true) for `is_set`; otherwise one value"
    )


class All(BaseModel):
    """Every rule matches."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    all: list[Rule] = Field(min_length=1, max_length=MAX_CONDITIONS)


class AnyOf(BaseModel):
    """At least one rule matches."""

    model_config = ConfigDict(extra="forbid", title="Any", defer_build=True)
    any: list[Rule] = Field(min_length=1, max_length=MAX_CONDITIONS)


Rule = Annotated[
    Union[Annotated[All, Tag("all")], Annotated[AnyOf, Tag("any")], Annotated[Condition, Tag("condition")]],  # noqa: UP007
    Discriminator(_kind),
]


@cache
def _adapter() -> TypeAdapter[Any]:
    """Built on first use (so are the rule models, whose ``Rule`` references resolve then): a function
    that loads this module for one group's rules does not build them all at its cold start."""
    return TypeAdapter(Rule)


def _client_path(loc: tuple[Any, ...]) -> list[str]:
    """pydantic's location inside a tagged union without the tags: ``('all','all',1,'condition','op')``
    → ``['all', '1', 'op']``."""
    out: list[str] = []
    parts = list(loc)
    while parts:
        tag = parts.pop(0)  # the union's tag at each rule level
        if tag not in ("all", "any", "condition") or not parts:
            out += [str(tag), *map(str, parts)]
            return out
        if tag == "condition":
            out += [str(p) for p in parts]
            return out
        out.append(str(parts.pop(0)))  # "all"/"any"
        if parts:
            out.append(str(parts.pop(0)))  # the index
    return out


def parse(raw: Any, *, field: str = "rule") -> All | AnyOf | Condition:
    """``raw`` as a rule, or a 422 naming the part (``rule.any.0.value``)."""
    if isinstance(raw, All | AnyOf | Condition):
        rule = raw
    else:
        try:
            rule = _adapter().validate_python(raw)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            where = ".".join([field, *_client_path(tuple(first.get("loc", ())))])
            raise ValidationError(f"{where}: {first.get('msg', 'invalid')}", field=where) from exc
    _check_shape(rule, field, depth=1, count=[0])
    return rule


def _check_shape(rule: All | AnyOf | Condition, where: str, *, depth: int, count: list[int]) -> None:
    if depth > MAX_DEPTH:
        raise ValidationError(f"{where}: rules nest at most {MAX_DEPTH} levels", field=where)
    if isinstance(rule, Condition):
        count[0] += 1
        if count[0] > MAX_CONDITIONS:
            raise ValidationError(f"{where}: a rule has at most {MAX_CONDITIONS} conditions", field=where)
        _check_value_shape(rule, where)
        return
    name = "all" if isinstance(rule, All) else "any"
    for n, sub in enumerate(rule.all if isinstance(rule, All) else rule.any):
        _check_shape(sub, f"{where}.{name}.{n}", depth=depth + 1, count=count)


def _check_value_shape(cond: Condition, where: str) -> None:
    value, field = cond.value, f"{where}.value"
    if cond.op == "is_set":
        if value is not None and not isinstance(value, bool):
            raise ValidationError(f"{field}: is_set takes true, false or nothing", field=field)
    elif cond.op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN:
            raise ValidationError(f"{field}: in takes a list of 1 to {MAX_IN} values", field=field)
    elif value is None or isinstance(value, list):
        raise ValidationError(f"{field}: {cond.op} takes one value", field=field)
    elif cond.op in ("contains", "starts_with") and not isinstance(value, str):
        raise ValidationError(f"{field}: {cond.op} takes text", field=field)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValidationError(f"{field}: not a finite number", field=field)


def conditions(rule: All | AnyOf | Condition, where: str = "rule") -> list[tuple[str, Condition]]:
    """Every condition with its path."""
    if isinstance(rule, Condition):
        return [(where, rule)]
    name = "all" if isinstance(rule, All) else "any"
    out: list[tuple[str, Condition]] = []
    for n, sub in enumerate(rule.all if isinstance(rule, All) else rule.any):
        out += conditions(sub, f"{where}.{name}.{n}")
    return out


def check_fields(rule: All | AnyOf | Condition, custom: dict[str, str], *, where: str = "rule") -> None:
    """Each condition's field exists (built-in, or a key of ``custom`` → its type) and its value fits the
    type (a number for a number field, a date for a date field...); 422 naming the part."""
    for path, cond in conditions(rule, where):
        kind = BUILTIN_TYPES.get(cond.field) or custom.get(cond.field)
        if kind is None:
            raise ValidationError(f"{path}.field: no contact field {cond.field!r}", field=f"{path}.field")
        if cond.op == "is_set":
            continue
        values = cond.value if isinstance(cond.value, list) else [cond.value]
        if cond.op in ("greater", "less") and kind not in ("number", "date"):
            raise ValidationError(f"{path}.op: {cond.op} compares numbers or dates, not {kind}", field=f"{path}.op")
        for value in values:
            if kind == "number" and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValidationError(f"{path}.value: {cond.field} is a number", field=f"{path}.value")
            if kind == "boolean" and (not isinstance(value, bool) or cond.op not in ("equals", "not_equals", "in")):
                raise ValidationError(f"{path}.value: {cond.field} is true or false", field=f"{path}.value")
            if kind == "date" and (not isinstance(value, str) or _date(value) is None):
                raise ValidationError(f"{path}.value: {cond.field} is a date (YYYY-MM-DD)", field=f"{path}.value")


#: The stored attributes each built-in field is computed from (:func:`contact_view`).
_STORED: dict[str, tuple[str, ...]] = {
    "name": ("first_name", "last_name"),
    "mobile": ("mobile", "number"),  # ``number``: contacts stored before issue 13
    "country": ("mobile", "number"),
}


def stored_paths(rule: All | AnyOf | Condition) -> set[tuple[str, ...]]:
    """The stored attributes (``("tags",)``) and custom field values (``("custom_fields", "city")``) the
    rule reads: a dynamic group reads each contact projected to these (:func:`contact_view` of the
    projection decides as of the whole item)."""
    out: set[tuple[str, ...]] = set()
    for _path, cond in conditions(rule):
        if cond.field in BUILTIN_TYPES:
            out.update((a,) for a in _STORED.get(cond.field, (cond.field,)))
        else:
            out.add(("custom_fields", cond.field))
    return out


# -- evaluation (pure) -------------------------------------------------------------------------------------


def _country(mobile: str | None) -> str | None:
    import phonenumbers  # ~10-20 ms: loaded by the first number handled, not at cold start

    if not mobile or not mobile.startswith("+"):
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(mobile, None)) or None
    except phonenumbers.NumberParseException:
        return None


class _View(dict):
    """A contact's values; ``country`` (a phone number parse: a fifth of evaluating a rule) is worked
    out only when a rule reads it, and an absent field reads as None."""

    def __missing__(self, key: str) -> Any:
        if key == "country":
            value = self["country"] = _country(self.get("mobile"))
            return value
        return None

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        value = self[key]
        return default if value is None else value


def contact_view(contact: dict[str, Any]) -> dict[str, Any]:
    """The values a rule sees for a stored (or dumped) contact: built-in fields, then custom fields (a
    custom key never shadows a built-in one: their names are reserved)."""
    first, last = contact.get("first_name"), contact.get("last_name")
    mobile = contact.get("mobile") or contact.get("number")
    view: dict[str, Any] = _View(contact.get("custom_fields") or {})
    view.update(
        {
            "first_name": first,
            "last_name": last,
            "name": " ".join(p for p in (first, last) if p) or None,
            "mobile": mobile,
            "other_phone": contact.get("other_phone"),
            "email": contact.get("email"),
            "language": contact.get("language"),
            "time_zone": contact.get("time_zone"),
            "tags": list(contact.get("tags") or []),
            "created_at": str(contact.get("created_at") or "")[:10] or None,
        }
    )
    return view


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return fold(value.strip())
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, list):
        return any(_equal(a, expected) for a in actual)
    if isinstance(actual, bool) or isinstance(expected, bool):
        return actual is expected
    return actual is not None and _norm(actual) == _norm(expected)


def _text_op(actual: Any, expected: Any, op: str) -> bool:
    if isinstance(actual, list):
        return any(_text_op(a, expected, op) for a in actual)
    if not isinstance(actual, str) or not isinstance(expected, str):
        return False
    a, e = fold(actual), fold(expected)
    return e in a if op == "contains" else a.startswith(e)


def _order(actual: Any, expected: Any) -> tuple[Any, Any] | None:
    """Comparable (actual, expected): both numbers, or both dates; else None."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return None
    if isinstance(actual, int | float) and isinstance(expected, int | float):
        return float(actual), float(expected)
    a, e = _date(actual), _date(expected)
    return (a, e) if a is not None and e is not None else None


def _is_set(value: Any) -> bool:
    return value is not None and value != "" and value != []


def evaluate(cond: Condition, view: dict[str, Any]) -> bool:
    actual = view[cond.field] if isinstance(view, _View) else view.get(cond.field)
    op, expected = cond.op, cond.value
    if op == "is_set":
        return _is_set(actual) == (expected is not False)
    if op == "equals":
        return _equal(actual, expected)
    if op == "not_equals":
        return not _equal(actual, expected)
    if op == "in":
        return any(_equal(actual, e) for e in (expected if isinstance(expected, list) else [expected]))
    if op in ("contains", "starts_with"):
        return _text_op(actual, expected, op)
    pair = _order(actual, expected)
    if pair is None:
        return False
    return pair[0] > pair[1] if op == "greater" else pair[0] < pair[1]


def matches(rule: All | AnyOf | Condition, view: dict[str, Any]) -> bool:
    """Whether a contact (its :func:`contact_view`) satisfies ``rule``."""
    if isinstance(rule, Condition):
        return evaluate(rule, view)
    if isinstance(rule, All):
        return all(matches(r, view) for r in rule.all)
    return any(matches(r, view) for r in rule.any)


def dump(rule: All | AnyOf | Condition) -> dict[str, Any]:
    return rule.model_dump(mode="json", exclude_none=True)
