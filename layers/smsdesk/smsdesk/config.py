"""Run-time settings, read from the environment the manifest defines (CDK or the local stack fills it).

Values are read lazily, on each use (a dictionary lookup): importing this module costs nothing, and a
Lambda only fails on a missing variable when it actually needs that resource.
"""

from __future__ import annotations

import os

from smsdesk import manifest


class ConfigError(RuntimeError):
    pass


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise ConfigError(f"environment variable {name} is not set (see smsdesk.manifest)")
    return value


def table_name() -> str:
    return env(manifest.MAIN_TABLE.env)


def idempotency_table_name() -> str:
    return env(manifest.IDEMPOTENCY_TABLE.env)


def queue_url(queue: manifest.Queue) -> str:
    return env(queue.env)


def queue_arn(queue: manifest.Queue) -> str:
    return env(queue.arn_env)


def event_bus_name() -> str:
    return env(manifest.EVENT_BUS.env)


def schedule_group_name() -> str:
    return env(manifest.SCHEDULE_GROUP.env)


def scheduler_role_arn() -> str:
    return env(manifest.SCHEDULE_GROUP.role_env)


def scheduler_dlq_arn() -> str:
    return env(manifest.SCHEDULE_GROUP.dlq_env)


def uploads_bucket() -> str:
    return env(manifest.UPLOADS_BUCKET.env)


def exports_bucket() -> str:
    return env(manifest.EXPORTS_BUCKET.env)


def user_pool_id() -> str:
    return env(manifest.USER_POOL.env)


def user_pool_client_id() -> str:
    return env(manifest.USER_POOL.client_env)


def secrets_prefix() -> str:
    return env(manifest.PROVIDER_SECRETS.env)


def stage() -> str:
    return env("STAGE", "dev")


def default_country() -> str:
    """ISO 3166-1 alpha-2 region used to parse numbers typed without a country code."""
    return env("DEFAULT_COUNTRY", "NL").upper()


#: ``MESSAGE_EVENTS`` (CDK context ``messageEvents``): which ``message.<status>`` events are published
#: (docs/events.md). ``all``: every status (queued, sent and the final one); ``final``: the final status
#: of every outbound message; ``conversations``: the final status of messages in a conversation only.
MESSAGE_EVENTS_MODES = ("all", "final", "conversations")
MESSAGE_EVENTS_DEFAULT = "final"


def message_events() -> str:
    """The deployment's ``MESSAGE_EVENTS`` (``final`` when unset, e.g. in unit tests)."""
    value = (os.environ.get("MESSAGE_EVENTS") or MESSAGE_EVENTS_DEFAULT).strip().lower()
    if value not in MESSAGE_EVENTS_MODES:
        raise ConfigError(f"MESSAGE_EVENTS={value!r}: expected one of {', '.join(MESSAGE_EVENTS_MODES)}")
    return value


def is_local() -> bool:
    """True inside the local stack (moto). Only used to expose local-only routes such as /sandbox."""
    return os.environ.get("SMSDESK_LOCAL") == "1"
