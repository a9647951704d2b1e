"""The campaigns' clock: the wall clock, shifted on the local stack only by ``SMSDESK_CLOCK_OFFSET_S``
(a function's setting: ``stack.configure("fanout", SMSDESK_CLOCK_OFFSET_S="32400")``), so a test can
put a recipient at 23:00 local time and then at 08:00 without waiting nine hours. Ignored in AWS."""

from __future__ import annotations

import datetime as dt
import os

from smsdesk import config
from smsdesk.models import utcnow


def now() -> dt.datetime:
    offset = os.environ.get("SMSDESK_CLOCK_OFFSET_S")
    if offset and config.is_local():
        return utcnow() + dt.timedelta(seconds=float(offset))
    return utcnow()
