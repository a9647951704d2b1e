"""The flow interpreter: a pure function of (flow, run state, input) → (actions, new state).

The runtime (:mod:`smsdesk.bots.runtime`) stores the state, performs the actions (send, set a field,
hand off...) and feeds the customer's answers and the ``ask`` timeouts back in. Nothing here reads a
clock, a table or the network, so every path of a flow is unit-tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict

from smsdesk.bots.flow import AskStep, CsatStep, Flow, match_choice, rating

ActionKind = Literal["send", "set_field", "csat", "wait", "assign", "handoff", "close", "end"]
#: How a run ended (``end``: the flow's end or a step without next).
Outcome = Literal["handoff", "assign", "close", "end"]


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    text: str | None = None  # send: the template
    field: str | None = None  # set_field
    value: str | None = None  # set_field
    rating: int | None = None  # csat
    step_id: str | None = None  # wait: the step waiting; send: the step it comes from
    timeout_s: int = 0  # wait
    user_id: str | None = None  # assign
    team_id: str | None = None  # assign


class RunState(BaseModel):
    """Where a run is: ``waiting`` at ``step_id`` (an ask/csat), or ``done``."""

    model_config = ConfigDict(defer_build=True)

    status: Literal["new", "waiting", "done"] = "new"
    step_id: str | None = None
    retries: int = 0
    #: Increases with every wait: a timer names the wait it belongs to.
    wait_seq: int = 0
    outcome: Outcome | None = None


@dataclass
class Result:
    actions: list[Action] = field(default_factory=list)
    state: RunState = field(default_factory=RunState)


def start(flow: Flow) -> Result:
    """Run the flow from its first step until it waits or ends."""
    return _run(flow, flow.steps[0].id, RunState(), [])


def answer(flow: Flow, state: RunState, text: str) -> Result:
    """The customer answered while the run waits (else nothing happens)."""
    step = flow.step(state.step_id)
    if state.status != "waiting" or step is None:
        return Result([], state)
    acts: list[Action] = []
    if isinstance(step, CsatStep):
        value = rating(text)
        if value is None:
            return _retry(flow, state, step, acts, limit=1)
        acts.append(Action("csat", rating=value, step_id=step.id))
        return _goto(flow, step.next, state, acts)
    assert isinstance(step, AskStep)
    if step.choices:
        picked = match_choice(step, text)
        if picked is not None:
            return _goto(flow, step.choices[picked].next, state, acts)
        if not step.save_to:
            return _retry(flow, state, step, acts, limit=step.max_retries, fallback=step.fallback_next)
    acts.append(Action("set_field", field=step.save_to, value=text.strip(), step_id=step.id))
    return _goto(flow, step.next, state, acts)


def timeout(flow: Flow, state: RunState, wait_seq: int) -> Result:
    """The wait ``wait_seq`` timed out (a stale one, answered meanwhile, does nothing)."""
    step = flow.step(state.step_id)
    if state.status != "waiting" or state.wait_seq != wait_seq or not isinstance(step, AskStep | CsatStep):
        return Result([], state)
    if step.timeout_next:
        return _goto(flow, step.timeout_next, state, [])
    if isinstance(step, CsatStep):
        return _done(state, [], "end")  # no rating: the survey just ends
    return _done(state, [Action("handoff")], "handoff")


def stop(state: RunState) -> RunState:
    return state.model_copy(update={"status": "done", "step_id": None})


def _goto(flow: Flow, step_id: str | None, state: RunState, acts: list[Action]) -> Result:
    if step_id is None:
        return _done(state, acts, "end")
    return _run(flow, step_id, state.model_copy(update={"retries": 0}), acts)


def _retry(
    flow: Flow,
    state: RunState,
    step: AskStep | CsatStep,
    acts: list[Action],
    *,
    limit: int,
    fallback: str | None = None,
) -> Result:
    if state.retries >= limit:
        if fallback:
            return _goto(flow, fallback, state, acts)
        if isinstance(step, CsatStep):
            return _done(state, acts, "end")
        return _done(state, [*acts, Action("handoff")], "handoff")
    new = state.model_copy(update={"retries": state.retries + 1, "wait_seq": state.wait_seq + 1})
    acts += [
        Action("send", text=step.text, step_id=step.id),
        Action("wait", step_id=step.id, timeout_s=step.timeout_s),
    ]
    return Result(acts, new)


def _done(state: RunState, acts: list[Action], outcome: Outcome) -> Result:
    if not acts or acts[-1].kind not in ("handoff", "assign", "close", "end"):
        acts = [*acts, Action("end")]
    return Result(acts, state.model_copy(update={"status": "done", "step_id": None, "outcome": outcome}))


def _run(flow: Flow, step_id: str, state: RunState, acts: list[Action]) -> Result:
    """Execute steps from ``step_id`` until one waits or ends the run. A validated flow has no cycle
    without a wait, so this visits each step at most once; the bound guards an unchecked flow."""
    current: str | None = step_id
    for _ in range(len(flow.steps) + 1):
        step = flow.step(current)
        if step is None:
            return _done(state, acts, "end")
        kind = step.type
        if kind == "send":
            acts.append(Action("send", text=step.text, step_id=step.id))  # type: ignore[union-attr]
            current = step.next  # type: ignore[union-attr]
        elif kind == "set_field":
            acts.append(Action("set_field", field=step.field, value=step.value, step_id=step.id))  # type: ignore[union-attr]
            current = step.next  # type: ignore[union-attr]
        elif kind in ("ask", "csat"):
            seq = state.wait_seq + 1
            acts += [
                Action("send", text=step.text, step_id=step.id),  # type: ignore[union-attr]
                Action("wait", step_id=step.id, timeout_s=step.timeout_s),  # type: ignore[union-attr]
            ]
            return Result(acts, state.model_copy(update={"status": "waiting", "step_id": step.id, "wait_seq": seq}))
        elif kind == "assign":
            acts.append(Action("assign", user_id=step.user_id, team_id=step.team_id))  # type: ignore[union-attr]
            return _done(state, acts, "assign")
        elif kind == "handoff":
            return _done(state, [*acts, Action("handoff")], "handoff")
        elif kind == "close":
            return _done(state, [*acts, Action("close")], "close")
        else:
            return _done(state, acts, "end")
        if current is None:
            return _done(state, acts, "end")
    return _done(state, [*acts, Action("handoff")], "handoff")
