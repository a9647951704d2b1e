"""Money through the local stack: no channel setting makes an SMS free or negative, the preview never
answers 500, texts without content are refused, top-ups take whole numbers only (issue 10, item 2)."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local

NUMBER = "+31612345678"


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def make_channel(stack: LocalStack, http: Any, **settings: Any) -> dict[str, Any]:
    body = {"name": f"ch-{uuid.uuid4().hex[:8]}", "type": "one_way", "sender": "Shop", "provider": "sandbox"}
    status, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack.token), body={**body, **settings})
    assert status == 201, ch
    return ch


def balance(stack: LocalStack, http: Any) -> int:
    status, _, body = http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack.token))
    assert status == 200, body
    return body["balance"]


@pytest.fixture(scope="module")
def channel(stack: LocalStack, http: Any) -> dict[str, Any]:
    ch = make_channel(stack, http)
    status, _, body = http(
        "POST",
        f"{stack.base_url}/v1/credits/top-ups",
        headers=auth(stack.token),
        body={"credits": 1000, "reference": "t"},
    )
    assert status == 201, body
    return ch


# -- country_multipliers --------------------------------------------------------------------------------

BAD_MULTIPLIERS = [
    ({"*": 0}, "country_multipliers.*"),
    ({"*": -1}, "country_multipliers.*"),
    ({"NL": 0.5}, "country_multipliers.NL"),
    ({"NL": 2.0}, "country_multipliers.NL"),
    ({"NL": True}, "country_multipliers.NL"),
    ({"NL": "2"}, "country_multipliers.NL"),
    ({"NL": None}, "country_multipliers.NL"),
    ({"NL": 10**40}, "country_multipliers.NL"),
    ({"XX": 1}, "country_multipliers.XX"),
    ({"NLD": 1}, "country_multipliers.NLD"),
    ({"": 1}, "country_multipliers."),
    ({"N1": 2}, "country_multipliers.N1"),
    ({"nl": 2, "NL": 3}, "country_multipliers.NL"),
]


@pytest.mark.parametrize(("multipliers", "field"), BAD_MULTIPLIERS)
def test_country_multipliers_refuse_what_is_not_a_country_and_a_whole_number_from_one(
    stack: LocalStack, http: Any, channel: dict[str, Any], multipliers: dict[str, Any], field: str
) -> None:
    body = {"name": "Bad", "type": "one_way", "sender": "Shop", "provider": "sandbox"}
    status, _, out = http(
        "POST",
        f"{stack.base_url}/v1/channels",
        headers=auth(stack.token),
        body={**body, "country_multipliers": multipliers},
    )
    assert status == 422, out
    assert out["error"]["field"] == field, out
    status, _, out = http(
        "PATCH",
        f"{stack.base_url}/v1/channels/{channel['id']}",
        headers=auth(stack.token),
        body={"country_multipliers": multipliers},
    )
    assert status == 422, out
    assert out["error"]["field"] == field, out
    _, _, got = http("GET", f"{stack.base_url}/v1/channels/{channel['id']}", headers=auth(stack.token))
    assert got["country_multipliers"] == {"*": 1}  # unchanged


def test_country_multipliers_are_upper_cased_and_priced(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    ch = make_channel(stack, http, country_multipliers={"nl": 3, "be": 2})
    assert ch["country_multipliers"] == {"NL": 3, "BE": 2, "*": 1}
    before = balance(stack, http)
    status, _, msg = http(
        "POST",
        f"{stack.base_url}/v1/messages",
        headers=auth(stack.token),
        body={"channel_id": ch["id"], "to": NUMBER, "text": "a" * 200},
    )
    assert status == 202, msg
    assert (msg["segments"], msg["credits"]) == (2, 6)
    assert balance(stack, http) == before - 6


def _store_multipliers(stack: LocalStack, channel_id: str, multipliers: dict[str, Any]) -> None:
    """What an older version (or a hand edit) may have stored: written straight into DynamoDB."""
    ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name=stack.region)
    from smsdesk.data import table

    ddb.update_item(
        TableName=stack.env["TABLE_NAME"],
        Key={"PK": {"S": f"CHANNEL#{channel_id}"}, "SK": {"S": "META"}},
        UpdateExpression="SET country_multipliers = :m",
        ExpressionAttributeValues={":m": table.serialize({"m": multipliers})["m"]},
    )


def test_stored_bad_multipliers_never_make_sms_free(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    ch = make_channel(stack, http)
    _store_multipliers(stack, ch["id"], {"*": 0, "NL": -3, "be": 0.5, "xx": 7, "DE": 4})

    status, _, got = http("GET", f"{stack.base_url}/v1/channels/{ch['id']}", headers=auth(stack.token))
    assert status == 200, got
    assert all(isinstance(v, int) and v >= 1 for v in got["country_multipliers"].values()), got
    assert got["country_multipliers"]["DE"] == 4

    for to, per_segment in [(NUMBER, 1), ("+32470123456", 1), ("+4915123456789", 4), ("+447911123456", 1)]:
        status, _, pv = http(
            "POST",
            f"{stack.base_url}/v1/messages/preview",
            headers=auth(stack.token),
            body={"text": "a" * 200, "channel_id": ch["id"], "to": to},
        )
        assert status == 200, (to, pv)
        assert (pv["segments"], pv["credits"]) == (2, 2 * per_segment), (to, pv)
        before = balance(stack, http)
        status, _, msg = http(
            "POST",
            f"{stack.base_url}/v1/messages",
            headers=auth(stack.token),
            body={"channel_id": ch["id"], "to": to, "text": "a" * 200},
        )
        assert status == 202, (to, msg)
        assert msg["credits"] == 2 * per_segment, (to, msg)
        assert balance(stack, http) == before - 2 * per_segment

    # a PATCH of anything else stores the sanitised multipliers, which are valid input
    status, _, out = http(
        "PATCH", f"{stack.base_url}/v1/channels/{ch['id']}", headers=auth(stack.token), body={"name": "Fixed"}
    )
    assert status == 200, out
    assert out["country_multipliers"] == got["country_multipliers"]


# -- texts ------------------------------------------------------------------------------------------------

EMPTY_TEXTS = ["", "   ", " \n\t\r ", "\x00", "\x07\x1b\x7f", "\u200b\u200d\ufeff", "\u00a0\u2028", "\x85"]


@pytest.mark.parametrize("text", EMPTY_TEXTS)
def test_a_text_without_content_is_refused_on_send_and_preview(
    stack: LocalStack, http: Any, channel: dict[str, Any], text: str
) -> None:
    before = balance(stack, http)
    status, _, out = http(
        "POST",
        f"{stack.base_url}/v1/messages",
        headers=auth(stack.token),
        body={"channel_id": channel["id"], "to": NUMBER, "text": text},
    )
    assert status == 422 and out["error"]["field"] == "text", out
    assert balance(stack, http) == before
    for body in ({"text": text}, {"text": text, "channel_id": channel["id"], "to": NUMBER}):
        status, _, out = http("POST", f"{stack.base_url}/v1/messages/preview", headers=auth(stack.token), body=body)
        assert status == 422 and out["error"]["field"] == "text", out


def test_a_text_with_content_around_control_characters_is_sent(
    stack: LocalStack, http: Any, channel: dict[str, Any]
) -> None:
    status, _, out = http(
        "POST",
        f"{stack.base_url}/v1/messages",
        headers=auth(stack.token),
        body={"channel_id": channel["id"], "to": NUMBER, "text": "  hi\n"},
    )
    assert status == 202, out
    assert out["credits"] == 1


def test_a_preview_merged_to_nothing_is_refused(stack: LocalStack, http: Any) -> None:
    status, _, out = http(
        "POST",
        f"{stack.base_url}/v1/messages/preview",
        headers=auth(stack.token),
        body={"text": "{{name|}}", "fields": {"name": " "}},
    )
    assert status == 422 and out["error"]["field"] == "text", out


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"help_text": "  "}, "help_text"),
        ({"help_text": "\x00"}, "help_text"),
        ({"business_hours": {"out_of_hours_message": "\u200b"}}, "business_hours.out_of_hours_message"),
    ],
)
def test_auto_reply_texts_without_content_are_refused(
    stack: LocalStack, http: Any, channel: dict[str, Any], settings: dict[str, Any], field: str
) -> None:
    body = {"name": "Bad", "type": "two_way", "sender": "+31612349999", "provider": "sandbox", **settings}
    status, _, out = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack.token), body=body)
    assert status == 422 and out["error"]["field"] == field, out
    status, _, out = http(
        "PATCH", f"{stack.base_url}/v1/channels/{channel['id']}", headers=auth(stack.token), body=settings
    )
    assert status == 422 and out["error"]["field"] == field, out


# -- the preview never answers 500 ---------------------------------------------------------------------------


def test_preview_answers_4xx_not_500_for_odd_input(stack: LocalStack, http: Any, channel: dict[str, Any]) -> None:
    cid = channel["id"]
    odd: list[dict[str, Any]] = [
        {"text": "hi", "to": "+"},
        {"text": "hi", "to": "++31612345678"},
        {"text": "hi", "to": "0" * 5000},
        {"text": "hi", "to": "\x00"},
        {"text": "hi", "to": "😀"},
        {"text": "hi", "to": "+800 1234 5678"},  # non-geographic: no country
        {"text": "hi", "to": "+882 1234 5678"},
        {"text": "hi", "channel_id": ""},
        {"text": "hi", "channel_id": "x" * 3000},
        {"text": "hi", "channel_id": "\x00"},
        {"text": "hi", "channel_id": cid, "to": "+"},
        {"text": "{{", "channel_id": cid},
        {"text": "{{a}}", "fields": {}},
        {"text": "{{a}}", "fields": {"a": "\x00" * 5000}},
        {"text": "𝄞" * 5000},
        {"text": "a" * 5001},
        {"text": "hi", "fields": {"x" * 10_000: "y"}},
    ]
    for body in odd:
        status, _, out = http("POST", f"{stack.base_url}/v1/messages/preview", headers=auth(stack.token), body=body)
        assert 200 <= status < 500, (body, status, out)
        if status >= 400:
            assert set(out["error"]) >= {"code", "message", "field"}, out


def test_preview_with_a_channel_whose_settings_are_odd(stack: LocalStack, http: Any) -> None:
    ch = make_channel(stack, http)
    ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name=stack.region)
    ddb.update_item(
        TableName=stack.env["TABLE_NAME"],
        Key={"PK": {"S": f"CHANNEL#{ch['id']}"}, "SK": {"S": "META"}},
        UpdateExpression="SET default_region = :r, max_segments = :s",
        ExpressionAttributeValues={":r": {"S": "ZZ"}, ":s": {"N": "10"}},
    )
    status, _, out = http(
        "POST",
        f"{stack.base_url}/v1/messages/preview",
        headers=auth(stack.token),
        body={"text": "hi", "channel_id": ch["id"], "to": "0612345678"},
    )
    # a region stored before regions were checked is ignored: the account's default (NL) applies
    assert status == 200 and out["to"] == "+31612345678", out
    status, _, out = http(
        "POST",
        f"{stack.base_url}/v1/messages/preview",
        headers=auth(stack.token),
        body={"text": "hi", "channel_id": ch["id"], "to": NUMBER},
    )
    assert status == 200 and out["credits"] == 1, out
