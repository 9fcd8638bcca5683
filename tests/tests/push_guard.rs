//! push-guard against the local test bed: real images in an OCI registry and in moto's ECR,
//! notifications through moto's SNS into an SQS queue. Each test starts its own stack.
//!
//! The handler tests build `PushGuard` from the adapters; the last ones run the built
//! `push-guard` binary under the Runtime API emulator (`cargo build --workspace` first).

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use push_guard::PushGuard;
use serde_json::{json, Value};
use steward::aws::{Ecr, Registries, Sns};
use steward::error::StewardError;
use steward::harness::Invoke;
use steward::policy::{Mode, Policy, SourceFormat};
use testbed::{
    event_from_sample, function_binary, push_event, Answer, NotifiedStack, PushSpec, PushedImage,
    RuntimeApi,
};

const REGION: &str = "us-east-1";
const REPOSITORY: &str = "team/app";
const MISSING_DIGEST: &str =
    "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The labels the built-in policy requires, consistent with each other and with `version`.
fn labelled(spec: PushSpec, version: Option<&str>) -> PushSpec {
    let spec = spec.labels(steward::labels::samples::COMPLIANT);
    match version {
        Some(version) => spec.label("org.opencontainers.image.version", version),
        None => spec,
    }
}

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

    fn guard(
        &self,
        policy: Policy,
        mode_override: Option<Mode>,
    ) -> PushGuard<Registries, Ecr, Sns> {
        let sdk = self.stack.sdk_config(REGION);
        let overrides =
            BTreeMap::from([(REGION.to_string(), self.stack.registry(REGION).to_string())]);
        PushGuard {
            policy: policy.into(),
            mode_override,
            images: Registries::new(&sdk, self.stack.http(), overrides),
            tags: Ecr::new(&sdk),
            notifier: Sns::new(&sdk, &self.topic),
            rechecks: None,
        }
    }

    /// The image's tags in moto's ECR; `None` when the image is gone.
    async fn tags(&self, image: &PushedImage) -> Option<Vec<String>> {
        self.stack
            .image_tags(&image.region, &image.repository, &image.digest)
            .await
    }

    /// The same image under a compliant tag `1.2.3` and under `latest` (pushed twice with the
    /// same seed: same bytes, same digest). Returns the `latest` push.
    async fn compliant_image_also_tagged_latest(&self, seed: &str) -> PushedImage {
        let spec = labelled(PushSpec::new(REGION, REPOSITORY).seed(seed), Some("1.2.3"));
        let first = self.stack.push_image(&spec.clone().tag("1.2.3"));
        let latest = self.stack.push_image(&spec.tag("latest"));
        assert_eq!(latest.digest, first.digest, "same seed, same image");
        assert_eq!(
            self.tags(&latest).await,
            Some(vec!["1.2.3".to_string(), "latest".to_string()])
        );
        latest
    }
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

fn violation_rules(report: &Value) -> Vec<&str> {
    report["verdict"]["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["rule"].as_str())
        .collect()
}

#[tokio::test]
async fn a_compliant_push_is_left_alone_and_not_notified() {
    let bed = Bed::start().await;
    let image = bed.stack.push_image(&labelled(
        PushSpec::new(REGION, REPOSITORY).tag("1.2.3"),
        Some("1.2.3"),
    ));

    let report = bed
        .guard(Policy::builtin(), None)
        .invoke(push_event(&image))
        .await
        .expect("handled");

    assert_eq!(report["compliant"], true, "{report:#}");
    assert_eq!(report["outcome"], "compliant", "{report:#}");
    assert_eq!(report["mode"], "audit");
    assert_eq!(report["digest"], image.digest.as_str());
    assert_eq!(report["platforms"], 1);
    assert_eq!(report["verdict"]["kind"], "semver");
    assert!(bed.notifications(0).await.is_empty());
    assert_eq!(bed.tags(&image).await, Some(vec!["1.2.3".to_string()]));
}

#[tokio::test]
async fn a_violation_in_audit_mode_is_notified_through_sns_and_left_in_place() {
    let bed = Bed::start().await;
    let image = bed.stack.push_image(&labelled(
        PushSpec::new(REGION, REPOSITORY).tag("latest"),
        None,
    ));

    let report = bed
        .guard(Policy::builtin(), None)
        .invoke(push_event(&image))
        .await
        .expect("handled");

    assert_eq!(report["compliant"], false, "{report:#}");
    assert_eq!(report["outcome"], "audited", "{report:#}");
    assert_eq!(report["mode"], "audit");
    assert_eq!(violation_rules(&report), ["tag.literals.deny"]);

    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    let envelope = &envelopes[0];
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["TopicArn"], bed.topic.as_str());
    let message = chat_message(envelope);
    assert_eq!(message["version"], "1.0");
    assert_eq!(message["source"], "custom");
    assert_eq!(message["content"]["textType"], "client-markdown");
    let title = message["content"]["title"].as_str().expect("title");
    assert!(
        title.contains("latest") && title.contains(REPOSITORY),
        "{title}"
    );
    let description = message["content"]["description"].as_str().expect("text");
    assert!(description.contains("tag.literals.deny"), "{description}");
    assert!(description.contains("Audit mode"), "{description}");
    assert_eq!(message["metadata"]["threadId"], image.digest.as_str());
    assert_eq!(message["metadata"]["eventType"], "push-guard.violation");
    assert_eq!(attribute(envelope, "event_type"), "push-guard.violation");
    assert_eq!(attribute(envelope, "severity"), "WARNING");
    assert_eq!(attribute(envelope, "repository"), REPOSITORY);
    assert_eq!(attribute(envelope, "outcome"), "audited");
    assert_eq!(attribute(envelope, "region"), REGION);

    assert_eq!(bed.tags(&image).await, Some(vec!["latest".to_string()]));
}

#[tokio::test]
async fn enforce_mode_removes_the_offending_tag_and_keeps_the_image() {
    let bed = Bed::start().await;
    let latest = bed.compliant_image_also_tagged_latest("enforce").await;

    let report = bed
        .guard(Policy::builtin(), Some(Mode::Enforce))
        .invoke(push_event(&latest))
        .await
        .expect("handled");

    assert_eq!(report["compliant"], false, "{report:#}");
    assert_eq!(report["mode"], "enforce");
    assert_eq!(report["outcome"], "tag-removed", "{report:#}");
    assert_eq!(bed.tags(&latest).await, Some(vec!["1.2.3".to_string()]));

    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    assert_eq!(attribute(&envelopes[0], "outcome"), "tag-removed");
    assert_eq!(attribute(&envelopes[0], "severity"), "CRITICAL");
    let message = chat_message(&envelopes[0]);
    let description = message["content"]["description"].as_str().expect("text");
    assert!(
        description
            .contains("the tag was removed. The image remains, with its other tags: `1.2.3`"),
        "{description}"
    );
}

/// One image pushed under `latest` only: removing that tag would delete it.
async fn only_tagged_latest(bed: &Bed, seed: &str) -> PushedImage {
    let image = bed
        .stack
        .push_image(&labelled(PushSpec::new(REGION, REPOSITORY).seed(seed), None).tag("latest"));
    assert_eq!(bed.tags(&image).await, Some(vec!["latest".to_string()]));
    image
}

/// `quarantine-` and the first 12 hex digits of the digest, as docs/guide.md documents it.
fn quarantine_tag_of(image: &PushedImage) -> String {
    let hex = image.digest.trim_start_matches("sha256:");
    format!("quarantine-{}", &hex[..12])
}

#[tokio::test]
async fn enforce_on_an_image_s_only_tag_quarantines_it_and_the_image_stays_reachable() {
    let bed = Bed::start().await;
    let image = only_tagged_latest(&bed, "only-latest").await;
    let guard = bed.guard(Policy::builtin(), Some(Mode::Enforce));

    let report = guard.invoke(push_event(&image)).await.expect("handled");

    let quarantine = quarantine_tag_of(&image);
    assert_eq!(report["outcome"], "quarantined", "{report:#}");
    assert_eq!(report["quarantine_tag"], quarantine.as_str());
    // Same digest, reachable under ecr-steward's tag; `latest` is gone.
    assert_eq!(bed.tags(&image).await, Some(vec![quarantine.clone()]));
    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    assert_eq!(attribute(&envelopes[0], "outcome"), "quarantined");
    let description = chat_message(&envelopes[0])["content"]["description"].to_string();
    assert!(description.contains("only tag"), "{description}");
    assert!(description.contains(&quarantine), "{description}");
    assert!(!description.contains("other tags remain"), "{description}");

    // The PUSH of the quarantine tag itself, and a repeat of the first event, change nothing.
    let mut own_push = push_event(&image);
    own_push["detail"]["image-tag"] = quarantine.clone().into();
    assert!(guard.invoke(own_push).await.expect("own tag")["outcome"] == "skipped");
    let repeat = guard.invoke(push_event(&image)).await.expect("repeat");
    assert_eq!(repeat["outcome"], "already-removed", "{repeat:#}");
    assert_eq!(bed.tags(&image).await, Some(vec![quarantine]));
    let envelopes = bed.notifications(1).await;
    assert_eq!(attribute(&envelopes[0], "outcome"), "already-removed");
}

#[tokio::test]
async fn two_offending_tags_of_one_push_leave_the_image_quarantined_not_deleted() {
    let bed = Bed::start().await;
    let spec = labelled(PushSpec::new(REGION, REPOSITORY).seed("two-bad"), None);
    let latest = bed.stack.push_image(&spec.clone().tag("latest"));
    let dev = bed.stack.push_image(&spec.tag("dev"));
    assert_eq!(latest.digest, dev.digest);
    let guard = bed.guard(Policy::builtin(), Some(Mode::Enforce));

    // One event per tag; neither tag keeps the image for the other.
    let first = guard.invoke(push_event(&latest)).await.expect("latest");
    let second = guard.invoke(push_event(&dev)).await.expect("dev");

    assert_eq!(first["outcome"], "quarantined", "{first:#}");
    assert_eq!(second["outcome"], "tag-removed", "{second:#}");
    assert_eq!(
        bed.tags(&latest).await,
        Some(vec![quarantine_tag_of(&latest)]),
        "the image is still there"
    );
}

#[tokio::test]
async fn keep_leaves_an_only_tag_and_delete_removes_the_image_only_when_the_policy_says_so() {
    let bed = Bed::start().await;
    let policy = |choice: &str| {
        Policy::from_text(
            &format!("version: 1\nrules:\n  - tags: {{ semver: {{}}, literals: {{ deny: [latest] }} }}\n    enforce: {{ last_tag: {choice} }}\n"),
            "policy.yaml",
            SourceFormat::Yaml,
        )
        .expect("valid policy")
    };
    let kept = only_tagged_latest(&bed, "keep").await;
    let report = bed
        .guard(policy("keep"), Some(Mode::Enforce))
        .invoke(push_event(&kept))
        .await
        .expect("handled");
    assert_eq!(report["outcome"], "kept-last-tag", "{report:#}");
    assert_eq!(bed.tags(&kept).await, Some(vec!["latest".to_string()]));

    let deleted = only_tagged_latest(&bed, "delete").await;
    let report = bed
        .guard(policy("delete"), Some(Mode::Enforce))
        .invoke(push_event(&deleted))
        .await
        .expect("handled");
    assert_eq!(report["outcome"], "image-deleted", "{report:#}");
    assert_eq!(bed.tags(&deleted).await, None, "ECR deleted the image");
    let outcomes: Vec<String> = bed
        .notifications(2)
        .await
        .iter()
        .map(|e| attribute(e, "outcome").to_string())
        .collect();
    assert_eq!(outcomes, ["kept-last-tag", "image-deleted"]);
}

#[tokio::test]
async fn an_immutable_repository_is_enforced_without_losing_the_image() {
    let bed = Bed::start().await;
    for mutability in ["IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"] {
        let repository = format!("team/{}", mutability.to_lowercase().replace('_', "-"));
        let mut create = bed
            .stack
            .ecr(REGION)
            .create_repository()
            .repository_name(&repository)
            .image_tag_mutability(mutability.into());
        if mutability == "IMMUTABLE_WITH_EXCLUSION" {
            create = create.image_tag_mutability_exclusion_filters(
                aws_sdk_ecr::types::ImageTagMutabilityExclusionFilter::builder()
                    .filter_type(
                        aws_sdk_ecr::types::ImageTagMutabilityExclusionFilterType::Wildcard,
                    )
                    .filter("dev-*")
                    .build()
                    .expect("filter"),
            );
        }
        create.send().await.expect("repository");
        let image = bed.stack.push_image(
            &labelled(PushSpec::new(REGION, &repository).seed(mutability), None).tag("latest"),
        );
        let report = bed
            .guard(Policy::builtin(), Some(Mode::Enforce))
            .invoke(push_event(&image))
            .await
            .expect("handled, not failed");
        assert_eq!(report["outcome"], "quarantined", "{mutability}: {report:#}");
        assert_eq!(
            bed.tags(&image).await,
            Some(vec![quarantine_tag_of(&image)]),
            "{mutability}"
        );
    }
}

#[tokio::test]
async fn a_multi_arch_image_is_judged_on_every_platform() {
    let bed = Bed::start().await;
    let image = bed.stack.push_image(&labelled(
        PushSpec::new(REGION, REPOSITORY)
            .tag("1.2.3")
            .platform("linux/amd64")
            .platform("linux/arm64")
            .child_label_omit("linux/arm64"),
        Some("1.2.3"),
    ));
    assert_eq!(image.children.len(), 2);

    let report = bed
        .guard(Policy::builtin(), None)
        .invoke(push_event(&image))
        .await
        .expect("handled");

    assert_eq!(report["platforms"], 2, "{report:#}");
    assert_eq!(report["compliant"], false, "{report:#}");
    let violations = report["verdict"]["violations"].as_array().expect("list");
    assert!(!violations.is_empty());
    for violation in violations {
        let message = violation["message"].as_str().expect("message");
        assert!(message.starts_with("linux/arm64: "), "{message}");
        assert!(!message.contains("linux/amd64"), "{message}");
    }
    assert!(violation_rules(&report).contains(&"labels.required"));

    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    let description = chat_message(&envelopes[0])["content"]["description"].to_string();
    assert!(description.contains("linux/arm64"), "{description}");
    assert!(!description.contains("linux/amd64"), "{description}");
}

#[tokio::test]
async fn an_event_delivered_twice_in_enforce_mode_removes_the_tag_once() {
    let bed = Bed::start().await;
    let latest = bed.compliant_image_also_tagged_latest("twice").await;
    // Enforce through the policy this time: the rule's own mode.
    let policy = Policy::from_text(
        "version: 1\nmode: audit\nrules:\n  - name: services\n    repositories: ['team/**']\n    mode: enforce\n    tags:\n      semver: {}\n      literals: { deny: [latest] }\n",
        "policy.yaml",
        SourceFormat::Yaml,
    )
    .expect("valid policy");
    let guard = bed.guard(policy, None);

    let first = guard.invoke(push_event(&latest)).await.expect("first");
    assert_eq!(first["mode"], "enforce", "{first:#}");
    assert_eq!(first["outcome"], "tag-removed", "{first:#}");
    let second = guard.invoke(push_event(&latest)).await.expect("second");
    assert_eq!(second["outcome"], "already-removed", "{second:#}");
    assert_eq!(bed.tags(&latest).await, Some(vec!["1.2.3".to_string()]));

    // Both deliveries notify (the first one's publish may have failed after the removal),
    // but only the first says it removed the tag: filters and counts see one removal.
    let envelopes = bed.notifications(2).await;
    let outcomes: Vec<&str> = envelopes.iter().map(|e| attribute(e, "outcome")).collect();
    assert_eq!(
        outcomes,
        ["tag-removed", "already-removed"],
        "{envelopes:#?}"
    );
    let last = chat_message(&envelopes[1])["content"]["description"].to_string();
    assert!(last.contains("had already been removed"), "{last}");
}

#[tokio::test]
async fn an_event_for_a_missing_image_is_a_non_retryable_not_found() {
    let bed = Bed::start().await;
    let existing = bed.stack.push_image(&labelled(
        PushSpec::new(REGION, REPOSITORY).tag("1.2.3"),
        Some("1.2.3"),
    ));
    let missing = PushedImage {
        digest: MISSING_DIGEST.into(),
        ..existing
    };

    let error = bed
        .guard(Policy::builtin(), Some(Mode::Enforce))
        .invoke(push_event(&missing))
        .await
        .expect_err("the image does not exist");

    assert!(matches!(error, StewardError::NotFound { .. }), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(error.error_type(), "NonRetryable.NotFound");
    assert!(error.to_string().contains(MISSING_DIGEST), "{error}");
    assert!(bed.notifications(0).await.is_empty());
}

#[tokio::test]
async fn the_binary_answers_the_runtime_api() {
    let bed = Bed::start().await;
    let image = bed.stack.push_image(&labelled(
        PushSpec::new(REGION, REPOSITORY).tag("1.2.3"),
        Some("1.2.3"),
    ));
    let env = bed.stack.function_env(&bed.topic, &[]);
    let semver = |digest: &str| {
        event_from_sample("image-push-semver.json", |event| {
            event["detail"]["repository-name"] = REPOSITORY.into();
            event["detail"]["image-digest"] = digest.into();
            event["detail"]["image-tag"] = "1.2.3".into();
            event["region"] = REGION.into();
        })
    };
    let events = vec![
        semver(&image.digest),
        event_from_sample("image-push-untagged.json", |_| {}),
        event_from_sample("image-delete.json", |_| {}),
        semver(MISSING_DIGEST),
    ];

    let invocations = RuntimeApi::invoke_binary(&function_binary("push-guard"), &env, events)
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(invocations.len(), 4, "{invocations:#?}");
    let report = invocations[0].response().expect("a response");
    assert_eq!(report["compliant"], true, "{report:#}");
    assert_eq!(report["outcome"], "compliant", "{report:#}");
    assert_eq!(report["digest"], image.digest.as_str());
    assert_eq!(
        invocations[1],
        Answer::Response(json!({ "outcome": "skipped", "reason": "an untagged push" }))
    );
    assert_eq!(
        invocations[2],
        Answer::Response(json!({ "outcome": "skipped", "reason": "not a push" }))
    );
    let Answer::Error {
        error_type,
        error_message,
    } = &invocations[3]
    else {
        panic!("expected an error, got {:?}", invocations[3]);
    };
    assert_eq!(error_type, "NonRetryable.NotFound");
    assert!(error_message.contains(MISSING_DIGEST), "{error_message}");
    assert!(bed.notifications(0).await.is_empty());
}

#[test]
fn the_binary_fails_its_init_without_a_topic() {
    let env = [("AWS_REGION".to_string(), REGION.to_string())];
    let error = RuntimeApi::invoke_binary(
        &function_binary("push-guard"),
        &env,
        vec![event_from_sample("image-push-semver.json", |_| {})],
    )
    .expect_err("init fails");
    assert!(error.status.is_some_and(|s| !s.success()), "{error}");
    assert!(error.output.contains("STEWARD_TOPIC_ARN"), "{error}");
}

/// The policy of the provenance tests: release tags need a signature by the fixtures' cosign
/// key or a Notation chain to the fixtures' root (real key material). Not ECR managed signing:
/// moto has no DescribeImageSigningStatus; the port's in-memory fake covers it (push-guard's
/// unit tests).
fn provenance_policy() -> Policy {
    let indent = |file: &str| -> String {
        std::fs::read_to_string(testbed::provenance_fixture(file))
            .expect("fixture")
            .lines()
            .map(|l| format!("          {l}\n"))
            .collect()
    };
    let text = format!(
        "version: 1\nrules:\n  - name: releases\n    repositories: ['team/**']\n    tags: {{ semver: {{}} }}\n    provenance:\n      tags: [semver]\n      require: [signature]\n      schemes: [notation, cosign]\n      cosign_keys:\n        - |\n{}      trust_store:\n        - |\n{}",
        indent("cosign.pub"),
        indent("notation-root.crt")
    );
    Policy::from_text(&text, "test", SourceFormat::Yaml).expect("policy")
}

/// The `ECR Image Action` ECR sends for a pushed signature or SBOM: untagged, with its
/// artifact type (Notation, oras), or tagged `sha256-<hex>.sig` (cosign).
fn artifact_push_event(image: &PushedImage, signed: &Value) -> Value {
    let digest = signed["digest"].as_str().expect("the artifact's digest");
    let tag = signed["tag"].as_str().map(str::to_string);
    let artifact = signed["artifactType"].as_str().map(str::to_string);
    event_from_sample("image-push-semver.json", |event| {
        event["region"] = image.region.as_str().into();
        let detail = event["detail"].as_object_mut().expect("detail");
        detail.insert("repository-name".into(), image.repository.as_str().into());
        detail.insert("image-digest".into(), digest.into());
        match tag {
            Some(tag) => {
                detail.insert("image-tag".into(), tag.into());
            }
            None => {
                detail.remove("image-tag");
            }
        }
        if let Some(artifact) = artifact {
            detail.insert("artifact-media-type".into(), artifact.into());
        }
    })
}

/// A release pushed without a signature is reported at its push; the Notation signature
/// pushed a moment later (a referrer, untagged) makes push-guard judge it again, compliant,
/// without a second message. A cosign signature by another key is reported as such.
#[tokio::test]
async fn a_release_without_a_valid_signature_is_reported_and_a_late_signature_clears_it() {
    let bed = Bed::start().await;
    let guard = bed.guard(provenance_policy(), None);
    let image = bed.stack.push_image(&labelled(
        PushSpec::new(REGION, REPOSITORY).tag("1.2.3"),
        Some("1.2.3"),
    ));

    let report = guard.invoke(push_event(&image)).await.expect("handled");
    assert_eq!(report["outcome"], "audited", "{report:#}");
    assert_eq!(report["provenance"]["state"], "missing", "{report:#}");
    let envelopes = bed.notifications(1).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:#?}");
    let description = chat_message(&envelopes[0])["content"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        description.contains("has no valid signature"),
        "{description}"
    );

    let signed = testbed::sign_image(
        &bed.stack,
        &[
            "--region",
            REGION,
            "--repository",
            REPOSITORY,
            "--digest",
            &image.digest,
            "--scheme",
            "notation",
            "--key",
            &testbed::provenance_fixture("notation-leaf.key"),
            "--cert-chain",
            &testbed::provenance_fixture("notation-leaf.crt"),
            "--cert-chain",
            &testbed::provenance_fixture("notation-root.crt"),
        ],
    );
    let report = guard
        .invoke(artifact_push_event(&image, &signed))
        .await
        .expect("handled");
    assert_eq!(report["outcome"], "compliant", "{report:#}");
    assert_eq!(report["tag"], "1.2.3");
    assert_eq!(report["digest"], image.digest.as_str());
    assert_eq!(report["referrer"], signed["digest"], "{report:#}");
    assert_eq!(report["provenance"]["state"], "satisfied", "{report:#}");
    assert!(bed.notifications(0).await.is_empty(), "no second message");

    // Another release, signed with cosign by a key the rule does not name.
    let other = bed.stack.push_image(&labelled(
        PushSpec::new(REGION, REPOSITORY).tag("1.2.4").seed("other"),
        Some("1.2.4"),
    ));
    let by_stranger = testbed::sign_image(
        &bed.stack,
        &[
            "--region",
            REGION,
            "--repository",
            REPOSITORY,
            "--digest",
            &other.digest,
            "--scheme",
            "cosign-sig",
            "--key",
            &testbed::provenance_fixture("stranger.key"),
        ],
    );
    let report = guard
        .invoke(artifact_push_event(&other, &by_stranger))
        .await
        .expect("handled");
    assert_eq!(report["outcome"], "audited", "{report:#}");
    assert_eq!(report["tag"], "1.2.4");
    let envelopes = bed.notifications(1).await;
    let description = chat_message(&envelopes[0])["content"]["description"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        description.contains("does not verify with any key of the rule"),
        "{description}"
    );
}
