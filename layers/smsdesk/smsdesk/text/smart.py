"""Smart encoding: swap typographic punctuation and exotic spaces for GSM-7 equivalents.

One curly quote turns a 160-character SMS into three UCS-2 segments; smart encoding (a per-channel
option, off by default) replaces such characters before counting and sending. The table covers
punctuation, dashes and spaces only -- letters are never transliterated (``ê`` stays ``ê``).
Replacements whose target is empty remove invisible characters (soft hyphen, zero-width space,
word joiner, BOM). Zero-width (non-)joiners are left alone: they belong to emoji and scripts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from smsdesk.text.gsm import is_gsm

#: Character -> GSM-7 replacement. Every replacement is GSM-7 (checked by the tests).
SMART_TABLE: Final[dict[str, str]] = {
    # single quotes, apostrophes, primes, accents used as apostrophes
    "\u2018": "'",  # ‘ left single quotation mark
    "\u2019": "'",  # ’ right single quotation mark / apostrophe
    "\u201a": "'",  # ‚ single low-9 quotation mark
    "\u201b": "'",  # ‛ single high-reversed-9 quotation mark
    "\u2032": "'",  # ′ prime
    "\u2039": "'",  # ‹ single left-pointing angle quotation mark
    "\u203a": "'",  # › single right-pointing angle quotation mark
    "\u02bc": "'",  # ʼ modifier letter apostrophe
    "\u00b4": "'",  # ´ acute accent
    "`": "'",  # grave accent (ASCII, but not GSM-7)
    # double quotes
    "\u201c": '"',  # “ left double quotation mark
    "\u201d": '"',  # ” right double quotation mark
    "\u201e": '"',  # „ double low-9 quotation mark
    "\u201f": '"',  # ‟ double high-reversed-9 quotation mark
    "\u2033": '"',  # ″ double prime
    "\u00ab": '"',  # « left-pointing double angle quotation mark
    "\u00bb": '"',  # » right-pointing double angle quotation mark
    # dashes and minus
    "\u2010": "-",  # ‐ hyphen
    "\u2011": "-",  # ‑ non-breaking hyphen
    "\u2012": "-",  # ‒ figure dash
    "\u2013": "-",  # – en dash
    "\u2014": "-",  # — em dash
    "\u2015": "-",  # ― horizontal bar
    "\u2212": "-",  # − minus sign
    # bullets
    "\u2022": "-",  # • bullet
    "\u2023": "-",  # ‣ triangular bullet
    "\u2043": "-",  # ⁃ hyphen bullet
    # ellipsis, slashes
    "\u2026": "...",  # … horizontal ellipsis
    "\u2044": "/",  # ⁄ fraction slash
    "\u2215": "/",  # ∕ division slash
    # spaces -> plain space
    "\t": " ",  # tab (not GSM-7)
    "\u00a0": " ",  # no-break space
    "\u2000": " ",  # en quad
    "\u2001": " ",  # em quad
    "\u2002": " ",  # en space
    "\u2003": " ",  # em space
    "\u2004": " ",  # three-per-em space
    "\u2005": " ",  # four-per-em space
    "\u2006": " ",  # six-per-em space
    "\u2007": " ",  # figure space
    "\u2008": " ",  # punctuation space
    "\u2009": " ",  # thin space
    "\u200a": " ",  # hair space
    "\u202f": " ",  # narrow no-break space (French typography: « 12 h »)
    "\u205f": " ",  # medium mathematical space
    "\u3000": " ",  # ideographic space
    # line breaks -> LF
    "\u2028": "\n",  # line separator
    "\u2029": "\n",  # paragraph separator
    "\u0085": "\n",  # next line (NEL)
    # invisible characters -> removed
    "\u00ad": "",  # soft hyphen
    "\u200b": "",  # zero width space
    "\u2060": "",  # word joiner
    "\ufeff": "",  # zero width no-break space / BOM
}

_TRANSLATE: Final = str.maketrans(SMART_TABLE)
_SMART_CHARS: Final = frozenset(SMART_TABLE)


@dataclass(frozen=True, slots=True)
class Replacement:
    """``count`` occurrences of ``char`` were replaced by ``replacement`` (may be empty)."""

    char: str
    replacement: str
    count: int


@dataclass(frozen=True, slots=True)
class SmartEncoded:
    text: str
    replacements: tuple[Replacement, ...] = ()


def smart_encode(text: str, *, only_if_gsm: bool = False) -> SmartEncoded:
    """Apply :data:`SMART_TABLE` to ``text``.

    Replacements are listed in order of first appearance. With ``only_if_gsm=True`` the text is
    returned unchanged (no replacements) unless the result is entirely GSM-7: replacing ``…`` by
    ``...`` in a text that stays UCS-2 (because of an emoji, say) would only make it longer.
    """
    present = _SMART_CHARS.intersection(text)
    if not present:
        return SmartEncoded(text)
    new = text.translate(_TRANSLATE)
    if only_if_gsm and not is_gsm(new):
        return SmartEncoded(text)
    order = sorted(present, key=text.index)
    return SmartEncoded(new, tuple(Replacement(c, SMART_TABLE[c], text.count(c)) for c in order))
