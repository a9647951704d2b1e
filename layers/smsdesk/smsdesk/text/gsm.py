"""The GSM 03.38 / 3GPP TS 23.038 7-bit default alphabet and its extension table.

Built position by position from TS 23.038 §6.2.1 (default alphabet, 128 code points) and §6.2.1.1
(default alphabet extension table, reached through ESC 0x1B).  Only the characters a *user* can type
are exposed: ESC itself (0x1B) is a control code, never a character of the message, so a text
containing U+001B is not GSM-7 here (it forces UCS-2).
"""

from __future__ import annotations

import re

# TS 23.038 §6.2.1, default alphabet, indexed by septet value 0x00..0x7F (column-major in the spec).
# Position 0x1B is ESC (kept in the table so the indexes stay exact, removed from the user set below).
DEFAULT_ALPHABET: str = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00-0x0F
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"  # 0x10-0x1F
    " !\"#¤%&'()*+,-./"  # 0x20-0x2F
    "0123456789:;<=>?"  # 0x30-0x3F
    "¡ABCDEFGHIJKLMNO"  # 0x40-0x4F
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50-0x5F
    "¿abcdefghijklmno"  # 0x60-0x6F
    "pqrstuvwxyzäöñüà"  # 0x70-0x7F
)
assert len(DEFAULT_ALPHABET) == 128

ESC = "\x1b"

# TS 23.038 §6.2.1.1, extension table: character -> septet following ESC.  Each costs 2 septets.
# (0x0A FORM FEED is a "page break" in the spec; 0x0D and 0x1B are reserved/escape, not characters.)
EXTENSION_TABLE: dict[str, int] = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

#: Characters costing 1 septet (the default alphabet without ESC).
GSM_BASIC: frozenset[str] = frozenset(DEFAULT_ALPHABET) - {ESC}
#: Characters costing 2 septets (ESC + code).
GSM_EXTENDED: frozenset[str] = frozenset(EXTENSION_TABLE)
#: Every character encodable in GSM-7 (basic + extension), 137 in total.
GSM_CHARS: frozenset[str] = GSM_BASIC | GSM_EXTENDED

#: The 10 Greek capitals of the default alphabet (Α U+0391, Β U+0392 ... are *not* in it).
GSM_GREEK: frozenset[str] = frozenset("ΔΦΓΛΩΠΨΣΘΞ")


def _charclass(chars: frozenset[str], negate: bool = False) -> re.Pattern[str]:
    return re.compile("[" + ("^" if negate else "") + "".join(re.escape(c) for c in sorted(chars)) + "]")


#: Matches a character that is not GSM-7 (neither basic nor extension).
NON_GSM_RE = _charclass(GSM_CHARS, negate=True)
#: Matches a character outside the basic table (an extension character or a non-GSM one).
NON_BASIC_RE = _charclass(GSM_BASIC, negate=True)
_GSM_RUN_RE = re.compile(_charclass(GSM_CHARS).pattern + "+")
EXT_CHARS: tuple[str, ...] = tuple(sorted(GSM_EXTENDED))
EXT_RE = _charclass(GSM_EXTENDED)


def is_gsm(text: str) -> bool:
    """True when every character of ``text`` is in the GSM-7 default alphabet or its extension."""
    return NON_GSM_RE.search(text) is None


def non_gsm_characters(text: str) -> list[str]:
    """The distinct characters that are not GSM-7, in order of first appearance."""
    rest = _GSM_RUN_RE.sub("", text)  # only the non-GSM characters, in order (one C-level pass)
    if len(rest) <= 64:
        return list(dict.fromkeys(rest))
    # Long non-GSM texts (CJK...): one C-level replace per distinct character instead of one
    # Python string object per character.
    out: list[str] = []
    while rest and len(out) < 32:
        c = rest[0]
        out.append(c)
        rest = rest.replace(c, "")
    out.extend(dict.fromkeys(rest))
    return out


def septet_count(text: str) -> int:
    """Septets needed for a GSM-7 ``text`` (extension characters count 2). Assumes ``is_gsm(text)``."""
    return len(text) + extension_count(text)


def extension_count(text: str, start: int = 0, end: int | None = None) -> int:
    """Number of extension-table characters in ``text[start:end]`` (no copy is made)."""
    if end is None:
        end = len(text)
    return sum(text.count(c, start, end) for c in EXT_CHARS if c in text)


def extension_positions(text: str) -> list[int]:
    """Indexes (code point offsets) of the extension-table characters in ``text``."""
    return [m.start() for m in EXT_RE.finditer(text)]


def gsm_septets(text: str) -> list[int]:
    """Encode a GSM-7 ``text`` to unpacked septet values (ESC pairs for extension characters).

    Used by tests to check the table against the spec; raises ``ValueError`` for non-GSM text.
    """
    out: list[int] = []
    for ch in text:
        if ch in EXTENSION_TABLE:
            out += (0x1B, EXTENSION_TABLE[ch])
        elif ch in GSM_BASIC:
            out.append(DEFAULT_ALPHABET.index(ch))
        else:
            raise ValueError(f"{ch!r} is not in the GSM 7-bit default alphabet")
    return out
