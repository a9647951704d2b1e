"""Domain models shared across areas: channels and messages (API shapes and stored shapes).

These are the contract between the admin API (channels), the send path (messages, credits), the
sender/receipts pipeline and the connectors. Stored items are these models dumped to JSON-able dicts
plus the DynamoDB keys that ``smsdesk.data`` adds.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_core import ValidationError as CoreValidationError

from smsdesk.connectors.settings import SettingsError, check_settings, stored_settings
from smsdesk.text import CountryMultipliers, MessageText, ReplyText, validate_sender_id

# Every model here is built (its validator and serializer) when first used, not at import
# (``defer_build``): each function uses a few of them, and building the others cost every cold start.

ProviderName = Literal["sandbox", "aws_sms", "twilio"]
ChannelType = Literal["one_way", "two_way"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
Strategy = Literal["manual", "round_robin", "least_busy", "longest_idle"]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(ts: dt.datetime) -> str:
    """Sortable UTC timestamp used in keys: 2026-11-21T14:50:25.123Z."""
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


# --------------------------------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------------------------------


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class BusinessHours(BaseModel):
    """Weekly opening hours in the channel's timezone; outside them the out-of-hours reply is sent."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    enabled: bool = False
    timezone: str = "Europe/Amsterdam"
    weekly: dict[Weekday, list[TimeRange]] = Field(default_factory=dict)
    holidays: list[dt.date] = Field(default_factory=list)
    out_of_hours_message: ReplyText | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            zoneinfo.ZoneInfo(v)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {v!r}") from exc
        return v


#: Bounds of the queue settings: far beyond any real contact center, small enough that every count,
#: timestamp and timer they lead to stays in range (DynamoDB numbers, datetimes, Scheduler dates).
MAX_IN_QUEUE = 100_000
MAX_WAIT_S = 30 * 86_400


class QueueSettings(BaseModel):
    """The channel's contact-center queue (docs/architecture.md, ``queueing.py``)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    strategy: Strategy = Field(
        default="manual",
        description="manual: stays Unassigned for anyone to pick; round_robin, least_busy (fewest open), "
        "longest_idle: offered to an available agent below capacity in a team granted the channel",
    )
    service_level_s: int = Field(
        default=60,
        ge=1,
        le=86_400,
        description="Answered (first agent reply) within this many seconds counts as in level",
    )
    max_in_queue: int = Field(
        default=0,
        ge=0,
        le=MAX_IN_QUEUE,
        description="Interactions waiting in the queue at most; more wait outside it, in order. 0 = no limit",
    )
    max_transfer_s: int = Field(
        default=0,
        ge=0,
        le=MAX_WAIT_S,
        description="A transfer not taken within this returns to the original agent. 0 = no limit",
    )
    max_queue_time_s: int = Field(
        default=0,
        ge=0,
        le=MAX_WAIT_S,
        description="Waiting longer (since arrival) marks it timed out and publishes interaction.queue_timeout. 0 = no limit",
    )
    reopen_window_h: int = Field(
        default=24, ge=0, le=24 * 90, description="An inbound within this many hours of closing reopens it; 0 = never"
    )


def _provider_settings(value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
    """Typed per provider (``connectors/settings.py``): known keys only, no credentials; errors name
    the key (``provider_settings.<key>``). Stored data (``context={"stored": True}``) keeps the
    provider's known keys only."""
    provider = info.data.get("provider")
    if provider is None:  # the provider itself is invalid: that error is the one to report
        return value
    if info.context and info.context.get("stored"):
        return stored_settings(provider, value)
    try:
        return check_settings(provider, value)
    except SettingsError as exc:
        raise CoreValidationError.from_exception_data(
            "provider_settings",
            [
                {
                    "type": PydanticCustomError("provider_setting", exc.message),
                    "loc": (exc.key,) if exc.key is not None else (),
                    "input": "<hidden>",  # may be a credential: never echoed
                }
            ],
        ) from None


class ChannelSettings(BaseModel):
    """Everything about a channel an admin can set (all but ``name``/``type``/``sender``/``provider``
    have defaults)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str = Field(min_length=1, max_length=80)
    type: ChannelType
    sender: str = Field(description="one_way: alphanumeric sender ID (3-11); two_way: E.164 number")
    provider: ProviderName
    provider_settings: Annotated[dict[str, str], AfterValidator(_provider_settings)] = Field(
        default_factory=dict,
        validate_default=True,
        description="Non-secret provider settings, the provider's known keys only (sandbox: receipts; aws_sms: "
        "origination_identity, configuration_set; twilio: account_sid (required), messaging_service_sid). "
        "Credentials (token, secret, password, *_key...) are refused here: they go in provider_secret.",
    )
    enabled: bool = True
    default_region: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2}$",
        description="Country (ISO 3166 alpha-2) of numbers typed without a country code",
    )
    max_segments: int = Field(default=10, ge=1, le=10)
    smart_encoding: bool = False
    country_multipliers: CountryMultipliers = Field(default_factory=lambda: {"*": 1})
    throughput_mps: float = Field(default=1.0, gt=0, le=1000, description="Messages per second the sender may do")
    validity_s: int = Field(default=4 * 3600, ge=60, le=72 * 3600, description="Queued longer than this: expired")
    message_type: Literal["transactional", "promotional"] = "transactional"
    help_text: ReplyText | None = None
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    # Automations (issue 15): the bots that run on this channel's conversations (ids of /v1/bots).
    bot_on_start: str | None = Field(
        default=None, max_length=64, description="Runs when an interaction arrives, before the queue offers it"
    )
    bot_on_finish: str | None = Field(
        default=None, max_length=64, description="Runs when an agent closes the conversation (e.g. a CSAT survey)"
    )
    bot_after_timeout: str | None = Field(
        default=None, max_length=64, description="Runs when an interaction exceeded max_queue_time_s"
    )
    opt_out_footer: str | None = Field(
        default=None,
        min_length=1,
        max_length=60,
        description='Ends every marketing campaign text, e.g. "STOP au 36xxx" (default "STOP to opt out")',
    )

    @model_validator(mode="after")
    def _sender(self, info: ValidationInfo) -> ChannelSettings:
        if self.type == "one_way":
            self.sender = validate_sender_id(self.sender, field="sender")
        elif info.context and info.context.get("stored"):
            pass  # checked and normalised when it was written: reading a channel needs no phonenumbers
        else:
            try:
                import phonenumbers  # loaded when a sender is checked, not at a cold start

                num = phonenumbers.parse(self.sender, None)
            except phonenumbers.NumberParseException as exc:
                raise ValueError("two_way sender must be a phone number in E.164 format, e.g. +31612345678") from exc
            if not phonenumbers.is_valid_number(num):
                raise ValueError("two_way sender is not a valid phone number")
            self.sender = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
        return self

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return None
        import phonenumbers  # loaded when a region is checked, not at a cold start

        if v.upper() not in phonenumbers.SUPPORTED_REGIONS:
            if info.context and info.context.get("stored"):
                return None  # stored before regions were checked: the account's default applies
            raise ValueError(f"{v!r} is not a country phone numbers are known for (ISO 3166 alpha-2, e.g. NL)")
        return v.upper()


class Channel(ChannelSettings):
    """A channel as stored and returned (never with secrets)."""

    id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    has_secret: bool = False
    team_ids: list[str] = Field(default_factory=list, description="Teams whose members may use the channel")
    webhook_urls: dict[str, str] = Field(
        default_factory=dict,
        description="URLs to paste into the provider's console: {'status': ..., 'inbound': ...} "
        "(https://<api host>/webhooks/<provider>/<channel id>/status|inbound)",
    )

    @property
    def can_reply(self) -> bool:
        return self.type == "two_way"


# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------

MessageStatus = Literal["queued", "sending", "sent", "delivered", "undelivered", "failed", "received"]
#: Monotonic order: a status never moves to a lower rank; rank 3 is final.
STATUS_RANK: dict[str, int] = {
    "queued": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "undelivered": 3,
    "failed": 3,
    "received": 3,  # inbound messages are born final
}
FINAL_STATUSES = frozenset(s for s, r in STATUS_RANK.items() if r == 3)


class StatusChange(BaseModel):
    model_config = ConfigDict(defer_build=True)
    status: MessageStatus
    at: dt.datetime
    detail: str | None = None


class MessageError(BaseModel):
    model_config = ConfigDict(defer_build=True)
    code: str
    message: str


class Message(BaseModel):
    """An SMS, outbound (sent by a user, campaign or bot) or inbound (issue 5)."""

    model_config = ConfigDict(defer_build=True)

    id: str
    direction: Literal["outbound", "inbound"] = "outbound"
    channel_id: str
    to: str
    sender: str
    country: str | None = None
    text: str
    encoding: Literal["GSM-7", "UCS-2"]
    segments: int
    credits: int
    status: MessageStatus
    history: list[StatusChange]
    created_by: str | None = Field(default=None, description="user id; None for system sends")
    created_at: dt.datetime
    provider: ProviderName
    provider_id: str | None = None
    parts_total: int | None = Field(default=None, description="parts the provider reports for multi-part receipts")
    parts_delivered: int = 0
    error: MessageError | None = None
    refunded: bool = False
    conversation_id: str | None = None
    campaign_id: str | None = None


class SendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    channel_id: str = Field(min_length=1, max_length=64)
    to: str = Field(min_length=1, max_length=40, description="Recipient as typed; normalised to E.164")
    text: MessageText = Field(description="1-5000 characters; not only spaces or control characters")


# --------------------------------------------------------------------------------------------------
# Provider-neutral events produced by connectors
# --------------------------------------------------------------------------------------------------

ReceiptStatus = Literal["sent", "delivered", "undelivered", "failed"]


class Receipt(BaseModel):
    """A delivery receipt in provider-neutral form (one per provider message part, if multi-part)."""

    model_config = ConfigDict(defer_build=True)

    provider: ProviderName
    provider_id: str
    status: ReceiptStatus
    at: dt.datetime
    part: int | None = None
    parts: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    raw_id: str = Field(description="Identity of this receipt for de-duplication (provider event id or hash)")
    message_id: str | None = Field(
        default=None, description="smsdesk's message id, when the provider hands it back (authenticated)"
    )


class InboundSms(BaseModel):
    """An inbound SMS in provider-neutral form (used by issue 5)."""

    provider: ProviderName
    provider_id: str
    from_: str = Field(alias="from")
    to: str
    text: str
    received_at: dt.datetime

    model_config = ConfigDict(populate_by_name=True, defer_build=True)


# --------------------------------------------------------------------------------------------------
# Contacts and conversations (issue 5; queue fields used by issue 6)
# --------------------------------------------------------------------------------------------------

ConversationStatus = Literal["open", "closed"]
View = Literal["unassigned", "mine", "others", "closed"]


class Contact(BaseModel):
    """A person in the contact book (issue 13); inbound SMS from a new number create one (issue 5).

    Stored before issue 13 with ``number`` (read as ``mobile``) and without the other fields."""

    model_config = ConfigDict(defer_build=True)

    id: str
    mobile: str | None = Field(
        default=None,
        validation_alias=AliasChoices("mobile", "number"),
        description="E.164 (one contact per mobile number); as received for a sender that is not a phone number",
    )
    first_name: str | None = None
    last_name: str | None = None
    other_phone: str | None = Field(default=None, description="E.164, any valid number")
    email: str | None = None
    language: str | None = Field(default=None, description="BCP 47, e.g. `fr` or `nl-BE`")
    time_zone: str | None = Field(default=None, description="IANA time zone, set or derived from the mobile number")
    time_zone_derived: bool = Field(default=False, description="`time_zone` came from the number's country")
    custom_fields: dict[str, Any] = Field(default_factory=dict, description="Values of /v1/contact-fields, by key")
    tags: list[str] = Field(default_factory=list)
    manager_ids: list[str] = Field(default_factory=list, description="Contacts responsible for this one")
    created_at: dt.datetime
    updated_at: dt.datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def name(self) -> str | None:
        """First and last name, for display."""
        return " ".join(p for p in (self.first_name, self.last_name) if p) or None


QueueState = Literal["waiting", "overflow"]


class Conversation(BaseModel):
    """One thread between a channel and a customer number; at most one is open per (channel, number)."""

    model_config = ConfigDict(defer_build=True)

    id: str
    channel_id: str
    contact_id: str
    number: str = Field(description="The customer's number, E.164")
    status: ConversationStatus
    assignee_id: str | None = None
    created_at: dt.datetime
    last_activity_at: dt.datetime
    last_inbound_at: dt.datetime | None = None
    last_message_preview: str | None = Field(default=None, max_length=160)
    closed_at: dt.datetime | None = None
    closed_by: str | None = None
    reopened_count: int = 0
    #: Out-of-hours auto-reply is sent at most once per conversation per (channel-local) day.
    ooh_replied_on: dt.date | None = None
    #: The inbound message that claimed that day's reply (its retry may claim again and finish the reply).
    ooh_replied_for: str | None = None
    # Queue (issue 6): waiting since, first agent reply, transfer state.
    enqueued_at: dt.datetime | None = Field(default=None, description="Entered the channel's queue")
    overflow_at: dt.datetime | None = Field(
        default=None,
        description="Arrived while the queue was full (max_in_queue): waited outside it from here, "
        "entering in arrival order as space freed (enqueued_at is set then)",
    )
    answered_at: dt.datetime | None = None
    answered_by: str | None = None
    #: Waited longer than the channel's ``max_queue_time_s`` (stays in the queue; issue 6 timers).
    timed_out_at: dt.datetime | None = None
    #: A pending transfer: who handed it over and when; cleared when the receiver takes it.
    transferred_from: str | None = None
    transferred_at: dt.datetime | None = None
    # Bots (issue 15): the run that has the conversation (not offered to agents while it runs).
    bot_id: str | None = Field(default=None, description="The bot running on the conversation")
    bot_run_id: str | None = Field(
        default=None, description="Set while a bot runs: the conversation is 'with bot', not offered to agents"
    )

    @property
    def arrived_at(self) -> dt.datetime | None:
        """When the current interaction arrived (before an overflow wait, if any): waits count from here."""
        return self.overflow_at or self.enqueued_at

    def queue_state(self) -> QueueState | None:
        """``waiting`` in the queue, ``overflow`` (waiting outside it: the queue was full), or None (not
        waiting: assigned, answered, closed, or never enqueued). Only unassigned, unanswered open
        conversations wait; the queue's size counters follow this state."""
        if self.status != "open" or self.assignee_id is not None or self.answered_at is not None:
            return None
        if self.bot_run_id is not None:
            return None  # with a bot: it enters the queue (at its arrival time) when the bot hands off
        if self.enqueued_at is not None:
            return "waiting"
        return "overflow" if self.overflow_at is not None else None


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as a JSON-able dict for storage (datetimes as ISO strings)."""
    return model.model_dump(mode="json", by_alias=True)
