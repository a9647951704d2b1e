import pytest

from smsdesk.errors import ValidationError
from smsdesk.text import InvalidPhoneNumber, InvalidSenderId, parse_number, validate_sender_id


@pytest.mark.parametrize(
    ("raw", "region", "e164", "country"),
    [
        ("0612345678", "NL", "+31612345678", "NL"),
        ("06-12 34 56 78", "NL", "+31612345678", "NL"),
        ("+31 (0)6 1234 5678", "NL", "+31612345678", "NL"),
        ("0031612345678", "NL", "+31612345678", "NL"),
        ("06.12.34.56.78", "FR", "+33612345678", "FR"),
        ("0033 6 12 34 56 78", "US", "+33612345678", "FR"),  # 00 works whatever the region's IDD
        ("(201) 555-0123", "US", "+12015550123", "US"),  # NANP: FIXED_LINE_OR_MOBILE
        ("+1 650 253 0000", "NL", "+16502530000", "US"),
        ("0470 12 34 56", "BE", "+32470123456", "BE"),
        ("01512 3456789", "DE", "+4915123456789", "DE"),
        ("+44 7400 123456", "NL", "+447400123456", "GB"),
        ("+31 6 12345678", "fr", "+31612345678", "NL"),
    ],
)
def test_valid_mobile_numbers(raw, region, e164, country):
    assert parse_number(raw, region) == (e164, country)
    assert parse_number(raw, region).e164 == e164


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("", "NL", "empty"),
        ("   ", "NL", "empty"),
        ("hello", "NL", "unparsable"),
        ("1-800-FLOWERS", "US", "unparsable"),
        ("+31 6 1234 567a", "NL", "unparsable"),
        ("++31612345678", "NL", "unparsable"),
        ("0612", "NL", "invalid"),
        ("06123456789012", "NL", "invalid"),
        ("+999 1234567", "NL", "unparsable"),
        ("+44 7700 900123", "NL", "invalid"),  # Ofcom drama range
        ("020 123 4567", "NL", "not_mobile"),  # Amsterdam landline
        ("01 42 68 53 00", "FR", "not_mobile"),
        ("030 123456", "DE", "not_mobile"),
        ("0800 1234567", "NL", "not_mobile"),  # toll free
        ("0900 1234567", "NL", "not_mobile"),  # premium rate
        ("085 123 4567", "NL", "not_mobile"),  # VoIP
        ("+44 70 1234 5678", "NL", "not_mobile"),  # UK personal number
    ],
)
def test_rejected_numbers(raw, region, reason):
    with pytest.raises(InvalidPhoneNumber) as e:
        parse_number(raw, region)
    assert e.value.details["reason"] == reason
    assert e.value.field == "to"
    assert isinstance(e.value, ValidationError) and e.value.status == 422


def test_landline_error_message_and_type_and_custom_field():
    with pytest.raises(InvalidPhoneNumber) as e:
        parse_number("020 123 4567", "NL", field="body.to")
    assert e.value.field == "body.to"
    assert e.value.details["number_type"] == "fixed_line"
    assert "+31201234567" in e.value.message and "not a mobile" in e.value.message


def test_national_number_without_region_is_unparsable():
    with pytest.raises(InvalidPhoneNumber) as e:
        parse_number("0612345678", "")
    assert e.value.details["reason"] == "unparsable"


@pytest.mark.parametrize("sender", ["ACME", "Acme Shop", "Shop-24", "acme.nl", "abc", "ABCDEFGHIJK", "A1B2C3"])
def test_valid_sender_ids(sender):
    assert validate_sender_id(sender) == sender


def test_sender_id_is_stripped():
    assert validate_sender_id("  ACME ") == "ACME"


@pytest.mark.parametrize(
    ("sender", "fragment"),
    [
        ("", "empty"),
        ("AB", "2 characters"),
        ("ABCDEFGHIJKL", "12 characters"),
        ("12345", "one letter"),
        ("12 34", "one letter"),
        ("Café", "'é'"),
        ("A&B Shop", "'&'"),
        ("Shop_1", "'_'"),
        ("Shop+", "'+'"),
        ("Acme  Shop", "consecutive"),
    ],
)
def test_invalid_sender_ids(sender, fragment):
    with pytest.raises(InvalidSenderId) as e:
        validate_sender_id(sender)
    assert fragment in e.value.message
    assert e.value.field == "sender_id" and e.value.status == 422
