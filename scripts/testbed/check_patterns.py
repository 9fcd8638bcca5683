#!/usr/bin/env python3
"""Checks the EventBridge patterns of template.yaml against the sample events in events/.

For each scenario (a set of parameter values), every function's EventBridge pattern is taken
from the SAM template, its intrinsic functions are resolved (Ref, Fn::If with the template's
Conditions, Fn::Sub, Fn::Join, Fn::Split, Fn::Select, AWS::NoValue), and one rule per
function is created in moto on a fresh event bus, with an SQS queue as its target. Every events/*.json is then put on that
bus, and the script checks which queues it reached against EXPECTED below. It prints a table
and exits 1 on any mismatch (2 on a usage or setup error).

Run it with the test bed's Python and environment (scripts/stack up DIR):

    set -a; . DIR/env; set +a
    $STEWARD_PYTHON scripts/testbed/check_patterns.py            # template.yaml, events/

The Rust test suite is meant to call it the same way (the main developer wires it in, e.g. an
integration test that starts the stack, runs this with STEWARD_PYTHON and asserts exit 0).

moto accepts put_events with an `aws.*` source, which real EventBridge refuses: this is a
check of the patterns' matching only. Every pattern feature used here ($or, prefix,
exists) is implemented by moto 5.2.5's matcher (moto/events/models.py EventPattern).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import uuid
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[2]

# Which sample events each function must receive (and, in some scenarios, ALSO_EXPECTED's);
# every other event must reach none.
# A function in the template without an entry here is an error: add its expectations.
EXPECTED: dict[str, set[str]] = {
    # A signature pushed untagged (Notation's referrer): push-guard judges its image again.
    "PushGuardFunction": {"image-push-semver.json", "image-push-signature.json"},
    "ReplicatorFunction": {
        "image-push-semver.json",
        "replication-success.json",
        "replication-failed.json",
    },
    "ScanAlertFunction": {
        "image-scan-basic.json",
        "image-scan-basic-clean.json",
        "inspector2-scan.json",
    },
}

# Parameter overrides per scenario, and whether the events (all in team-a/api) should match.
# RepositoryPrefix takes up to 5 prefixes, comma-separated: each entry is a `prefix` of its
# own in every pattern, so the events match when any one of them does, whatever its place.
SCENARIOS: list[tuple[str, dict[str, str], bool]] = [
    ("defaults", {}, True),
    ("prefix team-a/", {"RepositoryPrefix": "team-a/"}, True),
    ("prefix team-b/", {"RepositoryPrefix": "team-b/"}, False),
    ("prefixes team-a/,team-b/ (the first matches)", {"RepositoryPrefix": "team-a/,team-b/"}, True),
    ("prefixes team-b/,team-a/ (the second matches)", {"RepositoryPrefix": "team-b/,team-a/"}, True),
    ("prefixes team-b/,team-c/,base/ (none matches)",
     {"RepositoryPrefix": "team-b/,team-c/,base/"}, False),
    ("five prefixes, the fifth matches", {"RepositoryPrefix": "a/,b/,c/,d/,team-a/"}, True),
    ("ReplicateDeletes=true", {"ReplicateDeletes": "true"}, True),
    ("ReplicateDeletes=true, prefix team-a/",
     {"ReplicateDeletes": "true", "RepositoryPrefix": "team-a/"}, True),
    ("ReplicateDeletes=true, prefix team-b/",
     {"ReplicateDeletes": "true", "RepositoryPrefix": "team-b/"}, False),
]

# What a function receives only in some scenarios, on top of EXPECTED: the replicator gets
# ECR's DELETE events only with ReplicateDeletes=true (delete replication, `replicate_deletes`),
# so by default image-delete.json reaches no function.
ALSO_EXPECTED: dict[str, dict[str, set[str]]] = {
    "ReplicateDeletes=true": {"ReplicatorFunction": {"image-delete.json"}},
    "ReplicateDeletes=true, prefix team-a/": {"ReplicatorFunction": {"image-delete.json"}},
}

PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "ecr-steward",
    "AWS::URLSuffix": "amazonaws.com",
}

NO_VALUE = object()


# ---------------------------------------------------------------- template loading
def load_template(path: Path) -> dict:
    """The template as plain data, short-form tags (!Ref, !If …) in their long form."""
    try:
        from cfnlint.decode import decode  # moto depends on cfn-lint: present in the stack venv

        template, matches = decode(str(path))
        if matches:
            raise SystemExit(f"check_patterns: {path}: " + "; ".join(str(m) for m in matches))
        return template
    except ImportError:
        pass
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct(tag: str):
        name = "Ref" if tag == "Ref" else f"Fn::{tag}"

        def build(loader, node):
            if isinstance(node, yaml.ScalarNode):
                value = loader.construct_scalar(node)
                if tag == "GetAtt":
                    value = value.split(".", 1)
            elif isinstance(node, yaml.SequenceNode):
                value = loader.construct_sequence(node, deep=True)
            else:
                value = loader.construct_mapping(node, deep=True)
            return {name: value}

        return build

    for tag in ("Ref", "Sub", "GetAtt", "If", "Equals", "Not", "And", "Or", "Join",
                "Select", "Split", "FindInMap", "ImportValue", "Base64", "GetAZs", "Condition"):
        Loader.add_constructor(f"!{tag}", construct(tag))
    return yaml.load(path.read_text(), Loader=Loader)  # noqa: S506 (SafeLoader subclass)


class Resolver:
    """Resolves the intrinsic functions a pattern may use, for given parameter values."""

    def __init__(self, template: dict, overrides: dict[str, str]):
        self.values = dict(PSEUDO)
        for name, spec in template.get("Parameters", {}).items():
            value = overrides.get(name, spec.get("Default", ""))
            if spec.get("Type") == "CommaDelimitedList":
                value = [v.strip() for v in str(value).split(",")] if value != "" else [""]
            self.values[name] = value if isinstance(value, list) else str(value)
        unknown = set(overrides) - set(template.get("Parameters", {}))
        if unknown:
            raise SystemExit(f"check_patterns: unknown parameters {sorted(unknown)}")
        for name, value in overrides.items():  # only values CloudFormation would take
            allowed = template["Parameters"][name].get("AllowedPattern")
            if allowed and not re.fullmatch(allowed, value):
                raise SystemExit(f"check_patterns: {name}={value!r} does not match {allowed}")
        self.conditions_src = template.get("Conditions", {})
        self.conditions: dict[str, bool] = {}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.conditions_src[name]))
        return self.conditions[name]

    def resolve(self, node):
        if isinstance(node, list):
            items = [self.resolve(n) for n in node]
            return [i for i in items if i is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg not in self.values:
                    raise SystemExit(f"check_patterns: cannot resolve Ref {arg} in a pattern")
                return self.values[arg]
            if key == "Fn::If":
                name, yes, no = arg
                return self.resolve(yes if self.condition(name) else no)
            if key == "Fn::Equals":
                a, b = (self.resolve(x) for x in arg)
                return a == b
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if key == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                sep, items = arg
                return sep.join(str(i) for i in self.resolve(items))
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(sep)
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
                values = {**self.values, **extra}

                def sub(match):
                    name = match.group(1)
                    if name.startswith("!"):
                        return "${" + name[1:] + "}"
                    if name not in values or isinstance(values[name], list):
                        raise SystemExit(f"check_patterns: cannot resolve ${{{name}}} in a pattern")
                    return str(values[name])

                import re

                return re.sub(r"\$\{([^}]+)\}", sub, text)
            if key.startswith("Fn::") or key == "Ref":
                raise SystemExit(f"check_patterns: {key} is not supported in a pattern")
        out = {}
        for key, value in node.items():
            value = self.resolve(value)
            if value is not NO_VALUE:
                out[key] = value
        return out


def function_patterns(template: dict, resolver: Resolver) -> dict[str, list[dict]]:
    """Function logical id → its EventBridge rule patterns (resolved)."""
    patterns: dict[str, list[dict]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        for event in (resource.get("Properties", {}).get("Events") or {}).values():
            if event.get("Type") == "EventBridgeRule":
                pattern = resolver.resolve(event["Properties"]["Pattern"])
                patterns.setdefault(logical_id, []).append(pattern)
    return patterns


# ---------------------------------------------------------------- the check
def run_scenario(events_client, sqs, name, patterns, samples) -> tuple[dict, dict]:
    """Returns (function → [pattern JSON]) and (event file → set of functions reached)."""
    bus = f"check-patterns-{uuid.uuid4().hex[:8]}"
    events_client.create_event_bus(Name=bus)
    queues: dict[str, str] = {}
    rules: list[str] = []
    try:
        for function, function_patterns_ in patterns.items():
            url = sqs.create_queue(QueueName=f"{bus}-{function}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            queues[function] = url
            for index, pattern in enumerate(function_patterns_):
                rule = f"{function}-{index}"
                events_client.put_rule(Name=rule, EventBusName=bus,
                                       EventPattern=json.dumps(pattern))
                events_client.put_targets(Rule=rule, EventBusName=bus,
                                          Targets=[{"Id": "queue", "Arn": arn}])
                rules.append(rule)
        reached: dict[str, set[str]] = {}
        for path in samples:
            sample = json.loads(path.read_text())
            result = events_client.put_events(Entries=[{
                "Source": sample["source"],
                "DetailType": sample["detail-type"],
                "Detail": json.dumps(sample["detail"]),
                "Resources": sample.get("resources", []),
                "EventBusName": bus,
            }])
            if result.get("FailedEntryCount"):
                raise SystemExit(f"check_patterns: put_events failed for {path.name}: {result}")
            reached[path.name] = set()
            for function, url in queues.items():
                messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                               WaitTimeSeconds=0).get("Messages", [])
                for message in messages:
                    body = json.loads(message["Body"])
                    if body.get("detail-type") != sample["detail-type"]:
                        raise SystemExit(f"check_patterns: {function} got an unexpected message")
                    reached[path.name].add(function)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return reached
    finally:
        for rule in rules:
            events_client.remove_targets(Rule=rule, EventBusName=bus, Ids=["queue"])
            events_client.delete_rule(Name=rule, EventBusName=bus)
        events_client.delete_event_bus(Name=bus)
        for url in queues.values():
            sqs.delete_queue(QueueUrl=url)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--events", type=Path, default=ROOT / "events")
    parser.add_argument("--show-patterns", action="store_true", help="print the resolved patterns")
    args = parser.parse_args()

    if not os.environ.get("AWS_ENDPOINT_URL"):
        print("check_patterns: AWS_ENDPOINT_URL is not set; load the test bed's env "
              "(scripts/stack up DIR; set -a; . DIR/env; set +a)", file=sys.stderr)
        return 2
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    events_client = boto3.client("events", region_name=region)
    sqs = boto3.client("sqs", region_name=region)

    template = load_template(args.template)
    # EventBridge events only: an SQS batch (copy-jobs-sqs.json) reaches the replicator
    # through its event source mapping, not through a rule.
    samples = sorted(p for p in args.events.glob("*.json")
                     if "detail-type" in json.loads(p.read_text()))
    if not samples:
        print(f"check_patterns: no events in {args.events}", file=sys.stderr)
        return 2

    failures = 0
    for scenario, overrides, events_match in SCENARIOS:
        resolver = Resolver(template, overrides)
        patterns = function_patterns(template, resolver)
        missing = sorted(set(patterns) - set(EXPECTED))
        if missing:
            print(f"check_patterns: no expectations for {missing}: add them to EXPECTED",
                  file=sys.stderr)
            return 2
        unknown = sorted(set(ALSO_EXPECTED) - {name for name, _, _ in SCENARIOS})
        if unknown:
            print(f"check_patterns: ALSO_EXPECTED names no scenario: {unknown}", file=sys.stderr)
            return 2
        absent = sorted(set(EXPECTED) - set(patterns))
        if absent:
            print(f"check_patterns: {absent} expected but not in the template", file=sys.stderr)
            return 2
        if args.show_patterns:
            for function, function_patterns_ in patterns.items():
                for pattern in function_patterns_:
                    print(f"[{scenario}] {function}: {json.dumps(pattern)}")
        reached = run_scenario(events_client, sqs, scenario, patterns, samples)

        functions = sorted(patterns)
        width = max(len(p.name) for p in samples)
        print(f"\nscenario: {scenario} {json.dumps(overrides) if overrides else ''}".rstrip())
        header = f"  {'event':<{width}}  " + "  ".join(f"{f:<18}" for f in functions) + "  result"
        print(header)
        for path in samples:
            also = ALSO_EXPECTED.get(scenario, {})
            expected = {f for f in functions if events_match
                        and (path.name in EXPECTED[f] or path.name in also.get(f, set()))}
            got = reached[path.name]
            cells = []
            for f in functions:
                mark = "yes" if f in got else "-"
                if (f in got) != (f in expected):
                    mark += " (expected " + ("yes" if f in expected else "no") + ")"
                cells.append(f"{mark:<18}")
            ok = got == expected
            failures += not ok
            print(f"  {path.name:<{width}}  " + "  ".join(cells) + ("  ok" if ok else "  MISMATCH"))

    total = len(SCENARIOS) * len(samples)
    print(f"\npatterns: {total - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
