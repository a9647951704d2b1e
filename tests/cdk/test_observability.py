"""The stack is observable and loses nothing (synthesized ONCE per module; bundling skipped).

* cfn-lint finds no error (and no warning but the one CDK always produces) in the template;
* Scheduler targets and SNS -> SQS subscriptions have dead-letter queues, alarmed, that the senders may
  write to; the Scheduler DLQ's ARN reaches the code that creates schedules;
* alarms: the outbound queue's age, API 5xx, DynamoDB throttles (tables and GSIs);
* one dashboard: sends, deliveries, failures, inbound (the metrics the code emits), queue depth and age,
  Lambda errors per function, API 4xx/5xx/latency.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from aws_cdk import App  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402

from infra import stack as stack_mod  # noqa: E402
from infra.app import build, cdk_json_context  # noqa: E402
from infra.stack import SmsdeskStack  # noqa: E402
from smsdesk import manifest as m  # noqa: E402

pytestmark = pytest.mark.cdk

STAGE = "ci"
PACKAGE = REPO_ROOT / "layers" / "smsdesk" / "smsdesk"
#: cfn-lint warnings accepted, with the reason. W3005: aws-cdk-lib's Function depends on its role
#: *construct* (so on the role's default policy, which must exist before the function runs); that also
#: renders the role itself in DependsOn, next to the Role GetAtt. Redundant, harmless, not ours to change.
ACCEPTED_WARNINGS = {"W3005"}


class Synth:
    def __init__(self, stack: SmsdeskStack, outdir: Path) -> None:
        self.stack = stack
        self.outdir = outdir
        self.template = Template.from_stack(stack)
        self.json: dict = self.template.to_json()
        self.resources: dict = self.json["Resources"]

    def lid(self, construct) -> str:
        return self.stack.get_logical_id(construct.node.default_child)

    def of_type(self, cfn_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.resources.items() if v["Type"] == cfn_type}

    def alarms(self) -> list[dict]:
        return [a["Properties"] for a in self.of_type("AWS::CloudWatch::Alarm").values()]

    def alarms_on(self, metric: str, dimensions: list[dict]) -> list[dict]:
        return [a for a in self.alarms() if a.get("MetricName") == metric and a.get("Dimensions") == dimensions]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    context = {**cdk_json_context(), "aws:cdk:bundling-stacks": [], "stage": STAGE}
    app = App(context=context, outdir=str(outdir))
    stack = build(app, nag=False)  # cdk-nag is checked in test_stack.py
    app.synth()
    return Synth(stack, outdir)


def _getatt(lid: str, attr: str = "Arn") -> dict:
    return {"Fn::GetAtt": [lid, attr]}


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _queue_dims(synth: Synth, queue) -> list[dict]:
    return [{"Name": "QueueName", "Value": _getatt(synth.lid(queue), "QueueName")}]


def _to_alarm_topic(synth: Synth, alarm: dict) -> bool:
    return alarm["AlarmActions"] == [{"Ref": synth.lid(synth.stack.alarm_topic)}]


# --------------------------------------------------------------------------------------------------
# cfn-lint
# --------------------------------------------------------------------------------------------------


def _cfn_lint() -> str:
    exe = Path(sys.executable).with_name("cfn-lint")
    found = str(exe) if exe.exists() else shutil.which("cfn-lint")
    assert found, "cfn-lint is not installed (pip install -e '.[dev]')"
    return found


def test_cfn_lint_finds_no_errors(synth: Synth) -> None:
    template = synth.outdir / f"{synth.stack.stack_name}.template.json"
    proc = subprocess.run(
        [_cfn_lint(), "--format", "json", "--", str(template)], capture_output=True, text=True, timeout=300
    )
    findings = json.loads(proc.stdout or "[]")
    report = [f"{f['Rule']['Id']} {f['Level']}: {f['Message']} ({f['Location']['Path']})" for f in findings]
    errors = [r for f, r in zip(findings, report, strict=True) if f["Level"] == "Error"]
    assert errors == [], "\n".join(errors)
    unexpected = [r for f, r in zip(findings, report, strict=True) if f["Rule"]["Id"] not in ACCEPTED_WARNINGS]
    assert unexpected == [], "\n".join(unexpected)
    assert proc.returncode & 2 == 0, proc.stderr  # bit 2: errors


def test_cfn_lint_does_report_errors(tmp_path: Path) -> None:
    """The check above can fail: a broken template is reported."""
    bad = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": "soon"}}}}
    path = tmp_path / "bad.template.json"
    path.write_text(json.dumps(bad))
    proc = subprocess.run([_cfn_lint(), "--format", "json", "--", str(path)], capture_output=True, text=True)
    findings = json.loads(proc.stdout)
    assert any(f["Level"] == "Error" for f in findings) and proc.returncode & 2


# --------------------------------------------------------------------------------------------------
# Dead-letter queues: Scheduler targets, SNS subscriptions
# --------------------------------------------------------------------------------------------------


def _dlq_alarmed(synth: Synth, dlq) -> bool:
    alarms = synth.alarms_on("ApproximateNumberOfMessagesVisible", _queue_dims(synth, dlq))
    return len(alarms) == 1 and _to_alarm_topic(synth, alarms[0]) and alarms[0]["Threshold"] == 1


@pytest.mark.parametrize(
    ("topic", "queue"), [(t, q) for t in m.TOPICS for q in t.subscribers], ids=lambda x: getattr(x, "name", x)
)
def test_sns_subscription_has_a_dead_letter_queue(synth: Synth, topic: m.Topic, queue: str) -> None:
    stack = synth.stack
    dlq = stack.dlqs[topic.subscription_dlq_name(queue)]
    dlq_lid = synth.lid(dlq)
    topic_lid = synth.lid(stack.topics[topic.name])
    subs = [
        s["Properties"]
        for s in synth.of_type("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == {"Ref": topic_lid}
        and s["Properties"]["Endpoint"] == _getatt(synth.lid(stack.queues[queue]))
    ]
    assert len(subs) == 1
    assert subs[0]["RedrivePolicy"] == {"deadLetterTargetArn": _getatt(dlq_lid)}
    assert subs[0]["RawMessageDelivery"] is True
    # SNS may send to the DLQ, only for this topic.
    allows = [
        st
        for p in synth.of_type("AWS::SQS::QueuePolicy").values()
        if {"Ref": dlq_lid} in p["Properties"]["Queues"]
        for st in p["Properties"]["PolicyDocument"]["Statement"]
        if st["Effect"] == "Allow"
    ]
    assert allows == [
        {
            "Action": "sqs:SendMessage",
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": topic_lid}}},
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Resource": _getatt(dlq_lid),
        }
    ]
    props = synth.resources[dlq_lid]["Properties"]
    assert props["SqsManagedSseEnabled"] is True and props["MessageRetentionPeriod"] == 14 * 86400
    assert _dlq_alarmed(synth, dlq)


def test_scheduler_dead_letter_queue_reaches_the_code_and_the_role(synth: Synth) -> None:
    stack = synth.stack
    group = m.SCHEDULE_GROUP
    dlq = stack.dlqs[group.dlq_name]
    dlq_lid = synth.lid(dlq)
    assert dlq is stack.schedule_dlq
    assert dlq is not stack.dlqs[m.queue(group.target_queue).dlq_name]
    # Every function that creates schedules finds the DLQ's ARN in its environment.
    schedulers = [fn for fn in m.FUNCTIONS if group in fn.resources]
    assert schedulers, "some function manages schedules"
    for fn in m.FUNCTIONS:
        env = synth.resources[synth.lid(stack.functions[fn.name].function)]["Properties"]["Environment"]["Variables"]
        if fn in schedulers:
            assert env[group.dlq_env] == _getatt(dlq_lid), fn.name
        else:
            assert group.dlq_env not in env, fn.name
    # The role Scheduler assumes may send to the target queue(s) and to the DLQ, nothing else.
    role_lid = synth.lid(stack.scheduler_role)
    statements = [
        st
        for p in synth.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_lid} in p["Properties"]["Roles"]
        for st in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    sends = {json.dumps(r, sort_keys=True) for st in statements for r in _as_list(st["Resource"])}
    assert {a for st in statements for a in _as_list(st["Action"])} == {"sqs:SendMessage"}
    assert sends == {
        json.dumps(_getatt(dlq_lid), sort_keys=True),
        json.dumps(_getatt(synth.lid(stack.queues[group.target_queue])), sort_keys=True),
        # campaign schedules (issue 14) deliver to the bulk queue
        *(json.dumps(_getatt(synth.lid(stack.queues[q])), sort_keys=True) for q in group.other_targets),
    }
    assert _dlq_alarmed(synth, dlq)


def test_every_dead_letter_queue_is_alarmed(synth: Synth) -> None:
    for name, dlq in synth.stack.dlqs.items():
        assert _dlq_alarmed(synth, dlq), name


# --------------------------------------------------------------------------------------------------
# Alarms
# --------------------------------------------------------------------------------------------------


def test_outbound_queue_age_alarm(synth: Synth) -> None:
    assert m.OUTBOUND_QUEUE.age_alarm_s == 300
    for spec in m.QUEUES:
        alarms = synth.alarms_on("ApproximateAgeOfOldestMessage", _queue_dims(synth, synth.stack.queues[spec.name]))
        if spec.age_alarm_s is None:
            assert alarms == [], spec.name
            continue
        (alarm,) = alarms
        assert _to_alarm_topic(synth, alarm)
        assert alarm["Threshold"] == spec.age_alarm_s
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["Statistic"] == "Maximum" and alarm["Namespace"] == "AWS/SQS"
        assert alarm["Period"] * alarm["EvaluationPeriods"] <= 600  # noticed within minutes


def test_api_5xx_alarm(synth: Synth) -> None:
    (alarm,) = synth.alarms_on("5xx", [{"Name": "ApiId", "Value": {"Ref": synth.lid(synth.stack.api)}}])
    assert alarm["Namespace"] == "AWS/ApiGateway" and alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert _to_alarm_topic(synth, alarm)


@pytest.mark.parametrize("spec", m.TABLES, ids=lambda t: t.name)
def test_dynamodb_throttle_alarm_covers_table_and_indexes(synth: Synth, spec: m.Table) -> None:
    table_ref = {"Ref": synth.lid(synth.stack.tables[spec.name])}

    def watched(alarm: dict) -> set[tuple[str, str | None]]:
        out = set()
        for q in alarm.get("Metrics", []):
            stat = q.get("MetricStat")
            if not stat:
                continue
            dims = {d["Name"]: d["Value"] for d in stat["Metric"].get("Dimensions", [])}
            if stat["Metric"]["Namespace"] == "AWS/DynamoDB" and dims.get("TableName") == table_ref:
                out.add((stat["Metric"]["MetricName"], dims.get("GlobalSecondaryIndexName")))
        return out

    alarms = [a for a in synth.alarms() if watched(a)]
    assert len(alarms) == 1
    alarm = alarms[0]
    expected = {(f"{k}ThrottleEvents", idx) for k in ("Read", "Write") for idx in [None, *(g.name for g in spec.gsis)]}
    assert watched(alarm) == expected
    (expr,) = [q for q in alarm["Metrics"] if "Expression" in q]
    assert expr["Expression"] == "SUM(METRICS())" and expr.get("ReturnData", True) is True
    assert all(q.get("ReturnData") is False for q in alarm["Metrics"] if "MetricStat" in q)
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert _to_alarm_topic(synth, alarm)


# --------------------------------------------------------------------------------------------------
# Dashboard
# --------------------------------------------------------------------------------------------------


def _render(part) -> str:
    if isinstance(part, str):
        return part
    if "Ref" in part:
        return f"<{part['Ref']}>"
    if "Fn::GetAtt" in part:
        return f"<{'.'.join(part['Fn::GetAtt'])}>"
    raise AssertionError(f"unexpected token in the dashboard body: {part!r}")


@pytest.fixture(scope="module")
def dashboard(synth: Synth) -> dict:
    (res,) = synth.of_type("AWS::CloudWatch::Dashboard").values()
    props = res["Properties"]
    assert props["DashboardName"] == f"smsdesk-{STAGE}"
    sep, parts = props["DashboardBody"]["Fn::Join"]
    return json.loads(sep.join(_render(p) for p in parts))


def _graph_metrics(dashboard: dict) -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric name, dimensions) of every metric line of every graph."""
    out = []
    for widget in dashboard["widgets"]:
        for line in widget["properties"].get("metrics", []):
            fields = [f for f in line if not isinstance(f, dict)]
            if len(fields) >= 2:
                dims = dict(zip(fields[2::2], fields[3::2], strict=True))
                out.append((fields[0], fields[1], dims))
    return out


def _emitted_metric_names() -> set[str]:
    """Every metric name the package emits: ``add_metric(name="X")`` literals and the values of dicts
    whose values are passed as ``name=`` (the inbound outcome table)."""
    names: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if "local" in path.relative_to(PACKAGE).parts:
            continue
        tree = ast.parse(path.read_text())
        tables: dict[str, set[str]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        tables[target.id] = {
                            v.value
                            for v in node.value.values
                            if isinstance(v, ast.Constant) and isinstance(v.value, str)
                        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_metric":
                for kw in node.keywords:
                    if kw.arg != "name":
                        continue
                    if isinstance(kw.value, ast.Constant):
                        names.add(kw.value.value)
                    elif isinstance(kw.value, ast.Subscript) and isinstance(kw.value.value, ast.Name):
                        names |= tables.get(kw.value.value.id, set())
    return names


def test_dashboard_app_metrics_are_the_ones_the_code_emits(dashboard: dict) -> None:
    from smsdesk.observability import metrics

    emitted = _emitted_metric_names()
    assert {"SenderSent", "ReceiptsApplied", "SenderFailed", "InboundAdmitted"} <= emitted
    app = [(name, dims) for ns, name, dims in _graph_metrics(dashboard) if ns == stack_mod.APP_METRICS_NAMESPACE]
    shown = {name for name, _ in app}
    # sends, deliveries, failures, inbound
    assert {"SenderSent", "ReceiptsApplied", "SenderFailed", "SenderDeadLettered", "InboundAdmitted"} <= shown
    assert shown <= emitted, f"the dashboard shows metrics nobody emits: {sorted(shown - emitted)}"
    # Powertools EMF: the metrics carry exactly the ``service`` dimension of the code's Metrics object.
    assert metrics.namespace == stack_mod.APP_METRICS_NAMESPACE
    for name, dims in app:
        assert dims == {"service": metrics.service}, name


def test_dashboard_queues_functions_and_api(synth: Synth, dashboard: dict) -> None:
    lines = _graph_metrics(dashboard)
    stack = synth.stack
    for name, queue in stack.queues.items():
        dims = {"QueueName": f"<{synth.lid(queue)}.QueueName>"}
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims) in lines, name
        assert ("AWS/SQS", "ApproximateAgeOfOldestMessage", dims) in lines, name
    for name, dlq in stack.dlqs.items():
        dims = {"QueueName": f"<{synth.lid(dlq)}.QueueName>"}
        assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible", dims) in lines, name
    for name, fn in stack.functions.items():
        assert ("AWS/Lambda", "Errors", {"FunctionName": f"<{synth.lid(fn.function)}>"}) in lines, name
    api = {"ApiId": f"<{synth.lid(stack.api)}>"}
    for metric in ("4xx", "5xx", "Latency", "Count"):
        assert ("AWS/ApiGateway", metric, api) in lines, metric
    throttles = {(name, dims.get("GlobalSecondaryIndexName")) for ns, name, dims in lines if ns == "AWS/DynamoDB"}
    assert ("WriteThrottleEvents", None) in throttles and ("ReadThrottleEvents", "GSI1") in throttles
    alarm_widgets = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    assert len(alarm_widgets) == 1
    assert len(alarm_widgets[0]["properties"]["alarms"]) == len(synth.of_type("AWS::CloudWatch::Alarm"))
    assert synth.json["Outputs"]["DashboardName"]["Value"] == f"smsdesk-{STAGE}"
