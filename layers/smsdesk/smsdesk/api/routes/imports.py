"""Contact imports (a CSV uploaded to S3 with a presigned POST, imported by the ``imports`` function) and
the contacts export as CSV (issue 13 item 5). Any signed-in user may import (as they may create
contacts); exporting the contact book needs admin/owner."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.crm import imports

router = APIGatewayHttpRouter()


class ImportPage(BaseModel):
    items: list[imports.ContactImport]
    next_cursor: str | None = None


@router.post(
    "/v1/contact-imports",
    summary="Start a contact import: answers the import and a presigned POST to upload the CSV to",
    description="Upload the file with a multipart POST to `upload.url` (every `upload.fields` entry, then "
    "`file`). The `imports` function then reads it: UTF-8 (with or without BOM), UTF-16 (BOM), Windows-1252; "
    "`,` `;` or tab separated; the header row mapped by `mapping` or by name. Rows with a mobile number that "
    "has a contact update it; others create one. Follow the progress with GET /v1/contact-imports/{id}.",
    tags=["contacts"],
    openapi_extensions=errors(404),
    status_code=201,
)
def create_import(body: imports.ImportCreate) -> tuple[imports.ImportStarted, int]:
    who = caller(router)
    return imports.create(body, by=who.user_id), 201


@router.post(
    "/v1/contact-imports/columns",
    summary="The contact field each column of a header row fills without a mapping",
    description="Send the file's first line; the answer is where a mapping editor starts (any column may "
    "then be mapped to another field or skipped with POST /v1/contact-imports `mapping`).",
    tags=["contacts"],
)
def suggest_columns(body: imports.ColumnsQuery) -> imports.SuggestedColumns:
    caller(router)
    return imports.suggest_columns(body)


@router.get("/v1/contact-imports", summary="Contact imports, newest first", tags=["contacts"])
def list_imports(
    limit: Annotated[int, Query(ge=1, le=100)] = 20, cursor: Annotated[str | None, Query()] = None
) -> ImportPage:
    caller(router)
    items, nxt = imports.list_page(limit=limit, cursor=cursor)
    return ImportPage(items=items, next_cursor=nxt)


@router.get(
    "/v1/contact-imports/<import_id>",
    summary="An import's status, counts and its first row errors (with line numbers)",
    tags=["contacts"],
)
def get_import(import_id: str) -> imports.ContactImport:
    caller(router)
    return imports.get(import_id)


@router.get(
    "/v1/contacts/export",
    summary="Every contact, or a group's members, as CSV (UTF-8 with BOM)",
    description=f"At most {imports.MAX_EXPORT_CONTACTS} contacts per answer (413 `export_too_large` beyond: "
    "export a group, or get the file with POST /v1/contacts/exports). The columns are the built-in fields, then each custom field's key; tags are joined "
    "by `|`. The file imports back (POST /v1/contact-imports) unchanged.",
    tags=["contacts"],
    openapi_extensions=errors(403, 404, 413),
    responses={
        200: {
            "description": "The contacts as CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def export_contacts(group_id: Annotated[str | None, Query(max_length=64)] = None) -> Response[str]:
    caller(router).require_admin()
    body = imports.export_csv(group_id)
    name = f"contacts-{group_id}.csv" if group_id else "contacts.csv"
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=body,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post(
    "/v1/contacts/exports",
    summary="Every contact, or a group's members, as a CSV file to download (up to 100,000 contacts)",
    description="The same CSV as GET /v1/contacts/export, written to storage and answered as a presigned "
    "download link valid for an hour (the file is deleted after a day). For books beyond the "
    f"{imports.MAX_EXPORT_CONTACTS} contacts one answer can carry.",
    tags=["contacts"],
    openapi_extensions=errors(403, 404, 413),
    status_code=201,
)
def export_contacts_file(body: imports.ExportRequest) -> tuple[imports.ExportFile, int]:
    who = caller(router)
    who.require_admin()
    return imports.export_file(body, by=who.user_id), 201
