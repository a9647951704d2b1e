"""SMS text engine: GSM-7/UCS-2 segment counting, smart encoding, limits, credits, phone numbers,
sender IDs and mail merge. Pure functions, no AWS. See docs/text-engine.md.

Names are loaded from their module on first use (PEP 562 ``__getattr__``): ``from smsdesk.text import
ReplyText`` loads ``limits`` and what it needs, not the preview's models, mail merge or smart encoding,
so a handler that only validates a channel's texts does not pay for the whole engine at cold start.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Where each public name lives (``smsdesk.text.<module>``).
_WHERE: dict[str, str] = {
    "EXTENSION_TABLE": "gsm",
    "GSM_BASIC": "gsm",
    "GSM_CHARS": "gsm",
    "GSM_EXTENDED": "gsm",
    "is_gsm": "gsm",
    "non_gsm_characters": "gsm",
    "EmptyMessage": "limits",
    "InvalidText": "limits",
    "MessageText": "limits",
    "MessageTooLong": "limits",
    "ReplyText": "limits",
    "check_length": "limits",
    "check_text": "limits",
    "has_content": "limits",
    "MergeError": "merge",
    "render_template": "merge",
    "template_fields": "merge",
    "InvalidPhoneNumber": "phone",
    "InvalidSenderId": "phone",
    "PhoneNumber": "phone",
    "parse_number": "phone",
    "validate_sender_id": "phone",
    "Preview": "preview",
    "TextSettings": "preview",
    "preview": "preview",
    "CountryMultipliers": "pricing",
    "credits_for": "pricing",
    "multiplier_for": "pricing",
    "GSM7": "segments",
    "UCS2": "segments",
    "SegmentCount": "segments",
    "count_segments": "segments",
    "max_units": "segments",
    "split_segments": "segments",
    "SMART_TABLE": "smart",
    "Replacement": "smart",
    "SmartEncoded": "smart",
    "smart_encode": "smart",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'smsdesk.text' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"smsdesk.text.{module}"), name)
    globals()[name] = value
    return value


class _Package(types.ModuleType):
    """Importing a submodule binds it on the package: ``smsdesk.text.preview`` (the module) would then
    hide ``preview`` (the function). A public name is never rebound to a module."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _WHERE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


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
