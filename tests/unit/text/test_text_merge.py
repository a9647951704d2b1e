import pytest

from smsdesk.errors import ValidationError
from smsdesk.text import MergeError, count_segments, render_template, template_fields


def test_fields_in_order_distinct():
    assert template_fields("Hi {{first_name}} {{ last_name }}, {{first_name|x}} {code}") == ["first_name", "last_name"]
    assert template_fields("no fields { } here") == []


def test_render_with_values_defaults_and_whitespace():
    t = "Hi {{ first_name | there }}, your code is {{code}}.{{suffix|}}"
    assert render_template(t, {"first_name": "Jan", "code": 1234}) == "Hi Jan, your code is 1234."
    assert render_template(t, {"code": "42"}) == "Hi there, your code is 42."
    assert render_template(t, {"first_name": "  ", "code": 0}) == "Hi there, your code is 0."
    assert render_template(t, {"first_name": None, "code": "x", "suffix": "!"}) == "Hi there, your code is x.!"


def test_values_are_not_rescanned():
    assert render_template("{{a}}", {"a": "{{b}}"}) == "{{b}}"


def test_missing_fields_are_all_named():
    with pytest.raises(MergeError) as e:
        render_template("{{a}} {{b|ok}} {{c}} {{a}}", {"b": None, "c": ""})
    err = e.value
    assert isinstance(err, ValidationError) and err.field == "text" and err.code == "merge_error"
    assert err.details == {"missing_fields": ["a", "c"]}
    assert "a, c" in err.message


def test_none_contact_means_no_fields():
    assert render_template("Hello", None) == "Hello"
    with pytest.raises(MergeError):
        render_template("Hello {{x}}", None)


@pytest.mark.parametrize(
    "bad", ["Hi {{first name}}", "Hi {{first_name", "Hi first_name}}", "{{}}", "{{1abc}}", "{{a|b{c}}"]
)
def test_malformed_placeholders(bad):
    with pytest.raises(MergeError, match="Malformed"):
        render_template(bad, {"first_name": "x", "a": "y"})
    with pytest.raises(MergeError):
        template_fields(bad)


def test_render_then_count_per_recipient():
    t = "Bonjour {{first_name}}, " + "a" * 141
    assert count_segments(render_template(t, {"first_name": "Léa"})).segments == 1
    assert count_segments(render_template(t, {"first_name": "Maximilien"})).segments == 2
    assert count_segments(render_template(t, {"first_name": "Hélène"})).encoding == "GSM-7"  # è, é: GSM
    assert count_segments(render_template(t, {"first_name": "Zoë"})).encoding == "UCS-2"
