"""The Python twin of push-guard, for bench/cold-start.

It does what push-guard does at init and on an `ECR Image Action` PUSH event, on boto3 and the
standard library, as a Python Lambda would:

- at init (import): creates the ECR and SNS clients;
- per event: `GetAuthorizationToken`, the manifest (and, for an index, each child's) and the
  config blob from the registry with that token, the labels merged with the annotations; checks
  the tag (SemVer or git SHA, not `latest`) and the three labels the built-in policy requires;
  publishes a notification to SNS when something is wrong (audit mode: nothing is removed).

It stands for the cost of the runtime and the SDK, not for the policy engine: its checks are a
small subset of the Rust policy's.
"""

import base64
import json
import os
import re
import urllib.request

import boto3

ECR = boto3.client("ecr")
SNS = boto3.client("sns")
TOPIC_ARN = os.environ["STEWARD_TOPIC_ARN"]

ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
SEMVER = re.compile(
    r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
)
GIT_SHA = re.compile(r"(?:sha-)?[0-9a-f]{7,40}")
REQUIRED = (
    "org.opencontainers.image.source",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.created",
)


def _get(url, authorization, accept=None):
    request = urllib.request.Request(url, headers={"Authorization": authorization})
    if accept:
        request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _labels(base, repository, reference, authorization):
    manifest = _get(f"{base}/v2/{repository}/manifests/{reference}", authorization, ACCEPT)
    if "manifests" in manifest:
        found = []
        for child in manifest["manifests"]:
            for labels in _labels(base, repository, child["digest"], authorization):
                found.append({**manifest.get("annotations", {}), **labels})
        return found
    config = _get(f"{base}/v2/{repository}/blobs/{manifest['config']['digest']}", authorization)
    labels = dict(config.get("config", {}).get("Labels") or {})
    labels.update(manifest.get("annotations", {}))
    return [labels]


def handler(event, context):
    detail = event["detail"]
    repository, digest, tag = detail["repository-name"], detail["image-digest"], detail["image-tag"]
    region = event.get("region", os.environ.get("AWS_REGION", "us-east-1"))
    data = ECR.get_authorization_token()["authorizationData"][0]
    base = os.environ.get("STEWARD_REGISTRY_" + region.upper().replace("-", "_"))
    base = (base or data["proxyEndpoint"]).rstrip("/")
    platforms = _labels(base, repository, digest, "Basic " + data["authorizationToken"])

    violations = []
    if tag == "latest" or not (SEMVER.fullmatch(tag) or GIT_SHA.fullmatch(tag)):
        violations.append({"rule": "tag.kinds", "message": f"tag {tag!r} is not allowed"})
    for labels in platforms:
        for key in REQUIRED:
            if key not in labels:
                violations.append({"rule": "labels.required", "message": f"missing label {key}"})
    report = {
        "repository": repository, "tag": tag, "digest": digest, "mode": "audit",
        "platforms": len(platforms), "compliant": not violations, "violations": violations,
        "action": "none",
    }
    if violations:
        SNS.publish(
            TopicArn=TOPIC_ARN,
            Subject=f"ECR push not compliant: {repository}:{tag}",
            Message=json.dumps(report),
            MessageAttributes={
                "repository": {"DataType": "String", "StringValue": repository},
                "severity": {"DataType": "String", "StringValue": "violation"},
            },
        )
    return report
