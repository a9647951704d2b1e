"""Channels. Keys: ``PK=CHANNEL#{channel_id} SK=META`` (see docs/data-model.md)."""

from __future__ import annotations

from typing import Any

from smsdesk.data import table


def get_channel(channel_id: str) -> dict[str, Any] | None:
    return table.get(f"CHANNEL#{channel_id}", "META")
