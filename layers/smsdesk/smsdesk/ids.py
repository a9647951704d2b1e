"""Time-ordered, URL-safe identifiers (ULID layout: 48-bit milliseconds + 80 random bits, Crockford base32).

Sorting ids sorts by creation time, which the data model relies on for "newest first" pages.
"""

from __future__ import annotations

import hashlib
import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(value: int) -> str:
    """26 Crockford base32 characters of a 130-bit value."""
    return "".join(_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def new_id(prefix: str = "", *, at_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if at_ms is None else at_ms
    return prefix + _encode((ms << 80) | int.from_bytes(os.urandom(10), "big"))


def stable_id(*parts: str) -> str:
    """The same 26-character id for the same parts (SHA-256 prefix), e.g. every delivery of one
    provider message maps to one item. Not time-ordered."""
    digest = hashlib.sha256("\x00".join(parts).encode()).digest()
    return _encode(int.from_bytes(digest[:17], "big") >> 6)
