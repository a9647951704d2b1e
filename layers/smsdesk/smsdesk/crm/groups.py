"""Groups: static (members added and removed by id) and dynamic (a rule over contact fields,
evaluated when the group is used: :mod:`smsdesk.crm.rules`).

A dynamic group's members are the contacts that match its rule now: listing or previewing it streams
the contacts page by page, reading only the attributes its rule names
(``smsdesk.data.contacts.projected_pages``), keeps the matches and loads them whole, so memory stays
one page whatever the size of the book.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from smsdesk import ids
from smsdesk.crm import fields as custom
from smsdesk.crm import rules
from smsdesk.crm.search import fold
from smsdesk.data import contacts as contacts_repo
from smsdesk.data import groups as repo
from smsdesk.data import table
from smsdesk.errors import NotFound, ValidationError
from smsdesk.models import Contact, dump, iso, utcnow

Kind = Literal["static", "dynamic"]
MAX_BULK = 100


def _rule(value: Any) -> Any:
    # Our own parse: a 422 names the part of the rule as the client wrote it (``rule.all.1.op``),
    # without pydantic's union tags in the path.
    return None if value is None else rules.parse(value, field="rule")


class Group(BaseModel):
    model_config = ConfigDict(defer_build=True)
    id: str
    name: str
    description: str | None = None
    kind: Kind
    rule: rules.Rule | None = Field(default=None, description="A dynamic group's rule")
    created_at: dt.datetime
    updated_at: dt.datetime | None = None


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    kind: Kind = "static"
    rule: rules.Rule | None = Field(default=None, description="Required for a dynamic group, refused for a static one")

    @field_validator("rule", mode="before")
    @classmethod
    def _parse_rule(cls, value: Any) -> Any:
        return _rule(value)

    @model_validator(mode="after")
    def _rule_for_dynamic(self) -> GroupCreate:
        if self.kind == "dynamic" and self.rule is None:
            raise ValueError("a dynamic group needs a rule")
        if self.kind == "static" and self.rule is not None:
            raise ValueError("a static group has no rule (its members are added by id)")
        return self


class GroupPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    rule: rules.Rule | None = Field(default=None, description="Replaces a dynamic group's rule")

    @field_validator("rule", mode="before")
    @classmethod
    def _parse_rule(cls, value: Any) -> Any:
        return _rule(value)


class RulePreview(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    rule: rules.Rule
    limit: int = Field(default=20, ge=1, le=100)

    @field_validator("rule", mode="before")
    @classmethod
    def _parse_rule(cls, value: Any) -> Any:
        return _rule(value)


class MemberIds(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    contact_ids: list[str] = Field(min_length=1, max_length=MAX_BULK)


class Preview(BaseModel):
    model_config = ConfigDict(defer_build=True)
    count: int = Field(description="How many contacts are in the group now")
    items: list[Contact] = Field(description="The first members (static: by id; dynamic: by name)")


def _custom_types() -> dict[str, str]:
    return {k: d.type for k, d in custom.definitions().items()}


def _load(item: dict[str, Any]) -> Group:
    return Group.model_validate(item)


def get(group_id: str) -> Group:
    item = repo.get(group_id) if group_id else None
    if item is None:
        raise NotFound(f"group {group_id} not found", field="group_id")
    return _load(item)


def _stored(group: Group) -> dict[str, Any]:
    return group.model_dump(mode="json", exclude_none=True)


def create(body: GroupCreate) -> Group:
    if body.rule is not None:
        rules.check_fields(body.rule, _custom_types())
    group = Group(id=ids.new_id(), created_at=utcnow(), **body.model_dump(exclude={"rule"}), rule=body.rule)
    repo.put(_stored(group), sort_name=fold(group.name), new=True)
    return group


def update(group_id: str, body: GroupPatch) -> Group:
    group = get(group_id)
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    if changes.get("name") is None:
        changes.pop("name", None)
    if "rule" in changes:
        if group.kind != "dynamic":
            raise ValidationError("a static group has no rule (its members are added by id)", field="rule")
        if changes["rule"] is None:
            raise ValidationError("a dynamic group needs a rule", field="rule")
        rules.check_fields(changes["rule"], _custom_types())
    updated = group.model_copy(update={**changes, "updated_at": utcnow()})
    repo.put(_stored(updated), sort_name=fold(updated.name), new=False)
    return updated


def delete(group_id: str) -> None:
    get(group_id)
    repo.delete(group_id)


def list_page(*, limit: int, cursor: str | None) -> tuple[list[Group], str | None]:
    items, nxt = repo.list_groups(limit=limit, cursor=cursor)
    return [_load(i) for i in items], nxt


def _static(group_id: str) -> Group:
    group = get(group_id)
    if group.kind != "static":
        raise ValidationError(
            "members of a dynamic group follow its rule; they cannot be added or removed", field="group_id"
        )
    return group


def add_members(group_id: str, contact_ids: list[str]) -> int:
    """Add contacts (idempotent); every id must exist (404 naming ``contact_ids.N``). Returns how many
    distinct contacts were given."""
    _static(group_id)
    wanted = list(dict.fromkeys(contact_ids))
    found = contacts_repo.get_many(wanted)
    for n, cid in enumerate(contact_ids):
        if cid not in found:
            raise NotFound(f"contact {cid} not found", field=f"contact_ids.{n}")
    repo.add_members(group_id, wanted, at=iso(utcnow()))
    return len(wanted)


def remove_members(group_id: str, contact_ids: list[str]) -> int:
    _static(group_id)
    wanted = list(dict.fromkeys(contact_ids))
    repo.remove_members(group_id, wanted)
    return len(wanted)


def remove_member(group_id: str, contact_id: str) -> None:
    _static(group_id)
    if not repo.is_member(group_id, contact_id):
        raise NotFound(f"contact {contact_id} is not in group {group_id}", field="contact_id")
    repo.remove_members(group_id, [contact_id])


def groups_of(contact_id: str) -> list[Group]:
    out = []
    for gid in repo.groups_of(contact_id):
        item = repo.get(gid)
        if item is not None:
            out.append(_load(item))
    return sorted(out, key=lambda g: (fold(g.name), g.id))


def _all_groups() -> Iterator[Group]:
    cursor: str | None = None
    while True:
        items, cursor = repo.list_groups(limit=100, cursor=cursor)
        yield from map(_load, items)
        if not cursor:
            return


def memberships(contact: Contact) -> list[Group]:
    """Every group the contact is in now, by name: its static groups and the dynamic groups whose rule
    it matches (each rule evaluated on this one contact)."""
    static = set(repo.groups_of(contact.id))
    view = rules.contact_view(dump(contact))
    out = [
        g
        for g in _all_groups()
        if (g.kind == "static" and g.id in static) or (g.kind == "dynamic" and g.rule and rules.matches(g.rule, view))
    ]
    return sorted(out, key=lambda g: (fold(g.name), g.id))


# -- members ----------------------------------------------------------------------------------------------


def member_pages(group: Group, *, start: dict[str, Any] | None = None) -> Iterator[list[tuple[Contact, dict]]]:
    """The group's members now, a page at a time, each with the raw key to resume after it."""
    if group.kind == "dynamic":
        assert group.rule is not None
        rule = group.rule
        # the rule reads only the attributes it names; members are then loaded whole (BatchGetItem)
        for page in contacts_repo.projected_pages(rules.stored_paths(rule), start=start):
            hits = [(i["id"], k) for i, k in page if rules.matches(rule, rules.contact_view(i))]
            if hits:
                found = contacts_repo.get_many([cid for cid, _ in hits])
                loaded = [(found[cid], k) for cid, k in hits if cid in found]  # deleted since: left out
                if loaded:
                    yield loaded
        return
    for page in repo.member_pages(group.id, start=start):
        found = contacts_repo.get_many([cid for cid, _ in page])
        hits = [(found[cid], key) for cid, key in page if cid in found]
        if hits:
            yield hits


def members(group_id: str, *, limit: int, cursor: str | None) -> tuple[list[Contact], str | None]:
    group = get(group_id)
    mode = "d" if group.kind == "dynamic" else "m"
    start = table.decode_position(cursor, mode)
    out: list[Contact] = []
    for page in member_pages(group, start=start):
        for contact, key in page:
            out.append(contact)
            if len(out) == limit:
                return out, table.encode_position(mode, key)
    return out, None


def _preview_rule(rule: rules.All | rules.AnyOf | rules.Condition, limit: int) -> Preview:
    count, first = 0, []
    for page in contacts_repo.projected_pages(rules.stored_paths(rule)):
        for item, _key in page:
            if rules.matches(rule, rules.contact_view(item)):
                count += 1
                if len(first) < limit:
                    first.append(item["id"])
    found = contacts_repo.get_many(first)
    return Preview(count=count, items=[found[cid] for cid in first if cid in found])


def preview(group_id: str, *, limit: int = 20) -> Preview:
    group = get(group_id)
    if group.kind == "dynamic":
        assert group.rule is not None
        return _preview_rule(group.rule, limit)
    items, _ = members(group_id, limit=limit, cursor=None)
    return Preview(count=repo.count_members(group_id), items=items)


def preview_rule(body: RulePreview) -> Preview:
    """A rule's members before saving it (the rule editor's live count)."""
    rules.check_fields(body.rule, _custom_types())
    return _preview_rule(body.rule, body.limit)
