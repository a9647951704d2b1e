"""Property tests for split_segments / count_segments and a cross-check with smsutil."""

import random

import pytest
import smsutil
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smsdesk.text import GSM_CHARS, count_segments, split_segments
from smsdesk.text.gsm import GSM_EXTENDED
from smsdesk.text.segments import segment_units

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GSM_LIST = sorted(GSM_CHARS)
gsm_text = st.text(alphabet=st.sampled_from(GSM_LIST), max_size=700)
ext_heavy = st.text(alphabet=st.sampled_from(["a", "b", " ", *sorted(GSM_EXTENDED)]), max_size=700)
ucs2_text = st.text(alphabet=st.sampled_from(["ê", "a", "€", "😀", "👍", "🏽", "中", "\u00a0"]), max_size=400)
any_text = st.text(max_size=500)  # hypothesis excludes lone surrogates by default
texts = st.one_of(gsm_text, ext_heavy, ucs2_text, any_text)


def _check(text):
    c = count_segments(text)
    parts = split_segments(text)
    assert "".join(parts) == text
    assert len(parts) == c.segments
    assert all(parts)
    if not text:
        return
    cap = c.per_segment
    used = [segment_units(p, c.encoding) for p in parts]
    assert all(u <= cap for u in used)
    assert sum(used) == c.units
    assert c.units_left == cap - used[-1]
    assert c.characters == len(text)
    if c.segments > 1:
        assert cap == (153 if c.encoding == "GSM-7" else 67)
        # greedy: the next segment's first character did not fit in the previous one
        for p, nxt, u in zip(parts, parts[1:], used, strict=False):
            assert u + segment_units(nxt[0], c.encoding) > cap
            assert p  # no empty segment
    if c.encoding == "UCS-2":
        for p in parts:  # never a split surrogate pair: every part is valid UTF-16
            p.encode("utf-16-le")
            assert not ("\ud800" <= p[0] <= "\udfff")
    else:
        # an ESC pair is a single code point here, so it cannot be split; check units anyway
        assert all(segment_units(p, "GSM-7") == len(p) + sum(ch in GSM_EXTENDED for ch in p) for p in parts)


@SETTINGS
@given(texts)
def test_split_segments_invariants(text):
    _check(text)


@SETTINGS
@given(gsm_text)
def test_agrees_with_smsutil_on_gsm_text(text):
    if not text:
        return
    r = smsutil.split(text)
    assert [p.content for p in r.parts] == split_segments(text)
    assert r.total_bytes == count_segments(text).units


@SETTINGS
@given(ucs2_text.filter(lambda t: t and not set(t) <= GSM_CHARS))
def test_agrees_with_smsutil_on_ucs2_text(text):
    r = smsutil.split(text)
    assert [p.content for p in r.parts] == split_segments(text)
    assert r.total_bytes == 2 * count_segments(text).units


def test_agrees_with_smsutil_on_deterministic_corpus():
    rnd = random.Random(20240501)
    pools = [GSM_LIST, ["a", "{", "€", " "], ["ê", "a", "😀"], [*GSM_LIST, "ç", "“", "😀"]]
    for _ in range(2000):
        pool = rnd.choice(pools)
        text = "".join(rnd.choice(pool) for _ in range(rnd.randint(1, 500)))
        r = smsutil.split(text)
        assert [p.content for p in r.parts] == split_segments(text), text


@pytest.mark.parametrize(
    ("text", "smsutil_segments", "ours"),
    [("", 1, 0), ("\x1b", 1, 1), ("a\x1b" * 100, 2, 3)],
)
def test_known_disagreements_with_smsutil(text, smsutil_segments, ours):
    """smsutil counts the empty text as 1 part and treats ESC (0x1B) as a 1-septet GSM
    character; we count 0 for empty and treat ESC as non-GSM (UCS-2). See docs/text-engine.md."""
    assert len(smsutil.split(text).parts) == smsutil_segments
    assert count_segments(text).segments == ours
