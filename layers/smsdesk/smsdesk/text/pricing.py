"""Credits: 1 credit per segment, times a per-destination-country multiplier.

``country_multipliers`` maps ISO 3166 alpha-2 codes to positive integers, ``"*"`` being the
multiplier for every other country (``{"FR": 1, "*": 2}``: 1 credit per segment to France, 2
elsewhere). Without a ``"*"`` entry other countries cost 1 credit per segment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

DEFAULT_MULTIPLIERS: Final[dict[str, int]] = {"*": 1}
WILDCARD: Final = "*"
_COUNTRY_RE = re.compile(r"[A-Z]{2}")


def normalise_multipliers(multipliers: Mapping[str, int]) -> dict[str, int]:
    """Validate and upper-case a multipliers mapping; raises ``ValueError`` with the bad entry."""
    out: dict[str, int] = {}
    for key, value in multipliers.items():
        k = key.strip().upper() if isinstance(key, str) else key
        if not isinstance(k, str) or (k != WILDCARD and not _COUNTRY_RE.fullmatch(k)):
            raise ValueError(f"country {key!r} must be an ISO 3166 alpha-2 code or '*'")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"multiplier for {k} must be a positive integer, got {value!r}")
        out[k] = value
    out.setdefault(WILDCARD, 1)
    return out


def multiplier_for(country: str | None, multipliers: Mapping[str, int] = DEFAULT_MULTIPLIERS) -> int:
    """The multiplier for ``country`` (alpha-2, any case), falling back to ``"*"`` then 1."""
    if country:
        m = multipliers.get(country.upper())
        if m is not None:
            return m
    return multipliers.get(WILDCARD, 1)


def credits_for(segments: int, country: str | None = None, multipliers: Mapping[str, int] = DEFAULT_MULTIPLIERS) -> int:
    """Credits for ``segments`` segments to ``country`` (``None``: the ``"*"`` multiplier)."""
    if segments < 0:
        raise ValueError("segments must be >= 0")
    return segments * multiplier_for(country, multipliers)
