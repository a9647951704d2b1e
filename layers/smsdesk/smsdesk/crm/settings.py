"""The account's CRM settings (issue 16): the web app's address (transcript notes link to the
conversation there) and the optional Pipedrive connector, whose API token lives in Secrets Manager as
``{secrets_prefix}crm-pipedrive`` (never in DynamoDB, logs or answers; ``pipedrive_token_set`` says
whether one is stored)."""

from __future__ import annotations

import json

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from smsdesk import aws, config
from smsdesk.data import crm as repo
from smsdesk.errors import ValidationError

PIPEDRIVE_API = "https://api.pipedrive.com"


class CrmSettings(BaseModel):
    model_config = ConfigDict(defer_build=True)
    web_url: str | None = Field(default=None, description="The web app's address; notes link to /inbox/{id} there")
    pipedrive_enabled: bool = False
    pipedrive_api_url: str = Field(default=PIPEDRIVE_API, description="Pipedrive's API base (no /v1)")
    pipedrive_token_set: bool = False


class CrmSettingsPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    web_url: str | None = Field(default=None, max_length=300)
    pipedrive_enabled: bool | None = None
    pipedrive_api_url: str | None = Field(default=None, max_length=300)
    pipedrive_api_token: str | None = Field(
        default=None, max_length=200, description='Write-only; stored in Secrets Manager; "" removes it'
    )


def _check_url(value: str, field: str) -> str:
    value = value.strip().rstrip("/")
    if not (value.startswith("https://") or value.startswith("http://")):
        raise ValidationError(f"{value!r} is not an http(s) URL", field=field)
    return value


def get() -> CrmSettings:
    data, _ = repo.settings_get()
    return CrmSettings.model_validate(data)


def secret_name() -> str:
    return f"{config.secrets_prefix()}crm-pipedrive"


def pipedrive_token() -> str | None:
    try:
        raw = aws.secrets().get_secret_value(SecretId=secret_name())["SecretString"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return None
    return json.loads(raw).get("api_token") or None


def _write_token(token: str) -> None:
    sm = aws.secrets()
    body = json.dumps({"api_token": token})
    try:
        sm.put_secret_value(SecretId=secret_name(), SecretString=body)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        sm.create_secret(Name=secret_name(), SecretString=body, Description="smsdesk Pipedrive API token")


def _delete_token() -> None:
    try:
        aws.secrets().delete_secret(SecretId=secret_name(), ForceDeleteWithoutRecovery=True)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise


def update(body: CrmSettingsPatch) -> CrmSettings:
    given = body.model_fields_set
    data, version = repo.settings_get()
    current = CrmSettings.model_validate(data)
    if "web_url" in given:
        current.web_url = _check_url(body.web_url, "web_url") if body.web_url else None
    if "pipedrive_api_url" in given and body.pipedrive_api_url:
        current.pipedrive_api_url = _check_url(body.pipedrive_api_url, "pipedrive_api_url")
    if "pipedrive_api_token" in given:
        if body.pipedrive_api_token:
            _write_token(body.pipedrive_api_token.strip())
            current.pipedrive_token_set = True
        else:
            _delete_token()
            current.pipedrive_token_set = False
    if body.pipedrive_enabled is not None:
        if body.pipedrive_enabled and not current.pipedrive_token_set:
            raise ValidationError("Pipedrive needs its API token first", field="pipedrive_api_token")
        current.pipedrive_enabled = body.pipedrive_enabled
    if current.pipedrive_enabled and not current.pipedrive_token_set:
        current.pipedrive_enabled = False
    repo.transact([repo.settings_put(current.model_dump(mode="json"), version=version)])
    return current
