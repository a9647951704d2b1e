"""Contact imports (issue 13 item 5): a CSV uploaded with a presigned POST, imported in batches.

1. ``POST /v1/contact-imports`` (:func:`create`) records the import (``waiting_upload``) and answers a
   presigned POST for ``imports/{id}.csv`` in the uploads bucket (at most ``MAX_BYTES``, 15 minutes).
2. S3 announces the object (event notification → ``imports`` queue; locally ``local/s3_events.py``);
   the ``imports`` function calls :func:`handle_upload`.
3. The file is decoded and its header mapped (``crm.csvfile``); data rows are handled ``BATCH_ROWS``
   at a time: each row's cells are checked as the contacts API checks them (``crm.contacts``,
   ``crm.fields``), the batch's numbers are looked up in the number guards (one BatchGetItem), rows
   with a known mobile UPDATE that contact (cells left empty change nothing; tags are added), others
   create one (one transaction each: contact, number guard, search items); rows with a group add their
   contacts to it (BatchWriteItem). The batch ends with one conditional update of the import item
   (``data.imports.record_batch``): its counts, errors (line, column, field, message) and ``rows_done``.
4. Restartable: a redelivered event resumes at ``rows_done``; a batch interrupted before its record is
   redone (its contacts are then found by number, or, without a number, by their id, which derives
   from the import and the line: nothing is created twice). Before the function's time runs out (or
   after ``IMPORT_MAX_ROWS_PER_INVOCATION`` rows), the import queues its own continuation.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import urllib.parse
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import aws, config, ids, manifest
from smsdesk.crm import contacts as crm_contacts
from smsdesk.crm import csvfile
from smsdesk.crm import fields as custom
from smsdesk.crm.search import fold
from smsdesk.data import contacts as contacts_repo
from smsdesk.data import groups as groups_repo
from smsdesk.data import imports as repo
from smsdesk.data.credits import TransactionCanceled, transact
from smsdesk.envelopes import ImportEvent
from smsdesk.errors import AppError, NotFound, ValidationError
from smsdesk.models import Contact, iso, utcnow

log = logging.getLogger(__name__)

KEY_PREFIX = manifest.UPLOADS_BUCKET.notify_prefix  # "imports/"
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
BATCH_ROWS = 25
UPLOAD_EXPIRES_S = 900
#: Stop and queue the continuation when less than this is left of the invocation.
TIME_MARGIN_MS = 45_000
ERRORS_SHOWN = 100

Status = Literal["waiting_upload", "processing", "done", "failed"]


class ImportCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    group_id: str | None = Field(default=None, max_length=64, description="A static group every row's contact joins")
    mapping: dict[str, str | None] | None = Field(
        default=None,
        max_length=200,
        description="Column header → contact field (`first_name`, `mobile`, ..., a custom field's key); "
        "null or empty skips a column. Absent: columns are matched by header name (built-in names, common "
        "aliases such as `Phone`, `Prénom`, `E-mail`, custom field keys and labels).",
    )
    file_name: str | None = Field(default=None, max_length=255, description="For display only")


class Upload(BaseModel):
    model_config = ConfigDict(defer_build=True)
    url: str = Field(description="POST a multipart form here: every `fields` entry, then `file` last")
    fields: dict[str, str]
    expires_at: dt.datetime
    max_bytes: int


class RowError(BaseModel):
    model_config = ConfigDict(defer_build=True)
    line: int = Field(description="Line of the file the row starts on (1 = the header)")
    column: str | None = Field(default=None, description="The column's header")
    field: str | None = Field(default=None, description="The contact field (`mobile`, `custom_fields.age`, ...)")
    code: str
    message: str


class ContactImport(BaseModel):
    model_config = ConfigDict(defer_build=True)
    id: str
    status: Status
    file_name: str | None = None
    group_id: str | None = None
    mapping: dict[str, str | None] | None = None
    rows_total: int | None = Field(default=None, description="Data rows in the file (known once processing starts)")
    rows: int = Field(description="Rows handled so far (created + updated + failed)")
    created: int = 0
    updated: int = 0
    failed: int = 0
    errors: list[RowError] = Field(default_factory=list, description=f"The first {ERRORS_SHOWN} rows that failed")
    error: RowError | None = Field(default=None, description="Why the whole import failed (status `failed`)")
    encoding: str | None = None
    delimiter: str | None = None
    columns: dict[str, str] | None = Field(default=None, description="Header → the contact field it fills")
    unmapped_columns: list[str] = Field(default_factory=list)
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


class ImportStarted(BaseModel):
    import_: ContactImport = Field(alias="import", serialization_alias="import")
    upload: Upload

    model_config = ConfigDict(populate_by_name=True, defer_build=True)


class ColumnsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    header: str = Field(min_length=1, max_length=20_000, description="The file's first line (its header row)")


class SuggestedColumn(BaseModel):
    model_config = ConfigDict(defer_build=True)
    header: str
    field: str | None = Field(description="The contact field the column fills without a mapping (null: not read)")


class SuggestedColumns(BaseModel):
    model_config = ConfigDict(defer_build=True)
    delimiter: str
    columns: list[SuggestedColumn]


def suggest_columns(body: ColumnsQuery) -> SuggestedColumns:
    """What an import without a mapping does with a file whose header is ``body.header``: the web app's
    mapping editor starts from it."""
    cells, delimiter = csvfile.header_cells(body.header)
    if not any(cells):
        raise ValidationError("the header line has no column", field="header")
    definitions = custom.definitions()
    return SuggestedColumns(
        delimiter=delimiter,
        columns=[SuggestedColumn(header=c, field=csvfile.auto_field(c, definitions)) for c in cells if c],
    )


def object_key(import_id: str) -> str:
    return f"{KEY_PREFIX}{import_id}.csv"


def _load(item: dict[str, Any]) -> ContactImport:
    rows = int(item.get("created", 0)) + int(item.get("updated", 0)) + int(item.get("failed", 0))
    return ContactImport.model_validate({**item, "rows": rows, "errors": (item.get("errors") or [])[:ERRORS_SHOWN]})


# -- the API side ----------------------------------------------------------------------------------------


def create(body: ImportCreate, *, by: str | None) -> ImportStarted:
    if body.group_id:
        group = groups_repo.get(body.group_id)
        if group is None:
            raise NotFound(f"group {body.group_id} not found", field="group_id")
        if group.get("kind") != "static":
            raise ValidationError("an import adds contacts to a static group only", field="group_id")
    if body.mapping is not None:
        definitions = custom.definitions()
        for header, name in body.mapping.items():
            if name and csvfile.target(name, definitions) is None:
                raise ValidationError(f"{name!r} is not a contact field", field=f"mapping.{header}")
        if not any(body.mapping.values()):
            raise ValidationError("the mapping maps no column", field="mapping")
    now = utcnow()
    import_id = ids.new_id()
    record = {
        "id": import_id,
        "status": "waiting_upload",
        "file_name": body.file_name,
        "group_id": body.group_id,
        "mapping": body.mapping,
        "rows_done": 0,
        "created": 0,
        "updated": 0,
        "failed": 0,
        "errors": [],
        "by": by,
        "created_at": iso(now),
    }
    repo.put_new({k: v for k, v in record.items() if v is not None})
    post = aws.s3().generate_presigned_post(
        Bucket=config.uploads_bucket(),
        Key=object_key(import_id),
        Conditions=[["content-length-range", 1, MAX_BYTES]],
        ExpiresIn=UPLOAD_EXPIRES_S,
    )
    upload = Upload(
        url=post["url"],
        fields=post["fields"],
        expires_at=now + dt.timedelta(seconds=UPLOAD_EXPIRES_S),
        max_bytes=MAX_BYTES,
    )
    return ImportStarted(import_=_load(record), upload=upload)


def get(import_id: str) -> ContactImport:
    item = repo.get(import_id) if import_id else None
    if item is None:
        raise NotFound(f"import {import_id} not found", field="import_id")
    return _load(item)


def list_page(*, limit: int, cursor: str | None) -> tuple[list[ContactImport], str | None]:
    items, nxt = repo.list_imports(limit=limit, cursor=cursor)
    return [_load(i) for i in items], nxt


# -- rows --------------------------------------------------------------------------------------------------


def row_fields(
    row: list[str], columns: list[csvfile.Column], definitions: dict[str, custom.FieldDefinition]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The row's checked built-in values (only non-empty cells), custom values and tags; a
    :class:`ValidationError` names the first bad field."""
    builtins: dict[str, Any] = {}
    raw_custom: dict[str, Any] = {}
    tags: list[str] = []
    for col in columns:
        cell = row[col.index].strip() if col.index < len(row) else ""
        if not cell:
            continue
        if col.field.startswith("custom_fields."):
            key = col.field.removeprefix("custom_fields.")
            d = definitions[key]
            raw_custom[key] = csvfile.custom_value(d.type, cell, field=col.field, options=d.options)
        elif col.field == "tags":
            tags = crm_contacts.check_tags(csvfile.split_tags(cell))
        else:
            builtins[col.field] = cell
    checked = {
        "first_name": crm_contacts._text(builtins.get("first_name")),
        "last_name": crm_contacts._text(builtins.get("last_name")),
        "mobile": crm_contacts.check_mobile(builtins.get("mobile")),
        "other_phone": crm_contacts.check_other_phone(builtins.get("other_phone")),
        "email": crm_contacts.check_email(builtins.get("email")),
        "language": crm_contacts.check_language(builtins.get("language")),
        "time_zone": crm_contacts.check_time_zone(builtins.get("time_zone")),
    }
    for name, value in checked.items():
        if value is not None and len(value) > 100 and name in ("first_name", "last_name"):
            raise ValidationError(f"{name} has at most 100 characters", field=name)
    values = custom.check_values(definitions, raw_custom) if raw_custom else {}
    return {k: v for k, v in checked.items() if v is not None}, values, tags


def _new_contact(contact_id: str, fields: dict[str, Any], values: dict[str, Any], tags: list[str]) -> Contact:
    contact = Contact(id=contact_id, created_at=utcnow(), custom_fields=values, tags=tags, **fields)
    crm_contacts._require_identity(contact)
    return crm_contacts._with_zone(contact, explicit=bool(contact.time_zone))


def _merged(old: Contact, fields: dict[str, Any], values: dict[str, Any], tags: list[str]) -> Contact:
    """``old`` with the row's non-empty cells; tags are added to the contact's."""
    update: dict[str, Any] = dict(fields)
    update["custom_fields"] = {**old.custom_fields, **values}
    update["tags"] = list(dict.fromkeys([*old.tags, *tags]))
    new = old.model_copy(update=update)
    if "time_zone" in fields:
        new = crm_contacts._with_zone(new, explicit=True)
    return new


def _error(line: int, exc: AppError, columns: list[csvfile.Column]) -> dict[str, Any]:
    field = exc.field if exc.field != "body" else None
    column = None
    if field:
        base = field if field.startswith("custom_fields.") else field.split(".")[0]
        column = next((c.header for c in columns if c.field == base), None)
    return {"line": line, "column": column, "field": field, "code": exc.code, "message": exc.message}


class _Batch:
    """One batch of rows: what it created, updated, failed, and the contacts to add to the group."""

    def __init__(self) -> None:
        self.created = 0
        self.updated = 0
        self.failed = 0
        self.errors: list[dict[str, Any]] = []
        self.contact_ids: list[str] = []


def process_rows(
    import_id: str,
    rows: list[tuple[int, list[str]]],
    columns: list[csvfile.Column],
    definitions: dict[str, custom.FieldDefinition],
) -> _Batch:
    out = _Batch()
    parsed: list[tuple[int, dict[str, Any], dict[str, Any], list[str]]] = []
    for line, row in rows:
        try:
            fields, values, tags = row_fields(row, columns, definitions)
            if not (fields or values or tags):
                continue  # a row with every mapped cell empty: nothing to import
            parsed.append((line, fields, values, tags))
        except AppError as exc:
            out.failed += 1
            out.errors.append(_error(line, exc, columns))
    known = contacts_repo.contact_ids_for([f["mobile"] for _, f, _, _ in parsed if f.get("mobile")])
    ambiguous: set[str] = set()
    for email in dict.fromkeys(f["email"] for _, f, _, _ in parsed if not f.get("mobile") and f.get("email")):
        # a row without a mobile is matched by its e-mail (a second import of it updates, not duplicates)
        found = contacts_repo.contact_ids_with_email(email)
        if len(found) == 1:
            known[_email_key(email)] = found[0]
        elif found:
            ambiguous.add(_email_key(email))
    existing = contacts_repo.get_many_versioned(list(known.values())) if known else {}
    for line, fields, values, tags in parsed:
        try:
            if _row_key(fields) in ambiguous:
                raise AppError(
                    "several contacts have this e-mail: give the row its mobile number to say which",
                    field="email",
                    code="ambiguous_email",
                )
            contact_id = _upsert(import_id, line, fields, values, tags, known, existing)
        except AppError as exc:
            out.failed += 1
            out.errors.append(_error(line, exc, columns))
            continue
        if contact_id[1]:
            out.created += 1
        else:
            out.updated += 1
        out.contact_ids.append(contact_id[0])
    return out


def _email_key(email: str) -> str:
    return f"email:{fold(email)}"


def _row_key(fields: dict[str, Any]) -> str | None:
    """What a row is matched on: its mobile, else its e-mail (None: a row with neither always creates)."""
    if fields.get("mobile"):
        return str(fields["mobile"])
    return _email_key(fields["email"]) if fields.get("email") else None


def _upsert(
    import_id: str,
    line: int,
    fields: dict[str, Any],
    values: dict[str, Any],
    tags: list[str],
    known: dict[str, str],
    existing: dict[str, tuple[Contact, int]],
) -> tuple[str, bool]:
    """(contact id, created?) for one row; ``known``/``existing`` are updated for later rows."""
    mobile = fields.get("mobile")
    row_key = _row_key(fields)
    for _attempt in range(5):
        cid = known.get(row_key) if row_key else None
        if cid is None:
            contact = _new_contact(ids.stable_id("import", import_id, str(line)), fields, values, tags)
            try:
                transact(contacts_repo.put_new(contact))
            except TransactionCanceled as exc:
                if exc.reasons and exc.reasons[0] == "ConditionalCheckFailed":
                    return contact.id, True  # this row's contact, created by an earlier attempt
                if mobile and len(exc.reasons) > 1 and exc.reasons[1] == "ConditionalCheckFailed":
                    # created meanwhile (another import, the API, an inbound SMS): update it
                    known.update(contacts_repo.contact_ids_for([mobile]))
                    existing.pop(known.get(mobile, ""), None)
                    continue
                raise
            if row_key:
                known[row_key] = contact.id
                existing[contact.id] = (contact, 1)
            return contact.id, True
        if cid not in existing:
            got = contacts_repo.get_versioned(cid)
            if got is None:  # deleted since the guard (or the e-mail) was read
                known.pop(row_key, None)
                continue
            existing[cid] = got
        old, version = existing[cid]
        new = _merged(old, fields, values, tags)
        if new == old:
            return cid, False
        new = new.model_copy(update={"updated_at": utcnow()})
        try:
            transact(contacts_repo.replace(old, new, version=version))
        except TransactionCanceled:
            existing.pop(cid, None)  # changed concurrently: read it again
            continue
        existing[cid] = (new, version + 1)
        return cid, False
    raise AppError("the contact is being changed concurrently", field="mobile", code="conflict")


# -- the imports function ------------------------------------------------------------------------------


def _fail(import_id: str, rows_done: int, message: str, field: str | None = "file", line: int = 1) -> None:
    error = {"line": line, "column": None, "field": field, "code": "validation_error", "message": message}
    repo.finish(import_id, status="failed", rows_done=rows_done, at=iso(utcnow()), error=error)
    log.info("import %s failed: %s", import_id, message)


def import_id_of(key: str) -> str | None:
    name = urllib.parse.unquote_plus(key)
    if not (name.startswith(KEY_PREFIX) and name.endswith(".csv")):
        return None
    return name.removeprefix(KEY_PREFIX).removesuffix(".csv") or None


def handle_event(event: ImportEvent, context: Any) -> None:
    """One SQS record: an S3 event (each created object under the prefix is an import's file), S3's test
    event (ignored), or a continuation."""
    if event.import_id:
        run(event.import_id, context)
        return
    for record in event.Records or []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        key = ((record.get("s3") or {}).get("object") or {}).get("key", "")
        import_id = import_id_of(key)
        if import_id is None:
            log.warning("not an import's object: %s", key)
            continue
        run(import_id, context)


def _max_rows_per_invocation() -> int:
    try:
        return int(os.environ.get("IMPORT_MAX_ROWS_PER_INVOCATION") or 0)
    except ValueError:
        return 0


def run(import_id: str, context: Any) -> None:
    """Import (or resume importing) one file; queue the continuation if the time runs out."""
    item = repo.get(import_id)
    if item is None:
        log.warning("import %s: no such import (object uploaded without POST /v1/contact-imports?)", import_id)
        return
    if item.get("status") in ("done", "failed"):
        return  # a redelivered event
    rows_done = int(item.get("rows_done", 0))
    try:
        obj = aws.s3().get_object(Bucket=config.uploads_bucket(), Key=object_key(import_id))
    except aws_client_error() as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            log.warning("import %s: object gone", import_id)
            return
        raise
    if int(obj.get("ContentLength", 0)) > MAX_BYTES:
        _fail(import_id, rows_done, f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB")
        return
    data = obj["Body"].read()
    try:
        text, encoding = csvfile.decode(data)
    except ValidationError as exc:
        _fail(import_id, rows_done, exc.message)
        return
    delimiter = csvfile.sniff_delimiter(text)
    records = csvfile.records(text, delimiter)
    header = next(records, None)
    if header is None or not any(h.strip() for h in header[1]):
        _fail(import_id, rows_done, "the file is empty (a header row is needed)")
        return
    definitions = custom.definitions()
    try:
        columns, unmapped = csvfile.map_headers(header[1], definitions, item.get("mapping"))
    except ValidationError as exc:
        _fail(import_id, rows_done, exc.message, field=exc.field)
        return
    body = list(records)
    if len(body) > MAX_ROWS:
        _fail(import_id, rows_done, f"the file has {len(body)} rows; at most {MAX_ROWS} per import")
        return
    started = repo.start(
        import_id,
        rows_done=rows_done,
        fields={
            "rows_total": len(body),
            "encoding": encoding,
            "delimiter": delimiter,
            "columns": {c.header: c.field for c in columns},
            "unmapped_columns": unmapped,
        },
        at=iso(utcnow()),
    )
    if not started:
        return  # finished or moved on meanwhile (a concurrent duplicate delivery)
    group_id = item.get("group_id")
    if group_id and groups_repo.get(group_id) is None:
        group_id = None  # deleted since: the contacts are still imported
    errors_kept = len(item.get("errors") or [])
    cap = _max_rows_per_invocation()
    handled = 0
    while rows_done < len(body):
        if handled and (
            (cap and handled >= cap)
            or (context is not None and context.get_remaining_time_in_millis() < TIME_MARGIN_MS)
        ):
            aws.sqs().send_message(
                QueueUrl=config.queue_url(manifest.IMPORTS_QUEUE), MessageBody=json.dumps({"import_id": import_id})
            )
            log.info("import %s: continues after row %d of %d", import_id, rows_done, len(body))
            return
        chunk = body[rows_done : rows_done + BATCH_ROWS]
        batch = process_rows(import_id, chunk, columns, definitions)
        if group_id and batch.contact_ids:
            groups_repo.add_members(group_id, list(dict.fromkeys(batch.contact_ids)), at=iso(utcnow()))
        recorded = repo.record_batch(
            import_id,
            rows_before=rows_done,
            rows_after=rows_done + len(chunk),
            created=batch.created,
            updated=batch.updated,
            failed=batch.failed,
            errors=batch.errors,
            errors_kept=errors_kept,
            at=iso(utcnow()),
        )
        if not recorded:
            log.info("import %s: another invocation recorded rows from %d; stopping", import_id, rows_done)
            return
        errors_kept = min(repo.MAX_ERRORS, errors_kept + len(batch.errors))
        rows_done += len(chunk)
        handled += len(chunk)
    repo.finish(import_id, status="done", rows_done=rows_done, at=iso(utcnow()))


def aws_client_error() -> type[Exception]:
    from botocore.exceptions import ClientError

    return ClientError


# -- export ------------------------------------------------------------------------------------------------

#: A direct CSV answer stays under Lambda's 6 MB response limit (API Gateway passes it through).
MAX_EXPORT_CONTACTS = 20_000
EXPORTS_PREFIX = "exports/"
MAX_EXPORT_BYTES = 5_500_000
EXPORT_COLUMNS = ("id", "first_name", "last_name", "mobile", "other_phone", "email", "language", "time_zone", "tags")


class ExportTooLarge(AppError):
    status = 413
    code = "export_too_large"


#: Contacts in one exported file (a presigned download). The API's 29 s bound the time to read and write
#: them: not measured in AWS; beyond this an export would need its own function (not built).
MAX_EXPORT_FILE_CONTACTS = 100_000
EXPORT_LINK_S = 3600


def _inline_limit() -> int:
    try:
        return int(os.environ.get("EXPORT_INLINE_MAX_CONTACTS") or MAX_EXPORT_CONTACTS)
    except ValueError:
        return MAX_EXPORT_CONTACTS


def _export_lines(group_id: str | None) -> Iterator[tuple[int, str]]:
    """The CSV, a line at a time with the number of contacts written so far: UTF-8 with a BOM (so Excel
    reads accents), ``,``-separated, a header of the built-in fields then the custom fields' keys; tags
    joined by ``|``. All contacts (by name) or a group's members, read page by page."""
    import csv
    import io

    from smsdesk.crm import groups

    definitions = custom.definitions()
    keys = sorted(definitions)
    # all contacts: 1,000 a page (about 0.5 MB of items, under DynamoDB's 1 MB), few round trips
    pages = groups.member_pages(groups.get(group_id)) if group_id else contacts_repo.contact_pages(page_size=1000)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")

    def line(row: list[str]) -> str:
        buf.seek(0)
        buf.truncate()
        writer.writerow(row)
        return buf.getvalue()

    yield 0, "\ufeff" + line([*EXPORT_COLUMNS, *keys])
    count = 0
    for page in pages:
        for contact, _key in page:
            count += 1
            row = [getattr(contact, c) or "" for c in EXPORT_COLUMNS[:-1]]
            row.append("|".join(contact.tags))
            for k in keys:
                v = contact.custom_fields.get(k)
                row.append("" if v is None else ("true" if v is True else "false" if v is False else str(v)))
            yield count, line(row)


def export_csv(group_id: str | None) -> str:
    """The export as one answer: at most ``MAX_EXPORT_CONTACTS`` contacts and ``MAX_EXPORT_BYTES``
    (413 beyond: :func:`export_file`)."""
    limit = _inline_limit()
    out: list[str] = []
    size = 0
    for count, text in _export_lines(group_id):
        size += len(text)
        if count > limit or size > MAX_EXPORT_BYTES:
            raise ExportTooLarge(
                f"more than {limit} contacts or {MAX_EXPORT_BYTES // 1_000_000} MB: export a group, or get the "
                "file with POST /v1/contacts/exports",
                field="group_id",
            )
        out.append(text)
    return "".join(out)


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    group_id: str | None = Field(default=None, max_length=64, description="A group's members (default: everyone)")


class ExportFile(BaseModel):
    model_config = ConfigDict(defer_build=True)
    download_url: str = Field(description="A presigned GET of the CSV (no Authorization header needed)")
    expires_at: dt.datetime = Field(description="The link works until then; the file is deleted after a day")
    contacts: int


def export_file(body: ExportRequest, *, by: str | None) -> ExportFile:
    """The export written to the exports bucket (``exports/{id}.csv``, spooled to disk past 8 MB, so
    memory stays flat) and answered as a presigned download link; at most
    ``MAX_EXPORT_FILE_CONTACTS`` contacts."""
    import tempfile

    export_id = ids.new_id()
    name = f"contacts-{body.group_id}.csv" if body.group_id else "contacts.csv"
    count = 0
    with tempfile.SpooledTemporaryFile(max_size=8_000_000) as spool:
        for count, text in _export_lines(body.group_id):
            if count > MAX_EXPORT_FILE_CONTACTS:
                raise ExportTooLarge(f"more than {MAX_EXPORT_FILE_CONTACTS} contacts: export a group", field="group_id")
            spool.write(text.encode("utf-8"))
        spool.seek(0)
        key = f"{EXPORTS_PREFIX}{export_id}.csv"
        aws.s3().put_object(
            Bucket=config.exports_bucket(),
            Key=key,
            Body=spool,
            ContentType="text/csv; charset=utf-8",
            ContentDisposition=f'attachment; filename="{name}"',
            Metadata={"by": by or "", "contacts": str(count)},
        )
    url = aws.s3().generate_presigned_url(
        "get_object", Params={"Bucket": config.exports_bucket(), "Key": key}, ExpiresIn=EXPORT_LINK_S
    )
    log.info("contacts exported to %s: %d contacts", key, count)
    return ExportFile(download_url=url, expires_at=utcnow() + dt.timedelta(seconds=EXPORT_LINK_S), contacts=count)
