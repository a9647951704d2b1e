"""The ``crmnotes`` function's entry: a bus event -> ``crm.notes`` (transcript notes), with the
connectors that mirror notes elsewhere (Pipedrive) registered on it."""

from __future__ import annotations

from typing import Any

from smsdesk.crm import notes, pipedrive
from smsdesk.observability import logger

notes.after_apply.append(pipedrive.sync_link)


def handle(event: dict[str, Any]) -> None:
    kind, detail = event.get("detail-type", ""), event.get("detail") or {}
    notes.handle_event(kind, detail)
    logger.info("crm notes", extra={"detail_type": kind, "event_id": detail.get("event_id")})
