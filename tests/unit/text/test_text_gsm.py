"""The GSM 7-bit default alphabet and extension table against 3GPP TS 23.038."""

import pytest

from smsdesk.text import GSM_BASIC, GSM_CHARS, GSM_EXTENDED, count_segments, is_gsm, non_gsm_characters
from smsdesk.text.gsm import DEFAULT_ALPHABET, EXTENSION_TABLE, gsm_septets


@pytest.mark.parametrize(
    ("char", "septet"),
    [
        ("@", 0x00),
        ("£", 0x01),
        ("$", 0x02),
        ("¥", 0x03),
        ("è", 0x04),
        ("é", 0x05),
        ("Ç", 0x09),
        ("\n", 0x0A),
        ("Ø", 0x0B),
        ("\r", 0x0D),
        ("å", 0x0F),
        ("Δ", 0x10),
        ("_", 0x11),
        ("Ξ", 0x1A),
        ("Æ", 0x1C),
        ("ß", 0x1E),
        ("É", 0x1F),
        (" ", 0x20),
        ("¤", 0x24),
        ("0", 0x30),
        ("?", 0x3F),
        ("¡", 0x40),
        ("A", 0x41),
        ("Z", 0x5A),
        ("Ä", 0x5B),
        ("Ü", 0x5E),
        ("§", 0x5F),
        ("¿", 0x60),
        ("a", 0x61),
        ("z", 0x7A),
        ("ä", 0x7B),
        ("ü", 0x7E),
        ("à", 0x7F),
    ],
)
def test_default_alphabet_positions(char, septet):
    assert DEFAULT_ALPHABET[septet] == char
    assert gsm_septets(char) == [septet]


def test_alphabet_sizes_and_esc_is_not_a_user_character():
    assert len(DEFAULT_ALPHABET) == 128
    assert DEFAULT_ALPHABET[0x1B] == "\x1b"
    assert len(GSM_BASIC) == 127 and "\x1b" not in GSM_CHARS
    assert len(GSM_EXTENDED) == 10 and len(GSM_CHARS) == 137
    assert not is_gsm("a\x1bb")
    assert count_segments("\x1b").encoding == "UCS-2"


def test_extension_table_codes():
    assert EXTENSION_TABLE == {
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
    assert gsm_septets("€") == [0x1B, 0x65]
    assert not (GSM_BASIC & GSM_EXTENDED)


def test_same_basic_table_as_smsutil():
    import smsutil.codecs as c

    assert c.GSM_BASIC_CHARSET == DEFAULT_ALPHABET
    assert set(c.GSM_EXT_CHARSET) == GSM_EXTENDED


@pytest.mark.parametrize("char", list("ΔΦΓΛΩΠΨΣΘΞ"))
def test_the_ten_greek_capitals_are_gsm(char):
    assert is_gsm(char)


@pytest.mark.parametrize("char", list("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧαβγδωΐ"))
def test_other_greek_letters_including_latin_lookalikes_are_not_gsm(char):
    assert not is_gsm(char)
    assert count_segments("Hello " + char).encoding == "UCS-2"


@pytest.mark.parametrize(
    ("gsm", "not_gsm"),
    [
        ("é", "ê"),
        ("Ç", "ç"),
        ("É", "È"),
        ("è", "ë"),
        ("ù", "û"),
        ("à", "á"),
        ("ñ", "ń"),
        ("ü", "ū"),
        (" ", "\u00a0"),
        ("'", "’"),
        ('"', "“"),
        ("-", "–"),
        ("\n", "\t"),
        ("$", "`"),
    ],
)
def test_lookalikes(gsm, not_gsm):
    assert is_gsm(gsm)
    assert not is_gsm(not_gsm)


def test_text_is_not_normalised():
    decomposed = "e\u0301"  # e + combining acute: not GSM, although NFC gives é
    assert not is_gsm(decomposed)
    assert non_gsm_characters("Caf" + decomposed) == ["\u0301"]


def test_non_gsm_characters_distinct_in_order_of_first_appearance():
    assert non_gsm_characters("ça va? très “bien” ça") == ["ç", "“", "”"]
    assert non_gsm_characters("plain {text} €") == []


def test_gsm_septets_refuses_non_gsm():
    with pytest.raises(ValueError):
        gsm_septets("ê")


def test_non_gsm_characters_long_texts():
    assert non_gsm_characters("中文字" * 300 + "a😀") == ["中", "文", "字", "😀"]
    many = "".join(chr(0x4E00 + i) for i in range(100)) * 2  # > 32 distinct: fallback path
    assert non_gsm_characters("x" + many) == [chr(0x4E00 + i) for i in range(100)]


def test_lone_surrogate_counts_one_unit():
    c = count_segments("a\ud83d")
    assert (c.encoding, c.units, c.non_gsm_characters) == ("UCS-2", 2, ("\ud83d",))
