"""Who a campaign or an audience preview texts (:class:`Selection`); resolved by ``crm.audience``.

Its own module so that what stores a selection (a campaign, read by every fan-out job) does not load
the audience's resolution (lists, groups and their rules, contacts) at cold start.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Selection(BaseModel):
    """Who to text: any combination; at least one."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    all: bool = Field(default=False, description="Every contact in the book")
    contact_ids: list[str] = Field(default_factory=list, max_length=1000, description="A manual selection")
    numbers: list[str] = Field(default_factory=list, max_length=1000, description="Raw numbers (no contact needed)")
    group_ids: list[str] = Field(default_factory=list, max_length=20, description="Static or dynamic groups")
    include_managers: bool = Field(
        default=False, description="Also text each selected contact's manager contacts (e.g. a child's parents)"
    )

    @model_validator(mode="after")
    def _something(self) -> Selection:
        if not (self.all or self.contact_ids or self.numbers or self.group_ids):
            raise ValueError("select all, contact_ids, numbers or group_ids")
        return self
