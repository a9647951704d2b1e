"""Per-channel length limit: refuse a message longer than ``max_segments`` segments."""

from __future__ import annotations

from typing import Final

from smsdesk.errors import ValidationError
from smsdesk.text.segments import SegmentCount, count_segments, max_units

#: Upper bound for a channel's ``max_segments`` (concatenation beyond 10 is unreliable on handsets).
MAX_SEGMENTS_LIMIT: Final = 10
DEFAULT_MAX_SEGMENTS: Final = 10


class MessageTooLong(ValidationError):
    """The text needs more segments than the channel allows. Counts are in ``details``."""

    code = "message_too_long"

    def __init__(self, segments: int, max_segments: int, units: int, encoding: str, *, field: str = "text") -> None:
        unit = "septets" if encoding == "GSM-7" else "UTF-16 units"
        limit = max_units(max_segments, encoding)  # type: ignore[arg-type]
        super().__init__(
            f"Message too long: {segments} SMS segments ({units} {encoding} {unit}); "
            f"the limit is {max_segments} segment{'s' if max_segments != 1 else ''} "
            f"({limit} {unit}).",
            field=field,
            details={
                "segments": segments,
                "max_segments": max_segments,
                "units": units,
                "max_units": limit,
                "encoding": encoding,
            },
        )
        self.segments = segments
        self.max_segments = max_segments
        self.units = units
        self.encoding = encoding


class EmptyMessage(ValidationError):
    code = "empty_message"

    def __init__(self, *, field: str = "text") -> None:
        super().__init__("Message text is empty.", field=field)


def check_length(text: str, max_segments: int = DEFAULT_MAX_SEGMENTS, *, field: str = "text") -> SegmentCount:
    """Count ``text`` and raise :class:`MessageTooLong` above ``max_segments`` segments.

    Also raises :class:`EmptyMessage` for an empty text (nothing to send). Returns the count.
    """
    count = count_segments(text)
    if count.segments == 0:
        raise EmptyMessage(field=field)
    if count.segments > max_segments:
        raise MessageTooLong(count.segments, max_segments, count.units, count.encoding, field=field)
    return count
