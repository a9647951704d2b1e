"""Audience resolution (smsdesk.crm.audience) over an in-memory contact book: deduplication by number,
managers, exclusions with reasons, streaming in pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from smsdesk.crm import audience
from smsdesk.models import Contact

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def contact(cid: str, mobile: str | None, managers: list[str] | None = None) -> Contact:
    return Contact(id=cid, mobile=mobile, manager_ids=managers or [], created_at=NOW)


@pytest.fixture
def book(monkeypatch: pytest.MonkeyPatch) -> dict[str, Contact]:
    people = {
        c.id: c
        for c in [
            contact("kid1", None, ["mum", "dad"]),
            contact("kid2", "+33612000002", ["mum"]),
            contact("mum", "+33612000010"),
            contact("dad", "+33612000011"),
            contact("twin", "+33612000002"),  # same number as kid2 (inbound-created duplicate)
            contact("landline", "+33123456789"),
            contact("stop", "+33612000099"),
            contact("blocked", "+33612000098"),
        ]
    }

    def get_many(ids: list[str]) -> dict[str, Contact]:
        return {i: people[i] for i in ids if i in people}

    def contact_pages(*, start: Any = None, page_size: int = 3) -> Any:
        items = sorted(people.values(), key=lambda c: c.id)
        for n in range(0, len(items), page_size):
            yield [(c, {"id": c.id}) for c in items[n : n + page_size]]

    def refusals(channel_id: str | None, numbers: list[str]) -> dict[str, tuple[str, str]]:
        table = {"+33612000099": ("opted_out", "channel"), "+33612000098": ("blocklisted", "account")}
        return {n: table[n] for n in numbers if n in table}

    monkeypatch.setattr(audience.contacts_repo, "get_many", get_many)
    monkeypatch.setattr(audience.contacts_repo, "contact_pages", contact_pages)
    monkeypatch.setattr(audience.lists, "outbound_refusals", refusals)
    return people


def test_managers_are_included_once_and_numbers_deduplicated(book: dict[str, Contact]) -> None:
    sel = audience.Selection(contact_ids=["kid1", "kid2", "twin", "missing"], include_managers=True)
    pages = list(audience.resolve(sel, channel_id="ch", region="FR"))
    recipients = [r for p in pages for r in p.recipients]
    excluded = [x for p in pages for x in p.excluded]
    assert sorted((r.number, r.contact_id, r.via) for r in recipients) == [
        ("+33612000002", "kid2", "contact"),
        ("+33612000010", "mum", "manager"),
        ("+33612000011", "dad", "manager"),
    ]
    assert sorted((x.contact_id, x.reason) for x in excluded) == [
        ("kid1", "no_mobile"),
        ("missing", "contact_not_found"),
        ("twin", "duplicate"),
    ]


def test_without_managers_only_the_selection(book: dict[str, Contact]) -> None:
    sel = audience.Selection(contact_ids=["kid1", "kid2"], numbers=["06 12 00 00 02", "0612000077", "12"])
    out = audience.preview(sel, channel_id=None, region="FR")
    assert out.recipients == 2
    assert out.excluded == {"no_mobile": 1, "duplicate": 1, "invalid_number": 1}
    assert [r.via for r in out.first_recipients] == ["contact", "number"]


def test_all_streams_pages_and_excludes_with_reasons(book: dict[str, Contact]) -> None:
    pages = list(audience.resolve(audience.Selection(all=True), channel_id="ch", region="FR"))
    assert len(pages) >= 3  # one per contact page, never one list
    excluded = {x.contact_id: (x.reason, x.scope) for p in pages for x in p.excluded}
    assert excluded == {
        "blocked": ("blocklisted", "account"),
        "kid1": ("no_mobile", None),
        "landline": ("invalid_number", None),
        "stop": ("opted_out", "channel"),
        "twin": ("duplicate", None),
    }
    assert sorted(r.contact_id for p in pages for r in p.recipients) == ["dad", "kid2", "mum"]


def test_a_selection_must_select_something() -> None:
    with pytest.raises(ValueError, match="select"):
        audience.Selection()
