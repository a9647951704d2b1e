"""Dynamic group rules (smsdesk.crm.rules), search tokens and field typing: pure logic."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from smsdesk.crm import fields, rules, search
from smsdesk.crm.timezones import zone_for_number
from smsdesk.errors import ValidationError


def view(**custom: Any) -> dict[str, Any]:
    builtin = {k: custom.pop(k) for k in list(custom) if k in rules.BUILTIN_TYPES or k == "mobile"}
    return rules.contact_view({**builtin, "custom_fields": custom, "created_at": "2026-01-02T10:00:00Z"})


def match(rule: dict[str, Any], **values: Any) -> bool:
    return rules.matches(rules.parse(rule), view(**values))


LYON_ADULTS = {
    "all": [{"field": "city", "op": "equals", "value": "Lyon"}, {"field": "age", "op": "greater", "value": 17}]
}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"city": "Lyon", "age": 18}, True),
        ({"city": "lyon", "age": 40}, True),  # case-insensitive text
        ({"city": "Lyon", "age": 17}, False),  # greater is strict
        ({"city": "Paris", "age": 30}, False),
        ({"city": "Lyon"}, False),  # missing number never compares
        ({"age": 30}, False),
        ({"city": "Lyon", "age": "30"}, False),  # a text where a number is expected
    ],
)
def test_city_lyon_and_age_greater_17(values: dict[str, Any], expected: bool) -> None:
    assert match(LYON_ADULTS, **values) is expected


def test_every_operator() -> None:
    assert match({"field": "city", "op": "not_equals", "value": "Lyon"}, city="Paris")
    assert match({"field": "city", "op": "not_equals", "value": "Lyon"})  # no value is "not equal"
    assert not match({"field": "city", "op": "not_equals", "value": "LYON"}, city="lyon")
    assert match({"field": "city", "op": "contains", "value": "ÉTI"}, city="Saint-Étienne")  # accents folded
    assert match({"field": "city", "op": "starts_with", "value": "saint"}, city="Saint-Étienne")
    assert not match({"field": "city", "op": "starts_with", "value": "etienne"}, city="Saint-Étienne")
    assert match({"field": "age", "op": "less", "value": 18}, age=17.5)
    assert match({"field": "born", "op": "less", "value": "2010-01-01"}, born="2009-12-31")
    assert not match({"field": "born", "op": "greater", "value": "2010-01-01"}, born="2010-01-01")
    assert match({"field": "city", "op": "is_set"}, city="Lyon")
    assert not match({"field": "city", "op": "is_set"}, city="")
    assert match({"field": "city", "op": "is_set", "value": False})
    assert match({"field": "city", "op": "in", "value": ["Paris", "lyon"]}, city="Lyon")
    assert not match({"field": "city", "op": "in", "value": ["Paris"]}, city="Lyon")
    assert match({"field": "member", "op": "equals", "value": True}, member=True)
    assert not match({"field": "member", "op": "equals", "value": True}, member=1)
    # list fields (tags): one element matching is enough
    assert match({"field": "tags", "op": "equals", "value": "U12"}, tags=["u12", "parents"])
    assert match({"field": "tags", "op": "starts_with", "value": "par"}, tags=["u12", "parents"])
    assert match({"field": "tags", "op": "not_equals", "value": "coach"}, tags=["u12"])
    assert match({"field": "country", "op": "equals", "value": "FR"}, mobile="+33612345678")
    assert match({"field": "created_at", "op": "greater", "value": "2026-01-01"})


def test_all_any_and_nesting() -> None:
    rule = {
        "any": [
            {"field": "tags", "op": "equals", "value": "staff"},
            {"all": [{"field": "city", "op": "equals", "value": "Lyon"}, {"field": "age", "op": "less", "value": 12}]},
        ]
    }
    assert match(rule, tags=["staff"])
    assert match(rule, city="Lyon", age=10)
    assert not match(rule, city="Lyon", age=12)


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        (
            {"all": [{"field": "a", "op": "equals", "value": 1}, {"field": "b", "op": "nope", "value": 1}]},
            "rule.all.1.op",
        ),
        ({"any": [{"all": [{"field": "b", "op": "in", "value": "x"}]}]}, "rule.any.0.all.0.value"),
        ({"all": [{"field": "b", "op": "equals"}]}, "rule.all.0.value"),
        ({"all": [{"field": "b", "op": "contains", "value": 3}]}, "rule.all.0.value"),
        ({"all": [{"field": "b", "op": "equals", "value": 1, "extra": 1}]}, "rule.all.0.extra"),
        ({"all": []}, "rule.all"),
        ({"field": "", "op": "equals", "value": 1}, "rule.field"),
        ("city = Lyon", "rule"),
    ],
)
def test_invalid_rules_name_the_part(rule: Any, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        rules.parse(rule)
    assert err.value.field == field


def test_nesting_and_size_are_bounded() -> None:
    deep: dict[str, Any] = {"field": "a", "op": "is_set"}
    for _ in range(rules.MAX_DEPTH):
        deep = {"all": [deep]}
    with pytest.raises(ValidationError) as err:
        rules.parse(deep)
    assert err.value.field.startswith("rule.all.0")
    many = {"any": [{"all": [{"field": "a", "op": "is_set"}] * 30}, {"all": [{"field": "a", "op": "is_set"}] * 30}]}
    with pytest.raises(ValidationError) as err:
        rules.parse(many)
    assert err.value.field == "rule.any.1.all.20"


def test_fields_and_value_types_are_checked_against_the_definitions() -> None:
    custom = {"age": "number", "born": "date", "member": "boolean", "city": "text"}
    rules.check_fields(rules.parse(LYON_ADULTS), custom)
    cases = [
        ({"field": "shoe", "op": "equals", "value": 1}, "rule.field"),
        ({"all": [{"field": "age", "op": "greater", "value": "17"}]}, "rule.all.0.value"),
        ({"all": [{"field": "city", "op": "greater", "value": "A"}]}, "rule.all.0.op"),
        ({"field": "born", "op": "less", "value": "yesterday"}, "rule.value"),
        ({"field": "member", "op": "equals", "value": "yes"}, "rule.value"),
    ]
    for rule, field in cases:
        with pytest.raises(ValidationError) as err:
            rules.check_fields(rules.parse(rule), custom)
        assert err.value.field == field, rule


def test_custom_field_values_are_typed_and_named() -> None:
    now = dt.datetime.now(dt.UTC)
    defs = {
        "age": fields.FieldDefinition(key="age", label="Age", type="number", created_at=now),
        "born": fields.FieldDefinition(key="born", label="Born", type="date", created_at=now),
        "size": fields.FieldDefinition(key="size", label="Size", type="choice", options=["S", "M"], created_at=now),
        "ok": fields.FieldDefinition(key="ok", label="OK", type="boolean", created_at=now),
    }
    assert fields.check_values(defs, {"age": 7, "born": "2019-03-01", "size": "M", "ok": False}) == {
        "age": 7,
        "born": "2019-03-01",
        "size": "M",
        "ok": False,
    }
    for values, field in [
        ({"age": "7"}, "custom_fields.age"),
        ({"age": True}, "custom_fields.age"),
        ({"born": "01/03/2019"}, "custom_fields.born"),
        ({"size": "XL"}, "custom_fields.size"),
        ({"ok": "yes"}, "custom_fields.ok"),
        ({"shoe": 42}, "custom_fields.shoe"),
    ]:
        with pytest.raises(ValidationError) as err:
            fields.check_values(defs, values)
        assert err.value.field == field


def test_search_tokens_and_query_words() -> None:
    tokens = search.contact_tokens(
        first_name="Élodie", last_name="Van der Berg", email="E.vdb@Mail.fr", mobile="+33612345678"
    )
    assert {"elodie", "van", "der", "berg", "e.vdb@mail.fr", "e", "vdb", "33612345678", "0612345678"} <= set(tokens)
    assert search.query_words("  Élo BER ") == ["elo", "ber"]
    assert search.query_words("+33 6 12") == ["33612"]
    assert search.query_words("0033612") == ["33612"]
    assert search.query_words("06 12") == ["0612"]
    assert search.matches(["elo", "ber"], tokens) and not search.matches(["elo", "smith"], tokens)


def test_time_zone_from_the_number_where_the_country_has_one() -> None:
    assert zone_for_number("+33612345678") == "Europe/Paris"
    assert zone_for_number("+31612345678") == "Europe/Amsterdam"
    assert zone_for_number("+12025550123") is None  # the US has several zones
    assert zone_for_number("SHOP") is None


def _project(item: dict[str, Any], paths: set[tuple[str, ...]]) -> dict[str, Any]:
    """What DynamoDB returns for ``item`` under a ProjectionExpression of ``paths`` (absent ones left out)."""
    out: dict[str, Any] = {}
    for path in paths:
        if path[0] not in item:
            continue
        if len(path) == 1:
            out[path[0]] = item[path[0]]
        elif path[1] in (item[path[0]] or {}):
            out.setdefault(path[0], {})[path[1]] = item[path[0]][path[1]]
    return out


def test_a_rule_reads_only_the_stored_attributes_it_names() -> None:
    """A dynamic group reads each contact with a projection of the attributes its rule uses: the rule
    must decide the same on that projection as on the whole item, for every field it may name."""
    rule = rules.parse(LYON_ADULTS)
    assert rules.stored_paths(rule) == {("custom_fields", "city"), ("custom_fields", "age")}
    contacts = [
        {
            "id": "A",
            "first_name": "Élodie",
            "last_name": "Martin",
            "mobile": "+33612345678",
            "email": "e@example.org",
            "language": "fr",
            "time_zone": "Europe/Paris",
            "tags": ["u12", "parents"],
            "created_at": "2026-01-02T10:00:00Z",
            "custom_fields": {"city": "Lyon", "age": 30, "member": True},
        },
        {"id": "B", "number": "+31612345678", "created_at": "2025-05-01T00:00:00Z", "custom_fields": {"city": "Paris"}},
        {"id": "C", "last_name": "Durand", "other_phone": "+3220000000", "tags": [], "custom_fields": {}},
    ]
    conds = [
        {"field": "name", "op": "contains", "value": "martin"},
        {"field": "first_name", "op": "starts_with", "value": "elo"},
        {"field": "last_name", "op": "is_set", "value": True},
        {"field": "country", "op": "equals", "value": "NL"},
        {"field": "mobile", "op": "starts_with", "value": "+33"},
        {"field": "other_phone", "op": "is_set"},
        {"field": "email", "op": "contains", "value": "example"},
        {"field": "language", "op": "equals", "value": "fr"},
        {"field": "time_zone", "op": "equals", "value": "Europe/Paris"},
        {"field": "tags", "op": "in", "value": ["u12", "x"]},
        {"field": "created_at", "op": "less", "value": "2026-01-01"},
        {"field": "city", "op": "not_equals", "value": "Lyon"},
        {"field": "member", "op": "equals", "value": True},
        {"field": "age", "op": "is_set", "value": False},
    ]
    for cond in conds:
        one = rules.parse({"any": [cond, {"field": "zzz", "op": "is_set", "value": True}]})
        paths = rules.stored_paths(one)
        for item in contacts:
            full = rules.matches(one, rules.contact_view(item))
            assert rules.matches(one, rules.contact_view(_project(item, paths))) is full, (cond, item["id"])
