"""Pure rules behind issue 10 items 2 and 4: no setting prices an SMS below 1 credit per segment, texts
need content, top-ups are whole numbers, provider settings are typed and never hold a credential."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from smsdesk import channels
from smsdesk.connectors.settings import SettingsError, check_secret, check_settings, looks_secret, stored_settings
from smsdesk.credits import TopUpRequest
from smsdesk.models import Channel, Message, SendRequest, StatusChange
from smsdesk.sending import messages
from smsdesk.text import CountryMultipliers, EmptyMessage, check_length, credits_for, has_content, multiplier_for
from smsdesk.text.pricing import (
    COUNTRY_CODES,
    MAX_MULTIPLIER,
    MultiplierError,
    country_codes,
    normalise_multipliers,
    sanitise_multipliers,
)

# smsdesk loads phonenumbers on first use (not at a cold start): load it before hypothesis times examples.
country_codes()

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2

# -- pricing -------------------------------------------------------------------------------------------


def test_country_codes_are_the_regions_numbers_belong_to() -> None:
    assert {"NL", "BE", "GB", "US", "GG", "AC"} <= COUNTRY_CODES
    assert not {"XX", "ZZ", "UK", "EU", "001", "*"} & COUNTRY_CODES


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ({"*": 0}, "*"),
        ({"*": -2}, "*"),
        ({"NL": 0.5}, "NL"),
        ({"NL": 2.0}, "NL"),
        ({"NL": True}, "NL"),
        ({"NL": "2"}, "NL"),
        ({"NL": None}, "NL"),
        ({"NL": MAX_MULTIPLIER + 1}, "NL"),
        ({"XX": 1}, "XX"),
        ({"UK": 1}, "UK"),
        ({"NLD": 1}, "NLD"),
        ({" NL": 1}, " NL"),
        ({"": 1}, ""),
        ({1: 1}, 1),
        ({"nl": 2, "NL": 2}, "NL"),
    ],
)
def test_normalise_multipliers_names_the_bad_entry(given: dict[Any, Any], key: Any) -> None:
    with pytest.raises(MultiplierError) as exc:
        normalise_multipliers(given)
    assert exc.value.key == key


def test_normalise_multipliers_upper_cases_and_adds_the_wildcard() -> None:
    assert normalise_multipliers({"nl": 3, "Be": 2}) == {"NL": 3, "BE": 2, "*": 1}
    assert normalise_multipliers({}) == {"*": 1}
    assert normalise_multipliers({"*": MAX_MULTIPLIER}) == {"*": MAX_MULTIPLIER}


def test_sanitise_drops_what_is_not_valid() -> None:
    stored = {"*": 0, "NL": -3, "be": 0.5, "xx": 7, "de": 4, "FR": True, "IT": "3", "ES": 2}
    assert sanitise_multipliers(stored) == {"DE": 4, "ES": 2, "*": 1}
    assert sanitise_multipliers(None) == {"*": 1}
    assert sanitise_multipliers(["*", 0]) == {"*": 1}


junk = st.one_of(
    st.integers(-(10**12), 10**12), st.floats(allow_nan=True), st.booleans(), st.none(), st.text(max_size=3)
)
junk_maps = st.dictionaries(st.sampled_from(["*", "NL", "nl", "BE", "XX", ""]), junk, max_size=5)


@given(segments=st.integers(0, 10), country=st.sampled_from([None, "NL", "nl", "BE", "DE", "XX", ""]), m=junk_maps)
def test_pricing_never_goes_below_one_credit_per_segment(segments: int, country: str | None, m: dict) -> None:
    assert multiplier_for(country, m) >= 1
    assert isinstance(multiplier_for(country, m), int)
    assert credits_for(segments, country, m) >= segments


def test_multiplier_for_uses_valid_entries_only() -> None:
    assert multiplier_for("NL", {"NL": 0, "*": 3}) == 3
    assert multiplier_for("NL", {"NL": -1}) == 1
    assert multiplier_for("NL", {"NL": 2.5, "*": 0}) == 1
    assert multiplier_for("nl", {"NL": 4}) == 4
    assert credits_for(3, "NL", {"NL": True}) == 3


class _Settings(BaseModel):
    country_multipliers: CountryMultipliers


def test_the_field_type_names_the_entry_and_reads_stored_data_leniently() -> None:
    with pytest.raises(PydanticValidationError) as exc:
        _Settings.model_validate({"country_multipliers": {"NL": 2, "XX": 1}})
    assert exc.value.errors()[0]["loc"] == ("country_multipliers", "XX")
    with pytest.raises(PydanticValidationError) as exc:
        _Settings.model_validate({"country_multipliers": {"*": 0}})
    assert exc.value.errors()[0]["loc"] == ("country_multipliers", "*")
    with pytest.raises(PydanticValidationError):
        _Settings.model_validate({"country_multipliers": ["NL"]})
    stored = _Settings.model_validate({"country_multipliers": {"*": 0, "nl": 2}}, context={"stored": True})
    assert stored.country_multipliers == {"NL": 2, "*": 1}


# -- texts ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("", False),
        ("   ", False),
        ("\n\t\r\x0b\x0c", False),
        ("\x00\x07\x1b\x7f\x85", False),
        ("\u200b\u200c\u200d\u2060\ufeff\u00ad", False),  # zero-width, joiners, BOM, soft hyphen
        ("\u00a0\u2002\u3000\u2028\u2029", False),  # no-break, en, ideographic spaces; separators
        ("a", True),
        (" .", True),
        ("\x00x\x00", True),
        ("😀", True),
        ("é", True),
    ],
)
def test_has_content(text: str, ok: bool) -> None:
    assert has_content(text) is ok
    if not ok:
        with pytest.raises(EmptyMessage) as exc:
            check_length(text)
        assert exc.value.field == "text" and exc.value.status == 422


def test_message_text_fields_refuse_texts_without_content() -> None:
    with pytest.raises(PydanticValidationError) as exc:
        SendRequest(channel_id="C", to="+31612345678", text=" \u200b ")
    assert exc.value.errors()[0]["loc"] == ("text",)
    with pytest.raises(PydanticValidationError):
        SendRequest(channel_id="C", to="+31612345678", text="hi \ud800")
    assert SendRequest(channel_id="C", to="+31612345678", text=" hi ").text == " hi "  # sent as written


def test_a_message_is_never_recorded_for_free() -> None:
    now = dt.datetime.now(dt.UTC)
    msg = Message(
        id="M1",
        channel_id="C",
        to="+31612345678",
        sender="Acme",
        text="hi",
        encoding="GSM-7",
        segments=1,
        credits=0,
        status="queued",
        history=[StatusChange(status="queued", at=now)],
        created_at=now,
        provider="sandbox",
    )
    with pytest.raises(ValueError, match="0 credits"):
        messages._charge_and_record(msg)  # refused before any AWS call


# -- top-ups -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("credits", ["5", True, 5.0, 2.5, None, 0, -1, 10**9])
def test_top_ups_take_whole_numbers_only(credits: Any) -> None:
    with pytest.raises(PydanticValidationError) as exc:
        TopUpRequest.model_validate({"credits": credits, "reference": "x"})
    assert exc.value.errors()[0]["loc"] == ("credits",)
    assert TopUpRequest.model_validate({"credits": 5, "reference": "x"}).credits == 5


# -- provider settings and secrets -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "auth_token",
        "authToken",
        "authtoken",
        "secret",
        "client_secret",
        "clientSecret",
        "password",
        "db-passwd",
        "pwd",
        "api_key",
        "apiKey",
        "APIKEY",
        "key",
        "signing_key",
        "private_key",
        "AccessKeyId",
        "aws_secret_access_key",
        "credentials",
        "passphrase",
    ],
)
def test_looks_secret(key: str) -> None:
    assert looks_secret(key)


@pytest.mark.parametrize(
    "key", ["account_sid", "messaging_service_sid", "origination_identity", "configuration_set", "region", "keyword"]
)
def test_does_not_look_secret(key: str) -> None:
    assert not looks_secret(key)


def test_check_settings_per_provider() -> None:
    assert check_settings("sandbox", {}) == {}
    assert check_settings("aws_sms", {}) == {}
    assert check_settings("aws_sms", {"origination_identity": "+31612345678"}) == {
        "origination_identity": "+31612345678"
    }
    assert check_settings("twilio", {"account_sid": ACCOUNT_SID}) == {"account_sid": ACCOUNT_SID}
    cases = [
        ("sandbox", {"origination_identity": "x"}, "origination_identity", "not a sandbox setting"),
        ("sandbox", {"auth_token": "v"}, "auth_token", "provider_secret"),
        ("aws_sms", {"configuration_set": "bad name"}, "configuration_set", "pattern"),
        ("aws_sms", {"origination_identity": 5}, "origination_identity", "string"),
        ("twilio", {}, "account_sid", "required"),
        ("twilio", {"account_sid": "AC1"}, "account_sid", "pattern"),
        ("twilio", {"account_sid": ACCOUNT_SID, "token": "v"}, "token", "provider_secret"),
    ]
    for provider, settings, key, words in cases:
        with pytest.raises(SettingsError) as exc:
            check_settings(provider, settings)
        assert exc.value.key == key and words in exc.value.message, (provider, settings, exc.value.message)
        assert "v" not in exc.value.message.split()


def test_check_secret_per_provider() -> None:
    assert check_secret("sandbox", {}) == {}
    assert check_secret("sandbox", {"signing_key": "k" * 32}) == {"signing_key": "k" * 32}
    assert check_secret("aws_sms", {}) == {}
    assert check_secret("twilio", {"auth_token": "t"}) == {"auth_token": "t"}
    for provider, secret, key in [
        ("twilio", {}, "auth_token"),
        ("twilio", {"auth_token": ""}, "auth_token"),
        ("twilio", {"webhook_shared_key": "k"}, "auth_token"),
        ("twilio", {"auth_token": "t", "account_sid": ACCOUNT_SID}, "account_sid"),
        ("aws_sms", {"password": "p"}, "password"),
        ("sandbox", {"signing_key": ""}, "signing_key"),
        ("sandbox", {"token": "t"}, "token"),
    ]:
        with pytest.raises(SettingsError) as exc:
            check_secret(provider, secret)
        assert exc.value.key == key, (provider, secret)


def test_stored_settings_keep_known_keys_only() -> None:
    assert stored_settings("twilio", {"account_sid": ACCOUNT_SID, "auth_token": "leaked"}) == {
        "account_sid": ACCOUNT_SID
    }
    assert stored_settings("sandbox", {"anything": "x"}) == {}
    assert stored_settings("nokia", {"a": "b"}) == {}


def _stored_channel(**over: Any) -> dict[str, Any]:
    now = "2026-01-01T00:00:00.000Z"
    return {
        "id": "C1",
        "name": "n",
        "type": "two_way",
        "sender": "+31612345678",
        "provider": "twilio",
        "provider_settings": {"account_sid": ACCOUNT_SID},
        "created_at": now,
        "updated_at": now,
        **over,
    }


def test_a_stored_channel_is_read_leniently_and_a_new_one_strictly() -> None:
    item = _stored_channel(
        provider_settings={"account_sid": ACCOUNT_SID, "auth_token": "leaked"},
        country_multipliers={"*": 0, "NL": 3},
        help_text="  ",
        business_hours={"out_of_hours_message": "\u200b"},
    )
    ch = channels._load(item)
    assert ch.provider_settings == {"account_sid": ACCOUNT_SID}
    assert ch.country_multipliers == {"NL": 3, "*": 1}
    assert ch.help_text is None and ch.business_hours.out_of_hours_message is None
    with pytest.raises(PydanticValidationError) as exc:
        Channel.model_validate(item)
    locs = {e["loc"] for e in exc.value.errors()}
    assert {
        ("provider_settings", "auth_token"),
        ("country_multipliers", "*"),
        ("help_text",),
        ("business_hours", "out_of_hours_message"),
    } <= locs
    assert "leaked" not in str(exc.value)  # a credential in the wrong place is never echoed


def test_the_channel_models_type_the_settings() -> None:
    with pytest.raises(PydanticValidationError) as exc:
        channels.ChannelCreate(name="x", type="two_way", sender="+31612345678", provider="twilio")
    assert exc.value.errors()[0]["loc"] == ("provider_settings", "account_sid")  # the default {} is checked too
    with pytest.raises(PydanticValidationError) as exc:
        channels.ChannelPatch.model_validate({"country_multipliers": {"NL": 0}})
    assert exc.value.errors()[0]["loc"] == ("country_multipliers", "NL")
    with pytest.raises(PydanticValidationError) as exc:
        channels.ChannelPatch.model_validate({"help_text": "\x00"})
    assert exc.value.errors()[0]["loc"] == ("help_text",)
