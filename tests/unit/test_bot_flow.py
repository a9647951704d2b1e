"""Scripted bots: flow validation (names the failing step) and the pure interpreter."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from smsdesk.bots import engine
from smsdesk.bots.flow import Flow, FlowError, check, fold, match_choice, rating

ORDER = {
    "steps": [
        {"id": "hi", "type": "send", "text": "Hi {{first_name|there}}, thanks for your message.", "next": "order"},
        {
            "id": "order",
            "type": "ask",
            "text": "Your order number?",
            "save_to": "order_no",
            "next": "menu",
            "timeout_s": 60,
            "timeout_next": "late",
        },
        {
            "id": "menu",
            "type": "ask",
            "text": "1 Delivery 2 Refund",
            "choices": [
                {"keywords": ["delivery", "levering"], "next": "to_humans"},
                {"keywords": ["refund", "remboursement"], "next": "bye"},
            ],
        },
        {"id": "to_humans", "type": "handoff"},
        {"id": "late", "type": "send", "text": "No answer, an agent will help you.", "next": "to_humans"},
        {"id": "bye", "type": "close"},
    ]
}


def flow(data: dict) -> Flow:
    return Flow.model_validate(data)


def test_valid_flow_passes() -> None:
    check(flow(ORDER), fields={"order_no"})


def test_missing_target_names_the_step() -> None:
    data = {"steps": [dict(s) for s in ORDER["steps"]]}
    data["steps"][4]["next"] = "nowhere"
    with pytest.raises(FlowError) as err:
        check(flow(data))
    assert err.value.field == "flow.steps.4.next"
    data["steps"][2]["choices"] = [{"keywords": ["x"], "next": "gone"}]
    with pytest.raises(FlowError) as err:
        check(flow(data))
    assert err.value.field == "flow.steps.2.choices.0.next"


def test_busy_loop_is_refused_but_a_loop_through_an_ask_is_fine() -> None:
    loop = {
        "steps": [
            {"id": "a", "type": "send", "text": "a", "next": "b"},
            {"id": "b", "type": "set_field", "field": "x", "value": "1", "next": "c"},
            {"id": "c", "type": "send", "text": "c", "next": "a"},
        ]
    }
    with pytest.raises(FlowError) as err:
        check(flow(loop))
    assert err.value.field == "flow.steps.2.next" and "loop" in err.value.message
    waits = {
        "steps": [
            {"id": "a", "type": "send", "text": "a", "next": "q"},
            {"id": "q", "type": "ask", "text": "again?", "choices": [{"keywords": ["yes"], "next": "a"}]},
        ]
    }
    check(flow(waits))


def test_duplicate_ids_unknown_field_and_bad_step_shapes() -> None:
    with pytest.raises(FlowError) as err:
        check(flow({"steps": [{"id": "a", "type": "end"}, {"id": "a", "type": "end"}]}))
    assert err.value.field == "flow.steps.1.id"
    with pytest.raises(FlowError) as err:
        check(flow({"steps": [{"id": "a", "type": "set_field", "field": "nope", "value": "1"}]}), fields=set())
    assert err.value.field == "flow.steps.0.field"
    with pytest.raises(FlowError) as err:
        check(flow({"steps": [{"id": "a", "type": "ask", "text": "?"}]}))
    assert err.value.field == "flow.steps.0.choices"
    with pytest.raises(ValidationError) as verr:
        flow({"steps": [{"id": "a", "type": "teleport"}]})
    assert verr.value.errors()[0]["loc"][:2] == ("steps", 0)


def test_matching_ignores_case_accents_and_takes_menu_numbers() -> None:
    step = flow(ORDER).step("menu")
    assert match_choice(step, "  REMBOURSEMENT! ") == 1  # type: ignore[arg-type]
    assert match_choice(step, "Lévering") == 0  # type: ignore[arg-type]
    assert match_choice(step, "2") == 1 and match_choice(step, "3") is None  # type: ignore[arg-type]
    assert fold("Élan.") == "elan"
    assert rating("4/5") == 4 and rating("9") is None and rating("great") is None


def test_run_asks_saves_the_answer_and_hands_off() -> None:
    f = flow(ORDER)
    r = engine.start(f)
    assert [a.kind for a in r.actions] == ["send", "send", "wait"]
    assert r.actions[2].timeout_s == 60 and r.state.step_id == "order" and r.state.status == "waiting"
    r = engine.answer(f, r.state, " A-1234 ")
    assert r.actions[0] == engine.Action("set_field", field="order_no", value="A-1234", step_id="order")
    assert r.state.step_id == "menu"
    r2 = engine.answer(f, r.state, "what?")  # no match: the question again
    assert [a.kind for a in r2.actions] == ["send", "wait"] and r2.state.retries == 1
    r3 = engine.answer(f, r2.state, "1")
    assert [a.kind for a in r3.actions] == ["handoff"] and r3.state.status == "done"
    assert r3.state.outcome == "handoff"


def test_too_many_unmatched_answers_hand_off_and_timeouts_follow_timeout_next() -> None:
    f = flow(ORDER)
    state = engine.answer(f, engine.start(f).state, "A-1").state
    for _ in range(2):
        state = engine.answer(f, state, "??").state
    r = engine.answer(f, state, "??")
    assert [a.kind for a in r.actions] == ["handoff"]
    waiting = engine.start(f).state
    assert engine.timeout(f, waiting, waiting.wait_seq - 1).actions == []  # stale
    r = engine.timeout(f, waiting, waiting.wait_seq)
    assert [a.kind for a in r.actions] == ["send", "handoff"]


def test_csat_rating_recorded_then_end() -> None:
    f = flow(
        {
            "steps": [
                {"id": "s", "type": "csat", "next": "thanks"},
                {"id": "thanks", "type": "send", "text": "Thank you!"},
            ]
        }
    )
    r = engine.start(f)
    r = engine.answer(f, r.state, "I'd say 5")
    assert [a.kind for a in r.actions] == ["csat", "send", "end"] and r.actions[0].rating == 5
    assert r.state.outcome == "end"
    again = engine.answer(f, r.state, "4")  # done: nothing more
    assert again.actions == []


def test_webhook_signature_and_answer_mapping() -> None:
    import hashlib
    import hmac

    from smsdesk.bots import webhook

    body = b'{"event":"start"}'
    expected = hmac.new(b"k" * 16, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert webhook.sign("k" * 16, "1700000000", body) == f"sha256={expected}"
    acts, ending = webhook.to_actions(
        [{"type": "send", "text": "hi"}, {"type": "teleport"}, {"type": "close"}, {"type": "send", "text": "never"}]
    )
    assert [a.kind for a in acts] == ["send", "close"] and ending == "close"
    assert webhook.to_actions([{"type": "send", "text": "hi"}])[1] is None  # waits for the customer
    assert webhook.to_actions(None) == ([engine.Action("handoff")], "handoff")  # dead endpoint: humans
