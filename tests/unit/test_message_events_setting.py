"""MESSAGE_EVENTS (issue 11): which ``message.<status>`` events a deployment publishes, decided where the
writes are built (``outbox.status_event``), so a write announcing nothing carries no ``ob`` at all."""

from __future__ import annotations

import pytest

from smsdesk import config, manifest, outbox

STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")


def published(mode: str, *, conversation: bool) -> list[str]:
    with pytest.MonkeyPatch.context() as m:
        m.setenv("MESSAGE_EVENTS", mode)
        return [s for s in STATUSES if outbox.status_event(s, conversation=conversation) is not None]


def test_the_default_is_final_without_any_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESSAGE_EVENTS", raising=False)
    assert config.message_events() == "final"
    monkeypatch.setenv("MESSAGE_EVENTS", "")
    assert config.message_events() == "final"
    monkeypatch.setenv("MESSAGE_EVENTS", "ALL")
    assert config.message_events() == "all"
    monkeypatch.setenv("MESSAGE_EVENTS", "some")
    with pytest.raises(config.ConfigError, match="MESSAGE_EVENTS"):
        config.message_events()


def test_which_statuses_each_mode_publishes() -> None:
    final = ["delivered", "undelivered", "failed"]
    assert published("all", conversation=False) == list(STATUSES)
    assert published("all", conversation=True) == list(STATUSES)
    assert published("final", conversation=False) == final
    # a conversation's message is also announced when it is sent: its transcript needs no receipt
    assert published("final", conversation=True) == ["queued", *final]
    assert published("conversations", conversation=False) == []
    assert published("conversations", conversation=True) == ["queued", *final]


def test_an_unknown_conversation_is_only_needed_where_it_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSAGE_EVENTS", "conversations")
    assert outbox.status_event("sent") is None  # never published in this mode: no need to know
    assert outbox.depends_on_conversation("delivered") and not outbox.depends_on_conversation("sent")
    with pytest.raises(ValueError):
        outbox.status_event("delivered")
    monkeypatch.setenv("MESSAGE_EVENTS", "final")
    assert outbox.status_event("delivered") == {"type": "message.delivered", "of": "message"}
    assert not outbox.depends_on_conversation("delivered")


def test_a_write_announcing_nothing_carries_no_outbox_entry_but_keeps_its_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MESSAGE_EVENTS", "final")
    job = outbox.job(manifest.OUTBOUND_QUEUE, "{}")
    assert outbox.change([outbox.status_event("sent", conversation=False)]) is None
    queued = outbox.change([outbox.status_event("queued", conversation=False)], [job])
    assert queued is not None and "events" not in queued and queued["jobs"] == [job]
    with pytest.raises(ValueError):  # whether a queued message is announced depends on its conversation
        outbox.status_event("queued")
    monkeypatch.setenv("MESSAGE_EVENTS", "all")
    queued = outbox.change([outbox.status_event("queued", conversation=False)], [job])
    assert queued is not None and queued["events"] == [{"type": "message.queued", "of": "message"}]


def test_every_function_gets_the_setting() -> None:
    assert "MESSAGE_EVENTS" in manifest.COMMON_ENV_NAMES
    assert all("MESSAGE_EVENTS" in manifest.function_env_names(f) for f in manifest.FUNCTIONS)


def test_crmnotes_matches_only_messages_of_a_conversation_and_their_final_events() -> None:
    [rule] = [t for t in manifest.function("crmnotes").triggers if isinstance(t, manifest.BusRule)]
    pattern = rule.pattern()
    assert pattern["detail"] == {"conversation_id": [{"prefix": ""}]}
    assert set(pattern["detail-type"]) >= {
        "crm.linked",
        "message.received",
        "message.queued",
        "message.delivered",
        "message.undelivered",
        "message.failed",
    }


def test_the_local_stack_takes_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from smsdesk.local import cli
    from smsdesk.local.stack import LocalStack

    monkeypatch.delenv("MESSAGE_EVENTS", raising=False)
    parser = cli.configure(argparse.ArgumentParser())
    assert parser.parse_args([]).message_events == "final"
    assert parser.parse_args(["--message-events", "conversations"]).message_events == "conversations"
    with pytest.raises(SystemExit):
        parser.parse_args(["--message-events", "some"])
    assert LocalStack(message_events="ALL").message_events == "all"
    with pytest.raises(ValueError, match="message_events"):
        LocalStack(message_events="some")
