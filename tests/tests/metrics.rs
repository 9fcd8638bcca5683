//! The functions' metrics as CloudWatch would read them: each built binary runs through the
//! Runtime API emulator on the test bed, with Lambda's JSON log format on, and its captured
//! output (what Lambda sends to CloudWatch Logs) must hold valid EMF lines, separate from the
//! tracing lines, with the values of what the function did. One stack for the three functions.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use steward::metrics::spec;
use testbed::{
    basic_scan_event, function_binary, push_event, Answer, NotifiedStack, PushSpec, RuntimeApi,
    ScanResult,
};

const REGION: &str = "us-east-1";
const NAMESPACE: &str = "ecr-steward-test";

/// Every tag of `team/*` goes to eu-west-1, which is created when missing.
const REPLICATE_TEAM: &str = "version: 1
rules:
  - tags: { semver: {} }
replication:
  - name: team
    repositories: [\"team/*\"]
    destinations: [{ region: eu-west-1 }]
    create_repository: true
";

/// The EMF documents of a function's output, each checked against the specification; and
/// how many other JSON lines (tracing's, in the JSON log format) there were.
fn emf_documents(output: &str) -> (Vec<Value>, usize) {
    let mut documents = Vec::new();
    let mut other_json = 0;
    for line in output.lines() {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            assert!(
                !line.contains("\"_aws\""),
                "an EMF document inside a line: {line}"
            );
            continue;
        };
        if value.get("_aws").is_some() {
            spec::check_line(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            for directive in value["_aws"]["CloudWatchMetrics"]
                .as_array()
                .expect("directives")
            {
                assert_eq!(directive["Namespace"], NAMESPACE, "{line}");
            }
            documents.push(value);
        } else {
            assert!(
                !line.contains("\"_aws\""),
                "an EMF document wrapped in a log line: {line}"
            );
            other_json += 1;
        }
    }
    (documents, other_json)
}

/// The sum of `metric` over the documents whose members equal `filter`.
fn total(documents: &[Value], metric: &str, filter: &[(&str, &str)]) -> u64 {
    documents
        .iter()
        .filter(|document| filter.iter().all(|(key, value)| document[*key] == *value))
        .map(|document| match &document[metric] {
            Value::Number(n) => n.as_u64().unwrap_or_default(),
            Value::Array(items) => items.iter().filter_map(Value::as_u64).sum(),
            _ => 0,
        })
        .sum()
}

/// How many values `metric` has over the documents whose members equal `filter`.
fn samples(documents: &[Value], metric: &str, filter: &[(&str, &str)]) -> usize {
    documents
        .iter()
        .filter(|document| filter.iter().all(|(key, value)| document[*key] == *value))
        .map(|document| match &document[metric] {
            Value::Number(_) => 1,
            Value::Array(items) => items.len(),
            _ => 0,
        })
        .sum()
}

/// Runs `name` on `events` with the stack's settings, the JSON log format and `extra`.
fn run(
    bed: &NotifiedStack,
    name: &str,
    extra: &[(&str, &str)],
    events: Vec<Value>,
) -> (Vec<Answer>, Vec<Value>) {
    let settings: Vec<(&str, &str)> = [
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("STEWARD_METRICS_NAMESPACE", NAMESPACE),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .collect();
    let env = bed.stack.function_env(&bed.topic, &settings);
    let (answers, output) =
        RuntimeApi::invoke_binary_with_output(&function_binary(name), &env, events)
            .unwrap_or_else(|e| panic!("{e}"));
    let (documents, other_json) = emf_documents(&output);
    assert!(
        other_json > 0,
        "tracing's JSON lines are there too:\n{output}"
    );
    for document in &documents {
        assert_eq!(document["Function"], name, "{document}");
        assert_eq!(
            document["level"], "INFO",
            "kept by Lambda's log-level filter"
        );
        let request_id = document["requestId"].as_str().unwrap_or_default();
        assert!(request_id.starts_with("8f2b3d6e-"), "{document}");
    }
    (answers, documents)
}

#[tokio::test]
async fn each_function_writes_valid_emf_lines_with_what_it_did() {
    let bed = NotifiedStack::start(REGION).await;
    let malformed = json!({ "detail-type": "ECR Image Scan", "source": "aws.ecr", "detail": {} });

    // scan-alert: one scan over the built-in bar (CRITICAL: 0), one malformed event.
    let scanned = bed
        .stack
        .push_image(&PushSpec::new(REGION, "team/scanned").tag("1.2.3"));
    bed.stack
        .scan(&ScanResult::complete(&scanned).finding(
            "CVE-2024-3094",
            "CRITICAL",
            "xz-utils",
            "5.6.0",
        ))
        .await;
    let (answers, emf) = run(
        &bed,
        "scan-alert",
        &[],
        vec![
            basic_scan_event(&scanned, "COMPLETE", json!({ "CRITICAL": 1 })),
            malformed.clone(),
        ],
    );
    assert_eq!(answers[0].response().expect("judged")["outcome"], "failed");
    assert_eq!(total(&emf, "Events", &[("Outcome", "failed")]), 1);
    assert_eq!(total(&emf, "ScanBreaches", &[("Severity", "CRITICAL")]), 1);
    assert_eq!(total(&emf, "Events", &[("Outcome", "error")]), 1);
    let malformed_class = [("ErrorClass", "NonRetryable.MalformedEvent")];
    assert_eq!(total(&emf, "Failures", &malformed_class), 1);
    let about = emf
        .iter()
        .find(|d| d["Outcome"] == "failed")
        .expect("the scan's document");
    assert_eq!(
        about["repository"], "team/scanned",
        "a property, not a dimension"
    );
    assert_eq!(about["digest"], scanned.digest.as_str());

    // push-guard, audit mode: `latest` is denied, and the image has no labels.
    let latest = bed
        .stack
        .push_image(&PushSpec::new(REGION, "team/guarded").tag("latest"));
    let (answers, emf) = run(&bed, "push-guard", &[], vec![push_event(&latest)]);
    let report = answers[0].response().expect("checked");
    assert_eq!(report["outcome"], "audited", "{report:#}");
    assert_eq!(total(&emf, "Events", &[("Outcome", "audited")]), 1);
    assert_eq!(
        total(&emf, "Violations", &[("Check", "tag.literals.deny")]),
        1
    );
    let violations = report["verdict"]["violations"]
        .as_array()
        .expect("violations");
    assert_eq!(total(&emf, "Violations", &[]), violations.len() as u64);
    assert_eq!(
        total(&emf, "TagsRemoved", &[]),
        0,
        "audit mode removes nothing"
    );

    // replicator: a copy to eu-west-1, then the same event again, which finds it there.
    let release = bed.stack.push_image(
        &PushSpec::new(REGION, "team/app")
            .tag("7.0.0")
            .platform("linux/amd64")
            .platform("linux/arm64"),
    );
    let policy = [("STEWARD_POLICY", REPLICATE_TEAM)];
    let event = push_event(&release);
    let (answers, emf) = run(&bed, "replicator", &policy, vec![event.clone(), event]);
    let first = answers[0].response().expect("replicated");
    assert_eq!(first["outcome"], "replicated", "{first:#}");
    assert_eq!(
        answers[1].response().expect("again")["outcome"],
        "already-replicated"
    );
    let copied = &first["outcomes"][0];
    assert_eq!(total(&emf, "Events", &[("Outcome", "replicated")]), 1);
    assert_eq!(
        total(&emf, "Events", &[("Outcome", "already-replicated")]),
        1
    );
    assert_eq!(total(&emf, "Copies", &[("Status", "copied")]), 1);
    assert_eq!(
        total(&emf, "Copies", &[("Status", "already-replicated")]),
        1
    );
    let bytes = copied["stats"]["bytes_copied"].as_u64().expect("bytes");
    assert!(bytes > 0);
    assert_eq!(total(&emf, "BytesCopied", &[]), bytes);
    assert_eq!(
        total(&emf, "CopyLatency", &[("Status", "copied")]),
        copied["duration_ms"].as_u64().expect("duration")
    );
    assert_eq!(
        samples(&emf, "CopyLatency", &[]),
        2,
        "both copies ran and were timed"
    );
    assert_eq!(total(&emf, "Failures", &[]), 0);
}
