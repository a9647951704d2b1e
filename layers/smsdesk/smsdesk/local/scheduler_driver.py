"""Fire EventBridge Scheduler schedules, which moto stores but never fires.

Every ``poll_s`` (0.5 s) the driver lists the schedules of the manifest's group, fetches
(``get_schedule``) only the new or modified ones, and sleeps until the next due time or the next
poll. A due schedule delivers ``Target.Input`` to ``Target.Arn`` as Scheduler would: an SQS target
gets ``send_message`` (with ``SqsParameters.MessageGroupId`` for FIFO). Other targets (Lambda, ...)
are logged as errors: the manifest routes every schedule through the timers queue.

Supported: ``at(yyyy-mm-ddThh:mm:ss)`` in ``ScheduleExpressionTimezone`` (default UTC), and
``rate(N minute|minutes|hour|hours|day|days)`` (first fire one period after ``StartDate`` or
creation, until ``EndDate``) and ``cron(minutes hours day-of-month month day-of-week year)`` in the
schedule's time zone (``*``, ``?``, lists, ranges, ``/`` steps, month and weekday names; weekdays
1-7 = SUN-SAT; ``L``, ``W`` and ``#`` are not supported: logged once, never fired).
``State=DISABLED`` is skipped; after a one-time schedule fires it is deleted if
``ActionAfterCompletion=DELETE`` and otherwise kept but never fired again. FlexibleTimeWindow is
treated as OFF (fire at the due time). Each fire is recorded with its lateness.

The driver's clock is the wall clock plus ``offset_s``: a test moves it with :meth:`SchedulerDriver.advance`
(``stack.scheduler.advance(61)`` makes a ``rate(1 minute)`` schedule fire now), so recurring schedules
fire without waiting real minutes. Schedules are compared against it; polling stays on the wall clock.

A delivery that fails is not retried (``RetryPolicy`` is not simulated): it goes straight to the target's
``DeadLetterConfig`` queue, as Scheduler does once the retries are exhausted: the ``Input`` as body,
the failure in the message attributes (``ERROR_CODE``, ``ERROR_MESSAGE``, ``SCHEDULE_ARN``,
``TARGET_ARN``, ...).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError

from smsdesk import aws
from smsdesk.local.invocations import InvocationLog

log = logging.getLogger("smsdesk_local")

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_S = {"minute": 60, "hour": 3600, "day": 86400}


_CRON = re.compile(r"^cron\((.+)\)$")
_MONTHS = {
    m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)
}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}


def _cron_field(text: str, lo: int, hi: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values one cron field allows (None: any); ValueError for what is not supported."""
    if text in ("*", "?"):
        return None
    out: set[int] = set()
    for part in text.split(","):
        step, stepped = 1, "/" in part
        if stepped:
            part, step_s = part.split("/", 1)
            step = int(step_s)
        if part in ("*", ""):
            a, b = lo, hi
        elif "-" in part:
            x, y = part.split("-", 1)
            a, b = (names or {}).get(x.upper(), None) or int(x), (names or {}).get(y.upper(), None) or int(y)
        else:
            a = (names or {}).get(part.upper(), None) or int(part)
            b = hi if stepped else a  # "5/15": from 5 to the end by 15; a plain "5" in "5,10/15" is 5 alone
        if not (lo <= a <= hi and lo <= b <= hi):
            raise ValueError(f"{text!r} is out of range")
        out.update(range(a, b + 1, step))
    return out


def cron_next(expr: str, after: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
    """The first minute strictly after ``after`` that the six-field cron ``expr`` names, in ``tz``."""
    f = expr.split()
    if len(f) != 6:
        raise ValueError("a cron expression has six fields")
    mins = sorted(_cron_field(f[0], 0, 59) or range(60))
    hours = sorted(_cron_field(f[1], 0, 23) or range(24))
    doms, months = _cron_field(f[2], 1, 31), _cron_field(f[3], 1, 12, _MONTHS)
    dows, years = _cron_field(f[4], 1, 7, _DAYS), _cron_field(f[5], 1970, 2199)
    start = (after.astimezone(tz) + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    for offset in range(0, 366 * 3):
        day = start.date() + dt.timedelta(days=offset)
        if (years and day.year not in years) or (months and day.month not in months):
            continue
        if (doms and day.day not in doms) or (dows and day.isoweekday() % 7 + 1 not in dows):
            continue
        for h in hours:
            for m in mins:
                cand = dt.datetime.combine(day, dt.time(h, m), tzinfo=tz)
                if cand >= start:
                    return cand
    return None


@dataclass
class _Known:
    modified: Any
    kind: str  # "at" | "rate" | "unsupported"
    due: float | None  # next due time (epoch seconds); None = never again
    period_s: float = 0.0
    end: float | None = None
    enabled: bool = True
    detail: dict[str, Any] | None = None


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)


def parse_schedule(s: dict[str, Any], now: float | None = None) -> _Known:
    expr = (s.get("ScheduleExpression") or "").strip()
    tz = ZoneInfo(s.get("ScheduleExpressionTimezone") or "UTC")
    enabled = s.get("State", "ENABLED") == "ENABLED"
    m = _AT.match(expr)
    if m:
        due = dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=tz).timestamp()
        return _Known(s.get("LastModificationDate"), "at", due, enabled=enabled, detail=s)
    m = _RATE.match(expr)
    if m:
        period = int(m.group(1)) * _UNIT_S[m.group(2).rstrip("s")]
        start = _epoch(s.get("StartDate")) or _epoch(s.get("CreationDate")) or now or time.time()
        return _Known(
            s.get("LastModificationDate"),
            "rate",
            start + period,
            period_s=period,
            end=_epoch(s.get("EndDate")),
            enabled=enabled,
            detail=s,
        )
    m = _CRON.match(expr)
    if m:
        try:
            nxt = cron_next(m.group(1), dt.datetime.fromtimestamp(now or time.time(), dt.UTC), tz)
        except ValueError:
            nxt = None
        else:
            return _Known(
                s.get("LastModificationDate"),
                "cron",
                nxt.timestamp() if nxt else None,
                end=_epoch(s.get("EndDate")),
                enabled=enabled,
                detail=s,
            )
    return _Known(s.get("LastModificationDate"), "unsupported", None, enabled=enabled, detail=s)


class SchedulerDriver(threading.Thread):
    def __init__(self, *, group: str, region: str, log_: InvocationLog, stop: threading.Event, poll_s: float = 0.5):
        super().__init__(name="local-scheduler", daemon=True)
        self.group = group
        self.region = region
        self.log = log_
        self._stop_event = stop
        self.poll_s = poll_s
        self._known: dict[str, _Known] = {}
        self._queue_urls: dict[str, str] = {}
        self.offset_s = 0.0

    def now(self) -> float:
        """The driver's clock (epoch seconds): the wall clock plus ``offset_s``."""
        return time.time() + self.offset_s

    def advance(self, seconds: float) -> None:
        """Move the driver's clock ahead: what falls due in ``seconds`` fires within one poll."""
        self.offset_s += seconds

    def run(self) -> None:
        next_poll = 0.0
        while not self._stop_event.is_set():
            now = time.time()
            try:
                if now >= next_poll:
                    self._refresh()
                    next_poll = time.time() + self.poll_s
                self._fire_due()
            except Exception:
                if self._stop_event.is_set():
                    return
                log.exception("schedule driver failed; retrying")
            dues = [k.due - self.now() for k in self._known.values() if k.due is not None and k.enabled]
            wait_s = min([next_poll - time.time(), *dues])
            self._stop_event.wait(max(0.0, min(wait_s, self.poll_s)))

    def _refresh(self) -> None:
        sch = aws.scheduler()
        seen: set[str] = set()
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"GroupName": self.group, "MaxResults": 100}
            if token:
                kwargs["NextToken"] = token
            resp = sch.list_schedules(**kwargs)
            for item in resp.get("Schedules", []):
                name = item["Name"]
                seen.add(name)
                known = self._known.get(name)
                if known is None or known.modified != item.get("LastModificationDate"):
                    try:
                        full = sch.get_schedule(Name=name, GroupName=self.group)
                    except ClientError:
                        continue  # deleted meanwhile
                    parsed = parse_schedule(full, self.now())
                    if parsed.kind == "unsupported":
                        log.warning(
                            "schedule %s: %r is not supported locally; it will not fire",
                            name,
                            full.get("ScheduleExpression"),
                        )
                    self._known[name] = parsed
            token = resp.get("NextToken")
            if not token:
                break
        for name in list(self._known):
            if name not in seen:
                del self._known[name]

    def _fire_due(self) -> None:
        now = self.now()
        for name, k in list(self._known.items()):
            if not k.enabled or k.due is None or k.due > now:
                continue
            due = k.due
            error = self._deliver(k.detail or {})
            if error is not None:
                self._dead_letter(k.detail or {}, error)
            fired = self.now()
            target = (k.detail or {}).get("Target", {}).get("Arn", "")
            if k.kind == "rate":
                nxt = due + k.period_s
                while nxt <= fired:
                    nxt += k.period_s
                k.due = None if (k.end is not None and nxt > k.end) else nxt
            elif k.kind == "cron":
                d = k.detail or {}
                expr = _CRON.match((d.get("ScheduleExpression") or "").strip())
                tz = ZoneInfo(d.get("ScheduleExpressionTimezone") or "UTC")
                nxt_dt = (
                    cron_next(expr.group(1), dt.datetime.fromtimestamp(max(due, fired), dt.UTC), tz) if expr else None
                )
                nxt = nxt_dt.timestamp() if nxt_dt else None
                k.due = None if nxt is None or (k.end is not None and nxt > k.end) else nxt
            else:
                k.due = None  # a one-time schedule never fires again
                if (k.detail or {}).get("ActionAfterCompletion") == "DELETE":
                    try:
                        aws.scheduler().delete_schedule(Name=name, GroupName=self.group)
                    except ClientError:
                        log.debug("schedule %s already deleted", name)
            # Logged after the completion action, so a reader of the log sees the schedule's final state.
            self.log.schedule_fire(schedule=name, target=target, due=due, fired=fired, error=error)

    def _queue_url(self, arn: str) -> str:
        url = self._queue_urls.get(arn)
        if url is None:
            parts = arn.split(":")
            url = aws.sqs().get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
            self._queue_urls[arn] = url
        return url

    def _dead_letter(self, s: dict[str, Any], error: str) -> None:
        target = s.get("Target") or {}
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq:
            log.error("schedule %s: undeliverable and no dead-letter queue: the event is lost", s.get("Name"))
            return
        head, _, rest = error.partition(": ")
        code, message = (head, rest) if head.isidentifier() and rest else ("DeliveryFailed", error)
        attributes = {
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message,
            "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
            "RETRY_ATTEMPTS": "0",
            "SCHEDULE_ARN": s.get("Arn") or s.get("Name") or "",
            "TARGET_ARN": target.get("Arn", ""),
        }
        try:
            aws.sqs().send_message(
                QueueUrl=self._queue_url(dlq),
                MessageBody=target.get("Input") or "{}",
                MessageAttributes={k: {"DataType": "String", "StringValue": v[:1000]} for k, v in attributes.items()},
            )
        except Exception:
            log.exception("schedule %s: could not dead-letter to %s: the event is lost", s.get("Name"), dlq)

    def _deliver(self, s: dict[str, Any]) -> str | None:
        target = s.get("Target") or {}
        arn: str = target.get("Arn", "")
        body = target.get("Input")
        if body is None or body == "":
            body = "{}"
        parts = arn.split(":")
        if len(parts) >= 6 and parts[2] == "sqs":
            try:
                kwargs: dict[str, Any] = {"QueueUrl": self._queue_url(arn), "MessageBody": body}
                group_id = (target.get("SqsParameters") or {}).get("MessageGroupId")
                if group_id:
                    kwargs["MessageGroupId"] = group_id
                aws.sqs().send_message(**kwargs)
                return None
            except Exception as exc:
                log.error("schedule %s: delivery to %s failed: %s", s.get("Name"), arn, exc)
                return f"{type(exc).__name__}: {exc}"
        msg = f"target {arn!r} is not supported locally (only SQS targets; the manifest routes timers through the timers queue)"
        log.error("schedule %s: %s", s.get("Name"), msg)
        return msg
