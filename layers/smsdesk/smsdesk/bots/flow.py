"""A scripted bot's flow: steps as JSON, validated on save (pure; no AWS).

A flow is a list of steps, each with an ``id`` unique in the flow; the first step starts the run.
Steps that go on name the next step's id in ``next`` (and ``ask`` per choice, and on timeout):

* ``send``: a text (merge fields ``{{first_name}}``, ``{{custom.key|default}}``...), then ``next``;
* ``ask``: a question, then the run waits for the customer's answer. With ``choices`` the answer is
  matched against each choice's keywords, or its menu number (1 = the first choice), ignoring case,
  accents and surrounding punctuation; with ``save_to`` any answer is stored in that contact field
  and the run goes to ``next``. An answer that matches nothing repeats the question (at most
  ``max_retries`` times, then ``fallback_next`` or a handoff). ``timeout_s`` (0 = none): no answer in
  time goes to ``timeout_next`` (or a handoff);
* ``csat``: a 1-5 rating question; the rating is stored with the run (channel stats), then ``next``;
* ``set_field``: stores ``value`` in a contact field, then ``next``;
* ``assign``: to an agent (``user_id``) or to an available member of a team (``team_id``): ends the run;
* ``handoff``: into the channel's queue, to humans (at the interaction's original arrival time): ends it;
* ``close``: closes the conversation: ends it;
* ``end``: ends the run (an on-start or after-timeout bot then hands off; a finish bot just stops).

:func:`check` refuses (naming the step's field, e.g. ``flow.steps.3.next``) a duplicate id, a
``next`` naming no step, and any cycle that does not pass through an ``ask``/``csat`` (a run that
could loop forever without waiting for the customer).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk.text.merge import template_fields

StepId = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=1000)]
#: Contact fields a bot may write besides the custom fields (``/v1/contact-fields`` keys).
STANDARD_FIELDS = ("first_name", "last_name", "email", "language")
MAX_STEPS = 100


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    id: StepId


class SendStep(_Step):
    type: Literal["send"]
    text: Text
    next: StepId | None = Field(default=None, description="null: the run ends after it")


class Choice(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    keywords: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(default_factory=list, max_length=20)
    next: StepId


class AskStep(_Step):
    type: Literal["ask"]
    text: Text
    choices: list[Choice] = Field(default_factory=list, max_length=20, description="Matched by keyword or number")
    save_to: str | None = Field(default=None, max_length=64, description="Store the answer in this contact field")
    next: StepId | None = Field(default=None, description="After an answer stored with save_to")
    max_retries: int = Field(default=2, ge=0, le=10, description="Unmatched answers repeat the question")
    fallback_next: StepId | None = Field(default=None, description="After too many unmatched answers (null: handoff)")
    timeout_s: int = Field(default=0, ge=0, le=7 * 86_400, description="0 = wait for ever")
    timeout_next: StepId | None = Field(default=None, description="No answer within timeout_s (null: handoff)")


class CsatStep(_Step):
    type: Literal["csat"]
    text: Text = "How satisfied are you with our service, from 1 (poor) to 5 (excellent)?"
    next: StepId | None = None
    timeout_s: int = Field(default=0, ge=0, le=7 * 86_400)
    timeout_next: StepId | None = None


class SetFieldStep(_Step):
    type: Literal["set_field"]
    field: str = Field(min_length=1, max_length=64)
    value: str = Field(max_length=1000)
    next: StepId | None = None


class AssignStep(_Step):
    type: Literal["assign"]
    user_id: str | None = Field(default=None, max_length=64)
    team_id: str | None = Field(default=None, max_length=64)


class HandoffStep(_Step):
    type: Literal["handoff"]


class CloseStep(_Step):
    type: Literal["close"]


class EndStep(_Step):
    type: Literal["end"]


Step = Annotated[
    SendStep | AskStep | CsatStep | SetFieldStep | AssignStep | HandoffStep | CloseStep | EndStep,
    Field(discriminator="type"),
]
WAITING = ("ask", "csat")


class Flow(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS, description="The first step starts the run")

    def step(self, step_id: str | None) -> Step | None:
        for s in self.steps:
            if s.id == step_id:
                return s
        return None


class FlowError(Exception):
    """A flow that cannot be saved: ``field`` names it (``flow.steps.3.next``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def targets(step: Step) -> list[tuple[str, str]]:
    """(field, step id) of every step ``step`` may go to."""
    out: list[tuple[str, str]] = []
    for name in ("next", "fallback_next", "timeout_next"):
        value = getattr(step, name, None)
        if value:
            out.append((name, value))
    for i, choice in enumerate(getattr(step, "choices", []) or []):
        out.append((f"choices.{i}.next", choice.next))
    return out


def check(flow: Flow, *, fields: set[str] | None = None, prefix: str = "flow") -> None:
    """Raise :class:`FlowError` for a flow that could not run (see the module docstring). ``fields``:
    the custom field keys that exist (None: not checked)."""
    index: dict[str, int] = {}
    for i, step in enumerate(flow.steps):
        if step.id in index:
            raise FlowError(f"{prefix}.steps.{i}.id", f"step id {step.id!r} is used twice")
        index[step.id] = i
    for i, step in enumerate(flow.steps):
        here = f"{prefix}.steps.{i}"
        for name, target in targets(step):
            if target not in index:
                raise FlowError(f"{here}.{name}", f"step {step.id!r} goes to {target!r}, which is not a step")
        if isinstance(step, AskStep):
            if not step.choices and not step.save_to:
                raise FlowError(f"{here}.choices", "an ask step needs choices or save_to")
            if step.save_to and not step.next:
                raise FlowError(f"{here}.next", "an ask step with save_to needs next")
        if isinstance(step, AssignStep) and bool(step.user_id) == bool(step.team_id):
            raise FlowError(f"{here}.user_id", "an assign step names either user_id or team_id")
        for name in ("save_to", "field"):
            key = getattr(step, name, None)
            if key and fields is not None and key not in STANDARD_FIELDS and key not in fields:
                raise FlowError(f"{here}.{name}", f"{key!r} is not a contact field")
        text = getattr(step, "text", None)
        if text:
            try:
                template_fields(text, field=f"{here}.text")
            except Exception as exc:
                raise FlowError(f"{here}.text", str(exc)) from exc
    _no_busy_loop(flow, index, prefix)


def _no_busy_loop(flow: Flow, index: dict[str, int], prefix: str) -> None:
    """A cycle through steps that never wait (no ask/csat) would run for ever: refuse the edge that
    closes it (depth-first search on the non-waiting steps)."""
    state: dict[str, int] = {}  # 1 = on the path, 2 = done

    def visit(step_id: str) -> None:
        state[step_id] = 1
        i = index[step_id]
        step = flow.steps[i]
        if step.type not in WAITING:
            for name, target in targets(step):
                if flow.steps[index[target]].type in WAITING:
                    continue
                if state.get(target) == 1:
                    raise FlowError(
                        f"{prefix}.steps.{i}.{name}",
                        f"step {step.id!r} goes back to {target!r} without waiting for an answer: it would loop for ever",
                    )
                if state.get(target) is None:
                    visit(target)
        state[step_id] = 2

    for step in flow.steps:
        if state.get(step.id) is None:
            visit(step.id)


# -- matching answers ---------------------------------------------------------------------------------

_EDGE = re.compile(r"^[\W_]+|[\W_]+$")


def fold(text: str) -> str:
    """Case-, accent- and edge-punctuation-insensitive form of an answer or keyword."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _EDGE.sub("", " ".join(plain.casefold().split()))


def match_choice(step: AskStep, answer: str) -> int | None:
    """The index of the choice ``answer`` picks: its menu number (1-based) or one of its keywords."""
    folded = fold(answer)
    if folded.isdigit() and 1 <= int(folded) <= len(step.choices):
        return int(folded) - 1
    for i, choice in enumerate(step.choices):
        if any(fold(k) == folded for k in choice.keywords):
            return i
    return None


def rating(answer: str) -> int | None:
    """A CSAT answer's rating 1-5 ("4", "4/5", "  5 ! "), or None."""
    found = re.findall(r"\d+", answer)
    if len(found) >= 1 and found[0].isdigit() and 1 <= int(found[0]) <= 5:
        return int(found[0])
    return None
