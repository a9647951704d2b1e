"""Reading a contacts CSV (pure): encoding, delimiter, header mapping and cell values.

What spreadsheets write: UTF-8 with or without a BOM (Excel's "CSV UTF-8", Google Sheets, LibreOffice),
UTF-16 with a BOM (Excel's "Unicode text", tab-separated, and UTF-16 CSVs with ``;``), and the legacy
Windows code page (Excel's plain "CSV" on Windows, read as cp1252 when the bytes are not UTF-8).
Excel in locales with a decimal comma (fr, nl, de, es, ...) separates fields with ``;``.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from smsdesk.crm.search import fold
from smsdesk.errors import ValidationError

DELIMITERS = (",", ";", "\t", "|")
#: Built-in contact fields a column can fill.
IMPORTABLE = ("first_name", "last_name", "mobile", "other_phone", "email", "language", "time_zone", "tags")

#: Header names (folded, non-alphanumerics as ``_``) recognised for each built-in field.
ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "firstname", "first", "given_name", "forename", "prenom", "voornaam", "vorname",
                   "nombre"),
    "last_name": ("last_name", "lastname", "last", "surname", "family_name", "nom", "nom_de_famille", "achternaam",
                  "nachname", "apellido", "apellidos"),
    "mobile": ("mobile", "mobile_phone", "mobile_number", "cell", "cell_phone", "cellphone", "phone", "phone_number",
               "telephone", "tel", "gsm", "portable", "mobiel", "mobiel_nummer", "handy", "handynummer", "movil",
               "telefono", "telefoon", "number", "numero", "msisdn"),
    "other_phone": ("other_phone", "phone_2", "telephone_2", "home_phone", "landline", "fixe", "telephone_fixe",
                    "vaste_telefoon", "festnetz"),
    "email": ("email", "e_mail", "mail", "email_address", "e_mail_address", "courriel", "adresse_email",
              "adresse_e_mail"),
    "language": ("language", "lang", "langue", "taal", "sprache", "idioma"),
    "time_zone": ("time_zone", "timezone", "tz", "fuseau_horaire", "zeitzone"),
    "tags": ("tags", "tag", "labels", "etiquettes"),
}  # fmt: skip
_ALIAS_INDEX = {alias: f for f, names in ALIASES.items() for alias in names}
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_TRUE = frozenset({"true", "yes", "y", "1", "x", "oui", "vrai", "ja", "waar", "si", "sí", "wahr"})
_FALSE = frozenset({"false", "no", "n", "0", "non", "faux", "nee", "onwaar", "nein", "falsch"})
_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


def header_key(name: str) -> str:
    """``"  Prénom "`` → ``prenom``; ``E-mail`` → ``e_mail``."""
    return _NON_ALNUM.sub("_", fold(name.strip().lstrip("\ufeff"))).strip("_")


# -- encoding and dialect --------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was read in: a BOM decides (UTF-8, UTF-16 LE/BE); else UTF-8 if
    the bytes are valid UTF-8, else Windows-1252 (Excel's plain "CSV" on Windows)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise ValidationError("the file starts with a UTF-16 mark but is not UTF-16", field="file") from exc
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "cp1252"


def _first_record(text: str) -> str:
    """The first line (a header rarely spans lines; quotes are honoured well enough for counting)."""
    return text.split("\n", 1)[0].rstrip("\r")


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header line: the candidate that occurs most often outside quotes
    (``,`` on a tie or when none occurs: a one-column file)."""
    line = _first_record(text)
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each CSV record with the file line it starts on (1 = the header). Quoted fields may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    line = 1
    for row in reader:
        yield line, row
        line = reader.line_num + 1


# -- header mapping --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    field: str  # a built-in (IMPORTABLE) or ``custom_fields.<key>``


def target(name: str, custom: dict[str, Any]) -> str | None:
    """The contact field a mapping target names (a built-in or a custom field's key), or None."""
    if name in IMPORTABLE:
        return name
    key = name.removeprefix("custom_fields.")
    return f"custom_fields.{key}" if key in custom else None


def auto_field(header: str, custom: dict[str, Any]) -> str | None:
    """The field a header names without a mapping: a custom field's key, a built-in name or alias
    (``ALIASES``), ``custom_fields_<key>``, or a custom field's label; None: the column is not read."""
    key = header_key(header)
    if key in custom:
        return f"custom_fields.{key}"
    if key in _ALIAS_INDEX:
        return _ALIAS_INDEX[key]
    if key.removeprefix("custom_fields_") in custom:
        return f"custom_fields.{key.removeprefix('custom_fields_')}"
    labels = {header_key(getattr(d, "label", "") or ""): k for k, d in custom.items()}
    if key and key in labels:
        return f"custom_fields.{labels[key]}"
    return None


def header_cells(line: str) -> tuple[list[str], str]:
    """A header line's cells (trimmed, without a BOM) and the delimiter it uses."""
    delimiter = sniff_delimiter(line)
    cells = next((row for _, row in records(line.lstrip("\ufeff").rstrip("\r\n"), delimiter)), [])
    return [c.strip() for c in cells], delimiter


def map_headers(
    headers: list[str], custom: dict[str, Any], mapping: dict[str, str | None] | None = None
) -> tuple[list[Column], list[str]]:
    """The columns that fill contact fields, and the headers left unmapped.

    With ``mapping`` (header → field, null or "" to skip a column) only mapped columns are read, and a
    mapped header the file lacks is an error (``mapping.<header>``). Without it, a header names its field
    by a built-in name or a common alias (``ALIASES``, several languages) or a custom field's key or label.
    A field filled by two columns is an error (``file``)."""
    columns: list[Column] = []
    unmapped: list[str] = []
    if mapping is not None:
        by_header = {h.strip().lstrip("\ufeff"): i for i, h in enumerate(headers)}
        for header, name in mapping.items():
            if not name:
                continue
            if header.strip() not in by_header:
                raise ValidationError(f"the file has no column {header!r}", field=f"mapping.{header}")
            field = target(name, custom)
            if field is None:
                raise ValidationError(f"{name!r} is not a contact field", field=f"mapping.{header}")
            columns.append(Column(by_header[header.strip()], header.strip(), field))
        mapped = {c.index for c in columns}
        unmapped = [h for i, h in enumerate(headers) if i not in mapped and h.strip()]
    else:
        for i, raw in enumerate(headers):
            header = raw.strip().lstrip("\ufeff")
            field = auto_field(header, custom)
            if field is None:
                if header:
                    unmapped.append(header)
                continue
            columns.append(Column(i, header, field))
    seen: dict[str, str] = {}
    for c in columns:
        if c.field in seen:
            raise ValidationError(f"columns {seen[c.field]!r} and {c.header!r} both fill {c.field}", field="file")
        seen[c.field] = c.header
    if not columns:
        raise ValidationError(
            "no column maps to a contact field (name them e.g. first_name, last_name, mobile, email, or give a mapping)",
            field="file",
        )
    return columns, unmapped


# -- cell values -----------------------------------------------------------------------------------------


def split_tags(value: str) -> list[str]:
    return [t.strip() for t in re.split(r"[|,]", value) if t.strip()]


def custom_value(kind: str, raw: str, *, field: str, options: list[str] | None = None) -> Any:
    """A cell's text as the custom field's type wants it (then checked by ``crm.fields.check_value``)."""
    value = raw.strip()
    if kind == "number":
        cleaned = value.replace("\u00a0", "").replace(" ", "")
        if "," in cleaned and "." not in cleaned:
            cleaned = cleaned.replace(",", ".")  # a decimal comma
        try:
            number = float(cleaned)
        except ValueError as exc:
            raise ValidationError(f"{field} must be a number, not {value!r}", field=field) from exc
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "boolean":
        folded = value.lower()
        if folded in _TRUE:
            return True
        if folded in _FALSE:
            return False
        raise ValidationError(f"{field} must be yes/no, true/false or 1/0, not {value!r}", field=field)
    if kind == "date":
        m = _DMY.fullmatch(value)
        if m:  # day first (the order of every locale but the US)
            try:
                return dt.date(int(m[3]), int(m[2]), int(m[1])).isoformat()
            except ValueError as exc:
                raise ValidationError(f"{field}: {value!r} is not a date", field=field) from exc
        return value[:10] if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", value) else value
    if kind == "choice":
        for option in options or []:
            if option.lower() == value.lower():
                return option
        return value
    return value
