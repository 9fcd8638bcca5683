"""Small AWS steps for the demo, against the local test bed (moto): run with the stack's python.

  demo_aws.py topic                      -> prints TOPIC_ARN QUEUE_URL (an SQS queue subscribed)
  demo_aws.py event SAMPLE REPO DIGEST [TAG] > event.json   (a sample event aimed at an image)
  demo_aws.py drain QUEUE_URL            -> prints the notifications received, readably
  demo_aws.py scan REPO DIGEST CRITICAL HIGH   (scripts a completed basic scan in moto)
  demo_aws.py queue NAME                 -> prints the URL of a new SQS queue (the copy job queue)
  demo_aws.py batch QUEUE_URL > event.json   (up to 10 messages as Lambda's SQS event; deleted,
                                          as Lambda deletes a batch the function handled)
"""
import json
import os
import sys
import time
import urllib.request

import boto3

REGION = os.environ.get("AWS_REGION", "us-east-1")
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def topic():
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    arn = sns.create_topic(Name="ecr-steward-demo")["TopicArn"]
    url = sqs.create_queue(QueueName="ecr-steward-demo")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
    print(arn, url)


def event(sample, repository, digest, tag=None):
    with open(os.path.join(ROOT, "events", sample)) as f:
        body = json.load(f)
    detail = body["detail"]
    detail["repository-name"] = repository
    detail["image-digest"] = digest
    if tag is not None:
        if "image-tags" in detail:
            detail["image-tags"] = [tag]
        else:
            detail["image-tag"] = tag
    body["region"] = REGION
    json.dump(body, sys.stdout, indent=2)


def drain(url):
    sqs = boto3.client("sqs", region_name=REGION)
    seen = 0
    deadline = time.time() + 3
    while time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            envelope = json.loads(message["Body"])
            chat = json.loads(envelope["Message"])
            attributes = {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()}
            print(f"--- notification (attributes: {json.dumps(attributes)})")
            print(chat["content"]["title"])
            print(chat["content"]["description"].rstrip())
            for step in chat["content"].get("nextSteps", []):
                print(f"  next: {step}")
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            seen += 1
        if seen and not messages:
            break
    if not seen:
        print("(no notification)")


def scan(repository, digest, critical, high):
    # moto answers DescribeImageScanFindings only for an image whose scan was started.
    boto3.client("ecr", region_name=REGION).start_image_scan(repositoryName=repository, imageId={"imageDigest": digest})
    findings = [
        {"name": f"CVE-2024-{3094 + i}", "uri": "https://nvd.nist.gov/", "severity": "CRITICAL",
         "attributes": [{"key": "package_name", "value": "xz-utils"}, {"key": "package_version", "value": "5.6.0"}]}
        for i in range(int(critical))
    ] + [
        {"name": f"CVE-2023-{1000 + i}", "uri": "https://nvd.nist.gov/", "severity": "HIGH",
         "attributes": [{"key": "package_name", "value": "openssl"}, {"key": "package_version", "value": "3.0.1"}]}
        for i in range(int(high))
    ]
    counts = {k: v for k, v in {"CRITICAL": int(critical), "HIGH": int(high)}.items() if v}
    result = {"registryId": "123456789012", "repositoryName": repository, "imageId": {"imageDigest": digest},
              "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
              "imageScanFindings": {"findingSeverityCounts": counts, "findings": findings}}
    request = urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL"] + "/moto-api/static/ecr/scan-finding-results",
        data=json.dumps({"results": [result], "region": REGION}).encode(), method="POST")
    urllib.request.urlopen(request).read()


def queue(name):
    print(boto3.client("sqs", region_name=REGION).create_queue(QueueName=name)["QueueUrl"])


def batch(url):
    sqs = boto3.client("sqs", region_name=REGION)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                   MessageSystemAttributeNames=["All"]).get("Messages", [])
    records = [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": REGION,
    } for m in messages]
    for m in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    print(json.dumps({"Records": records}, indent=2))


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"topic": topic, "event": event, "drain": drain, "scan": scan, "queue": queue,
     "batch": batch}[command](*args)
