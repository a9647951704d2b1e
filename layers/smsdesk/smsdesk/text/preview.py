"""One call for the API and the CLI: merge, smart-encode, count, check the limit, price."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from smsdesk.text.limits import DEFAULT_MAX_SEGMENTS, MAX_SEGMENTS_LIMIT, check_text
from smsdesk.text.merge import render_template, template_fields
from smsdesk.text.phone import parse_number
from smsdesk.text.pricing import CountryMultipliers, credits_for, multiplier_for
from smsdesk.text.segments import Encoding, count_segments, max_units
from smsdesk.text.smart import smart_encode


class TextSettings(BaseModel):
    """Channel-level text options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    smart_encoding: bool = False
    max_segments: int = Field(default=DEFAULT_MAX_SEGMENTS, ge=1, le=MAX_SEGMENTS_LIMIT)
    country_multipliers: CountryMultipliers = Field(default_factory=lambda: {"*": 1})
    default_region: str = Field(default="NL", pattern=r"^[A-Za-z]{2}$")

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        return v.upper()


class ReplacementOut(BaseModel):
    char: str
    replacement: str
    count: int


class Preview(BaseModel):
    """What a message will cost and look like on the wire."""

    text: str = Field(description="The text actually counted (after merge and smart encoding).")
    encoding: Encoding
    segments: int
    units: int
    characters: int
    units_left: int
    per_segment: int
    non_gsm_characters: list[str]
    smart_encoding: bool
    replacements: list[ReplacementOut]
    merge_fields: list[str] = Field(description="Placeholders of the template (before merge).")
    merged: bool = Field(description="True when the template was rendered with a contact.")
    to: str | None = None
    country: str | None = None
    multiplier: int
    credits: int
    max_segments: int
    max_units: int = Field(description="Units allowed by max_segments in this encoding.")
    within_limit: bool


def preview(
    text: str,
    *,
    settings: TextSettings | None = None,
    to: str | None = None,
    contact: Mapping[str, Any] | None = None,
    default_region: str | None = None,
) -> Preview:
    """Preview ``text`` as the channel would send it. Never raises for a too-long text; raises
    :class:`~smsdesk.text.limits.EmptyMessage` for a text without content (before or after the merge:
    nothing the channel would send).

    1. ``contact`` given: the template is rendered (:class:`~smsdesk.text.merge.MergeError` on a
       missing field). Without it the template is counted as written, placeholders included.
    2. Smart encoding (``settings.smart_encoding``) replaces typographic characters, but only when
       the result is then entirely GSM-7 (otherwise it would not save anything).
    3. Count, compare with ``settings.max_segments`` (``within_limit``).
    4. ``to`` given: parsed to E.164 (``InvalidPhoneNumber`` if not a mobile number) in
       ``default_region`` (default: ``settings.default_region``) and credits use its country's
       multiplier; without ``to`` credits use the ``"*"`` multiplier (1 by default).
    """
    s = settings or TextSettings()
    check_text(text)
    fields = template_fields(text)
    merged = contact is not None
    if merged:
        text = render_template(text, contact)
        check_text(text)
    replacements: list[ReplacementOut] = []
    if s.smart_encoding:
        enc = smart_encode(text, only_if_gsm=True)
        text = enc.text
        replacements = [ReplacementOut(char=r.char, replacement=r.replacement, count=r.count) for r in enc.replacements]
    count = count_segments(text)
    e164 = country = None
    if to is not None:
        e164, country = parse_number(to, default_region or s.default_region, field="to")
    mult = multiplier_for(country, s.country_multipliers)
    return Preview(
        text=text,
        encoding=count.encoding,
        segments=count.segments,
        units=count.units,
        characters=count.characters,
        units_left=count.units_left,
        per_segment=count.per_segment,
        non_gsm_characters=list(count.non_gsm_characters),
        smart_encoding=s.smart_encoding,
        replacements=replacements,
        merge_fields=fields,
        merged=merged,
        to=e164,
        country=country,
        multiplier=mult,
        credits=credits_for(count.segments, country, s.country_multipliers),
        max_segments=s.max_segments,
        max_units=max_units(s.max_segments, count.encoding),
        within_limit=count.segments <= s.max_segments,
    )
