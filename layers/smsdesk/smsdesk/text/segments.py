"""SMS segment calculator (3GPP TS 23.038 alphabets, TS 23.040 concatenation).

Rules, exactly as carriers bill:

* GSM-7 when every character is in the default alphabet or its extension table, otherwise UCS-2.
* GSM-7: 160 septets in a single SMS, 153 per segment once concatenated (the 6-octet UDH takes 7
  septets). Extension characters (``^ { } [ ] ~ \\ | €`` and form feed) take 2 septets (ESC + code)
  and an ESC pair is never split: if one septet is left in a segment the pair moves to the next.
* UCS-2 (really UTF-16): 70 code units single, 67 per segment concatenated. Characters outside the
  BMP (emoji...) take 2 units (a surrogate pair) and a pair is never split across segments.

``characters`` counts Python code points (``len(text)``), not grapheme clusters: ``"👍🏽"`` is 2
characters and 4 UTF-16 units. Segments are cut on code point boundaries, so a multi-code-point
grapheme (flag, skin tone, ZWJ family) can straddle two segments -- as on the network; handsets
reassemble it. Lone surrogate code points (only reachable from malformed input) count 1 unit each.

The empty text is reported as **0 segments** (``units_left`` 160, ``per_segment`` 160, GSM-7): this
is a preview, and an empty SMS is refused by :func:`smsdesk.text.check_length` rather than billed.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Final, Literal

from smsdesk.text.gsm import EXT_RE, NON_BASIC_RE, NON_GSM_RE, extension_count, non_gsm_characters

Encoding = Literal["GSM-7", "UCS-2"]
GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

GSM7_SINGLE: Final = 160
GSM7_MULTI: Final = 153
UCS2_SINGLE: Final = 70
UCS2_MULTI: Final = 67

SINGLE_CAPACITY: Final[dict[str, int]] = {GSM7: GSM7_SINGLE, UCS2: UCS2_SINGLE}
MULTI_CAPACITY: Final[dict[str, int]] = {GSM7: GSM7_MULTI, UCS2: UCS2_MULTI}


@dataclass(frozen=True, slots=True)
class SegmentCount:
    """Result of :func:`count_segments`.

    ``units`` are septets (GSM-7) or UTF-16 code units (UCS-2) for the whole text, not counting the
    padding left at the end of a segment when an ESC pair / surrogate pair moved to the next one.
    ``per_segment`` is the capacity of one segment (160/70 single, 153/67 concatenated) and
    ``units_left`` the free units in the last segment.
    """

    encoding: Encoding
    segments: int
    units: int
    characters: int
    units_left: int
    per_segment: int
    non_gsm_characters: tuple[str, ...] = ()


_ASTRAL_RE: Final = re.compile("[\U00010000-\U0010ffff]")

EMPTY: Final = SegmentCount(GSM7, 0, 0, 0, GSM7_SINGLE, GSM7_SINGLE)


def max_units(max_segments: int, encoding: Encoding) -> int:
    """Units that fit in ``max_segments`` segments (3 -> 459 septets / 201 UCS-2 units)."""
    if max_segments <= 0:
        return 0
    if max_segments == 1:
        return SINGLE_CAPACITY[encoding]
    return max_segments * MULTI_CAPACITY[encoding]


def _ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) >> 1


def _plan(text: str, cap: int, encoding: Encoding) -> list[tuple[int, int, int]]:
    """Greedy cut of ``text`` into segments of at most ``cap`` units: (start, end, units).

    Cuts fall between code points, and an extension character / astral character is a single code
    point: an ESC pair or a surrogate pair is therefore never split. The indexes of the 2-unit code
    points are found once (one regex pass); for each segment take ``cap`` code points, count the
    2-unit ones in the window with a bisect, then give back code points from the end until it fits
    (a few steps: at most the number of 2-unit code points in the window).
    """
    regex = EXT_RE if encoding == GSM7 else _ASTRAL_RE
    doubles = [m.start() for m in regex.finditer(text)]
    n = len(text)
    out: list[tuple[int, int, int]] = []
    a = ea = 0  # segment start, index in doubles of the first 2-unit code point at or after a
    while a < n:
        b = min(n, a + cap)
        eb = bisect_left(doubles, b, ea)
        used = (b - a) + (eb - ea)
        while used > cap:
            b -= 1
            if eb > ea and doubles[eb - 1] == b:
                eb -= 1
                used -= 2
            else:
                used -= 1
        out.append((a, b, used))
        a, ea = b, eb
    return out


def _analyse(text: str) -> tuple[Encoding, int, bool]:
    """(encoding, total units, whether some code points take 2 units)."""
    n = len(text)
    m = NON_BASIC_RE.search(text)
    if m is None:  # fast path: only basic-table characters
        return GSM7, n, False
    if NON_GSM_RE.search(text, m.start()) is None:
        ext = extension_count(text)
        return GSM7, n + ext, True
    units = _ucs2_units(text)
    return UCS2, units, units != n


def count_segments(text: str) -> SegmentCount:
    """Encoding, segment count and unit usage of ``text`` (taken as is: no normalisation)."""
    n = len(text)
    if n == 0:
        return EMPTY
    encoding, units, has_doubles = _analyse(text)
    non_gsm = tuple(non_gsm_characters(text)) if encoding == UCS2 else ()
    single = SINGLE_CAPACITY[encoding]
    if units <= single:
        return SegmentCount(encoding, 1, units, n, single - units, single, non_gsm)
    cap = MULTI_CAPACITY[encoding]
    if not has_doubles:
        segments = -(-units // cap)
        last = units - (segments - 1) * cap
    else:
        plan = _plan(text, cap, encoding)
        segments = len(plan)
        last = plan[-1][2]
    return SegmentCount(encoding, segments, units, n, cap - last, cap, non_gsm)


def split_segments(text: str) -> list[str]:
    """The text of each segment, cut as the network would (``"".join(result) == text``).

    Returns ``[]`` for the empty text, consistently with :func:`count_segments`.
    """
    n = len(text)
    if n == 0:
        return []
    encoding, units, has_doubles = _analyse(text)
    if units <= SINGLE_CAPACITY[encoding]:
        return [text]
    cap = MULTI_CAPACITY[encoding]
    if not has_doubles:
        return [text[i : i + cap] for i in range(0, n, cap)]
    return [text[a:b] for a, b, _ in _plan(text, cap, encoding)]


def segment_units(segment: str, encoding: Encoding) -> int:
    """Units used by one segment's text in ``encoding`` (helper for tests and tooling)."""
    if encoding == GSM7:
        return len(segment) + extension_count(segment)
    return _ucs2_units(segment)
