"""The routing decision for one inbound SMS: pure (no AWS), so every rule is unit-tested on its own.

Rules, first match wins (each outcome is logged, counted and, for rejections, published):

1. channel disabled → ``rejected`` (``channel_disabled``): not admitted, nothing stored;
2. sender on the channel's or the account's inbound blocklist → ``rejected`` (``blocked``): nothing
   stored, not in the inbox;
3. the whole message is an opt-out keyword → ``opt_out``: the number goes on the channel's opt-out list
   and gets a confirmation (sent although it is now opted out);
4. an opt-in keyword (START, UNSTOP, ...) → ``opt_in``: removed from the opt-out list, confirmation;
5. a help keyword → ``help``: the channel's ``help_text`` (or a default in the keyword's language);
6. outside business hours → ``out_of_hours``: the channel's out-of-hours message, at most once per
   conversation per channel-local day, and the message still reaches the inbox;
7. otherwise → ``inbox``.

A one-way channel has no inbox (its sender cannot receive replies): keywords are still honoured (an
opt-out must never be lost) but get no reply, and anything else is ``rejected`` (``one_way_channel``).
On a two-way channel keyword messages are filed in the conversation like any other message, so the
agent sees why the customer went quiet, and their confirmation is part of the thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from smsdesk.inbound import hours, keywords
from smsdesk.models import Channel

Outcome = Literal["rejected", "opt_out", "opt_in", "help", "out_of_hours", "inbox"]
RejectReason = Literal["channel_disabled", "blocked", "one_way_channel"]

#: Confirmation texts per keyword language (the channel's ``help_text`` replaces the HELP default).
OPT_OUT_REPLY: dict[str, str] = {
    "en": "You have been unsubscribed and will get no more messages from us. Reply START to subscribe again.",
    "nl": "Je bent afgemeld en krijgt geen berichten meer van ons. Stuur AANMELDEN om je weer aan te melden.",
    "fr": "Vous avez été désabonné(e) et ne recevrez plus de messages. Répondez DEMARRER pour vous réabonner.",
    "es": "Se ha dado de baja y no recibirá más mensajes. Responda ALTA para volver a suscribirse.",
    "de": "Sie sind abgemeldet und erhalten keine Nachrichten mehr. Antworten Sie ANMELDEN, um sich wieder anzumelden.",
}
OPT_IN_REPLY: dict[str, str] = {
    "en": "You are subscribed again. Reply STOP to unsubscribe.",
    "nl": "Je bent weer aangemeld. Stuur STOP om je af te melden.",
    "fr": "Votre abonnement est rétabli. Répondez ARRET pour vous désabonner.",
    "es": "Suscripción reactivada. Responda BAJA para darse de baja.",
    "de": "Sie sind wieder angemeldet. Antworten Sie STOPP, um sich abzumelden.",
}
HELP_REPLY: dict[str, str] = {
    "en": "Reply STOP to unsubscribe, START to subscribe again.",
    "nl": "Stuur STOP om je af te melden, AANMELDEN om je weer aan te melden.",
    "fr": "Répondez ARRET pour vous désabonner, DEMARRER pour vous réabonner.",
    "es": "Responda BAJA para darse de baja, ALTA para volver a suscribirse.",
    "de": "Antworten Sie STOPP zum Abmelden, ANMELDEN zum erneuten Anmelden.",
}


@dataclass(frozen=True)
class Route:
    """What to do with an inbound SMS."""

    outcome: Outcome
    #: The reject reason, or the canonical keyword (``STOP``, ``ARRET``, ...), else None.
    detail: str | None = None
    #: Language of the keyword (confirmation texts), else None.
    language: str | None = None
    #: The auto-reply to send (out of hours: only if not sent to this conversation today yet).
    reply: str | None = None
    #: Whether the message is filed in a conversation (the inbox).
    record: bool = True

    @property
    def is_keyword(self) -> bool:
        return self.outcome in ("opt_out", "opt_in", "help")


def route(channel: Channel, text: str, *, at: dt.datetime, blocked: Callable[[], bool]) -> Route:
    """Decide (see the module docstring). ``blocked`` is asked only when the channel is enabled, so a
    disabled channel costs no blocklist lookup."""
    if not channel.enabled:
        return Route("rejected", "channel_disabled", record=False)
    if blocked():
        return Route("rejected", "blocked", record=False)
    two_way = channel.can_reply
    hit = keywords.classify(text)
    if hit is not None:
        cls, word, lang = hit
        if cls == "opt_out":
            reply = OPT_OUT_REPLY[lang]
        elif cls == "opt_in":
            reply = OPT_IN_REPLY[lang]
        else:
            reply = channel.help_text or HELP_REPLY[lang]
        return Route(cls, word, lang, reply if two_way else None, record=two_way)
    if not two_way:
        return Route("rejected", "one_way_channel", record=False)
    if not hours.is_open(channel.business_hours, at):
        return Route("out_of_hours", reply=channel.business_hours.out_of_hours_message)
    return Route("inbox")
