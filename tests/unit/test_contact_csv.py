"""Reading contact CSVs (pure): encodings and delimiters spreadsheets write, header mapping, cell values."""

from __future__ import annotations

import codecs
import datetime as dt

import pytest

from smsdesk.crm import csvfile
from smsdesk.crm.fields import FieldDefinition
from smsdesk.errors import ValidationError

TEXT = "Prénom;Nom;Téléphone\r\nÉlise;Dupré;0612345678\r\n"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def field(key: str, kind: str, label: str | None = None, options: list[str] | None = None) -> FieldDefinition:
    return FieldDefinition(key=key, label=label or key.title(), type=kind, options=options, created_at=NOW)  # type: ignore[arg-type]


CUSTOM = {
    "city": field("city", "text", "Ville"),
    "age": field("age", "number"),
    "member": field("member", "boolean"),
    "born": field("born", "date"),
    "size": field("size", "choice", options=["S", "M"]),
}


@pytest.mark.parametrize(
    "data,encoding",
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("cp1252"), "cp1252"),
    ],
    ids=["utf-8", "utf-8 BOM", "utf-16 LE (Excel)", "utf-16 BE", "windows-1252"],
)
def test_decode_what_spreadsheets_write(data: bytes, encoding: str) -> None:
    text, found = csvfile.decode(data)
    assert (text, found) == (TEXT, encoding)


def test_a_broken_utf16_file_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        csvfile.decode(codecs.BOM_UTF16_LE + b"a\x00b")
    assert exc.value.field == "file"


@pytest.mark.parametrize(
    "header,delimiter",
    [
        ("first_name,last_name,mobile", ","),
        ("first_name;last_name;mobile", ";"),
        ("first_name\tlast_name\tmobile", "\t"),
        ('"Name, full";mobile', ";"),  # a comma inside quotes does not count
        ('"a;b",c', ","),
        ("mobile", ","),  # one column
        ("a;b,c;d", ";"),
    ],
)
def test_sniff_delimiter_from_the_header(header: str, delimiter: str) -> None:
    assert csvfile.sniff_delimiter(header + "\n1,2;3\n") == delimiter


def test_records_carry_the_line_they_start_on() -> None:
    text = 'a,b\n1,2\n"multi\nline",3\n\n4,5\n'
    assert list(csvfile.records(text, ",")) == [
        (1, ["a", "b"]),
        (2, ["1", "2"]),
        (3, ["multi\nline", "3"]),
        (5, []),
        (6, ["4", "5"]),
    ]


def test_headers_map_by_name_alias_key_and_label() -> None:
    headers = ["\ufeffPrénom", "NOM", "E-mail", "Téléphone", "Ville", "age", "custom_fields.size", "Shoe size", ""]
    columns, unmapped = csvfile.map_headers(headers, CUSTOM)
    assert [(c.index, c.field) for c in columns] == [
        (0, "first_name"),
        (1, "last_name"),
        (2, "email"),
        (3, "mobile"),
        (4, "custom_fields.city"),
        (5, "custom_fields.age"),
        (6, "custom_fields.size"),
    ]
    assert unmapped == ["Shoe size"]


def test_an_explicit_mapping_reads_only_mapped_columns() -> None:
    columns, unmapped = csvfile.map_headers(
        ["Kid", "Phone", "Mail"], CUSTOM, {"Kid": "first_name", "Phone": "mobile", "Mail": None}
    )
    assert [(c.header, c.field) for c in columns] == [("Kid", "first_name"), ("Phone", "mobile")]
    assert unmapped == ["Mail"]


@pytest.mark.parametrize(
    "headers,mapping,field",
    [
        (["a"], {"b": "mobile"}, "mapping.b"),  # a column the file lacks
        (["a"], {"a": "shoe"}, "mapping.a"),  # not a field
        (["mobile", "Phone"], None, "file"),  # two columns fill one field
        (["x", "y"], None, "file"),  # nothing maps
    ],
)
def test_mapping_errors_name_the_problem(headers: list[str], mapping: dict | None, field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        csvfile.map_headers(headers, CUSTOM, mapping)
    assert exc.value.field == field


@pytest.mark.parametrize(
    "kind,raw,expected",
    [
        ("number", "12", 12),
        ("number", "12,5", 12.5),
        ("number", "1 234", 1234),
        ("number", "12.0", 12),
        ("boolean", "Oui", True),
        ("boolean", "nee", False),
        ("boolean", "1", True),
        ("date", "2020-02-29", "2020-02-29"),
        ("date", "29/02/2020", "2020-02-29"),
        ("date", "1.3.2021", "2021-03-01"),
        ("choice", "m", "M"),
        ("text", " Lyon ", "Lyon"),
    ],
)
def test_cell_values_convert_to_the_field_type(kind: str, raw: str, expected: object) -> None:
    assert csvfile.custom_value(kind, raw, field="custom_fields.x", options=["S", "M"]) == expected


@pytest.mark.parametrize("kind,raw", [("number", "old"), ("boolean", "maybe"), ("date", "31/02/2020")])
def test_bad_cells_name_their_field(kind: str, raw: str) -> None:
    with pytest.raises(ValidationError) as exc:
        csvfile.custom_value(kind, raw, field="custom_fields.x")
    assert exc.value.field == "custom_fields.x"


def test_tags_split_on_bars_and_commas() -> None:
    assert csvfile.split_tags("a| b ,c,,") == ["a", "b", "c"]
