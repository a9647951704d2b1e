"""Each channel's messages-per-second, shared by every concurrent sender invocation.

Algorithm: GCRA (the generic cell rate algorithm) used as a *reservation* scheduler. A channel with a
limit of ``mps`` has slots ``1/mps`` seconds apart; ``tat`` (stored in DynamoDB, see
``smsdesk.data.ratelimit``) is the start of the next free slot. :func:`reserve` always hands out a
slot — now if the channel is idle, else the next one in line — with one conditional UpdateItem in the
common case (at most three when the per-process guess of idle/busy is wrong or two callers race).
:func:`reserve_many` reserves ``k`` consecutive slots the same way, advancing ``tat`` by ``k``
intervals in that one update: the sender reserves a whole SQS batch of one channel at once.

Why reservations rather than "try, and retry later if over the limit": under a backlog a try-later
limiter makes every waiting message poll the counter again and again (N messages × M rounds of
DynamoDB and SQS calls). With reservations each message asks once, learns *its* time, sleeps if that
is within :data:`SLEEP_HORIZON_S` or else goes back on the queue with a delay that lands it at its slot,
and sends without asking again. Fractional rates (0.5/s: one slot every 2 s) fall out naturally, and
the achieved rate under a backlog is the limit itself (``make bench`` measures the ratio).

No bursts beyond one message: a channel idle for a minute does not "save up" slots. Providers quote
throughput as a sustained rate and throttle bursts, so being strict here avoids their 429s.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Protocol

from smsdesk.data import ratelimit as store_module

#: A slot at most this far ahead is waited for inside the invocation; later ones go back on the queue.
#: Small on purpose: a sleeping invocation holds one of the sender's concurrency slots, and a slow
#: channel must not starve the others.
SLEEP_HORIZON_S = 1.0


def sleep_horizon_s() -> float:
    return float(os.environ.get("SENDER_SLEEP_HORIZON_S", SLEEP_HORIZON_S))


class SlotStore(Protocol):
    def take_idle(self, channel_id: str, *, now_us: int, interval_us: int) -> bool: ...

    def take_next(self, channel_id: str, *, now_us: int, interval_us: int) -> int | None: ...


class BulkStore(SlotStore, Protocol):
    def take_idle_or_tat(self, channel_id: str, *, now_us: int, interval_us: int) -> tuple[bool, int | None]: ...

    def take_next_before(
        self, channel_id: str, *, now_us: int, interval_us: int, latest_us: int
    ) -> tuple[int | None, int | None]: ...


class RateLimitContention(RuntimeError):
    """Could not reserve a slot after several attempts (only under pathological clock jumps)."""


_hints: dict[str, int] = {}  # channel -> last tat seen by this process: guesses idle vs busy
_lock = threading.Lock()


def interval_us(mps: float) -> int:
    if mps <= 0:
        raise ValueError("mps must be positive")
    return max(1, round(1_000_000 / mps))


def reserve(channel_id: str, mps: float, *, now: float | None = None, store: SlotStore | None = None) -> float:
    """Reserve the channel's next send slot; returns its start (epoch seconds, >= ``now``)."""
    st: SlotStore = store or store_module  # type: ignore[assignment]
    now_us = int((time.time() if now is None else now) * 1_000_000)
    return _reserve(channel_id, st, now_us, interval_us(mps)) / 1_000_000


def reserve_many(
    channel_id: str, mps: float, count: int, *, now: float | None = None, store: SlotStore | None = None
) -> list[float]:
    """Reserve the channel's next ``count`` consecutive send slots with ONE conditional update (GCRA: the
    theoretical arrival time advances by ``count`` intervals at once); returns their starts, ``1/mps``
    apart (epoch seconds, the first >= ``now``). A batch of jobs for one channel asks once, not once per
    job; slots a batch does not use are simply not used (the rate is never exceeded, only left idle)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    st: SlotStore = store or store_module  # type: ignore[assignment]
    now_us = int((time.time() if now is None else now) * 1_000_000)
    one = interval_us(mps)
    first = _reserve(channel_id, st, now_us, one * count)
    return [(first + i * one) / 1_000_000 for i in range(count)]


def _reserve(channel_id: str, st: SlotStore, now_us: int, step: int) -> int:
    """Advance the channel's ``tat`` by ``step`` µs; the start of the reserved span (epoch µs)."""
    with _lock:
        busy = _hints.get(channel_id, 0) > now_us
    for _ in range(4):
        if busy:
            slot = st.take_next(channel_id, now_us=now_us, interval_us=step)
            if slot is not None:
                _remember(channel_id, slot + step)
                return max(slot, now_us)
        elif st.take_idle(channel_id, now_us=now_us, interval_us=step):
            _remember(channel_id, now_us + step)
            return now_us
        busy = not busy
    raise RateLimitContention(f"no send slot for channel {channel_id}")


def _remember(channel_id: str, tat: int) -> None:
    with _lock:
        _hints[channel_id] = max(tat, _hints.get(channel_id, 0))


def forget() -> None:
    """Drop the per-process hints (tests)."""
    with _lock:
        _hints.clear()


class MemoryStore:
    """The same conditional semantics in memory (unit tests, benchmarks without DynamoDB)."""

    def __init__(self) -> None:
        self.tat: dict[str, int] = {}
        self.calls = 0
        self._lock = threading.Lock()

    def take_idle(self, channel_id: str, *, now_us: int, interval_us: int) -> bool:
        with self._lock:
            self.calls += 1
            if self.tat.get(channel_id, 0) <= now_us:
                self.tat[channel_id] = now_us + interval_us
                return True
            return False

    def take_next(self, channel_id: str, *, now_us: int, interval_us: int) -> int | None:
        with self._lock:
            self.calls += 1
            tat = self.tat.get(channel_id)
            if tat is None or tat <= now_us:
                return None
            self.tat[channel_id] = tat + interval_us
            return tat

    def take_idle_or_tat(self, channel_id: str, *, now_us: int, interval_us: int) -> tuple[bool, int | None]:
        with self._lock:
            self.calls += 1
            tat = self.tat.get(channel_id, 0)
            if tat <= now_us:
                self.tat[channel_id] = now_us + interval_us
                return True, None
            return False, tat

    def take_next_before(
        self, channel_id: str, *, now_us: int, interval_us: int, latest_us: int
    ) -> tuple[int | None, int | None]:
        with self._lock:
            self.calls += 1
            tat = self.tat.get(channel_id)
            if tat is None or tat <= now_us:
                return None, None
            if tat > latest_us:
                return None, tat
            self.tat[channel_id] = tat + interval_us
            return tat, None


def reserve_bulk(
    channel_id: str, mps: float, *, now: float | None = None, store: BulkStore | None = None
) -> tuple[float | None, float]:
    """A slot for a bulk (campaign) send, only if the channel is free now or within one interval:
    ``(slot, 0)``, else ``(None, busy_until)``. Bulk never books slots ahead, so a reply, which books the
    next slot in line (:func:`reserve`), waits at most about one interval behind a campaign.

    One conditional update in the common case (before: two under a backlog, the first failing): which
    of the two to try first (the channel idle, or busy for less than an interval) is guessed from this
    process's last view of the channel, as :func:`reserve` does, and a failed update returns the
    channel's ``tat`` with the failure, so a wrong guess costs one more update at most and a channel busy
    for longer costs only the one.

    Not reserved per batch as :func:`reserve_many` does for replies: a batch may book ahead only within
    about one interval, and where that would be more than one slot (≥ 20/s) a send (claim, provider,
    ``mark_sent``) takes longer than the interval, so the batch's later slots would be stale before their
    job got there (a stale slot is never used: no burst) and each job would reserve again."""
    st: BulkStore = store or store_module  # type: ignore[assignment]
    now_s = time.time() if now is None else now
    now_us = int(now_s * 1_000_000)
    step = interval_us(mps)
    latest = now_us + step
    with _lock:
        busy = _hints.get(channel_id, 0) > now_us
    for _ in range(3):
        if busy:
            slot, tat = st.take_next_before(channel_id, now_us=now_us, interval_us=step, latest_us=latest)
            if slot is not None:
                _remember(channel_id, slot + step)
                return slot / 1_000_000, 0.0
            if tat is not None:
                _remember(channel_id, tat)
                return None, tat / 1_000_000
            busy = False  # idle after all
        else:
            taken, tat = st.take_idle_or_tat(channel_id, now_us=now_us, interval_us=step)
            if taken:
                _remember(channel_id, now_us + step)
                return now_s, 0.0
            if tat is not None and tat > latest:
                _remember(channel_id, tat)
                return None, tat / 1_000_000
            busy = True  # busy for less than an interval: the next slot in line is ours
    return None, now_s + step / 1_000_000
