"""Connectors by provider name: the one place that knows which module implements which provider.

Connectors are imported on first use, so a function pays only for the providers it actually talks to.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import get_args

from smsdesk.connectors.base import Connector
from smsdesk.models import ProviderName

_MODULES: dict[str, str] = {
    "sandbox": "smsdesk.connectors.sandbox",
    "aws_sms": "smsdesk.connectors.aws_sms",
    "twilio": "smsdesk.connectors.twilio",
}
assert set(_MODULES) == set(get_args(ProviderName)), "every ProviderName needs a connector module"


class UnknownProvider(LookupError):
    """No connector of that name (e.g. a webhook path naming a provider smsdesk does not know)."""


def is_known(name: str) -> bool:
    return name in _MODULES


@cache
def get_connector(name: ProviderName | str) -> Connector:
    """The (stateless, shared) connector for ``name``; raises :class:`UnknownProvider`."""
    module = _MODULES.get(name)
    if module is None:
        raise UnknownProvider(name)
    return importlib.import_module(module).connector()
