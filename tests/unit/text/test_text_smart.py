import unicodedata

import pytest

from smsdesk.text import SMART_TABLE, Replacement, count_segments, is_gsm, smart_encode


def test_every_replacement_is_gsm_and_every_source_is_not():
    for src, dst in SMART_TABLE.items():
        assert not is_gsm(src), repr(src)
        assert is_gsm(dst), repr(dst)


def test_letters_are_never_transliterated():
    # ʼ (U+02BC) is a modifier letter used as an apostrophe; no real letter is in the table
    assert not any(unicodedata.category(c) in ("Lu", "Ll", "Lt", "Lo") for c in SMART_TABLE)
    assert smart_encode("crème brûlée ça").text == "crème brûlée ça"


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        ("‘quoted’", "'quoted'"),
        ("“quoted”", '"quoted"'),
        ("„Zitat“", '"Zitat"'),
        ("«\u202fmot\u202f»", '" mot "'),
        ("a – b — c", "a - b - c"),
        ("wait…", "wait..."),
        ("10\u00a0000", "10 000"),
        ("• item", "- item"),
        ("it`s", "it's"),
        ("a\tb", "a b"),
        ("co\u00adop", "coop"),
        ("zero\u200bwidth", "zerowidth"),
        ("a\u2028b", "a\nb"),
        ("1\u20442", "1/2"),
        ("−5", "-5"),
    ],
)
def test_replacements(src, dst):
    assert smart_encode(src).text == dst


def test_replacement_report_in_order_with_counts():
    r = smart_encode("“Hi” – it’s… “ok”")
    assert r.text == '"Hi" - it\'s... "ok"'
    assert r.replacements == (
        Replacement("“", '"', 2),
        Replacement("”", '"', 2),
        Replacement("–", "-", 1),
        Replacement("’", "'", 1),
        Replacement("…", "...", 1),
    )


def test_no_replacement_returns_same_text():
    r = smart_encode("plain text {ok} €")
    assert r.text == "plain text {ok} €" and r.replacements == ()


def test_smart_encoding_saves_segments():
    text = "It’s " + "a" * 150  # 155 characters: UCS-2 3 segments, GSM-7 1 segment
    assert count_segments(text).segments == 3
    assert count_segments(smart_encode(text).text).segments == 1


def test_only_if_gsm_keeps_text_that_would_stay_ucs2():
    text = "Great… 😀"
    assert smart_encode(text).text == "Great... 😀"
    r = smart_encode(text, only_if_gsm=True)
    assert r.text == text and r.replacements == ()
    assert smart_encode("Great…", only_if_gsm=True).text == "Great..."
