"""The manifest's own invariants (the CDK and local-stack tests check that both follow it)."""

from pathlib import Path

import pytest

from smsdesk import manifest as m

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("fn", m.FUNCTIONS, ids=lambda f: f.name)
def test_every_function_has_an_entry_point_with_its_handler(fn):
    module, func = fn.handler.split(".")
    src = (ROOT / "functions" / fn.entry / f"{module}.py").read_text()
    assert f"def {func}(event, context)" in src


@pytest.mark.parametrize("fn", m.FUNCTIONS, ids=lambda f: f.name)
def test_queue_visibility_is_at_least_six_times_the_consumer_timeout(fn):
    # AWS guidance for SQS -> Lambda: otherwise a slow batch reappears while still being processed.
    for t in fn.triggers:
        if isinstance(t, m.QueueTrigger):
            assert t.queue.visibility_timeout_s >= 6 * fn.timeout_s, (fn.name, t.queue.name)


def test_every_queue_has_exactly_one_consumer():
    consumers = {q.name: [] for q in m.QUEUES}
    for fn in m.FUNCTIONS:
        for t in fn.triggers:
            if isinstance(t, m.QueueTrigger):
                consumers[t.queue.name].append(fn.name)
    assert {k: len(v) for k, v in consumers.items()} == dict.fromkeys(consumers, 1)


def test_references_between_resources_resolve():
    names = {q.name for q in m.QUEUES}
    assert m.SCHEDULE_GROUP.target_queue in names
    for topic in m.TOPICS:
        assert set(topic.subscribers) <= names


def test_environment_variable_names_are_unique_across_resources():
    primary = [r.env for r in m.all_resources()]
    assert len(primary) == len(set(primary))
    # The only shared name: the schedule group needs its target queue's ARN.
    owners: dict[str, set[str]] = {}
    for r in m.all_resources():
        for name in m.env_names(r):
            owners.setdefault(name, set()).add(f"{type(r).__name__}:{r.name}")
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    assert shared == {"TIMERS_QUEUE_ARN": {"Queue:timers", "ScheduleGroup:timers"}}


def test_routes_do_not_overlap_between_functions():
    keys = [(t.method, t.path) for f in m.FUNCTIONS for t in f.triggers if isinstance(t, m.HttpRoute)]
    assert len(keys) == len(set(keys))
    # Only webhooks and the public system routes are unauthenticated.
    public = {
        t.path
        for f in m.FUNCTIONS
        for t in f.triggers
        if isinstance(t, m.HttpRoute) and not t.authorized and not t.local_only
    }
    assert public == {"/health", "/openapi.json", "/docs", "/webhooks/{proxy+}"}
    local_only = {t.path for f in m.FUNCTIONS for t in f.triggers if isinstance(t, m.HttpRoute) and t.local_only}
    assert local_only == {"/sandbox/{proxy+}"}


def test_bus_rule_pattern_uses_the_bus_source_and_prefixes():
    rule = m.BusRule("r", detail_types=("a.b",), detail_type_prefixes=("conversation.",))
    assert rule.pattern() == {"source": ["smsdesk"], "detail-type": ["a.b", {"prefix": "conversation."}]}


def test_the_notifier_is_invoked_only_for_the_events_it_acts_on():
    """Every other event would be an invocation doing nothing (a sent SMS alone causes four)."""
    rule = m.NOTIFIER.triggers[0]
    assert rule.pattern() == {
        "source": ["smsdesk"],
        "detail-type": ["message.received", "conversation.assigned", "conversation.transferred"],
    }


def test_function_resources_lists_each_resource_once():
    assert len(m.API.resources) == len(set(map(id, m.API.resources)))
    assert m.MAIN_TABLE in m.API.resources
