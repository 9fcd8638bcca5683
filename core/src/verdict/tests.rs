use std::collections::BTreeMap;

use serde_json::Value;

use super::*;
use crate::events::samples::sample_event;
use crate::policy::{Mode, Policy, Target};
use crate::push::{judge, PushedTag};
use crate::replication::{CopyStats, RegionOutcome};
use crate::retention::DeleteFailure;
use crate::scan::{evaluate, JudgedScan, ScanKind, ScanRules, VulnSeverity};

const DIGEST: &str = "sha256:0f2b6c3e1d8a9b7c4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d";

fn origin() -> Origin {
    Origin {
        region: "us-east-1".into(),
        account: Some("123456789012".into()),
    }
}

fn guard(tag: &str, action: GuardAction) -> GuardReport {
    let policy = Policy::builtin();
    let pushed = PushedTag {
        image: ImageRef {
            account: Some("123456789012".into()),
            region: "us-east-1".into(),
            repository: "team/web".into(),
            digest: DIGEST.into(),
        },
        tag: tag.into(),
    };
    let verdict = judge(&policy, "team/web", tag, &[]);
    GuardReport::new(&pushed, Mode::Audit, 1, verdict, action)
}

fn scan(passed: bool) -> ScanReport {
    let reported = BTreeMap::from([(VulnSeverity::Critical, u64::from(!passed))]);
    let verdict = evaluate(
        &ScanRules::default(),
        &reported,
        None,
        crate::date::Date::parse("2026-01-01").expect("a date"),
    );
    ScanReport::judged(JudgedScan {
        repository: "team/web".into(),
        digest: DIGEST.into(),
        tags: vec!["1.4.2".into()],
        kind: ScanKind::Basic,
        rule: "default".into(),
        notified: !passed,
        verdict,
    })
}

fn target(region: &str) -> Target {
    Target {
        rule: "to-europe".into(),
        region: region.into(),
        account: None,
        repository: "team/web".into(),
        create_repository: true,
        encryption: None,
    }
}

fn copy(failed: bool) -> ReplicatorReport {
    let image = ImageRef {
        account: Some("123456789012".into()),
        region: "us-east-1".into(),
        repository: "team/web".into(),
        digest: DIGEST.into(),
    };
    let stats = CopyStats {
        bytes_copied: 2048,
        blobs_copied: 2,
        ..CopyStats::default()
    };
    let mut outcomes = vec![RegionOutcome::new(&target("eu-west-1"), Ok(stats), 120)];
    if failed {
        outcomes.push(RegionOutcome::new(
            &target("ap-south-1"),
            Err("access denied".into()),
            30,
        ));
    }
    ReplicatorReport::Copy(ReplicationReport::new(&image, &["1.4.2".into()], outcomes))
}

fn retention(failed: bool) -> RetentionResult {
    RetentionResult {
        repository: "team/web".into(),
        rule: "default".into(),
        applied: true,
        kept: 3,
        expired: Vec::new(),
        expired_bytes: 0,
        deleted: vec![DIGEST.into()],
        kept_on_recheck: Vec::new(),
        failed: if failed {
            vec![DeleteFailure {
                digest: DIGEST.into(),
                code: "ImageReferencedByManifestList".into(),
                message: "referenced".into(),
            }]
        } else {
            Vec::new()
        },
        already_gone: Vec::new(),
        unfinished: false,
        to_archive: Vec::new(),
        archived: Vec::new(),
    }
}

/// A verdict of every detail type, as the functions reach them.
fn every_kind_of_verdict() -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    verdicts.extend(guard("1.4.2", GuardAction::Compliant).verdicts(&origin()));
    verdicts.extend(guard("latest", GuardAction::Audited).verdicts(&origin()));
    verdicts.extend(
        guard(
            "latest",
            GuardAction::Quarantined {
                quarantine_tag: "quarantine-0f2b6c3e".into(),
            },
        )
        .verdicts(&origin()),
    );
    verdicts.extend(scan(true).verdicts(&origin()));
    verdicts.extend(scan(false).verdicts(&origin()));
    verdicts.extend(
        ScanReport::ScanFailed {
            repository: "team/web".into(),
            digest: DIGEST.into(),
            status: "UNSUPPORTED_IMAGE".into(),
        }
        .verdicts(&origin()),
    );
    verdicts.extend(copy(false).verdicts(&origin()));
    verdicts.extend(copy(true).verdicts(&origin()));
    verdicts.extend(
        ReplicatorReport::Native(NativeReport {
            outcome: Outcome::Replicated,
            native: true,
            repository: "team/web".into(),
            digest: DIGEST.into(),
            tag: Some("1.4.2".into()),
            source_region: Some("us-east-1".into()),
        })
        .verdicts(&origin()),
    );
    verdicts.push(retention_verdict(
        &retention(false),
        &origin(),
        "2026-01-01T03:00:00Z",
    ));
    verdicts.push(retention_verdict(
        &retention(true),
        &origin(),
        "2026-01-01T03:00:00Z",
    ));
    verdicts.push(retention_error_verdict(
        "team/api",
        "Retryable.Throttled",
        "slow down",
        &origin(),
        "2026-01-01T03:00:00Z",
    ));
    verdicts.push(Verdict::policy_rejected(
        Function::ScanAlert,
        "us-east-1",
        "s3://platform-config/ecr/policy.yaml",
        "\"3\"",
        "rules[0].tags: unknown key `semverr` at line 4",
    ));
    verdicts
}

fn schema(detail_type: DetailType) -> Value {
    let path = format!(
        "{}/../schema/{}",
        env!("CARGO_MANIFEST_DIR"),
        detail_type.schema_file()
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("the schema")).expect("JSON")
}

#[test]
fn every_detail_matches_its_schema_and_every_type_is_reached() {
    let verdicts = every_kind_of_verdict();
    for detail_type in DetailType::ALL {
        assert!(
            verdicts.iter().any(|v| v.detail_type == detail_type),
            "no {detail_type} verdict"
        );
    }
    for verdict in &verdicts {
        let detail = verdict.detail();
        let found = schema_check::violations(&detail, &schema(verdict.detail_type));
        assert!(
            found.is_empty(),
            "{}: {found:#?}\n{detail:#}",
            verdict.detail_type
        );
        assert!(verdict.detail_type.kinds().contains(&verdict.kind));
        assert!(verdict.detail_type.outcomes().contains(&verdict.outcome));
    }
}

#[test]
fn the_schemas_name_the_kinds_functions_and_outcomes_of_their_type() {
    for detail_type in DetailType::ALL {
        let schema = schema(detail_type);
        let names = |key: &str| -> Vec<String> {
            schema["properties"][key]["enum"]
                .as_array()
                .expect("an enum")
                .iter()
                .map(|v| v.as_str().expect("text").to_string())
                .collect()
        };
        let kinds: Vec<String> = detail_type
            .kinds()
            .iter()
            .map(|k| k.as_str().into())
            .collect();
        assert_eq!(names("kind"), kinds, "{detail_type}");
        let outcomes: Vec<String> = detail_type
            .outcomes()
            .iter()
            .map(|o| o.as_str().into())
            .collect();
        assert_eq!(names("outcome"), outcomes, "{detail_type}");
        assert!(schema["title"]
            .as_str()
            .is_some_and(|t| t.contains(detail_type.as_str())));
    }
    // Every outcome belongs to a detail type.
    for outcome in Outcome::ALL {
        assert!(
            DetailType::ALL
                .iter()
                .any(|t| t.outcomes().contains(&outcome)),
            "{outcome}"
        );
    }
}

#[test]
fn a_compliant_push_is_announced_as_passed_and_a_violation_as_what_was_done() {
    let compliant = &guard("1.4.2", GuardAction::Compliant).verdicts(&origin())[0];
    let detail = compliant.detail();
    assert_eq!(detail["outcome"], "compliant");
    assert_eq!(detail["severity"], "INFO");
    assert_eq!(detail["kind"], "push-guard.violation");
    assert_eq!(detail["function"], "push-guard");
    assert_eq!(detail["repository-name"], "team/web");
    assert_eq!(detail["image-digest"], DIGEST);
    assert_eq!(detail["image-tags"], serde_json::json!(["1.4.2"]));
    assert_eq!(detail["facts"]["compliant"], true);
    assert_eq!(detail["reasons"], serde_json::json!([]));

    let audited = guard("latest", GuardAction::Audited).verdicts(&origin())[0].detail();
    assert_eq!(audited["outcome"], "audited");
    assert_eq!(audited["severity"], "WARNING");
    assert_eq!(audited["facts"]["mode"], "audit");
    assert_eq!(audited["facts"]["compliant"], false);
    assert!(audited["facts"]["violations"].as_u64() > Some(0));
    assert!(audited["reasons"][0]
        .as_str()
        .is_some_and(|r| r.contains(':')));
    assert!(!audited["title"].as_str().unwrap_or_default().contains('*'));
}

#[test]
fn untrusted_text_is_plain_and_capped() {
    let tag = format!("v1\u{202E}gpj\n*x*{}", "y".repeat(400));
    let report = guard(&tag, GuardAction::Audited);
    let detail = report.verdicts(&origin())[0].detail();
    let shown = detail["image-tags"][0].as_str().expect("a tag");
    assert!(shown.starts_with("v1gpj *x*y"), "{shown}");
    assert_eq!(shown.chars().count(), MAX_VALUE_CHARS + 1);
    assert!(shown.ends_with('…'));
    let text = detail.to_string();
    assert!(
        !text.contains('\u{202E}') && !text.contains("\\n"),
        "{text}"
    );
    assert!(detail["title"].as_str().expect("title").chars().count() <= MAX_TEXT_CHARS + 1);

    let mut many = Verdict::policy_rejected(Function::Retention, "us-east-1", "ssm:p", "1", "e");
    many.tags = (0..150).map(|i| format!("t{i}")).collect();
    many.reasons = (0..30).map(|i| format!("r{i}")).collect();
    let detail = many.detail();
    assert_eq!(
        detail["image-tags"].as_array().map(Vec::len),
        Some(MAX_TAGS)
    );
    assert_eq!(detail["facts"]["image-tags-total"], 150);
    assert_eq!(
        detail["reasons"].as_array().map(Vec::len),
        Some(MAX_REASONS)
    );
    assert_eq!(detail["facts"]["reasons-total"], 30);
}

#[test]
fn the_verdict_id_is_the_same_for_a_repeat_and_another_for_another_verdict() {
    let once = guard("latest", GuardAction::Audited).verdicts(&origin())[0].id();
    let again = guard("latest", GuardAction::Audited).verdicts(&origin())[0].id();
    assert_eq!(once, again);
    assert_eq!(once.len(), 32);
    let removed = guard(
        "latest",
        GuardAction::TagRemoved {
            other_tags: vec!["1.4.2".into()],
        },
    )
    .verdicts(&origin())[0]
        .id();
    assert_ne!(once, removed);
    let run = |at: &str| retention_verdict(&retention(false), &origin(), at).id();
    assert_ne!(run("2026-01-01T03:00:00Z"), run("2026-01-02T03:00:00Z"));
}

#[test]
fn replication_verdicts_say_where_it_went() {
    let detail = copy(true).verdicts(&origin())[0].detail();
    assert_eq!(detail["outcome"], "replication-failed");
    assert_eq!(detail["severity"], "CRITICAL");
    assert_eq!(detail["rule"], "to-europe");
    assert_eq!(detail["facts"]["failed-in"], "ap-south-1");
    assert_eq!(detail["facts"]["copied-to"], "eu-west-1");
    assert_eq!(detail["facts"]["everywhere"], false);
    assert!(detail["reasons"][1]
        .as_str()
        .is_some_and(|r| r.contains("ap-south-1") && r.contains("access denied")));
    let batch = ReplicatorReport::Batch(crate::replication::BatchReport {
        jobs: vec![crate::replication::JobReport {
            message_id: "m1".into(),
            report: match copy(false) {
                ReplicatorReport::Copy(report) => Some(report),
                _ => None,
            },
            failure: None,
            dead_lettered: false,
        }],
    });
    let verdicts = batch.verdicts(&origin());
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0].detail()["facts"]["backfill"], true);
    assert_eq!(verdicts[0].detail()["outcome"], "replicated");
}

#[test]
fn the_origin_is_the_events_envelope() {
    let origin = Origin::of(&sample_event("image-push-semver.json"));
    assert_eq!(origin.region, "us-east-1");
    assert!(origin.account.is_some());
    let jobs = Origin::of(&sample_event("copy-jobs-sqs.json"));
    assert_eq!(jobs.account.as_deref(), Some("123456789012"));
    assert!(!jobs.region.is_empty());
    assert_eq!(Origin::default().or_region("eu-west-1").region, "eu-west-1");
}
