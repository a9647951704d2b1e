"""Powertools' event-handler request state, per thread: HTTP functions serve requests concurrently.

Powertools' resolvers keep the request being handled in places one process shares: the event and the
Lambda context on the ``BaseRouter`` *class* (``BaseRouter.current_event = ...`` in ``resolve``, read by
every resolver and router), the route's match and request in the resolver's ``context`` dict. In AWS each
execution environment is a process serving one request at a time, so that is safe there; the local stack
runs every function in one process, where two gateway threads would read each other's request.

:func:`install` gives each thread its own copy of that state: ``BaseRouter``'s metaclass gets properties
for the class-level ``current_event`` / ``lambda_context`` (so ``BaseRouter.current_event = x`` stores
``x`` for the calling thread), and ``BaseRouter`` itself properties for the instance-level ones
(``current_event``, ``lambda_context``, ``context``, ``processed_stack_frames``), keyed by thread and
resolver. Each gateway thread is then, for Powertools, an execution environment of its own serving one
request at a time, as a Lambda execution environment does; module-level state (clients, caches) is shared,
as it already is between the concurrent invocations of a queue-triggered function.
"""

from __future__ import annotations

import threading
from typing import Any

_state = threading.local()
_lock = threading.Lock()
_installed = False


def _class_slot(name: str) -> property:
    def get(cls: Any) -> Any:
        try:
            return getattr(_state, name)
        except AttributeError:
            raise AttributeError(name) from None

    def set_(cls: Any, value: Any) -> None:
        setattr(_state, name, value)

    return property(get, set_)


def _instance_slot(name: str, default: Any) -> property:
    """Per thread and per resolver; what the resolver stored at construction is each thread's start value."""

    def slots(self: Any) -> dict[int, Any]:
        try:
            return getattr(_state, name)  # type: ignore[no-any-return]
        except AttributeError:
            d: dict[int, Any] = {}
            setattr(_state, name, d)
            return d

    def get(self: Any) -> Any:
        mine = slots(self)
        try:
            return mine[id(self)]
        except KeyError:
            value = default()
            mine[id(self)] = value
            return value

    def set_(self: Any, value: Any) -> None:
        slots(self)[id(self)] = value

    return property(get, set_)


def _shared_slot(name: str) -> property:
    """Class-level value as seen from an instance (``self.current_event``): the thread's."""

    def get(self: Any) -> Any:
        try:
            return getattr(_state, name)
        except AttributeError:
            raise AttributeError(name) from None

    def set_(self: Any, value: Any) -> None:
        setattr(_state, name, value)

    return property(get, set_)


def install() -> None:
    """Make Powertools' resolver state per thread (idempotent; process-wide, harmless single-threaded)."""
    global _installed
    with _lock:
        if _installed:
            return
        from aws_lambda_powertools.event_handler import api_gateway

        base = api_gateway.BaseRouter
        # Instance reads (``self.current_event`` in ``_resolve``) find these in the class' dict...
        base.current_event = _shared_slot("current_event")  # type: ignore[assignment]
        base.lambda_context = _shared_slot("lambda_context")  # type: ignore[assignment]
        base.context = _instance_slot("context", dict)  # type: ignore[assignment]
        base.processed_stack_frames = _instance_slot("processed_stack_frames", list)  # type: ignore[assignment]

        # ... and class-level reads and writes (``BaseRouter.current_event = ...``) go through the metaclass'
        # data descriptors, which take precedence over the class' own dict.
        class ThreadLocalRouterMeta(type(base)):  # type: ignore[misc]
            current_event = _class_slot("current_event")
            lambda_context = _class_slot("lambda_context")

        base.__class__ = ThreadLocalRouterMeta
        _installed = True
