"""Segment counting per 3GPP TS 23.038 / 23.040, at every boundary."""

import pytest

from smsdesk.text import count_segments, split_segments
from smsdesk.text.gsm import EXTENSION_TABLE
from smsdesk.text.segments import segment_units

EXT = sorted(EXTENSION_TABLE)


def seg(text):
    return count_segments(text).segments


@pytest.mark.parametrize(
    ("n", "segments", "units_left", "per_segment"),
    [
        (1, 1, 159, 160),
        (160, 1, 0, 160),
        (161, 2, 145, 153),
        (306, 2, 0, 153),
        (307, 3, 152, 153),
        (459, 3, 0, 153),
        (460, 4, 152, 153),
        (1530, 10, 0, 153),
        (1531, 11, 152, 153),
    ],
)
def test_gsm_boundaries(n, segments, units_left, per_segment):
    c = count_segments("a" * n)
    assert (c.encoding, c.segments, c.units, c.characters) == ("GSM-7", segments, n, n)
    assert (c.units_left, c.per_segment) == (units_left, per_segment)
    assert c.non_gsm_characters == ()


@pytest.mark.parametrize(
    ("n", "segments", "units_left", "per_segment"),
    [
        (1, 1, 69, 70),
        (70, 1, 0, 70),
        (71, 2, 63, 67),
        (134, 2, 0, 67),
        (135, 3, 66, 67),
        (201, 3, 0, 67),
        (202, 4, 66, 67),
    ],
)
def test_ucs2_boundaries(n, segments, units_left, per_segment):
    text = "ê" * n
    c = count_segments(text)
    assert (c.encoding, c.segments, c.units, c.characters) == ("UCS-2", segments, n, n)
    assert (c.units_left, c.per_segment) == (units_left, per_segment)
    assert c.non_gsm_characters == ("ê",)
    # a single non-GSM character anywhere switches the whole text
    assert seg("a" * (n - 1) + "ê") == segments


def test_empty_text_is_zero_segments():
    c = count_segments("")
    assert (c.encoding, c.segments, c.units, c.characters, c.units_left, c.per_segment) == ("GSM-7", 0, 0, 0, 160, 160)
    assert split_segments("") == []


@pytest.mark.parametrize("ext", EXT)
def test_extension_char_costs_two_septets_at_single_boundary(ext):
    c = count_segments("a" * 158 + ext)
    assert (c.segments, c.units, c.characters, c.units_left) == (1, 160, 159, 0)
    c = count_segments("a" * 159 + ext)  # 161 septets
    assert (c.segments, c.units, c.characters) == (2, 161, 160)
    assert split_segments("a" * 159 + ext) == ["a" * 153, "a" * 6 + ext]


@pytest.mark.parametrize("ext", EXT)
def test_escape_pair_never_split_at_concatenated_boundary(ext):
    text = "a" * 152 + ext + "b" * 10  # ext would occupy septets 153 and 154
    parts = split_segments(text)
    assert parts == ["a" * 152, ext + "b" * 10]
    c = count_segments(text)
    assert (c.segments, c.units, c.units_left) == (2, 164, 153 - 12)
    # exactly filling the first segment
    assert split_segments("a" * 151 + ext + "b" * 10) == ["a" * 151 + ext, "b" * 10]


def test_escape_pair_padding_can_add_a_segment():
    # 306 septets fit 2 segments exactly, unless an ESC pair straddles the boundary
    assert seg("a" * 304 + "€") == 2  # 153 | 151+€
    text = "a" * 152 + "€" + "a" * 151  # 305 septets; the € moves: 152 (+1 unused) | €+151 = 153
    assert (seg(text), count_segments(text).units_left) == (2, 0)
    text = "a" * 152 + "€" + "a" * 152  # 306 septets, yet 3 segments because of the unused septet
    assert count_segments(text).units == 306
    assert [len(p) for p in split_segments(text)] == [152, 152, 1]
    assert seg(text) == 3
    # all-extension text: 76 pairs per segment (152 septets, 1 unused)
    c = count_segments("€" * 80)
    assert (c.segments, c.units, c.units_left) == (1, 160, 0)  # 160 septets fit one SMS
    c = count_segments("€" * 81)
    assert (c.segments, c.units, c.units_left) == (2, 162, 153 - 10)
    assert [len(p) for p in split_segments("€" * 153)] == [76, 76, 1]


def test_form_feed_is_an_extension_character():
    assert count_segments("\f").units == 2
    assert count_segments("\f").encoding == "GSM-7"


def test_crlf_is_two_septets():
    c = count_segments("line1\r\nline2")
    assert (c.encoding, c.units, c.characters) == ("GSM-7", 12, 12)
    assert seg("a" * 158 + "\r\n") == 1
    assert seg("a" * 159 + "\r\n") == 2


def test_emoji_is_a_surrogate_pair():
    c = count_segments("😀")
    assert (c.encoding, c.units, c.characters, c.units_left) == ("UCS-2", 2, 1, 68)
    assert seg("ê" * 68 + "😀") == 1  # 70 units
    assert seg("ê" * 69 + "😀") == 2  # 71 units


def test_surrogate_pair_never_split_at_concatenated_boundary():
    text = "ê" * 66 + "😀" + "ê" * 5  # the emoji would take units 67 and 68
    assert split_segments(text) == ["ê" * 66, "😀" + "ê" * 5]
    c = count_segments(text)
    assert (c.segments, c.units, c.characters, c.units_left) == (2, 73, 72, 67 - 7)
    assert split_segments("ê" * 65 + "😀" + "ê" * 5) == ["ê" * 65 + "😀", "ê" * 5]
    # GSM letters + emoji: the emoji forces UCS-2 for everything
    assert split_segments("a" * 66 + "😀" + "b" * 10) == ["a" * 66, "😀" + "b" * 10]


def test_all_emoji_text():
    # 33 emoji per concatenated segment (66 units, 1 unused), 35 in a single SMS
    assert seg("😀" * 35) == 1
    assert seg("😀" * 36) == 2
    assert [len(p) for p in split_segments("😀" * 67)] == [33, 33, 1]
    assert count_segments("😀" * 67).units_left == 65


def test_skin_tone_emoji_counts_code_points():
    c = count_segments("👍🏽")
    assert (c.characters, c.units) == (2, 4)


def test_ucs2_bmp_characters_are_one_unit():
    c = count_segments("中文" * 35)
    assert (c.segments, c.units, c.non_gsm_characters) == (1, 70, ("中", "文"))


def test_extension_chars_in_ucs2_count_one_unit():
    c = count_segments("ê" + "€" * 69)
    assert (c.encoding, c.units, c.segments) == ("UCS-2", 70, 1)


def test_non_gsm_characters_report():
    c = count_segments("Prix : 12\u00a0€ – ça va ?")
    assert c.encoding == "UCS-2"
    assert c.non_gsm_characters == ("\u00a0", "–", "ç")


def test_segment_units_of_split_parts():
    text = "a" * 152 + "{" + "b" * 200
    parts = split_segments(text)
    assert [segment_units(p, "GSM-7") for p in parts] == [152, 153, 49]
