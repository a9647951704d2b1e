"""Mail merge: ``{{field}}`` placeholders over a contact's fields.

Syntax: ``{{first_name}}``, ``{{ first_name }}`` (whitespace inside the braces is ignored) and
``{{first_name|there}}`` (default used when the field is missing, ``None`` or blank; outer
whitespace of the default is stripped; ``{{title|}}`` makes a field optional). Field names are
``[A-Za-z_][A-Za-z0-9_]*``, case-sensitive. Values are inserted with ``str()`` and never re-scanned.
Any other ``{{`` or ``}}`` is a malformed placeholder and an error: better than sending
``{{frist name}}`` to ten thousand people. Single braces are plain text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from smsdesk.errors import ValidationError

PLACEHOLDER_RE: Final = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\|([^{}]*))?\}\}")


class MergeError(ValidationError):
    """Missing fields (``details["missing_fields"]``) or malformed placeholders."""

    code = "merge_error"


def _check_syntax(template: str, field: str) -> None:
    rest = PLACEHOLDER_RE.sub("", template)
    if "{{" in rest or "}}" in rest:
        i = rest.find("{{") if "{{" in rest else rest.find("}}")
        snippet = rest[max(0, i - 10) : i + 20]
        raise MergeError(
            f"Malformed placeholder near {snippet!r}: use {{{{field}}}} or {{{{field|default}}}} "
            "with a field name made of letters, digits and '_'.",
            field=field,
            details={"malformed": snippet},
        )


def template_fields(template: str, *, field: str = "text") -> list[str]:
    """Distinct placeholder names in order of first appearance (raises on malformed syntax)."""
    _check_syntax(template, field)
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER_RE.finditer(template)))


def _value(fields: Mapping[str, Any], name: str) -> str | None:
    v = fields.get(name)
    if v is None:
        return None
    s = v if isinstance(v, str) else str(v)
    return s if s.strip() else None


def render_template(template: str, fields: Mapping[str, Any] | None, *, field: str = "text") -> str:
    """Replace every placeholder of ``template`` by the contact's value or its default.

    Raises :class:`MergeError` naming *all* the missing fields at once.
    """
    _check_syntax(template, field)
    fields = fields or {}
    missing: dict[str, None] = {}

    def sub(m: re.Match[str]) -> str:
        value = _value(fields, m.group(1))
        if value is not None:
            return value
        if m.group(2) is not None:
            return m.group(2).strip()
        missing[m.group(1)] = None
        return ""

    out = PLACEHOLDER_RE.sub(sub, template)
    if missing:
        names = list(missing)
        raise MergeError(
            f"Missing value for merge field{'s' if len(names) > 1 else ''} "
            f"{', '.join(names)} (add a default: {{{{{names[0]}|...}}}}).",
            field=field,
            details={"missing_fields": names},
        )
    return out
