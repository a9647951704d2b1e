"""Search tokens: what a contact can be found by, and how a query is matched (pure).

A contact gets one token per word of its names and e-mail (lower case, accents folded), its whole
e-mail address, and the digits of its numbers (E.164 without ``+``, and the national form with its
trunk prefix, e.g. ``31612345678`` and ``0612345678``). ``smsdesk.data.contacts`` stores one index item
per token (``CSEARCH#{first character}`` / ``{token}#{contact_id}``), so a search is a ``begins_with``
Query on the query's first word, never a scan; the other words filter the matched index items (each
carries all the contact's tokens).
"""

from __future__ import annotations

import re
import unicodedata

#: Tokens stored per contact (the transaction that writes the contact writes them; 100 items max).
MAX_TOKENS = 24
_WORD = re.compile(r"[a-z0-9]+")
_PHONEISH = re.compile(r"^[+\d][\d\s\-./()]*$")


def fold(text: str) -> str:
    """Lower case without accents: ``Élodie`` → ``elodie``."""
    if text.isascii():  # nothing to decompose (the common case: a rule folds every value it compares)
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _number_tokens(number: str | None) -> list[str]:
    import phonenumbers  # ~10-20 ms: loaded by the first number handled, not at cold start

    if not number:
        return []
    digits = re.sub(r"\D", "", number)
    out = [digits] if digits else []
    if number.startswith("+"):
        try:
            num = phonenumbers.parse(number, None)
            national = re.sub(r"\D", "", phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL))
            if national and national != digits:
                out.append(national)
        except phonenumbers.NumberParseException:
            pass
    return out


def contact_tokens(
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    email: str | None = None,
    mobile: str | None = None,
    other_phone: str | None = None,
) -> list[str]:
    """The contact's distinct tokens, at most :data:`MAX_TOKENS` (names first)."""
    tokens: list[str] = []
    for text in (first_name, last_name):
        tokens += _WORD.findall(fold(text or ""))
    if email:
        folded = fold(email)
        tokens.append(folded)
        tokens += _WORD.findall(folded.split("@", 1)[0])
    tokens += _number_tokens(mobile) + _number_tokens(other_phone)
    return list(dict.fromkeys(t for t in tokens if t))[:MAX_TOKENS]


def query_words(q: str) -> list[str]:
    """The prefixes a query must all match (each a prefix of some token of the contact). A query that
    looks like a phone number is one word of its digits (``+33 6 12`` → ``33612``; ``0033…`` → ``33…``)."""
    q = q.strip()
    if _PHONEISH.match(q) and any(c.isdigit() for c in q):
        digits = re.sub(r"\D", "", q)
        if q.startswith("00"):
            digits = digits[2:]
        return [digits] if digits else []
    folded = fold(q)
    if "@" in folded:
        return [w for w in folded.split() if w]
    return _WORD.findall(folded)


def matches(words: list[str], tokens: list[str]) -> bool:
    return all(any(t.startswith(w) for t in tokens) for w in words)
