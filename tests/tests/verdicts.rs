//! Verdicts as EventBridge events, end to end: each built function binary runs through the
//! Runtime API emulator on the test bed with `STEWARD_VERDICT_EVENT_BUS=default`, and its
//! verdicts reach moto's EventBridge, whose rules (patterns on `source: ecr-steward` and the
//! detail-types, as docs/events.md writes them) deliver them to SQS queues. Every detail
//! received must match its schema in schema/. One stack for the four functions.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use steward::verdict::{schema_check, DetailType};
use testbed::{
    basic_scan_event, event_from_sample, function_binary, push_event, workspace_root, Answer,
    EventSource, NotifiedStack, PushSpec, RuntimeApi, ScanResult,
};

const REGION: &str = "us-east-1";
const REPOSITORY: &str = "team/web";
const CURSOR: &str = "/ecr-steward/test/verdicts-cursor";

/// Semver tags only (no labels required), the default scan bar, a retention section, and
/// every tag of `team/*` replicated to eu-west-1.
const POLICY: &str = r#"version: 1
rules:
  - name: services
    repositories: ["team/*"]
    tags: { semver: {} }
    retention:
      semver: { keep_per_major: 2 }
replication:
  - name: to-europe
    repositories: ["team/*"]
    destinations: [{ region: eu-west-1 }]
    create_repository: true
"#;

/// Every verdict, as docs/events.md's first rule.
const EVERY_VERDICT: &str = r#"{"source": ["ecr-steward"], "detail-type": ["Push Verdict", "Scan Verdict", "Replication Verdict", "Retention Verdict", "Policy Verdict"]}"#;

/// docs/events.md's "block a deploy" rule: a push or a scan that did not pass.
const FAILING: &str = r#"{"source": ["ecr-steward"], "detail-type": ["Push Verdict", "Scan Verdict"], "detail": {"outcome": [{"anything-but": ["compliant", "passed"]}]}}"#;

/// A rule `name` with `pattern` on the default bus, to `queue`.
fn rule(bed: &NotifiedStack, name: &str, pattern: &str, queue: &EventSource) {
    let output = bed
        .stack
        .command(bed.stack.python())
        .args([
            "-c",
            "import sys, boto3; e = boto3.client('events', region_name='us-east-1'); \
             e.put_rule(Name=sys.argv[1], EventPattern=sys.argv[2]); \
             e.put_targets(Rule=sys.argv[1], Targets=[{'Id': 'queue', 'Arn': sys.argv[3]}])",
            name,
            pattern,
            &queue.arn,
        ])
        .output()
        .expect("python");
    assert!(output.status.success(), "{output:?}");
}

/// Runs the function `name` on `events`, putting its verdicts on the default bus.
fn run(bed: &NotifiedStack, name: &str, extra: &[(&str, &str)], events: Vec<Value>) -> Vec<Value> {
    let settings: Vec<(&str, &str)> = [
        ("STEWARD_POLICY", POLICY),
        ("STEWARD_VERDICT_EVENT_BUS", "default"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .collect();
    let env = bed.stack.function_env(&bed.topic, &settings);
    let answers = RuntimeApi::invoke_binary(&function_binary(name), &env, events)
        .unwrap_or_else(|e| panic!("{e}"));
    answers
        .into_iter()
        .map(|answer| match answer {
            Answer::Response(response) => response,
            other => panic!("{name}: {other:?}"),
        })
        .collect()
}

/// The EventBridge events delivered to `queue`: waits for `expected`, or 3 s more when
/// there are that many (to see any extra one).
async fn delivered(queue: &EventSource, expected: usize) -> Vec<Value> {
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut quiet_until = None;
    while Instant::now() < deadline {
        let batch = queue.receive().await;
        queue
            .settle(&batch, &json!({ "batchItemFailures": [] }))
            .await;
        for record in batch.event["Records"].as_array().into_iter().flatten() {
            events.push(serde_json::from_str(record["body"].as_str().unwrap()).unwrap());
        }
        if events.len() >= expected {
            let until = *quiet_until.get_or_insert(Instant::now() + Duration::from_secs(3));
            if Instant::now() >= until {
                break;
            }
        }
    }
    events
}

fn schema(detail_type: DetailType) -> Value {
    let path = workspace_root()
        .join("schema")
        .join(detail_type.schema_file());
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The one delivered event of `detail_type` whose detail has `outcome`.
fn find<'a>(events: &'a [Value], detail_type: &str, outcome: &str) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|e| e["detail-type"] == detail_type && e["detail"]["outcome"] == outcome)
        .collect();
    assert_eq!(found.len(), 1, "{detail_type} {outcome}: {events:#?}");
    &found[0]["detail"]
}

#[tokio::test]
async fn every_function_announces_its_verdicts_through_eventbridge_rules() {
    let bed = NotifiedStack::start(REGION).await;
    let every = EventSource::create(&bed.stack, REGION, "verdicts").await;
    let failing = EventSource::create(&bed.stack, REGION, "failing-verdicts").await;
    rule(&bed, "every-verdict", EVERY_VERDICT, &every);
    rule(&bed, "block-deploy", FAILING, &failing);

    // push-guard, audit mode: a compliant push and a `latest` against the policy.
    let release = bed.stack.push_image(
        &PushSpec::new(REGION, REPOSITORY)
            .tag("1.2.3")
            .platform("linux/amd64"),
    );
    let latest = bed
        .stack
        .push_image(&PushSpec::new(REGION, REPOSITORY).tag("latest"));
    let guarded = run(
        &bed,
        "push-guard",
        &[],
        vec![push_event(&release), push_event(&latest)],
    );
    assert_eq!(guarded[0]["outcome"], "compliant", "{guarded:#?}");
    assert_eq!(guarded[1]["outcome"], "audited", "{guarded:#?}");

    // scan-alert: the release's scan is clean; `latest`'s is over the bar (CRITICAL: 0).
    bed.stack.scan(&ScanResult::complete(&release)).await;
    bed.stack
        .scan(&ScanResult::complete(&latest).finding(
            "CVE-2024-3094",
            "CRITICAL",
            "xz-utils",
            "5.6.0",
        ))
        .await;
    let scanned = run(
        &bed,
        "scan-alert",
        &[],
        vec![
            basic_scan_event(&release, "COMPLETE", json!({})),
            basic_scan_event(&latest, "COMPLETE", json!({ "CRITICAL": 1 })),
        ],
    );
    assert_eq!(scanned[0]["outcome"], "passed", "{scanned:#?}");
    assert_eq!(scanned[1]["outcome"], "failed", "{scanned:#?}");

    // replicator: the release to eu-west-1.
    let replicated = run(&bed, "replicator", &[], vec![push_event(&release)]);
    assert_eq!(replicated[0]["outcome"], "replicated", "{replicated:#?}");

    // retention, dry run: one verdict for the one repository of team/*.
    let status = bed
        .stack
        .command(bed.stack.python())
        .args(["-c", "import boto3, sys; boto3.client('ssm').put_parameter(Name=sys.argv[1], Value='-', Type='String', Overwrite=True)", CURSOR])
        .status()
        .expect("python");
    assert!(status.success());
    let retained = run(
        &bed,
        "retention",
        &[
            ("STEWARD_RETENTION_APPLY", "false"),
            ("STEWARD_RETENTION_CURSOR", CURSOR),
        ],
        vec![event_from_sample("retention-scheduled.json", |event| {
            event["account"] = "123456789012".into();
        })],
    );
    assert_eq!(retained[0]["outcome"], "prune-planned", "{retained:#?}");

    // Every verdict arrived, typed, once; each detail matches its schema.
    let events = delivered(&every, 6).await;
    assert_eq!(events.len(), 6, "{events:#?}");
    for event in &events {
        assert_eq!(event["source"], "ecr-steward", "{event:#}");
        let detail_type = DetailType::ALL
            .into_iter()
            .find(|t| event["detail-type"] == t.as_str())
            .unwrap_or_else(|| panic!("an unknown detail-type: {event:#}"));
        let found = schema_check::violations(&event["detail"], &schema(detail_type));
        assert!(found.is_empty(), "{found:#?}\n{event:#}");
        assert_eq!(event["detail"]["version"], "1");
        assert_eq!(event["detail"]["region"], REGION);
    }

    let compliant = find(&events, "Push Verdict", "compliant");
    assert_eq!(compliant["function"], "push-guard");
    assert_eq!(compliant["severity"], "INFO");
    assert_eq!(compliant["repository-name"], REPOSITORY);
    assert_eq!(compliant["image-digest"], release.digest.as_str());
    assert_eq!(compliant["image-tags"], json!(["1.2.3"]));
    assert_eq!(compliant["rule"], "services");
    assert_eq!(compliant["account"], "123456789012");
    assert_eq!(compliant["facts"]["mode"], "audit");
    assert_eq!(compliant["reasons"], json!([]));

    let audited = find(&events, "Push Verdict", "audited");
    assert_eq!(audited["severity"], "WARNING");
    assert_eq!(audited["kind"], "push-guard.violation");
    assert_eq!(audited["image-tags"], json!(["latest"]));
    assert!(
        audited["facts"]["violations"].as_u64() > Some(0),
        "{audited:#}"
    );
    assert!(!audited["reasons"].as_array().unwrap().is_empty());

    let passed = find(&events, "Scan Verdict", "passed");
    assert_eq!(passed["severity"], "INFO");
    assert_eq!(passed["kind"], "scan-alert.result");
    assert_eq!(passed["image-digest"], release.digest.as_str());
    assert_eq!(
        passed["facts"]["notified"], false,
        "a clean scan sends no notification"
    );
    let failed = find(&events, "Scan Verdict", "failed");
    assert_eq!(failed["severity"], "CRITICAL");
    assert_eq!(failed["facts"]["counted-critical"], 1);
    assert!(failed["reasons"][0]
        .as_str()
        .unwrap()
        .starts_with("CRITICAL 1 > 0"));

    let copy = find(&events, "Replication Verdict", "replicated");
    assert_eq!(copy["kind"], "replicator.copy");
    assert_eq!(copy["rule"], "to-europe");
    assert_eq!(copy["facts"]["copied-to"], "eu-west-1");
    assert_eq!(copy["facts"]["everywhere"], true);
    assert_eq!(copy["image-tags"], json!(["1.2.3"]));

    let run = find(&events, "Retention Verdict", "prune-planned");
    assert_eq!(run["repository-name"], REPOSITORY);
    assert!(
        run.get("image-digest").is_none(),
        "about a whole repository"
    );
    assert_eq!(run["facts"]["applied"], false);
    assert_eq!(run["facts"]["run"], "2026-12-01T03:00:00Z");

    // The verdict-id is what a consumer dedupes on: one per verdict here.
    let mut ids: Vec<&str> = events
        .iter()
        .map(|e| e["detail"]["verdict-id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), events.len());

    // The "block a deploy" rule saw only what did not pass.
    let blocking = delivered(&failing, 2).await;
    let mut outcomes: Vec<&str> = blocking
        .iter()
        .map(|e| e["detail"]["outcome"].as_str().unwrap())
        .collect();
    outcomes.sort_unstable();
    assert_eq!(outcomes, ["audited", "failed"], "{blocking:#?}");
}

/// Without `STEWARD_VERDICT_EVENT_BUS` nothing is put (and nothing fails); with a bus the
/// function's role may not reach, the invocation fails, so that Lambda retries it.
#[tokio::test]
async fn no_bus_puts_nothing_and_a_missing_bus_fails_the_invocation() {
    let bed = NotifiedStack::start(REGION).await;
    let every = EventSource::create(&bed.stack, REGION, "verdicts").await;
    rule(&bed, "every-verdict", EVERY_VERDICT, &every);
    let release = bed
        .stack
        .push_image(&PushSpec::new(REGION, REPOSITORY).tag("1.2.3"));

    let env = bed
        .stack
        .function_env(&bed.topic, &[("STEWARD_POLICY", POLICY)]);
    let answers = RuntimeApi::invoke_binary(
        &function_binary("push-guard"),
        &env,
        vec![push_event(&release)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        answers[0].response().expect("checked")["outcome"],
        "compliant"
    );
    assert!(delivered(&every, 0).await.is_empty());

    let env = bed.stack.function_env(
        &bed.topic,
        &[
            ("STEWARD_POLICY", POLICY),
            ("STEWARD_VERDICT_EVENT_BUS", "no-such-bus"),
        ],
    );
    let answers = RuntimeApi::invoke_binary(
        &function_binary("push-guard"),
        &env,
        vec![push_event(&release)],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let Answer::Error { error_type, .. } = &answers[0] else {
        panic!("expected an error, got {answers:?}");
    };
    assert!(error_type.starts_with("NonRetryable."), "{error_type}");
}
