"""Channels: create/update/list, provider secrets in Secrets Manager, team grants, webhook URLs.

Provider secrets live in Secrets Manager as ``{secrets_prefix}{channel_id}`` (a JSON object of
strings) and never in DynamoDB, logs or API responses; the channel only records ``has_secret``.
``type`` and ``provider`` are fixed at creation: stored provider ids, the webhook URLs pasted into the
provider's console and the secret all belong to one provider, so switching means a new channel.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets as pysecrets
import threading
import time
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic import ValidationError as PydanticValidationError

from smsdesk import aws, config, ids
from smsdesk.connectors.settings import SettingsError, check_secret
from smsdesk.data import bots as bots_repo
from smsdesk.data import channels as repo
from smsdesk.errors import Conflict, NotFound, ValidationError
from smsdesk.models import Channel, ChannelSettings, ChannelType, ProviderName, dump, iso, utcnow
from smsdesk.text import CountryMultipliers, ReplyText

SECRET_CACHE_S = 60.0
_secret_cache: dict[str, tuple[float, dict[str, str]]] = {}
_secret_lock = threading.Lock()
#: How long the send path (sender, status webhooks) may use a channel it read: a change (disabled, new
#: rate) reaches a warm container within this many seconds; this container's own writes at once.
CHANNEL_CACHE_S = 5.0
_channel_cache: dict[str, tuple[float, Channel]] = {}

#: Hosts for which webhook URLs use plain http (the local stack).
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


class ChannelCreate(ChannelSettings):
    """``POST /v1/channels`` body: the settings plus the write-only provider secret."""

    provider_secret: dict[str, str] | None = Field(
        default=None,
        description="Write-only provider credentials, the provider's known keys only (twilio: auth_token "
        "(required), webhook_shared_key; sandbox: signing_key, generated when absent; aws_sms: none, it uses "
        "the function's IAM role). Stored in Secrets Manager, never returned.",
        max_length=20,
    )

    @field_validator("sender")
    @classmethod
    def _two_way_sender(cls, v: str, info: ValidationInfo) -> str:
        """Reject a bad two-way number here so the error names ``sender`` (the shared model's
        whole-model check would name no field)."""
        if info.data.get("type") == "two_way":
            try:
                import phonenumbers  # loaded by a channel's number being checked, not at a cold start

                num = phonenumbers.parse(v, None)
            except phonenumbers.NumberParseException as exc:
                raise ValueError("a two_way sender must be a phone number in E.164 format, e.g. +31612345678") from exc
            if not phonenumbers.is_valid_number(num):
                raise ValueError("a two_way sender must be a valid phone number")
        return v


#: Settings objects a PATCH merges into (the others, maps included, are replaced whole).
_MERGED = frozenset({"business_hours", "queue"})


class ChannelPatch(BaseModel):
    """``PATCH /v1/channels/{id}`` body: any settings; the result is validated as a whole."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    type: ChannelType | None = Field(default=None, description="Fixed at creation; only the current value is accepted")
    provider: ProviderName | None = Field(
        default=None, description="Fixed at creation; only the current value is accepted"
    )
    name: str | None = None
    sender: str | None = None
    provider_settings: dict[str, str] | None = None
    enabled: bool | None = None
    default_region: str | None = None
    max_segments: int | None = None
    smart_encoding: bool | None = None
    country_multipliers: CountryMultipliers | None = None
    throughput_mps: float | None = None
    validity_s: int | None = None
    message_type: str | None = None
    help_text: ReplyText | None = None
    business_hours: dict[str, Any] | None = Field(
        default=None, description='Only the fields given change (e.g. {"enabled": false}); `weekly` is replaced whole'
    )
    queue: dict[str, Any] | None = Field(
        default=None, description='Only the fields given change (e.g. {"max_in_queue": 5} keeps the strategy)'
    )
    bot_on_start: str | None = None
    bot_on_finish: str | None = None
    bot_after_timeout: str | None = None
    provider_secret: dict[str, str] | None = Field(
        default=None,
        description="Replaces the whole secret; {} removes it (refused for twilio, whose auth_token is required).",
        max_length=20,
    )
    opt_out_footer: str | None = Field(default=None, description="Ends marketing campaign texts (issue 14)")


# -- interface for the send pipeline ------------------------------------------------------------------


def get_channel(channel_id: str) -> Channel:
    """The channel, or ``NotFound(field="channel_id")``."""
    item = repo.get_channel(channel_id) if channel_id else None
    if item is None:
        raise NotFound(f"channel {channel_id} not found", field="channel_id")
    return _load(item)


def get_channel_cached(channel_id: str, *, max_age_s: float | None = None) -> Channel:
    """:func:`get_channel`, reused for up to ``CHANNEL_CACHE_S`` seconds by this container (the send path
    reads the same few channels for every message and every receipt)."""
    max_age = CHANNEL_CACHE_S if max_age_s is None else max_age_s
    now = time.monotonic()
    with _secret_lock:
        hit = _channel_cache.get(channel_id)
    if hit and now - hit[0] < max_age:
        return hit[1]
    channel = get_channel(channel_id)
    with _secret_lock:
        _channel_cache[channel_id] = (now, channel)
    return channel


def forget_channel(channel_id: str | None = None) -> None:
    """Drop the cached channel (all of them without an id)."""
    with _secret_lock:
        if channel_id is None:
            _channel_cache.clear()
        else:
            _channel_cache.pop(channel_id, None)


def _load(item: dict[str, Any]) -> Channel:
    """A stored channel, read leniently: what older versions stored beyond today's rules (a multiplier
    below 1, an unknown provider setting, an empty auto-reply) is dropped, never used or returned."""
    return Channel.model_validate(item, context={"stored": True})


def secret_name(channel_id: str) -> str:
    return f"{config.secrets_prefix()}{channel_id}"


def get_provider_secret(channel: Channel) -> dict[str, str]:
    """The channel's provider secret ({} if none), cached in-process for up to 60 s."""
    if not channel.has_secret:
        return {}
    now = time.monotonic()
    with _secret_lock:
        hit = _secret_cache.get(channel.id)
        if hit and now - hit[0] < SECRET_CACHE_S:
            return dict(hit[1])
    try:
        raw = aws.secrets().get_secret_value(SecretId=secret_name(channel.id))["SecretString"]
        value = {str(k): str(v) for k, v in json.loads(raw).items()}
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        value = {}
    with _secret_lock:
        _secret_cache[channel.id] = (now, value)
    return dict(value)


def find_by_sender(provider: str, sender: str) -> Channel | None:
    """The channel an inbound SMS to ``sender`` belongs to (issue 5)."""
    item = repo.find_by_sender(provider, sender)
    return _load(item) if item else None


# -- secrets --------------------------------------------------------------------------------------------


def _forget_secret(channel_id: str) -> None:
    with _secret_lock:
        _secret_cache.pop(channel_id, None)


def _write_secret(channel_id: str, value: dict[str, str]) -> None:
    sm = aws.secrets()
    body = json.dumps(value)
    try:
        sm.put_secret_value(SecretId=secret_name(channel_id), SecretString=body)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        sm.create_secret(
            Name=secret_name(channel_id),
            SecretString=body,
            Description=f"smsdesk provider credentials of channel {channel_id}",
        )
    _forget_secret(channel_id)


def _delete_secret(channel_id: str) -> None:
    try:
        aws.secrets().delete_secret(SecretId=secret_name(channel_id), ForceDeleteWithoutRecovery=True)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    _forget_secret(channel_id)


def _checked_secret(provider: str, given: dict[str, str] | None) -> dict[str, str]:
    """``given`` as the provider's secret (known keys, required ones present), or a 422 naming
    ``provider_secret.<key>`` (never a value). ``None``/``{}``: no secret, which Twilio refuses."""
    try:
        return check_secret(provider, given or {})
    except SettingsError as exc:
        where = f"provider_secret.{exc.key}" if exc.key else "provider_secret"
        raise ValidationError(f"{where}: {exc.message}", field=where) from None


def _secret_for(provider: str, given: dict[str, str] | None) -> dict[str, str]:
    value = dict(given or {})
    if provider == "sandbox" and not value.get("signing_key"):
        value["signing_key"] = pysecrets.token_hex(32)
    return value


# -- admin operations -------------------------------------------------------------------------------


def webhook_urls(host: str, provider: str, channel_id: str) -> dict[str, str]:
    """Public webhook URLs on the API's host (http only for the local stack's loopback host)."""
    local = any(host == h or host.startswith(h + ":") for h in _LOCAL_HOSTS)
    base = f"{'http' if local else 'https'}://{host}/webhooks/{provider}/{channel_id}"
    return {"status": f"{base}/status", "inbound": f"{base}/inbound"}


def _check_provider(provider: str) -> None:
    if provider == "sandbox" and not config.is_local():
        raise ValidationError("the sandbox provider exists only on the local stack", field="provider")


def _now() -> dt.datetime:
    """Now at the millisecond precision stored in keys, so what we return equals what we read back."""
    now = utcnow()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _check_bots(settings: ChannelSettings) -> None:
    """422 naming the automation whose bot does not exist (issue 15)."""
    for name in ("bot_on_start", "bot_on_finish", "bot_after_timeout"):
        bot_id = getattr(settings, name)
        if bot_id is not None and bots_repo.get_bot(bot_id) is None:
            raise ValidationError(f"{name}: bot {bot_id} does not exist", field=name, code="unknown_bot")


def create_channel(body: ChannelCreate, *, host: str) -> Channel:
    _check_provider(body.provider)
    _check_bots(body)
    secret = _secret_for(body.provider, _checked_secret(body.provider, body.provider_secret))
    now = _now()
    cid = ids.new_id()
    settings = body.model_dump(exclude={"provider_secret"})
    channel = Channel(
        **settings,
        id=cid,
        created_at=now,
        updated_at=now,
        has_secret=bool(secret),
        team_ids=[],
        webhook_urls=webhook_urls(host, body.provider, cid),
    )
    if secret:
        _write_secret(cid, secret)
    try:
        repo.create_channel(_stored(channel))
    except repo.ConditionFailed as exc:
        if secret:
            _delete_secret(cid)
        raise Conflict(
            f"sender {channel.sender} is already used by another {channel.provider} channel", field="sender"
        ) from exc
    except BaseException:
        if secret:
            _delete_secret(cid)
        raise
    return channel


def _stored(channel: Channel) -> dict[str, Any]:
    item = dump(channel)
    item["created_at"] = iso(channel.created_at)
    item["updated_at"] = iso(channel.updated_at)
    return item


def update_channel(channel_id: str, patch: ChannelPatch, *, host: str) -> Channel:
    """Apply a partial update, validating the result as a whole (errors name the patched field)."""
    old = repo.get_channel(channel_id, consistent=True)
    if old is None:
        raise NotFound(f"channel {channel_id} not found", field="channel_id")
    current = _load(old)
    for fixed in ("type", "provider"):
        value = getattr(patch, fixed)
        if value is not None and value != getattr(current, fixed):
            raise ValidationError(
                f"{fixed} is fixed at creation (create a new channel instead)", field=fixed, code="immutable"
            )
    changes = patch.model_dump(exclude_unset=True, exclude={"provider_secret", "type", "provider"})
    merged = current.model_dump(
        mode="json", exclude={"id", "created_at", "updated_at", "has_secret", "team_ids", "webhook_urls"}
    )
    for name, value in changes.items():
        if name in _MERGED and isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = {**merged[name], **value}  # fields left out keep their value
        else:
            merged[name] = value
    try:
        settings = ChannelCreate.model_validate(merged)
    except PydanticValidationError as exc:
        raise _field_error(exc) from exc
    _check_bots(settings)
    secret_changed = "provider_secret" in patch.model_fields_set
    if secret_changed:
        secret = _secret_for(current.provider, _checked_secret(current.provider, patch.provider_secret))
    else:
        secret = None
        if not current.has_secret:  # a provider that needs a secret is never left without one
            _checked_secret(current.provider, {})
    has_secret = bool(secret) if secret_changed else current.has_secret
    channel = Channel(
        **settings.model_dump(exclude={"provider_secret"}),
        id=current.id,
        created_at=current.created_at,
        updated_at=_later(current.updated_at),
        has_secret=has_secret,
        team_ids=current.team_ids,
        webhook_urls=webhook_urls(host, current.provider, current.id) if host else current.webhook_urls,
    )
    # The channel first: a conflict then changes nothing, not even the secret.
    forget_channel(channel_id)
    try:
        repo.replace_channel(old, _stored(channel))
    except repo.ConditionFailed as exc:
        if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
            raise Conflict("the channel was changed concurrently; read it again and retry", field=None) from exc
        raise Conflict(
            f"sender {channel.sender} is already used by another {channel.provider} channel", field="sender"
        ) from exc
    if secret_changed:
        try:
            if secret:
                _write_secret(channel_id, secret)
            else:
                _delete_secret(channel_id)
        except BaseException:
            if has_secret != current.has_secret:  # keep has_secret truthful
                repo.set_has_secret(channel_id, current.has_secret)
            raise
    return channel


def _later(prev: dt.datetime) -> dt.datetime:
    """``now``, strictly after ``prev`` (the optimistic-concurrency token must change)."""
    now = _now()
    if now <= prev:
        now = prev + dt.timedelta(milliseconds=1)
    return now


def _field_error(exc: PydanticValidationError) -> ValidationError:
    """The first pydantic error of a merged PATCH as our 422, naming the field (dotted path)."""
    first = exc.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or None
    msg = first.get("msg", "invalid")
    return ValidationError(f"{loc}: {msg}" if loc else msg, field=loc)


def list_channels(
    usable: set[str] | None, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Channel], str | None]:
    """One page of channels by name; for a restricted caller, exactly their usable channels."""
    if usable is None:
        items, nxt = repo.list_channels(limit=limit, cursor=cursor)
    else:
        items, nxt = repo.get_channels(sorted(usable)), None
        items.sort(key=lambda c: (c["name"].lower(), c["id"]))
    return [_load(i) for i in items], nxt


def grant_teams(channel_id: str, team_ids: list[str]) -> Channel:
    """Make the channel usable by exactly the members of ``team_ids`` (admins/owner always can)."""
    wanted = list(dict.fromkeys(team_ids))
    from smsdesk.inbox import teams  # only granting needs the teams (not the send or receipt paths)

    teams.check_teams(wanted)
    old = repo.get_channel(channel_id, consistent=True)
    if old is None:
        raise NotFound(f"channel {channel_id} not found", field="channel_id")
    current = _load(old)
    now = _later(current.updated_at)
    forget_channel(channel_id)
    try:
        repo.set_grants(old, wanted, now=iso(now))
    except repo.ConditionFailed as exc:
        raise Conflict("the channel was changed concurrently; retry", field=None) from exc
    return current.model_copy(update={"team_ids": sorted(wanted), "updated_at": now})
