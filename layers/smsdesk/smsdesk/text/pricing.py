"""Credits: 1 credit per segment, times a per-destination-country multiplier.

``country_multipliers`` maps ISO 3166-1 alpha-2 codes (the regions ``phonenumbers`` knows, upper
case) to whole numbers from 1 to :data:`MAX_MULTIPLIER`, ``"*"`` being the multiplier for every
other country (``{"FR": 1, "*": 2}``: 1 credit per segment to France, 2 elsewhere). Without a ``"*"``
entry other countries cost 1 credit per segment. Nothing else is accepted (not ``0``, ``0.5``,
``2.0``, ``"2"`` or ``true``), so no setting can make an SMS free or negative; and
:func:`multiplier_for` / :func:`credits_for` never price below 1 credit per segment whatever they are
given (defence in depth for values stored before these rules).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import BeforeValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError
from pydantic_core import ValidationError as CoreValidationError

DEFAULT_MULTIPLIERS: Final[dict[str, int]] = {"*": 1}
WILDCARD: Final = "*"
#: Highest multiplier: 10 segments at this price stay far below any balance DynamoDB can hold.
MAX_MULTIPLIER: Final = 1_000_000


@functools.cache
def country_codes() -> frozenset[str]:
    """Every ISO 3166-1 alpha-2 region a recipient number can belong to (``parse_number``'s ``region``);
    ``phonenumbers`` is loaded on first use, not at a cold start."""
    import phonenumbers

    return frozenset(r for r in phonenumbers.SUPPORTED_REGIONS if len(r) == 2)


def __getattr__(name: str) -> Any:
    if name == "COUNTRY_CODES":  # the constant it was: computed on first use
        return country_codes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class MultiplierError(ValueError):
    """A bad ``country_multipliers`` entry: ``key`` as given, and why."""

    def __init__(self, key: Any, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.message = message


def _valid_value(value: Any) -> bool:
    return type(value) is int and 1 <= value <= MAX_MULTIPLIER


def _country(key: Any) -> str | None:
    """The upper-cased code if ``key`` is ``*`` or a known country code (any case), else None."""
    if not isinstance(key, str):
        return None
    k = key.upper()
    return k if k == WILDCARD or k in country_codes() else None


def normalise_multipliers(multipliers: Mapping[Any, Any]) -> dict[str, int]:
    """Validate and upper-case a multipliers mapping (``"*": 1`` added when absent). Raises
    :class:`MultiplierError` naming the first bad entry."""
    out: dict[str, int] = {}
    for key, value in multipliers.items():
        k = _country(key)
        if k is None:
            raise MultiplierError(key, f"{key!r} is not an ISO 3166-1 alpha-2 country code (e.g. NL) or '*'")
        if k in out:
            raise MultiplierError(key, f"{k} is given twice")
        if not _valid_value(value):
            raise MultiplierError(key, f"the multiplier must be a whole number from 1 to {MAX_MULTIPLIER}")
        out[k] = value
    out.setdefault(WILDCARD, 1)
    return out


def sanitise_multipliers(stored: Any) -> dict[str, int]:
    """Multipliers as stored (perhaps before these rules): valid entries only, codes upper-cased; an
    invalid entry is dropped (its country then pays the ``"*"`` price, at least 1)."""
    out: dict[str, int] = {}
    if isinstance(stored, Mapping):
        for key, value in stored.items():
            k = _country(key)
            if k is not None and k not in out and _valid_value(value):
                out[k] = value
    out.setdefault(WILDCARD, 1)
    return out


def _validate(value: Any, info: ValidationInfo) -> Any:
    """pydantic: strict on input (errors located at the entry: ``country_multipliers.XX``), lenient
    on stored data (``context={"stored": True}``)."""
    if not isinstance(value, Mapping):
        return value  # the dict type reports it
    if info.context and info.context.get("stored"):
        return sanitise_multipliers(value)
    try:
        return normalise_multipliers(value)
    except MultiplierError as exc:
        raise CoreValidationError.from_exception_data(
            "country_multipliers",
            [
                {
                    "type": PydanticCustomError("country_multiplier", exc.message),
                    "loc": (str(exc.key),),
                    "input": value.get(exc.key),
                }
            ],
        ) from None


#: The field type of ``country_multipliers`` (channels, text settings).
CountryMultipliers = Annotated[
    dict[str, Annotated[int, Field(ge=1, le=MAX_MULTIPLIER)]],
    BeforeValidator(_validate),
    Field(
        description="Credits per segment by destination: ISO 3166-1 alpha-2 code (any case, stored upper "
        f"case) or '*' (every other country) → a whole number from 1 to {MAX_MULTIPLIER}; '*' defaults to 1",
    ),
]


def multiplier_for(country: str | None, multipliers: Mapping[str, Any] = DEFAULT_MULTIPLIERS) -> int:
    """The multiplier for ``country`` (alpha-2, any case), falling back to ``"*"`` then 1. A value that
    is not a whole number from 1 (whatever was stored) is never used: pricing never goes below 1."""
    if country:
        m = multipliers.get(country.upper())
        if _valid_value(m):
            return int(m)
    m = multipliers.get(WILDCARD, 1)
    return int(m) if _valid_value(m) else 1


def credits_for(segments: int, country: str | None = None, multipliers: Mapping[str, Any] = DEFAULT_MULTIPLIERS) -> int:
    """Credits for ``segments`` segments to ``country`` (``None``: the ``"*"`` multiplier): at least 1
    credit per segment."""
    if segments < 0:
        raise ValueError("segments must be >= 0")
    return segments * multiplier_for(country, multipliers)
