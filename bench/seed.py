#!/usr/bin/env python3
"""Seeds the local test bed for bench/cold-start and writes the sample events it needs.

Run with the stack's venv python (boto3) and the stack's env loaded. In OUT it writes:
  push.json  events/image-push-semver.json, patched to a real image pushed here (a SemVer tag,
             two of the three labels the built-in policy requires: a violation in audit mode,
             so that push-guard's first invocation uses ECR, the registry and SNS);
  scan.json  events/image-scan-basic.json, patched to the same image, which has had a scan
             (moto's built-in result, one HIGH finding: under the built-in policy's bar, so
             bench/cold-start sets STEWARD_NOTIFY_CLEAN=true for scan-alert to publish too);
  seed.env   STEWARD_TOPIC_ARN=... (an SNS topic created in moto), and STEWARD_BENCH_S3=s3://...
             and STEWARD_BENCH_SSM=ssm:... : examples/policy.yaml (4 KB) stored in an S3 object
             and an SSM parameter, for the subjects that read their policy from there.
"""

import json
import os
import subprocess
import sys

import boto3

REGION = "us-east-1"
REPOSITORY = "bench/app"
TAG = "1.4.2"


def main(root: str, out: str) -> None:
    pushed = subprocess.run(
        [sys.executable, os.path.join(root, "scripts/testbed/push_image.py"),
         "--region", REGION, "--repository", REPOSITORY, "--tag", TAG, "--seed", "cold-start",
         "--label", "org.opencontainers.image.source=https://github.com/example/app",
         "--label", "org.opencontainers.image.version=1.4.2",
         "--annotation", "org.opencontainers.image.revision=4f9c2e1a7b3d5c8e9f0a1b2c3d4e5f6a7b8c9d0e"],
        check=True, capture_output=True, text=True,
    )
    image = json.loads(pushed.stdout.strip().splitlines()[-1])
    digest = image["digest"]

    ecr = boto3.client("ecr", region_name=REGION)
    ecr.start_image_scan(repositoryName=REPOSITORY, imageId={"imageDigest": digest})
    topic = boto3.client("sns", region_name=REGION).create_topic(Name="steward-bench")["TopicArn"]

    with open(os.path.join(root, "events/image-push-semver.json")) as f:
        push = json.load(f)
    push["region"] = REGION
    push["detail"].update({"repository-name": REPOSITORY, "image-digest": digest, "image-tag": TAG})
    with open(os.path.join(root, "events/image-scan-basic.json")) as f:
        scan = json.load(f)
    scan["region"] = REGION
    scan["resources"] = [f"arn:aws:ecr:{REGION}:123456789012:repository/{REPOSITORY}"]
    scan["detail"].update({"repository-name": REPOSITORY, "image-digest": digest,
                           "image-tags": [TAG]})
    for name, event in (("push.json", push), ("scan.json", scan)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(event, f, indent=1)
    with open(os.path.join(root, "examples/policy.yaml")) as f:
        policy = f.read()
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="steward-bench-policy")
    s3.put_object(Bucket="steward-bench-policy", Key="policy.yaml", Body=policy.encode())
    boto3.client("ssm", region_name=REGION).put_parameter(
        Name="/steward-bench/policy", Value=policy, Type="String", Tier="Advanced")
    with open(os.path.join(out, "seed.env"), "w") as f:
        f.write(f"STEWARD_TOPIC_ARN={topic}\n")
        f.write("STEWARD_BENCH_S3=s3://steward-bench-policy/policy.yaml\n")
        f.write("STEWARD_BENCH_SSM=ssm:/steward-bench/policy\n")
    print(f"seed: {REPOSITORY}:{TAG} {digest}; topic {topic}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
