//! scan-alert against the local test bed: scan results scripted in moto's ECR, notifications
//! through moto's SNS into an SQS queue. Each test starts its own stack.
//!
//! The handler tests build `ScanAlert` from the adapters; the last one runs the built
//! `scan-alert` binary under the Runtime API emulator (`cargo build --workspace` first).

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use scan_alert::ScanAlert;
use serde_json::{json, Value};
use steward::aws::{Ecr, Sns};
use steward::date::Date;
use steward::harness::{Invocation, Invoke};
use steward::policy::{Policy, SourceFormat};
use testbed::{
    basic_scan_event, event_from_sample, function_binary, Answer, NotifiedStack, PushSpec,
    PushedImage, RuntimeApi, ScanResult,
};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";
const REPOSITORY: &str = "team/app";

/// The notified stack, with this file's helpers.
struct Bed(NotifiedStack);

impl std::ops::Deref for Bed {
    type Target = NotifiedStack;

    fn deref(&self) -> &NotifiedStack {
        &self.0
    }
}

impl Bed {
    async fn start() -> Self {
        Self(NotifiedStack::start(REGION).await)
    }

    fn alert(&self, policy: Policy, notify_clean: bool) -> ScanAlert<Ecr, Sns> {
        let sdk = self.stack.sdk_config(REGION);
        ScanAlert {
            policy: policy.into(),
            notify_clean,
            scans: Ecr::new(&sdk),
            notifier: Sns::new(&sdk, &self.topic),
        }
    }

    /// An image in moto's ECR (and the registry), tagged `tag`.
    fn push(&self, tag: &str) -> PushedImage {
        self.stack
            .push_image(&PushSpec::new(REGION, REPOSITORY).tag(tag))
    }
}

/// The `Inspector2 Scan` event of an enhanced scan of `image`: `repository-name` is the
/// repository's ARN and the counts have a `TOTAL`.
fn inspector_event(image: &PushedImage, counts: Value) -> Value {
    let arn = format!(
        "arn:aws:ecr:{}:{ACCOUNT}:repository/{}",
        image.region, image.repository
    );
    event_from_sample("inspector2-scan.json", |event| {
        event["region"] = image.region.as_str().into();
        event["resources"] = json!([arn]);
        let detail = &mut event["detail"];
        detail["repository-name"] = arn.as_str().into();
        detail["image-digest"] = image.digest.as_str().into();
        detail["image-tags"] = json!(image.tag.iter().collect::<Vec<_>>());
        detail["finding-severity-counts"] = counts;
    })
}

/// A message attribute of an SNS envelope.
fn attribute<'a>(envelope: &'a Value, name: &str) -> &'a str {
    let attribute = &envelope["MessageAttributes"][name];
    assert_eq!(attribute["Type"], "String", "{name} in {envelope:#}");
    attribute["Value"].as_str().unwrap_or_default()
}

/// The chat message inside an SNS envelope.
fn chat_message(envelope: &Value) -> Value {
    let message = envelope["Message"].as_str().expect("Message is a string");
    serde_json::from_str(message).expect("Message is the chat notification JSON")
}

fn description(message: &Value) -> &str {
    message["content"]["description"]
        .as_str()
        .unwrap_or_else(|| panic!("no description in {message:#}"))
}

/// The built-in bar (CRITICAL 0, HIGH 5) on every repository.
fn builtin() -> Policy {
    Policy::builtin()
}

fn today() -> Date {
    Date::today()
}

#[tokio::test]
async fn a_basic_scan_over_the_bar_is_notified_with_its_findings() {
    let bed = Bed::start().await;
    let image = bed.push("1.2.3");
    bed.stack
        .scan(
            &ScanResult::complete(&image)
                .finding("CVE-2024-3094", "CRITICAL", "xz-utils", "5.6.0")
                .finding("CVE-2023-4911", "HIGH", "glibc", "2.36-9"),
        )
        .await;
    let event = basic_scan_event(&image, "COMPLETE", json!({ "CRITICAL": 1, "HIGH": 1 }));

    let report = bed
        .alert(builtin(), false)
        .invoke_with(event, Invocation::on(today()))
        .await
        .expect("handled");

    assert_eq!(report["outcome"], "failed", "{report:#}");
    assert_eq!(report["kind"], "basic");
    assert_eq!(report["repository"], REPOSITORY);
    assert_eq!(report["digest"], image.digest.as_str());
    assert_eq!(report["rule"], "default");
    assert_eq!(report["notified"], true);
    assert_eq!(report["verdict"]["findings_known"], true, "{report:#}");
    assert_eq!(report["verdict"]["breaches"][0]["severity"], "CRITICAL");
    assert_eq!(report["verdict"]["findings"][0]["id"], "CVE-2024-3094");

    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    let envelope = &envelopes[0];
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["TopicArn"], bed.topic.as_str());
    assert_eq!(attribute(envelope, "event_type"), "scan-alert.result");
    assert_eq!(attribute(envelope, "severity"), "CRITICAL");
    assert_eq!(attribute(envelope, "outcome"), "failed");
    assert_eq!(attribute(envelope, "repository"), REPOSITORY);
    assert_eq!(attribute(envelope, "region"), REGION);
    let message = chat_message(envelope);
    assert_eq!(message["version"], "1.0");
    assert_eq!(message["source"], "custom");
    assert_eq!(message["content"]["textType"], "client-markdown");
    let title = message["content"]["title"].as_str().expect("title");
    assert!(
        title.contains("Vulnerabilities over the bar") && title.contains(REPOSITORY),
        "{title}"
    );
    assert!(title.contains("1.2.3"), "the tags: {title}");
    let text = description(&message);
    assert!(text.contains("*Basic* scan of"), "{text}");
    assert!(text.contains("• CRITICAL 1 > 0 allowed"), "{text}");
    assert!(
        text.contains("• CRITICAL `CVE-2024-3094` xz-utils 5.6.0"),
        "{text}"
    );
    assert!(
        text.contains("• HIGH `CVE-2023-4911` glibc 2.36-9"),
        "{text}"
    );
    assert_eq!(message["metadata"]["threadId"], image.digest.as_str());
    assert_eq!(message["metadata"]["eventType"], "scan-alert.result");
    assert_eq!(
        message["metadata"]["relatedResources"],
        json!([format!(
            "arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{REPOSITORY}"
        )])
    );
    let context = &message["metadata"]["additionalContext"];
    assert_eq!(context["critical"], "1", "{message:#}");
    assert_eq!(context["rule"], "default");
    assert_eq!(context["scan"], "basic");
}

#[tokio::test]
async fn an_inspector_scan_names_its_repository_by_arn_and_reads_enhanced_findings() {
    let bed = Bed::start().await;
    let image = bed.push("2.0.0");
    bed.stack
        .scan(
            &ScanResult::complete(&image)
                .enhanced_finding("CVE-2025-0002", "HIGH", "openssl", Some("3.0.2"))
                .enhanced_finding("CVE-2025-0003", "HIGH", "libxml2", None),
        )
        .await;
    // HIGH 2 is under the built-in bar (5), so a stricter one: HIGH 1, fixable findings only.
    let policy = Policy::from_text(
        "version: 1\nrules:\n  - name: strict\n    repositories: ['team/**']\n    tags: { semver: {} }\n    scan: { thresholds: { HIGH: 0 }, fixable_only: true }\n",
        "strict.yaml",
        SourceFormat::Yaml,
    )
    .expect("valid policy");
    let event = inspector_event(&image, json!({ "HIGH": 2, "TOTAL": 2 }));

    let report = bed
        .alert(policy, false)
        .invoke_with(event, Invocation::on(today()))
        .await
        .expect("handled");

    assert_eq!(report["repository"], REPOSITORY, "{report:#}");
    assert_eq!(report["kind"], "enhanced");
    assert_eq!(report["rule"], "strict");
    assert_eq!(report["outcome"], "failed", "{report:#}");
    let verdict = &report["verdict"];
    assert_eq!(verdict["findings_known"], true, "{report:#}");
    assert!(verdict["reported"].get("TOTAL").is_none(), "{report:#}");
    assert_eq!(verdict["reported"]["HIGH"], 2);
    assert_eq!(
        verdict["counted"]["HIGH"], 1,
        "only the fixable one: {report:#}"
    );
    let findings = verdict["findings"].as_array().expect("findings");
    let openssl = findings
        .iter()
        .find(|f| f["id"] == "CVE-2025-0002")
        .unwrap_or_else(|| panic!("no openssl finding: {report:#}"));
    assert_eq!(openssl["fixed_in"], "3.0.2");
    assert_eq!(openssl["fixable"], true);
    let libxml = findings
        .iter()
        .find(|f| f["id"] == "CVE-2025-0003")
        .unwrap_or_else(|| panic!("no libxml2 finding: {report:#}"));
    assert_eq!(libxml["unfixable"], true, "{report:#}");

    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    assert_eq!(attribute(&envelopes[0], "repository"), REPOSITORY);
    assert_eq!(attribute(&envelopes[0], "outcome"), "failed");
    let message = chat_message(&envelopes[0]);
    let text = description(&message);
    assert!(text.contains("*Enhanced* scan of"), "{text}");
    assert!(
        text.contains("• HIGH `CVE-2025-0002` openssl 1.0.0 (fixed in 3.0.2)"),
        "{text}"
    );
    assert_eq!(message["metadata"]["additionalContext"]["scan"], "enhanced");
}

#[tokio::test]
async fn a_clean_scan_is_quiet_unless_clean_scans_are_wanted() {
    let bed = Bed::start().await;
    let image = bed.push("1.2.3");
    bed.stack.scan(&ScanResult::complete(&image)).await;
    let event = basic_scan_event(&image, "COMPLETE", json!({}));

    let report = bed
        .alert(builtin(), false)
        .invoke_with(event.clone(), Invocation::on(today()))
        .await
        .expect("handled");
    assert_eq!(report["outcome"], "passed", "{report:#}");
    assert_eq!(report["notified"], false, "{report:#}");
    assert_eq!(report["verdict"]["findings_known"], true, "{report:#}");
    assert!(bed.notifications(0).await.is_empty());

    let report = bed
        .alert(builtin(), true)
        .invoke_with(event, Invocation::on(today()))
        .await
        .expect("handled");
    assert_eq!(report["notified"], true, "{report:#}");
    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    assert_eq!(attribute(&envelopes[0], "outcome"), "passed");
    assert_eq!(attribute(&envelopes[0], "severity"), "INFO");
    let message = chat_message(&envelopes[0]);
    assert!(
        message["content"]["title"]
            .as_str()
            .is_some_and(|t| t.contains("Scan passed")),
        "{message:#}"
    );
}

#[tokio::test]
async fn a_failed_scan_is_notified_as_such() {
    let bed = Bed::start().await;
    let image = bed.push("1.2.3");
    let event = basic_scan_event(&image, "FAILED", json!({}));

    let report = bed
        .alert(builtin(), false)
        .invoke_with(event, Invocation::on(today()))
        .await
        .expect("handled");

    assert_eq!(report["outcome"], "scan-failed", "{report:#}");
    assert_eq!(report["status"], "FAILED");
    assert_eq!(report["repository"], REPOSITORY);
    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    let envelope = &envelopes[0];
    assert_eq!(attribute(envelope, "event_type"), "scan-alert.scan-failed");
    assert_eq!(attribute(envelope, "outcome"), "scan-failed");
    assert_eq!(attribute(envelope, "severity"), "WARNING");
    let message = chat_message(envelope);
    let text = description(&message);
    assert!(text.contains("ended with status *FAILED*"), "{text}");
    assert!(text.contains(&image.digest), "{text}");
}

#[tokio::test]
async fn without_a_scan_in_ecr_the_event_counts_decide() {
    let bed = Bed::start().await;
    // Never scanned in moto: DescribeImageScanFindings answers ScanNotFoundException.
    let image = bed.push("1.2.3");
    let policy = Policy::from_text(
        "version: 1\nrules:\n  - tags: { semver: {} }\n    scan:\n      thresholds: { CRITICAL: 0 }\n      ignore: [{ id: CVE-2024-3094, reason: 'cannot apply without findings' }]\n",
        "ignoring.yaml",
        SourceFormat::Yaml,
    )
    .expect("valid policy");
    let event = basic_scan_event(&image, "COMPLETE", json!({ "CRITICAL": 1 }));

    let report = bed
        .alert(policy, false)
        .invoke_with(event, Invocation::on(today()))
        .await
        .expect("handled");

    assert_eq!(report["outcome"], "failed", "{report:#}");
    assert_eq!(report["verdict"]["findings_known"], false, "{report:#}");
    assert_eq!(report["verdict"]["counted"]["CRITICAL"], 1, "{report:#}");
    assert_eq!(bed.notifications(1).await.len(), 1);
}

#[tokio::test]
async fn the_binary_answers_the_runtime_api() {
    let bed = Bed::start().await;
    let image = bed.push("1.2.3");
    bed.stack
        .scan(&ScanResult::complete(&image).finding(
            "CVE-2024-3094",
            "CRITICAL",
            "xz-utils",
            "5.6.0",
        ))
        .await;
    let env = bed.stack.function_env(&bed.topic, &[]);
    let events = vec![
        basic_scan_event(&image, "COMPLETE", json!({ "CRITICAL": 1 })),
        event_from_sample("image-push-semver.json", |_| {}),
        json!({ "detail-type": "ECR Image Scan", "source": "aws.ecr", "detail": {} }),
    ];

    let invocations = RuntimeApi::invoke_binary(&function_binary("scan-alert"), &env, events)
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(invocations.len(), 3, "{invocations:#?}");
    let report = invocations[0].response().expect("a response");
    assert_eq!(report["outcome"], "failed", "{report:#}");
    assert_eq!(report["repository"], REPOSITORY);
    assert_eq!(report["digest"], image.digest.as_str());
    assert_eq!(report["verdict"]["findings"][0]["id"], "CVE-2024-3094");
    assert_eq!(
        invocations[1],
        Answer::Response(json!({ "outcome": "skipped", "reason": "a ECR Image Action event" }))
    );
    let Answer::Error { error_type, .. } = &invocations[2] else {
        panic!("expected an error, got {:?}", invocations[2]);
    };
    assert_eq!(error_type, "NonRetryable.MalformedEvent");

    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    assert_eq!(attribute(&envelopes[0], "outcome"), "failed");
    assert_eq!(attribute(&envelopes[0], "event_type"), "scan-alert.result");
}
