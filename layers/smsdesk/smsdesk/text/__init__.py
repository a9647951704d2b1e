"""SMS text engine: GSM-7/UCS-2 segment counting, smart encoding, limits, credits, phone numbers,
sender IDs and mail merge. Pure functions, no AWS. See docs/text-engine.md."""

from smsdesk.text.gsm import (
    EXTENSION_TABLE,
    GSM_BASIC,
    GSM_CHARS,
    GSM_EXTENDED,
    is_gsm,
    non_gsm_characters,
)
from smsdesk.text.limits import (
    EmptyMessage,
    InvalidText,
    MessageText,
    MessageTooLong,
    ReplyText,
    check_length,
    check_text,
    has_content,
)
from smsdesk.text.merge import MergeError, render_template, template_fields
from smsdesk.text.phone import (
    InvalidPhoneNumber,
    InvalidSenderId,
    PhoneNumber,
    parse_number,
    validate_sender_id,
)
from smsdesk.text.preview import Preview, TextSettings, preview
from smsdesk.text.pricing import CountryMultipliers, credits_for, multiplier_for
from smsdesk.text.segments import (
    GSM7,
    UCS2,
    SegmentCount,
    count_segments,
    max_units,
    split_segments,
)
from smsdesk.text.smart import SMART_TABLE, Replacement, SmartEncoded, smart_encode

__all__ = [
    "EXTENSION_TABLE",
    "GSM7",
    "GSM_BASIC",
    "GSM_CHARS",
    "GSM_EXTENDED",
    "SMART_TABLE",
    "UCS2",
    "CountryMultipliers",
    "EmptyMessage",
    "InvalidPhoneNumber",
    "InvalidSenderId",
    "InvalidText",
    "MergeError",
    "MessageText",
    "MessageTooLong",
    "PhoneNumber",
    "Preview",
    "Replacement",
    "ReplyText",
    "SegmentCount",
    "SmartEncoded",
    "TextSettings",
    "check_length",
    "check_text",
    "count_segments",
    "credits_for",
    "has_content",
    "is_gsm",
    "max_units",
    "multiplier_for",
    "non_gsm_characters",
    "parse_number",
    "preview",
    "render_template",
    "smart_encode",
    "split_segments",
    "template_fields",
    "validate_sender_id",
]
