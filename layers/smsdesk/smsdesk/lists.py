"""Blocklists and opt-outs: who may not be texted (or heard), and the provable consent history.

Entries are account-wide (``channel_id`` None) or per channel; both scopes apply. A blocklist entry
has a direction (``inbound``, ``outbound`` or ``both``). An opt-out always blocks outbound sends and
every opt-out/opt-in appends a consent record (``CONSENT#{e164}``) in the same transaction, so the
history of consent can be shown for any number.

Numbers are normalised to E.164 with the channel's (or the account's) default region. Any valid
number is accepted, not only mobiles: a blocklist may need to hold landlines or VoIP numbers that
text in, and an opt-out recorded for a number must never be refused on a technicality.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import config, ids
from smsdesk.data import channels as channels_repo
from smsdesk.data import lists as repo
from smsdesk.errors import ValidationError
from smsdesk.models import iso, utcnow
from smsdesk.text import InvalidPhoneNumber, parse_number

Direction = Literal["inbound", "outbound", "both"]
Source = Literal["keyword", "api", "import", "form", "support"]
ConsentEvent = Literal["opt_out", "opt_in"]


class RecipientBlocked(ValidationError):
    code = "recipient_blocked"

    def __init__(self, e164: str, scope: str) -> None:
        super().__init__(f"{e164} is on the {scope} outbound blocklist", field="to", details={"scope": scope})


class RecipientOptedOut(ValidationError):
    code = "recipient_opted_out"

    def __init__(self, e164: str, scope: str) -> None:
        super().__init__(
            f"{e164} has opted out ({scope}); it may not be texted until it opts in again",
            field="to",
            details={"scope": scope},
        )


class BlockEntry(BaseModel):
    model_config = ConfigDict(defer_build=True)
    number: str
    channel_id: str | None = None
    direction: Direction
    reason: str | None = None
    created_at: dt.datetime
    created_by: str | None = None


class OptOut(BaseModel):
    model_config = ConfigDict(defer_build=True)
    number: str
    channel_id: str | None = None
    reason: str
    source: Source
    created_at: dt.datetime
    created_by: str | None = None


class ConsentRecord(BaseModel):
    model_config = ConfigDict(defer_build=True)
    id: str
    number: str
    event: ConsentEvent
    channel_id: str | None = None
    reason: str
    source: Source
    by: str | None = Field(default=None, description="user id, or None for the system (e.g. a STOP keyword)")
    at: dt.datetime


def _now() -> dt.datetime:
    """Now at the stored (millisecond) precision: what the API returns equals what it reads back."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# -- normalisation ---------------------------------------------------------------------------------------


def region_for(channel_id: str | None) -> str:
    """The channel's default region, else the account's (for numbers typed without country code)."""
    if channel_id:
        ch = channels_repo.get_channel(channel_id)
        if ch and ch.get("default_region"):
            return str(ch["default_region"])
    return config.default_country()


def normalise(raw: str, region: str, *, field: str = "number") -> str:
    """E.164 of any valid number (mobile or not), or a 422 naming ``field``."""
    import phonenumbers  # ~10-20 ms: loaded by the first number handled, not at cold start

    try:
        return parse_number(raw, region, field=field).e164
    except InvalidPhoneNumber as exc:
        if exc.reason != "not_mobile":
            raise
    cleaned = raw.strip().replace(" ", "")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    num = phonenumbers.parse(cleaned, region)  # parse_number already proved it parses and is valid
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


# -- checks (send path, inbound path) --------------------------------------------------------------


def _applies(item: dict, direction: str) -> bool:
    return item.get("direction") in (direction, "both")


def check_outbound(channel_id: str, e164: str, *, entries: list[dict] | None = None) -> None:
    """Raise :class:`RecipientBlocked` / :class:`RecipientOptedOut` if ``e164`` may not be texted on
    the channel (account-wide and channel entries both apply). One BatchGetItem, or none with
    ``entries``: the number's entries as already read (``data.messages.send_reads``)."""
    items = repo.entries_for(e164, channel_id, ("block", "optout")) if entries is None else entries
    blocks = [i for i in items if i["PK"].startswith("BLOCK#") and _applies(i, "outbound")]
    if blocks:
        raise RecipientBlocked(e164, _scope_name(blocks))
    optouts = [i for i in items if i["PK"].startswith("OPTOUT#")]
    if optouts:
        raise RecipientOptedOut(e164, _scope_name(optouts))


def outbound_refusal(
    items: list[dict],
) -> tuple[Literal["blocklisted", "opted_out"], Literal["account", "channel"]] | None:
    """Why a number with these list entries (both scopes, both lists) may not be texted: blocklisted
    (outbound or both) before opted out, account-wide before channel; None if it may (pure: the rule
    :func:`check_outbound` applies, for many numbers at once in audiences)."""
    blocks = [i for i in items if i["PK"].startswith("BLOCK#") and _applies(i, "outbound")]
    if blocks:
        return "blocklisted", "account" if _scope_name(blocks) == "account-wide" else "channel"
    optouts = [i for i in items if i["PK"].startswith("OPTOUT#")]
    if optouts:
        return "opted_out", "account" if _scope_name(optouts) == "account-wide" else "channel"
    return None


def outbound_refusals(
    channel_id: str | None, numbers: list[str]
) -> dict[str, tuple[Literal["blocklisted", "opted_out"], Literal["account", "channel"]]]:
    """:func:`outbound_refusal` of each number that may not be texted on the channel (account-wide
    entries only without a channel): BatchGetItems of 100 keys, not one call per number."""
    entries = repo.entries_for_numbers(numbers, channel_id, ("block", "optout"))
    out = {}
    for number, items in entries.items():
        refusal = outbound_refusal(items)
        if refusal:
            out[number] = refusal
    return out


def _scope_name(items: list[dict]) -> str:
    return "account-wide" if any(i.get("channel_id") is None for i in items) else "channel"


def is_blocked(channel_id: str | None, e164: str, direction: Literal["inbound", "outbound"]) -> bool:
    return any(_applies(i, direction) for i in repo.entries_for(e164, channel_id, ("block",)))


def is_opted_out(channel_id: str | None, e164: str) -> bool:
    return bool(repo.entries_for(e164, channel_id, ("optout",)))


# -- blocklist --------------------------------------------------------------------------------------


def add_block(
    channel_id: str | None, e164: str, *, direction: Direction, reason: str | None, by: str | None
) -> BlockEntry:
    """Add or replace the entry for (scope, number)."""
    entry = BlockEntry(
        number=e164, channel_id=channel_id, direction=direction, reason=reason, created_at=_now(), created_by=by
    )
    repo.put_block({**entry.model_dump(mode="json"), "created_at": iso(entry.created_at)})
    return entry


def remove_block(channel_id: str | None, e164: str) -> bool:
    return repo.delete_block(channel_id, e164)


def list_blocks(
    *, channel_id: str | None, only_scope: bool, limit: int = 100, cursor: str | None = None
) -> tuple[list[BlockEntry], str | None]:
    items, nxt = repo.list_entries("block", channel_id=channel_id, only_scope=only_scope, limit=limit, cursor=cursor)
    return [BlockEntry.model_validate(i) for i in items], nxt


# -- opt-outs and consent -------------------------------------------------------------------------------


def _record(
    event: ConsentEvent, channel_id: str | None, e164: str, reason: str, source: Source, by: str | None
) -> ConsentRecord:
    return ConsentRecord(
        id=ids.new_id(),
        number=e164,
        event=event,
        channel_id=channel_id,
        reason=reason,
        source=source,
        by=by,
        at=_now(),
    )


def _stored(record: ConsentRecord) -> dict:
    return {**record.model_dump(mode="json"), "at": iso(record.at)}


def opt_out(channel_id: str | None, e164: str, *, reason: str, source: Source, by: str | None) -> OptOut:
    """Record an opt-out (account-wide if ``channel_id`` is None) and its consent record. Opting out
    again refreshes the entry and appends another record (every STOP is evidence)."""
    if not reason.strip():
        raise ValidationError("a reason is required: consent must be provable", field="reason")
    rec = _record("opt_out", channel_id, e164, reason, source, by)
    entry = OptOut(number=e164, channel_id=channel_id, reason=reason, source=source, created_at=rec.at, created_by=by)
    repo.opt_out({**entry.model_dump(mode="json"), "created_at": iso(entry.created_at)}, _stored(rec))
    return entry


def opt_in(
    channel_id: str | None,
    e164: str,
    *,
    reason: str,
    source: Source,
    by: str | None,
    require_existing: bool = False,
) -> bool:
    """Remove an opt-out and append the consent record. Returns whether an opt-out existed; with
    ``require_existing`` (the API's DELETE) nothing is recorded when none did. A START from a number
    that never opted out is still recorded (it is consent evidence)."""
    if not reason.strip():
        raise ValidationError("a reason is required: consent must be provable", field="reason")
    rec = _record("opt_in", channel_id, e164, reason, source, by)
    return repo.opt_in(channel_id, e164, _stored(rec), require_existing=require_existing)


def list_opt_outs(
    *, channel_id: str | None, only_scope: bool, limit: int = 100, cursor: str | None = None
) -> tuple[list[OptOut], str | None]:
    items, nxt = repo.list_entries("optout", channel_id=channel_id, only_scope=only_scope, limit=limit, cursor=cursor)
    return [OptOut.model_validate(i) for i in items], nxt


def consent_history(
    e164: str, *, limit: int = 100, cursor: str | None = None
) -> tuple[list[ConsentRecord], str | None]:
    """Every opt-out/opt-in of the number (all scopes), oldest first."""
    items, nxt = repo.consent_history(e164, limit=limit, cursor=cursor)
    return [ConsentRecord.model_validate(i) for i in items], nxt
