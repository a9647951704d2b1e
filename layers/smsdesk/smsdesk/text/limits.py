"""Per-channel length limit: refuse a message longer than ``max_segments`` segments."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Final

from pydantic import AfterValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

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


#: Unicode categories that show nothing: controls, format characters (zero-width space, joiners, BOM,
#: soft hyphen...), spaces and line/paragraph separators. Lone surrogates cannot be sent at all.
_INVISIBLE: Final = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
EMPTY_TEXT_MESSAGE: Final = "the text is empty: it has only spaces, line breaks or control characters"
#: Longest text the API takes (a 10-segment UCS-2 SMS is 670 characters; templates may be longer).
MAX_TEXT_CHARS: Final = 5000
#: Longest auto-reply text a channel setting takes.
MAX_REPLY_CHARS: Final = 1600


def has_content(text: str) -> bool:
    """Whether ``text`` has at least one character a reader sees (not only whitespace, control or
    format characters). A text without content is never sent: it would cost credits for nothing."""
    return any(not c.isspace() and unicodedata.category(c) not in _INVISIBLE for c in text)


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be an SMS (no content, or a lone UTF-16 surrogate), or None."""
    if not has_content(text):
        return EMPTY_TEXT_MESSAGE
    if any("\ud800" <= c <= "\udfff" for c in text):
        return "the text contains a lone UTF-16 surrogate (not a character): check its encoding"
    return None


class EmptyMessage(ValidationError):
    code = "empty_message"

    def __init__(self, *, field: str = "text") -> None:
        super().__init__("Message text is empty: it has only spaces, line breaks or control characters.", field=field)


class InvalidText(ValidationError):
    code = "invalid_text"


def check_text(text: str, *, field: str = "text") -> None:
    """Raise :class:`EmptyMessage` for a text without content (empty after trimming, or only control
    characters) and :class:`InvalidText` for one that cannot be encoded."""
    problem = text_problem(text)
    if problem == EMPTY_TEXT_MESSAGE:
        raise EmptyMessage(field=field)
    if problem is not None:
        raise InvalidText(f"Message text is not valid: {problem}.", field=field)


def check_length(text: str, max_segments: int = DEFAULT_MAX_SEGMENTS, *, field: str = "text") -> SegmentCount:
    """Count ``text`` and raise :class:`MessageTooLong` above ``max_segments`` segments.

    Also raises :class:`EmptyMessage` / :class:`InvalidText` (:func:`check_text`): nothing to send,
    or nothing a carrier can carry. Returns the count.
    """
    check_text(text, field=field)
    count = count_segments(text)
    if count.segments == 0:
        raise EmptyMessage(field=field)
    if count.segments > max_segments:
        raise MessageTooLong(count.segments, max_segments, count.units, count.encoding, field=field)
    return count


# -- pydantic field types -------------------------------------------------------------------------------


def _require_content(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise PydanticCustomError("empty_text" if problem == EMPTY_TEXT_MESSAGE else "invalid_text", problem)
    return value


def _reply_content(value: str, info: ValidationInfo) -> Any:
    """Strict on input; a stored text without content (older data) reads as unset (None)."""
    if info.context and info.context.get("stored") and text_problem(value) is not None:
        return None
    return _require_content(value)


#: A message text (send, reply, preview): 1-5000 characters with content (:func:`text_problem`).
MessageText = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_require_content)]
#: An auto-reply text set on a channel (help, out of hours), with content.
ReplyText = Annotated[str, Field(max_length=MAX_REPLY_CHARS), AfterValidator(_reply_content)]
