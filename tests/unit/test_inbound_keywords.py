"""Compliance keywords and the routing decision (pure: no AWS)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from smsdesk.inbound import keywords, routing
from smsdesk.inbound.routing import route
from smsdesk.models import BusinessHours, Channel

NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # a Monday, 11:00 in Amsterdam


def channel(**settings: Any) -> Channel:
    base: dict[str, Any] = {
        "id": "CH1",
        "name": "Support",
        "type": "two_way",
        "sender": "+3197010000001",
        "provider": "sandbox",
        "created_at": NOW,
        "updated_at": NOW,
    }
    return Channel(**{**base, **settings})


# -- keywords -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word", ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "opt-out"]
)
def test_english_opt_out_keywords(word: str) -> None:
    hit = keywords.classify(word)
    assert hit is not None and hit[0] == "opt_out" and hit[2] == "en"


@pytest.mark.parametrize(
    ("text", "canonical", "lang"),
    [
        ("stoppen", "STOPPEN", "nl"),
        ("Afmelden", "AFMELDEN", "nl"),
        ("uitschrijven", "UITSCHRIJVEN", "nl"),
        ("arrêt", "ARRET", "fr"),
        ("ARRET", "ARRET", "fr"),
        ("Désabonner", "DESABONNER", "fr"),
        ("baja", "BAJA", "es"),
        ("Parar", "PARAR", "es"),
        ("cancelar", "CANCELAR", "es"),
        ("Stopp", "STOPP", "de"),
        ("abmelden", "ABMELDEN", "de"),
        ("KÜNDIGEN", "KUNDIGEN", "de"),
        ("kuendigen", "KUENDIGEN", "de"),
    ],
)
def test_localised_opt_out_keywords(text: str, canonical: str, lang: str) -> None:
    assert keywords.classify(text) == ("opt_out", canonical, lang)


@pytest.mark.parametrize(
    ("text", "cls", "lang"),
    [
        ("START", "opt_in", "en"),
        ("unstop", "opt_in", "en"),
        ("aanmelden", "opt_in", "nl"),
        ("Démarrer", "opt_in", "fr"),
        ("alta", "opt_in", "es"),
        ("Anmelden", "opt_in", "de"),
        ("HELP", "help", "en"),
        ("info", "help", "en"),
        ("hulp", "help", "nl"),
        ("Aide", "help", "fr"),
        ("AYUDA", "help", "es"),
        ("hilfe", "help", "de"),
    ],
)
def test_opt_in_and_help_keywords(text: str, cls: str, lang: str) -> None:
    hit = keywords.classify(text)
    assert hit is not None and (hit[0], hit[2]) == (cls, lang)


@pytest.mark.parametrize("text", ["stop", " Stop ", "\tSTOP\n", "sToP.", "STOP!", "\u00a0stop\u00a0", "ＳＴＯＰ"])
def test_case_and_whitespace_insensitive(text: str) -> None:
    assert keywords.classify(text) == ("opt_out", "STOP", "en")


@pytest.mark.parametrize(
    "text",
    [
        "please stop",
        "stop it",
        "Stop sending me this",
        "can you help me",
        "stop?",
        "STOP STOP",
        "stopped",
        "s t o p",
        "",
        "   ",
        "yes",
        "Starting tomorrow",
    ],
)
def test_a_message_that_merely_contains_a_keyword_is_not_one(text: str) -> None:
    assert keywords.classify(text) is None


def test_every_listed_keyword_classifies_as_its_class() -> None:
    for cls, table in (("opt_out", keywords.OPT_OUT), ("opt_in", keywords.OPT_IN), ("help", keywords.HELP)):
        for lang, words in table.items():
            for w in words:
                assert keywords.classify(w.lower()) == (cls, w, lang)


# -- routing --------------------------------------------------------------------------------------------


def never() -> bool:
    raise AssertionError("the blocklist must not be consulted")


def test_disabled_channel_is_rejected_before_any_lookup() -> None:
    r = route(channel(enabled=False), "STOP", at=NOW, blocked=never)
    assert (r.outcome, r.detail, r.record, r.reply) == ("rejected", "channel_disabled", False, None)


def test_blocked_sender_is_rejected_even_for_keywords() -> None:
    for text in ("hello", "STOP"):
        r = route(channel(), text, at=NOW, blocked=lambda: True)
        assert (r.outcome, r.detail, r.record) == ("rejected", "blocked", False)


def test_opt_out_confirms_in_the_keyword_language() -> None:
    r = route(channel(), " afmelden ", at=NOW, blocked=lambda: False)
    assert (r.outcome, r.detail, r.language, r.record) == ("opt_out", "AFMELDEN", "nl", True)
    assert r.reply == routing.OPT_OUT_REPLY["nl"] and r.is_keyword
    assert route(channel(), "STOP", at=NOW, blocked=lambda: False).reply == routing.OPT_OUT_REPLY["en"]


def test_opt_in_and_help_replies() -> None:
    r = route(channel(), "START", at=NOW, blocked=lambda: False)
    assert (r.outcome, r.reply) == ("opt_in", routing.OPT_IN_REPLY["en"])
    assert route(channel(), "hilfe", at=NOW, blocked=lambda: False).reply == routing.HELP_REPLY["de"]
    custom = route(channel(help_text="Call us on 020 123 4567"), "HELP", at=NOW, blocked=lambda: False)
    assert (custom.outcome, custom.reply) == ("help", "Call us on 020 123 4567")


def test_keywords_win_over_business_hours() -> None:
    closed = channel(business_hours=BusinessHours(enabled=True, out_of_hours_message="We are closed"))
    assert route(closed, "STOP", at=NOW, blocked=lambda: False).outcome == "opt_out"
    r = route(closed, "Where is my parcel?", at=NOW, blocked=lambda: False)
    assert (r.outcome, r.reply, r.record) == ("out_of_hours", "We are closed", True)


def test_out_of_hours_without_a_message_still_reaches_the_inbox() -> None:
    closed = channel(business_hours=BusinessHours(enabled=True))
    r = route(closed, "hello", at=NOW, blocked=lambda: False)
    assert (r.outcome, r.reply, r.record) == ("out_of_hours", None, True)


def test_open_channel_goes_to_the_inbox() -> None:
    hours = BusinessHours(enabled=True, weekly={"mon": [{"start": "09:00", "end": "17:00"}]}, out_of_hours_message="x")
    r = route(channel(business_hours=hours), "please stop by tomorrow", at=NOW, blocked=lambda: False)
    assert (r.outcome, r.reply, r.record, r.is_keyword) == ("inbox", None, True, False)


def test_one_way_channel_honours_keywords_without_reply_and_rejects_the_rest() -> None:
    one_way = channel(type="one_way", sender="Shop")
    r = route(one_way, "STOP", at=NOW, blocked=lambda: False)
    assert (r.outcome, r.reply, r.record) == ("opt_out", None, False)
    r = route(one_way, "hello", at=NOW, blocked=lambda: False)
    assert (r.outcome, r.detail) == ("rejected", "one_way_channel")
