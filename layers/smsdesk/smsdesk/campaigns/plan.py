"""Planning a campaign run: each recipient's text (mail merge + the marketing footer), its segments
and credits (priced exactly as :func:`smsdesk.sending.messages.build` prices a send), and the totals
the preview shows. Pure: the audience's pages come in, planned recipients and exclusions go out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smsdesk.crm.audience import AudiencePage, Excluded, Recipient
from smsdesk.errors import AppError
from smsdesk.models import Channel, Contact
from smsdesk.text import check_length, credits_for, parse_number, render_template, smart_encode, template_fields

#: The footer of marketing texts on a channel without its own (``Channel.opt_out_footer``).
DEFAULT_FOOTER = "STOP to opt out"


def footer_for(channel: Channel) -> str:
    return channel.opt_out_footer or DEFAULT_FOOTER


def full_template(text: str, kind: str, channel: Channel) -> str:
    """The template as sent: a marketing text ends with the channel's opt-out footer."""
    return f"{text}\n{footer_for(channel)}" if kind == "marketing" else text


def merge_fields(contact: Contact | None, number: str) -> dict[str, Any]:
    """What ``{{...}}`` can name: the contact's fields, its custom fields (by key) and ``mobile``."""
    if contact is None:
        return {"mobile": number}
    out: dict[str, Any] = dict(contact.custom_fields)
    out.update(
        first_name=contact.first_name,
        last_name=contact.last_name,
        name=contact.name,
        email=contact.email,
        language=contact.language,
        mobile=contact.mobile or number,
        other_phone=contact.other_phone,
    )
    return out


def country_of(e164: str, region: str) -> str:
    """The country of an E.164 number the audience already validated: from its calling code when that
    code has one country (no second parse: half of planning's time), else by parsing it."""
    import phonenumbers  # ~10-20 ms: loaded by the first number handled, not at cold start

    for length in (1, 2, 3):
        regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(int(e164[1 : 1 + length] or 0))
        if regions:
            if len(regions) == 1 and regions[0] != "001":
                return regions[0]
            break
    return parse_number(e164, region).region


@dataclass(slots=True)
class Planned:
    number: str
    contact_id: str | None
    text: str
    segments: int
    credits: int
    country: str | None
    time_zone: str | None


@dataclass
class Planner:
    """Renders and prices recipients for one channel and template (checked once, at construction)."""

    channel: Channel
    template: str
    region: str
    _static: tuple[str, int, str] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        template_fields(self.template)  # a malformed placeholder is a 422 on `text` before anything else
        self._fields = bool(template_fields(self.template))

    def plan(self, r: Recipient) -> Planned | Excluded:
        try:
            if self._fields or self._static is None:
                text = render_template(self.template, merge_fields(r.contact, r.number))
                if self.channel.smart_encoding:
                    text = smart_encode(text, only_if_gsm=True).text
                segments = check_length(text, self.channel.max_segments).segments
                if not self._fields:
                    self._static = (text, segments, "")
            else:
                text, segments, _ = self._static
        except AppError as exc:
            reason = "missing_merge_field" if exc.code == "merge_error" else "text_invalid"
            return Excluded(number=r.number, contact_id=r.contact_id, reason=reason)  # type: ignore[arg-type]
        country = country_of(r.number, self.region)
        zone = r.contact.time_zone if r.contact is not None else None
        return Planned(
            number=r.number,
            contact_id=r.contact_id,
            text=text,
            segments=segments,
            credits=credits_for(segments, country, self.channel.country_multipliers),
            country=country,
            time_zone=zone,
        )


class CountryTotal(BaseModel):
    model_config = ConfigDict(defer_build=True)
    recipients: int
    segments: int
    credits: int


class Preview(BaseModel):
    model_config = ConfigDict(defer_build=True)
    recipients: int = Field(description="Numbers that would be texted, after deduplication")
    excluded: dict[str, int] = Field(description="Left out, by reason")
    segments: int
    credits: int = Field(description="What launching reserves (the same pricing as a send)")
    by_country: dict[str, CountryTotal]
    longest_text: str | None = Field(description="The longest rendered text (footer included)")
    longest_segments: int = 0
    footer: str | None = Field(default=None, description="The opt-out footer marketing texts end with")
    per_recipient: list[dict[str, Any]] | None = Field(
        default=None, description="With per_recipient=true: the first recipients' text, segments and credits"
    )


def excluded_page(page: AudiencePage) -> list[Excluded]:
    return page.excluded


def plan_pages(planner: Planner, pages: Iterable[AudiencePage]) -> Iterator[tuple[list[Planned], list[Excluded]]]:
    for page in pages:
        planned: list[Planned] = []
        excluded = list(page.excluded)
        for r in page.recipients:
            out = planner.plan(r)
            if isinstance(out, Planned):
                planned.append(out)
            else:
                excluded.append(out)
        yield planned, excluded


def summarise(
    pages: Iterable[tuple[list[Planned], list[Excluded]]], *, footer: str | None, per_recipient: int = 0
) -> Preview:
    count = segments = total = 0
    reasons: Counter[str] = Counter()
    by_country: dict[str, list[int]] = {}
    longest: Planned | None = None
    first: list[dict[str, Any]] = []
    for planned, excluded in pages:
        reasons.update(x.reason for x in excluded)
        for p in planned:
            count += 1
            segments += p.segments
            total += p.credits
            c = by_country.setdefault(p.country or "??", [0, 0, 0])
            c[0] += 1
            c[1] += p.segments
            c[2] += p.credits
            if longest is None or len(p.text) > len(longest.text):
                longest = p
            if len(first) < per_recipient:
                first.append(
                    {
                        "number": p.number,
                        "contact_id": p.contact_id,
                        "text": p.text,
                        "segments": p.segments,
                        "credits": p.credits,
                        "country": p.country,
                    }
                )
    return Preview(
        recipients=count,
        excluded=dict(reasons),
        segments=segments,
        credits=total,
        by_country={
            k: CountryTotal(recipients=v[0], segments=v[1], credits=v[2]) for k, v in sorted(by_country.items())
        },
        longest_text=longest.text if longest else None,
        longest_segments=longest.segments if longest else 0,
        footer=footer,
        per_recipient=first if per_recipient else None,
    )
