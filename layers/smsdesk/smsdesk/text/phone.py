"""Recipient numbers (E.164, mobile only) and alphanumeric sender IDs.

Numbers are parsed with ``phonenumbers`` (the ``phonenumberslite`` distribution: full validation and
number-type metadata, no geocoder/carrier data). Accepted number types: ``MOBILE`` and
``FIXED_LINE_OR_MOBILE`` (the NANP regions -- US, CA... -- cannot tell the two apart). Everything else
is refused as not SMS-capable: ``FIXED_LINE``, ``TOLL_FREE``, ``PREMIUM_RATE``, ``SHARED_COST``,
``UAN``, ``VOICEMAIL``, ``PAGER``, and also ``VOIP`` (e.g. NL 085, UK 056: SMS delivery is not
guaranteed), ``PERSONAL_NUMBER`` (UK 070 redirection numbers, often abused) and ``UNKNOWN``.
"""

from __future__ import annotations

import functools
import re
from typing import Final, NamedTuple

from smsdesk.errors import ValidationError

# ``phonenumbers`` (~10-20 ms to import) is loaded by the first number parsed, not at a cold start:
# most invocations (receipts, webhooks, the sender) never parse one.
_SEPARATORS_RE = re.compile(r"[\s\-.()/\u00a0\u2010-\u2015]")
_DIGITS_RE = re.compile(r"\+?[0-9]+")


class InvalidPhoneNumber(ValidationError):
    """``details["reason"]``: ``empty``, ``unparsable``, ``invalid`` or ``not_mobile``."""

    code = "invalid_phone_number"

    def __init__(self, message: str, *, reason: str, field: str = "to", **details: object) -> None:
        super().__init__(message, field=field, details={"reason": reason, **details})
        self.reason = reason


class InvalidSenderId(ValidationError):
    code = "invalid_sender_id"


class PhoneNumber(NamedTuple):
    e164: str  #: "+31612345678"
    region: str  #: ISO 3166 alpha-2 of the number's country, "NL"


def parse_number(raw: str, default_region: str = "NL", *, field: str = "to") -> PhoneNumber:
    """Parse a recipient number to E.164 + country; only mobile-capable numbers pass.

    National numbers are read in ``default_region`` (``0612345678``, NL -> ``+31612345678``).
    Spaces, dashes, dots, slashes and parentheses are ignored; ``+`` or ``00`` introduce an
    international number whatever the region. Letters (vanity numbers) are refused.
    """
    if raw is None or not str(raw).strip():
        raise InvalidPhoneNumber("Phone number is empty.", reason="empty", field=field)
    raw = str(raw)
    cleaned = _SEPARATORS_RE.sub("", raw)
    if not _DIGITS_RE.fullmatch(cleaned):
        raise InvalidPhoneNumber(
            f"Phone number {raw!r} is not a number: only digits, an optional leading '+' and the "
            "separators space - . / ( ) are allowed.",
            reason="unparsable",
            field=field,
        )
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    region = (default_region or "").upper()
    import phonenumbers

    try:
        num = phonenumbers.parse(cleaned, region or None)
    except phonenumbers.NumberParseException as exc:
        hint = (
            ""
            if cleaned.startswith("+")
            else (f" (read as a national number of {region or 'no region'}: add the country code, e.g. +31...)")
        )
        raise InvalidPhoneNumber(
            f"Phone number {raw!r} cannot be parsed{hint}.", reason="unparsable", field=field, detail=str(exc)
        ) from exc
    if not phonenumbers.is_valid_number(num):
        where = phonenumbers.region_code_for_country_code(num.country_code)
        raise InvalidPhoneNumber(
            f"Phone number {raw!r} is not a valid number for {where} (+{num.country_code}).",
            reason="invalid",
            field=field,
        )
    ntype = phonenumbers.number_type(num)
    country = phonenumbers.region_code_for_number(num) or ""
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    names = _type_names()
    if ntype not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        kind = names.get(ntype, "unknown").replace("_", " ")
        raise InvalidPhoneNumber(
            f"Phone number {e164} is a {kind} number, not a mobile number: it cannot receive SMS.",
            reason="not_mobile",
            field=field,
            number_type=names.get(ntype, "unknown"),
        )
    return PhoneNumber(e164, country)


# -- sender ID --------------------------------------------------------------------------------

SENDER_ID_MIN: Final = 3
SENDER_ID_MAX: Final = 11
_SENDER_RE = re.compile(r"[A-Za-z0-9 .\-]+")
_HAS_LETTER_RE = re.compile(r"[A-Za-z]")


def validate_sender_id(sender: str, *, field: str = "sender_id") -> str:
    """Validate an alphanumeric sender ID and return it (outer whitespace stripped).

    Rules (the intersection of what major carriers/aggregators accept): 3-11 characters; ASCII
    letters, digits, space, ``-`` and ``.``; at least one letter (an all-digit sender is a numeric
    sender, i.e. a phone number, not an alphanumeric ID); no leading/trailing or double spaces.
    ``&``, ``+``, ``_`` and accents are refused: some networks drop or mangle them.
    """
    if sender is None:
        raise InvalidSenderId("Sender ID is empty.", field=field)
    s = str(sender).strip()
    if not s:
        raise InvalidSenderId("Sender ID is empty.", field=field)
    if not SENDER_ID_MIN <= len(s) <= SENDER_ID_MAX:
        raise InvalidSenderId(
            f"Sender ID {s!r} has {len(s)} characters; it must have {SENDER_ID_MIN} to {SENDER_ID_MAX}.", field=field
        )
    if not _SENDER_RE.fullmatch(s):
        bad = "".join(dict.fromkeys(c for c in s if not _SENDER_RE.fullmatch(c)))
        raise InvalidSenderId(
            f"Sender ID {s!r} contains {bad!r}: only letters A-Z a-z, digits, space, '-' and '.' are allowed.",
            field=field,
        )
    if not _HAS_LETTER_RE.search(s):
        raise InvalidSenderId(f"Sender ID {s!r} must contain at least one letter.", field=field)
    if "  " in s:
        raise InvalidSenderId(f"Sender ID {s!r} contains consecutive spaces.", field=field)
    return s


@functools.cache
def _type_names() -> dict[int, str]:
    from phonenumbers import PhoneNumberType

    return {v: k.lower() for k, v in vars(PhoneNumberType).items() if k.isupper() and isinstance(v, int)}
