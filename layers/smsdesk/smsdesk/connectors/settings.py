"""What each connector reads from a channel: its non-secret ``provider_settings`` and the keys of its
``provider_secret`` (Secrets Manager). One model per provider, known keys only.

The rules (pure; ``smsdesk.models`` and ``smsdesk.channels`` apply them):

* ``provider_settings`` holds only the provider's known keys, each checked
  (:data:`SETTINGS`); a key that looks like a credential (``token``, ``secret``, ``password``,
  ``api_key``, ``…_key``…) is refused with a pointer to ``provider_secret``, which is stored in
  Secrets Manager and never returned.
* ``provider_secret`` holds only the provider's known secret keys (:data:`SECRETS`); a provider
  whose connector cannot work without a secret requires it (Twilio: ``auth_token``).

Errors are :class:`SettingsError` (a ``ValueError``) naming the key, so callers can name the field
``provider_settings.<key>`` / ``provider_secret.<key>`` without ever echoing a value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)  # built when first used


# -- provider_settings --------------------------------------------------------------------------------


class SandboxSettings(_Strict):
    """The sandbox carrier (``connectors/sandbox.py``, local stack only)."""

    receipts: Literal["final", "all"] | None = Field(
        default=None,
        description='Which delivery receipts the sandbox posts per part: "final" (default: only "delivered", '
        'the one that changes the message) or "all" ("sent" first, as carriers that report every step do)',
    )


class AwsSmsSettings(_Strict):
    """AWS End User Messaging SMS (``connectors/aws_sms.py``); credentials are the function's IAM role."""

    origination_identity: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        pattern=r"^[A-Za-z0-9_:/+\-]+$",
        description="Phone number (E.164), sender ID, phone number id, pool id or their ARN; "
        "default: the channel's sender",
    )
    configuration_set: str | None = Field(
        default=None,
        min_length=1,
        max_length=256,
        pattern=r"^[A-Za-z0-9_:/\-]+$",
        description="Configuration set (name or ARN) whose event destination is the aws-sms-events topic",
    )


class TwilioSettings(_Strict):
    """Twilio (``connectors/twilio.py``); the auth token goes in ``provider_secret``."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$", description="The account SID, AC + 32 hex digits")
    messaging_service_sid: str | None = Field(
        default=None,
        pattern=r"^MG[0-9a-fA-F]{32}$",
        description="Send through this Messaging Service (MG + 32 hex digits) instead of From: sender",
    )


SETTINGS: Final[dict[str, type[_Strict]]] = {
    "sandbox": SandboxSettings,
    "aws_sms": AwsSmsSettings,
    "twilio": TwilioSettings,
}

# -- provider_secret ----------------------------------------------------------------------------------

_SECRET_VALUE = {"min_length": 1, "max_length": 4096}


class SandboxSecret(_Strict):
    signing_key: str | None = Field(default=None, **_SECRET_VALUE, description="Generated when absent")  # type: ignore[arg-type]


class AwsSmsSecret(_Strict):
    """None: the connector signs with the function's IAM role."""


class TwilioSecret(_Strict):
    auth_token: str = Field(**_SECRET_VALUE, description="The account's auth token (API and webhook signatures)")  # type: ignore[arg-type]
    webhook_shared_key: str | None = Field(
        default=None,
        **_SECRET_VALUE,  # type: ignore[arg-type]
        description="Key of SharedKey-signed webhooks, if used",
    )


SECRETS: Final[dict[str, type[_Strict]]] = {
    "sandbox": SandboxSecret,
    "aws_sms": AwsSmsSecret,
    "twilio": TwilioSecret,
}

# -- rules --------------------------------------------------------------------------------------------

#: Words that mark a credential in a key name (``auth_token``, ``apiKey``, ``client-secret``, ``pwd``).
_SECRET_WORDS: Final = frozenset(
    {"token", "secret", "password", "passwd", "pwd", "passphrase", "key", "apikey", "credential", "credentials"}
)
#: ... also when glued to another word (``authtoken``, ``clientsecret``, ``privatekey``).
_SECRET_PARTS: Final = ("token", "secret", "password", "passwd", "passphrase", "apikey", "privatekey", "accesskey")
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_WORD_RE = re.compile(r"[^a-z0-9]+")


class SettingsError(ValueError):
    """A bad ``provider_settings`` / ``provider_secret`` entry: ``key`` (None: the whole object) and why
    (the message does not repeat the key, and never contains a value)."""

    def __init__(self, key: str | None, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def looks_secret(key: str) -> bool:
    """Whether a key name looks like a credential (``token``, ``api_key``, ``AccessKeyId``, ``pwd``...)."""
    words = [w for w in _WORD_RE.split(_CAMEL_RE.sub("_", key).lower()) if w]
    compact = "".join(words)
    return any(w in _SECRET_WORDS for w in words) or any(p in compact for p in _SECRET_PARTS)


def _known(model: type[_Strict]) -> str:
    return ", ".join(model.model_fields) or "none"


def _first_error(exc: PydanticValidationError) -> SettingsError:
    err = exc.errors(include_input=False, include_url=False)[0]
    loc = err.get("loc") or ()
    key = str(loc[0]) if loc else None
    return SettingsError(key, "required" if err.get("type") == "missing" else err.get("msg", "not valid"))


def check_settings(provider: str, settings: Mapping[str, Any]) -> dict[str, str]:
    """``provider_settings`` for ``provider``: known keys only, each valid; returns them (unset keys left
    out). Raises :class:`SettingsError`; a credential-looking key is refused first, with a pointer to
    ``provider_secret``."""
    model = SETTINGS[provider]
    for key in settings:
        if key in model.model_fields:
            continue
        if looks_secret(key):
            raise SettingsError(
                key,
                "looks like a credential: provider_settings are stored and returned in clear; "
                "put credentials in provider_secret (write-only, kept in Secrets Manager)",
            )
        raise SettingsError(key, f"not a {provider} setting (known: {_known(model)})")
    try:
        parsed = model.model_validate(dict(settings))
    except PydanticValidationError as exc:
        raise _first_error(exc) from None  # never chain: the input may hold a value
    return parsed.model_dump(exclude_none=True)


def check_secret(provider: str, secret: Mapping[str, Any]) -> dict[str, str]:
    """``provider_secret`` for ``provider``: known keys only, the required ones present (Twilio's
    ``auth_token``). Raises :class:`SettingsError`; messages never contain a value."""
    model = SECRETS[provider]
    for key in secret:
        if key not in model.model_fields:
            if not model.model_fields:
                raise SettingsError(key, f"{provider} needs no provider_secret: it uses the function's IAM role")
            raise SettingsError(key, f"not a {provider} secret (known: {_known(model)})")
    for name, info in model.model_fields.items():
        if info.is_required() and not secret.get(name):
            raise SettingsError(name, f"required: a {provider} channel cannot work without it ({info.description})")
    try:
        parsed = model.model_validate(dict(secret))
    except PydanticValidationError as exc:
        raise _first_error(exc) from None
    return parsed.model_dump(exclude_none=True)


def stored_settings(provider: str, settings: Mapping[str, Any]) -> dict[str, str]:
    """Stored ``provider_settings`` as read back: the provider's known keys only (what an older version
    may have stored beyond them, a credential included, is neither used nor returned)."""
    model = SETTINGS.get(provider)
    if model is None:
        return {}
    return {k: str(v) for k, v in settings.items() if k in model.model_fields and isinstance(v, str)}
