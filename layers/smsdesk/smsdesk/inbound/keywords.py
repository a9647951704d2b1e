"""Compliance keywords (STOP / START / HELP and their nl, fr, es, de equivalents).

A keyword counts only when it is the WHOLE message: "stop" is an opt-out, "please stop by the shop"
is a normal message for the inbox. Matching ignores case, surrounding whitespace, accents
(``ARRÊT`` = ``ARRET``, ``KÜNDIGEN`` = ``KUNDIGEN``), inner runs of whitespace/hyphens in two-word forms
(``OPT OUT``, ``opt-out``) and trailing ``.``/``!`` (phones and people add them). Nothing else is
stripped, so "stop?" or "stop it" stay ordinary messages: an opt-out must be unambiguous, and a
false positive silences a customer who only asked a question.

The lists (documented in docs/architecture.md, "Inbound routing"):

=========  =====================================================================================
class      keywords
=========  =====================================================================================
opt_out    STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT (OPT OUT, OPT-OUT);
           nl STOPPEN, AFMELDEN, UITSCHRIJVEN; fr ARRET, ARRÊT, DESABONNER, DÉSABONNER, DESINSCRIRE;
           es BAJA, PARAR, CANCELAR; de STOPP, ABMELDEN, KÜNDIGEN, KUENDIGEN, ABBESTELLEN
opt_in     START, UNSTOP; nl AANMELDEN; fr DEMARRER, DÉMARRER; es ALTA; de ANMELDEN
help       HELP, INFO; nl HULP; fr AIDE; es AYUDA; de HILFE
=========  =====================================================================================

``YES`` (an opt-in word for some US carriers) is deliberately absent: in a two-way support
conversation "yes" is an ordinary answer.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

KeywordClass = Literal["opt_out", "opt_in", "help"]

OPT_OUT: dict[str, tuple[str, ...]] = {
    "en": ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"),
    "nl": ("STOPPEN", "AFMELDEN", "UITSCHRIJVEN"),
    "fr": ("ARRET", "DESABONNER", "DESINSCRIRE"),
    "es": ("BAJA", "PARAR", "CANCELAR"),
    "de": ("STOPP", "ABMELDEN", "KUNDIGEN", "KUENDIGEN", "ABBESTELLEN"),
}
OPT_IN: dict[str, tuple[str, ...]] = {
    "en": ("START", "UNSTOP"),
    "nl": ("AANMELDEN",),
    "fr": ("DEMARRER",),
    "es": ("ALTA",),
    "de": ("ANMELDEN",),
}
HELP: dict[str, tuple[str, ...]] = {
    "en": ("HELP", "INFO"),
    "nl": ("HULP",),
    "fr": ("AIDE",),
    "es": ("AYUDA",),
    "de": ("HILFE",),
}

#: Folded keyword -> (class, language).
_TABLE: dict[str, tuple[KeywordClass, str]] = {
    word: (cls, lang)
    for cls, by_lang in (("opt_out", OPT_OUT), ("opt_in", OPT_IN), ("help", HELP))
    for lang, words in by_lang.items()
    for word in words
}
_JOIN = re.compile(r"^(OPT|UN)[\s\-_]+(OUT|STOP)$")
_TRAILING = re.compile(r"[.!]+$")


def fold(text: str) -> str:
    """The message as matched: compatibility-normalised, accents removed, upper case, trimmed."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    folded = " ".join(plain.split()).upper()
    folded = _TRAILING.sub("", folded).strip()
    return _JOIN.sub(r"\1\2", folded)


def classify(text: str) -> tuple[KeywordClass, str, str] | None:
    """``(class, keyword, language)`` if the whole message is a keyword, else None.

    ``keyword`` is the canonical (folded) form, e.g. ``"ARRET"`` for "  arrêt ".
    """
    key = fold(text)
    hit = _TABLE.get(key)
    if hit is None:
        return None
    return hit[0], key, hit[1]
