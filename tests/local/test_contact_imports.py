"""Contact imports (CSV through a presigned POST, the S3 event, the imports function) and the CSV export,
through the local stack (issue 13 item 5)."""

from __future__ import annotations

import csv
import io
import time
from typing import Any

import pytest
import requests

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def api(stack: LocalStack, http: Any) -> Any:
    def call(method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        status, _, out = http(method, f"{stack.base_url}{path}", headers=auth(stack.token), body=body)
        if expect is not None:
            assert status == expect, (method, path, status, out)
            return out
        return status, out

    return call


@pytest.fixture(scope="module")
def fields(api: Any) -> None:
    api("POST", "/v1/contact-fields", {"key": "city", "label": "City", "type": "text"}, 201)
    api("POST", "/v1/contact-fields", {"key": "age", "label": "Age", "type": "number"}, 201)
    api("POST", "/v1/contact-fields", {"key": "member", "label": "Membre", "type": "boolean"}, 201)


def upload(started: dict[str, Any], data: bytes) -> None:
    up = started["upload"]
    resp = requests.post(up["url"], data=up["fields"], files={"file": ("contacts.csv", data)}, timeout=10)
    assert resp.status_code in (200, 201, 204), resp.text


def run_import(api: Any, data: bytes, timeout: float = 30.0, **body: Any) -> dict[str, Any]:
    started = api("POST", "/v1/contact-imports", body, 201)
    assert started["import"]["status"] == "waiting_upload"
    upload(started, data)
    return wait_done(api, started["import"]["id"], timeout)


def wait_done(api: Any, import_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        got = api("GET", f"/v1/contact-imports/{import_id}", expect=200)
        if got["status"] in ("done", "failed"):
            return got
        assert time.monotonic() < deadline, got
        time.sleep(0.2)


def by_mobile(api: Any, e164: str) -> list[dict[str, Any]]:
    q = e164.replace("+", "%2B")
    return api("GET", f"/v1/contacts?q={q}", expect=200)["items"]


GOOD_AND_BAD = (
    "first_name,last_name,mobile,email,city,age\n"
    "Anna,Lind,0612340001,anna@example.org,Lyon,34\n"  # line 2
    "Bert,Bad,not a number,,Lyon,20\n"  # line 3: mobile
    "Carla,Cruz,0612340003,carla@,Paris,41\n"  # line 4: email
    'Dirk,"De Vries, Jr.",0612340004,,Lyon,old\n'  # line 5: age (a number field)
    '"Eva","Multi\nLine",0612340005,,Lyon,17\n'  # lines 6-7 (a quoted line break)
    "Fay,Fine,+33612340006,,Lyon,18\n"  # line 8
)


def test_bad_rows_are_reported_and_good_rows_imported(api: Any, fields: None) -> None:
    result = run_import(api, GOOD_AND_BAD.encode(), file_name="members.csv")
    assert result["status"] == "done", result
    assert (result["rows_total"], result["rows"], result["created"], result["updated"], result["failed"]) == (
        6,
        6,
        3,
        0,
        3,
    )
    errors = {e["line"]: (e["column"], e["field"]) for e in result["errors"]}
    assert errors == {3: ("mobile", "mobile"), 4: ("email", "email"), 5: ("age", "custom_fields.age")}
    assert result["columns"]["city"] == "custom_fields.city" and result["encoding"] == "utf-8"
    [anna] = by_mobile(api, "+31612340001")
    assert anna["custom_fields"] == {"city": "Lyon", "age": 34} and anna["email"] == "anna@example.org"
    [eva] = by_mobile(api, "+31612340005")
    assert eva["last_name"] == "Multi\nLine" and eva["custom_fields"]["age"] == 17
    [fay] = by_mobile(api, "+33612340006")
    assert fay["time_zone"] == "Europe/Paris"
    assert by_mobile(api, "+31612340003") == []


def test_the_same_file_twice_updates_instead_of_duplicating(api: Any, fields: None) -> None:
    data = b"Prenom,Nom,Telephone,Age\nGus,Grey,0612340101,30\nHan,Holt,0612340102,31\n"
    first = run_import(api, data)
    assert (first["created"], first["updated"], first["failed"]) == (2, 0, 0), first
    second = run_import(api, data.replace(b"30", b"33"))
    assert (second["created"], second["updated"], second["failed"]) == (0, 2, 0), second
    [gus] = by_mobile(api, "+31612340101")
    assert gus["custom_fields"]["age"] == 33 and gus["first_name"] == "Gus"
    assert len(by_mobile(api, "+31612340102")) == 1


def test_excel_utf16_semicolon_file(api: Any, fields: None) -> None:
    text = "Prénom;Nom;Mobile;Age;Membre\r\nÉlise;Dupré;06 12 34 02 01;12,0;oui\r\nJoël;Noël;0612340202;;non\r\n"
    data = b"\xff\xfe" + text.encode("utf-16-le")  # Excel's "Unicode text" with ; (BOM, CRLF)
    result = run_import(api, data)
    assert result["status"] == "done" and result["created"] == 2 and result["failed"] == 0, result
    assert result["encoding"] == "utf-16" and result["delimiter"] == ";"
    [elise] = by_mobile(api, "+31612340201")
    assert (elise["first_name"], elise["last_name"]) == ("Élise", "Dupré")
    assert elise["custom_fields"] == {"age": 12, "member": True}


def test_import_into_a_static_group_with_a_mapping(api: Any, fields: None) -> None:
    group = api("POST", "/v1/groups", {"name": "Imported U12", "kind": "static"}, 201)
    data = b"Kid,Phone,Ignored\nIvo,0612340301,x\nJet,0612340302,y\nbad,12,z\n"
    result = run_import(
        api, data, group_id=group["id"], mapping={"Kid": "first_name", "Phone": "mobile", "Ignored": None}
    )
    assert (result["created"], result["failed"]) == (2, 1), result
    assert result["errors"][0]["line"] == 4 and result["errors"][0]["column"] == "Phone"
    members = api("GET", f"/v1/groups/{group['id']}/members", expect=200)["items"]
    assert sorted(m["first_name"] for m in members) == ["Ivo", "Jet"]


def test_invalid_requests(api: Any, fields: None) -> None:
    status, out = api("POST", "/v1/contact-imports", {"mapping": {"A": "shoe_size"}})
    assert status == 422 and out["error"]["field"] == "mapping.A"
    status, out = api("POST", "/v1/contact-imports", {"group_id": "nope"})
    assert status == 404 and out["error"]["field"] == "group_id"
    status, out = api("GET", "/v1/contact-imports/nope")
    assert status == 404
    result = run_import(api, b"shoe,size\n1,2\n")
    assert result["status"] == "failed" and result["error"]["field"] == "file", result


def test_a_long_file_continues_across_invocations(api: Any, stack: LocalStack, fields: None) -> None:
    rows = "".join(f"P{i},06123405{i:02d}\n" for i in range(60))
    with stack.configure("imports", IMPORT_MAX_ROWS_PER_INVOCATION="25"):
        result = run_import(api, f"first_name,mobile\n{rows}".encode())
    assert (result["created"], result["rows"], result["failed"]) == (60, 60, 0), result
    runs = [e for e in stack.invocations.entries() if e.get("function") == "imports"]
    assert len(runs) >= 3


def test_export_round_trip(api: Any, http: Any, stack: LocalStack, fields: None) -> None:
    group = api("POST", "/v1/groups", {"name": "Export me", "kind": "static"}, 201)
    data = b"first_name,mobile,city,tags\nKees,0612340601,Delft,a|b\nLot,0612340602,Gouda,\n"
    assert run_import(api, data, group_id=group["id"])["created"] == 2
    status, headers, body = http("GET", f"{stack.base_url}/v1/contacts/export?group_id={group['id']}",
                                 headers=auth(stack.token))  # fmt: skip
    assert status == 200 and headers["content-type"].startswith("text/csv"), (status, body)
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))
    assert sorted((r["first_name"], r["mobile"], r["city"], r["tags"]) for r in rows) == [
        ("Kees", "+31612340601", "Delft", "a|b"),
        ("Lot", "+31612340602", "Gouda", ""),
    ]
    # the export imports back unchanged: every row updates its contact, nothing is created
    again = run_import(api, body.encode("utf-8"))
    assert (again["created"], again["updated"], again["failed"]) == (0, 2, 0), again
    everyone = http("GET", f"{stack.base_url}/v1/contacts/export", headers=auth(stack.token))[2]
    assert len(list(csv.DictReader(io.StringIO(everyone.lstrip("\ufeff"))))) >= 2
    status, _, _ = http("GET", f"{stack.base_url}/v1/contacts/export?group_id=nope", headers=auth(stack.token))
    assert status == 404


def test_a_redelivered_event_or_a_redone_batch_counts_and_creates_nothing_twice(
    api: Any, stack: LocalStack, fields: None
) -> None:
    import json

    import boto3

    from smsdesk.crm import csvfile, imports
    from smsdesk.local.s3_events import s3_event

    assert run_import(api, b"first_name,mobile\nOla,0612340701\n")["created"] == 1
    data = b"first_name,mobile\nOla,0612340701\nPim,\n"
    result = run_import(api, data)
    assert (result["created"], result["updated"]) == (1, 1), result
    # S3 delivers at least once: the same event again changes nothing
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name=stack.region)
    bucket = stack.resources.buckets["uploads"]
    event = s3_event(bucket, imports.object_key(result["id"]), len(data), stack.region)
    since = stack.invocations.last_seq
    sqs.send_message(QueueUrl=stack.env["IMPORTS_QUEUE_URL"], MessageBody=json.dumps(event))
    stack.invocations.wait_for(lambda e: e.get("function") == "imports", since=since, timeout=20)
    assert api("GET", f"/v1/contact-imports/{result['id']}", expect=200) == result
    # a batch that ran but died before its progress was recorded is redone: the same contacts come out
    # (found by number, or by the id derived from the import and line for a row without a number)
    columns, _ = csvfile.map_headers(["first_name", "mobile"], {})
    rows = [(2, ["Ola", "0612340701"]), (3, ["Pim", ""])]
    first = imports.process_rows("imp-x", rows, columns, {})
    again = imports.process_rows("imp-x", rows, columns, {})
    assert (first.created, again.created, again.updated) == (1, 1, 1)
    assert again.contact_ids == first.contact_ids
    assert len(api("GET", "/v1/contacts?q=pim", expect=200)["items"]) == 2  # this import's Pim and the earlier one


def test_the_columns_a_header_maps_to_before_the_upload(api: Any, fields: None) -> None:
    """The web app's mapping editor starts from what the import would do with the file's header."""
    out = api("POST", "/v1/contact-imports/columns", {"header": '\ufeffPrénom;Nom;GSM;"Ville";Membre;Shoe\r'}, 200)
    assert out["delimiter"] == ";"
    assert out["columns"] == [
        {"header": "Prénom", "field": "first_name"},
        {"header": "Nom", "field": "last_name"},
        {"header": "GSM", "field": "mobile"},
        {"header": "Ville", "field": None},  # no alias, no custom field labelled so
        {"header": "Membre", "field": "custom_fields.member"},  # a custom field's label
        {"header": "Shoe", "field": None},
    ]
    out = api("POST", "/v1/contact-imports/columns", {"header": "city,age,mobile,mobile"}, 200)
    assert [c["field"] for c in out["columns"]] == ["custom_fields.city", "custom_fields.age", "mobile", "mobile"]
    status, err = api("POST", "/v1/contact-imports/columns", {"header": "  "})
    assert status == 422 and err["error"]["field"] == "header", err


def test_past_imports_newest_first(api: Any, fields: None) -> None:
    first = run_import(api, b"first_name,mobile\nOla,0612340401\n", file_name="one.csv")
    second = run_import(api, b"first_name,mobile\nPim,0612340402\n", file_name="two.csv")
    page = api("GET", "/v1/contact-imports?limit=2", expect=200)
    assert [(i["id"], i["file_name"], i["status"]) for i in page["items"]] == [
        (second["id"], "two.csv", "done"),
        (first["id"], "one.csv", "done"),
    ]


def test_rows_without_a_mobile_are_matched_by_email_on_a_second_import(api: Any, fields: None) -> None:
    data = b"first_name,email,city\nQuinn,quinn@example.org,Lyon\nRia,RIA@example.org,Paris\nSol,,Lille\n"
    first = run_import(api, data)
    assert (first["created"], first["updated"], first["failed"]) == (3, 0, 0), first
    again = run_import(api, data.replace(b"Paris", b"Nice"))
    assert (again["created"], again["updated"], again["failed"]) == (1, 2, 0), again  # Sol has nothing to match
    ria = api("GET", "/v1/contacts?q=ria%40example.org", expect=200)["items"]
    assert len(ria) == 1 and ria[0]["custom_fields"]["city"] == "Nice"
    assert len(api("GET", "/v1/contacts?q=quinn", expect=200)["items"]) == 1
    twice = run_import(api, b"first_name,email\nTia,tia@example.org\nTia B,TIA@Example.org\n")
    assert (twice["created"], twice["updated"]) == (1, 1), twice  # one file naming an e-mail twice: one contact
    status, _ = api("POST", "/v1/contacts", {"first_name": "Other Tia", "email": "tia@example.org"})
    assert status == 201
    torn = run_import(api, b"first_name,email\nTia C,tia@example.org\n")
    assert torn["failed"] == 1 and torn["errors"][0]["code"] == "ambiguous_email", torn
    assert torn["errors"][0]["column"] == "email"


def test_an_export_beyond_the_inline_limit_is_a_file_to_download(
    api: Any, http: Any, stack: LocalStack, fields: None, make_user: Any
) -> None:
    """Over the inline limit (20,000; 3 here) the CSV is written to the exports bucket and answered as a
    presigned download link, instead of a 413."""
    group = api("POST", "/v1/groups", {"name": "Big export", "kind": "static"}, 201)
    data = (
        b"first_name,mobile,city\nUma,0612340901,Lyon\nVic,0612340902,Nice\nWes,0612340903,Metz\nXia,0612340904,Pau\n"
    )
    assert run_import(api, data, group_id=group["id"])["created"] == 4
    with stack.configure("api", EXPORT_INLINE_MAX_CONTACTS="3"):
        status, _, body = http(
            "GET", f"{stack.base_url}/v1/contacts/export?group_id={group['id']}", headers=auth(stack.token)
        )
        assert status == 413 and body["error"]["code"] == "export_too_large", body
        assert "POST /v1/contacts/exports" in body["error"]["message"]
        out = api("POST", "/v1/contacts/exports", {"group_id": group["id"]}, 201)
        assert out["contacts"] == 4 and out["expires_at"]
        resp = requests.get(out["download_url"], timeout=10)
        assert resp.status_code == 200, resp.text
        assert 'filename="contacts-' in resp.headers.get("content-disposition", "")
        rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
        assert sorted((r["first_name"], r["city"]) for r in rows) == [
            ("Uma", "Lyon"), ("Vic", "Nice"), ("Wes", "Metz"), ("Xia", "Pau")
        ]  # fmt: skip
        everyone = api("POST", "/v1/contacts/exports", {}, 201)
        assert everyone["contacts"] >= 4
        status, err = api("POST", "/v1/contacts/exports", {"group_id": "nope"})
        assert status == 404 and err["error"]["field"] == "group_id", err
        _, agent = make_user("agent")
        status, _, err = http("POST", f"{stack.base_url}/v1/contacts/exports", headers=auth(agent), body={})
        assert status == 403, err
