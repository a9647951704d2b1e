"""Contacts, custom fields, groups and audiences through the local stack (issue 13)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api(stack: LocalStack, http: Any) -> Any:
    def call(method: str, path: str, body: Any = None, expect: int | None = None, token: str | None = None) -> Any:
        status, _, out = http(method, f"{stack.base_url}{path}", headers=auth(token or stack.token), body=body)
        if expect is not None:
            assert status == expect, (method, path, status, out)
            return out
        return status, out

    return call


@pytest.fixture(scope="module")
def fields(api: Any) -> None:
    api("POST", "/v1/contact-fields", {"key": "city", "label": "City", "type": "text"}, 201)
    api("POST", "/v1/contact-fields", {"key": "age", "label": "Age", "type": "number"}, 201)
    api("POST", "/v1/contact-fields", {"key": "size", "label": "Size", "type": "choice", "options": ["S", "M"]}, 201)


def test_create_read_update_search_delete(api: Any, fields: None) -> None:
    c = api(
        "POST",
        "/v1/contacts",
        {
            "first_name": "Élodie",
            "last_name": "Martin",
            "mobile": "06 12 34 50 01",
            "email": "elo@Example.org",
            "custom_fields": {"city": "Lyon", "age": 34},
            "tags": ["parents", "parents", "u12"],
        },
        201,
    )
    assert c["mobile"] == "+31612345001" and c["name"] == "Élodie Martin" and c["email"] == "elo@example.org"
    assert c["tags"] == ["parents", "u12"] and c["time_zone"] == "Europe/Amsterdam" and c["time_zone_derived"]
    assert api("GET", f"/v1/contacts/{c['id']}", expect=200) == c

    # search by name prefix (any order, accents folded), e-mail, national or international number
    for q in ("elo", "MART elo", "elo@exa", "0612345", "+31 6 1234 5001"):
        page = api("GET", f"/v1/contacts?q={q.replace(' ', '%20').replace('+', '%2B')}", expect=200)
        assert [x["id"] for x in page["items"]] == [c["id"]], q
    assert api("GET", "/v1/contacts?q=martinez", expect=200)["items"] == []

    # PATCH merges: custom fields by key (null removes one), the rest as given
    out = api(
        "PATCH", f"/v1/contacts/{c['id']}", {"last_name": "Durand", "custom_fields": {"age": None, "size": "M"}}, 200
    )
    assert out["name"] == "Élodie Durand" and out["custom_fields"] == {"city": "Lyon", "size": "M"}
    assert out["mobile"] == "+31612345001" and out["tags"] == ["parents", "u12"]
    assert [x["id"] for x in api("GET", "/v1/contacts?q=durand", expect=200)["items"]] == [c["id"]]
    assert api("GET", "/v1/contacts?q=martin", expect=200)["items"] == []
    out = api("PATCH", f"/v1/contacts/{c['id']}", {"mobile": "+33612345001"}, 200)
    assert out["time_zone"] == "Europe/Paris"
    assert api("GET", "/v1/contacts?q=31612345001", expect=200)["items"] == []  # the old number's tokens are gone

    # invalid values name the field
    for body, field in [
        ({"custom_fields": {"age": "old"}}, "custom_fields.age"),
        ({"custom_fields": {"shoe": 42}}, "custom_fields.shoe"),
        ({"custom_fields": {"size": "XL"}}, "custom_fields.size"),
        ({"mobile": "020 123 4567"}, "mobile"),
        ({"email": "nope"}, "email"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"manager_ids": [c["id"]]}, "manager_ids.0"),
    ]:
        status, err = api("PATCH", f"/v1/contacts/{c['id']}", body)
        assert status == 422 and err["error"]["field"] == field, (body, err)
    status, err = api("PATCH", f"/v1/contacts/{c['id']}", {"manager_ids": ["NOPE"]})
    assert status == 404 and err["error"]["field"] == "manager_ids.0"

    # one contact per mobile
    status, err = api("POST", "/v1/contacts", {"first_name": "Other", "mobile": "+33 6 12 34 50 01"})
    assert status == 409 and err["error"]["code"] == "contact_exists" and err["error"]["contact_id"] == c["id"]

    api("DELETE", f"/v1/contacts/{c['id']}", expect=204)
    assert api("GET", f"/v1/contacts/{c['id']}")[0] == 404
    assert api("GET", "/v1/contacts?q=elodie", expect=200)["items"] == []
    # the number is free again
    api("POST", "/v1/contacts", {"first_name": "New", "mobile": "+33612345001"}, 201)


def test_list_pages_with_a_cursor(api: Any) -> None:
    made = {api("POST", "/v1/contacts", {"first_name": f"Pager{n}", "last_name": "Zz"}, 201)["id"] for n in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        page = api("GET", "/v1/contacts?q=pager&limit=2" + (f"&cursor={cursor}" if cursor else ""), expect=200)
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made)
    status, err = api("GET", f"/v1/contacts?cursor={cursor or 'eyJzIjp7fX0='}")
    assert status == 422 and err["error"]["field"] == "cursor"


def test_concurrent_creates_of_one_number_make_one_contact(api: Any) -> None:
    results: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        out = api("POST", "/v1/contacts", {"first_name": f"Racer{n}", "mobile": "+33612349999"})
        with lock:
            results.append(out)

    threads = [threading.Thread(target=create, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    created = [out for status, out in results if status == 201]
    assert len(created) == 1, results
    assert all(out["error"]["contact_id"] == created[0]["id"] for status, out in results if status != 201)
    assert [x["id"] for x in api("GET", "/v1/contacts?q=33612349999", expect=200)["items"]] == [created[0]["id"]]


def test_dynamic_group_city_lyon_and_age_over_17(api: Any, fields: None) -> None:
    people = {
        "in1": {"city": "Lyon", "age": 18},
        "in2": {"city": "lyon", "age": 52},
        "young": {"city": "Lyon", "age": 17},
        "paris": {"city": "Paris", "age": 40},
        "noage": {"city": "Lyon"},
    }
    ids = {
        name: api("POST", "/v1/contacts", {"first_name": f"Dyn{name}", "custom_fields": values}, 201)["id"]
        for name, values in people.items()
    }
    rule = {"all": [{"field": "city", "op": "equals", "value": "Lyon"}, {"field": "age", "op": "greater", "value": 17}]}
    group = api("POST", "/v1/groups", {"name": "Lyon adults", "kind": "dynamic", "rule": rule}, 201)
    preview = api("POST", f"/v1/groups/{group['id']}/preview", {"limit": 10}, 200)
    assert preview["count"] == 2 and {x["id"] for x in preview["items"]} == {ids["in1"], ids["in2"]}
    members = api("GET", f"/v1/groups/{group['id']}/members?limit=1", expect=200)
    more = api("GET", f"/v1/groups/{group['id']}/members?limit=1&cursor={members['next_cursor']}", expect=200)
    assert {members["items"][0]["id"], more["items"][0]["id"]} == {ids["in1"], ids["in2"]}
    # evaluated when used: a change of a contact moves it in
    api("PATCH", f"/v1/contacts/{ids['young']}", {"custom_fields": {"age": 18}}, 200)
    assert api("POST", f"/v1/groups/{group['id']}/preview", {}, 200)["count"] == 3
    # the editor's preview, before saving
    out = api("POST", "/v1/groups/rule-preview", {"rule": {"field": "city", "op": "equals", "value": "paris"}}, 200)
    assert [x["id"] for x in out["items"]] == [ids["paris"]]


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (
            {
                "all": [
                    {"field": "city", "op": "equals", "value": "Lyon"},
                    {"field": "age", "op": "biggest", "value": 1},
                ]
            },
            "rule.all.1.op",
        ),
        ({"all": [{"field": "age", "op": "greater", "value": "17"}]}, "rule.all.0.value"),
        ({"any": [{"field": "shoe", "op": "equals", "value": 1}]}, "rule.any.0.field"),
        ({"any": [{"all": [{"field": "city", "op": "in", "value": "Lyon"}]}]}, "rule.any.0.all.0.value"),
    ],
)
def test_an_invalid_rule_is_422_naming_its_part(api: Any, fields: None, rule: Any, field: str) -> None:
    status, err = api("POST", "/v1/groups", {"name": "Bad", "kind": "dynamic", "rule": rule})
    assert status == 422 and err["error"]["field"] == field, err


def test_static_group_members_in_bulk(api: Any) -> None:
    ids = [api("POST", "/v1/contacts", {"first_name": f"Member{n}"}, 201)["id"] for n in range(30)]
    group = api("POST", "/v1/groups", {"name": "Choir"}, 201)
    assert api("POST", f"/v1/groups/{group['id']}/members", {"contact_ids": ids + ids[:3]}, 200) == {"changed": 30}
    assert api("POST", f"/v1/groups/{group['id']}/preview", {}, 200)["count"] == 30
    status, err = api("POST", f"/v1/groups/{group['id']}/members", {"contact_ids": [ids[0], "NOPE"]})
    assert status == 404 and err["error"]["field"] == "contact_ids.1"
    api("POST", f"/v1/groups/{group['id']}/members/remove", {"contact_ids": ids[:10]}, 200)
    api("DELETE", f"/v1/groups/{group['id']}/members/{ids[10]}", expect=204)
    assert api("POST", f"/v1/groups/{group['id']}/preview", {}, 200)["count"] == 19
    assert [g["id"] for g in api("GET", f"/v1/contacts/{ids[20]}/groups", expect=200)["items"]] == [group["id"]]
    api("DELETE", f"/v1/contacts/{ids[20]}", expect=204)  # a deleted contact leaves its groups
    assert api("POST", f"/v1/groups/{group['id']}/preview", {}, 200)["count"] == 18


def test_audience_with_managers_opt_outs_and_blocklist(api: Any, stack: LocalStack) -> None:
    ch = api("POST", "/v1/channels", {"name": "Club", "type": "one_way", "sender": "Club", "provider": "sandbox"}, 201)
    mum = api("POST", "/v1/contacts", {"first_name": "Mum", "mobile": "+33611000001"}, 201)
    dad = api("POST", "/v1/contacts", {"first_name": "Dad", "mobile": "+33611000002"}, 201)
    kid1 = api("POST", "/v1/contacts", {"first_name": "Kid1", "manager_ids": [mum["id"], dad["id"]]}, 201)
    kid2 = api(
        "POST", "/v1/contacts", {"first_name": "Kid2", "mobile": "+33611000003", "manager_ids": [mum["id"]]}, 201
    )
    stop = api("POST", "/v1/contacts", {"first_name": "Stop", "mobile": "+33611000004"}, 201)
    block = api("POST", "/v1/contacts", {"first_name": "Block", "mobile": "+33611000005"}, 201)
    api("POST", "/v1/opt-outs", {"number": "+33611000004", "channel_id": ch["id"], "reason": "STOP"}, 201)
    api("POST", "/v1/blocklist", {"number": "+33611000005", "direction": "outbound"}, 201)
    team = api("POST", "/v1/groups", {"name": "U12"}, 201)
    members = [kid1["id"], kid2["id"], stop["id"], block["id"]]
    api("POST", f"/v1/groups/{team['id']}/members", {"contact_ids": members}, 200)

    body = {"group_ids": [team["id"]], "contact_ids": [mum["id"]], "include_managers": True, "channel_id": ch["id"]}
    out = api("POST", "/v1/audiences/preview", body, 200)
    assert sorted(r["number"] for r in out["first_recipients"]) == ["+33611000001", "+33611000002", "+33611000003"]
    assert out["recipients"] == 3
    assert out["excluded"] == {"no_mobile": 1, "opted_out": 1, "blocklisted": 1}
    why = {x["contact_id"]: (x["reason"], x["scope"]) for x in out["first_excluded"]}
    assert why == {
        kid1["id"]: ("no_mobile", None),
        stop["id"]: ("opted_out", "channel"),
        block["id"]: ("blocklisted", "account"),
    }
    # without managers, Kid1's parents are not texted; the opt-out is the channel's only
    out = api("POST", "/v1/audiences/preview", {"group_ids": [team["id"]]}, 200)
    assert sorted(r["number"] for r in out["first_recipients"]) == ["+33611000003", "+33611000004"]

    # the contact shows its opt-out and consent history
    consent = api("GET", f"/v1/contacts/{stop['id']}/consent", expect=200)
    assert [(o["channel_id"], o["reason"]) for o in consent["opted_out"]] == [(ch["id"], "STOP")]
    assert [h["event"] for h in consent["history"]] == ["opt_out"]
    # deleting the contact keeps the number's consent history
    api("DELETE", f"/v1/contacts/{stop['id']}", expect=204)
    history = api("GET", "/v1/opt-outs/%2B33611000004/history", expect=200)
    assert [h["event"] for h in history["items"]] == ["opt_out"]


def test_agents_read_and_write_contacts_but_not_delete_or_define_fields(api: Any, make_user: Any) -> None:
    _, token = make_user("agent")
    c = api("POST", "/v1/contacts", {"first_name": "Agent-made"}, 201, token=token)
    assert api("DELETE", f"/v1/contacts/{c['id']}", token=token)[0] == 403
    assert api("POST", "/v1/contact-fields", {"key": "x", "label": "X", "type": "text"}, token=token)[0] == 403
    assert api("POST", "/v1/groups", {"name": "G"}, token=token)[0] == 403
