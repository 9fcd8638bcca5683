//! The retention function on the in-memory store and inbox.

use std::time::Duration;

use steward::deadline::Deadline;
use steward::harness::Invoke;
use steward::policy::{Policy, SourceFormat};
use steward::retention::{ImageRecord, ImageStatus};
use steward::testing::{
    patched_sample, sample_event, Inbox, MemoryCursor, MemoryRetention, MemoryWorkloads,
};
use steward::timestamp::DAY;

use super::*;

const POLICY: &str = r#"
version: 1
rules:
  - repositories: ["team/*"]
    tags: { semver: {}, git_sha: { prefixes: ["sha-"] } }
    retention:
      semver: { keep_per_major: 1 }
      untagged: { max_age_days: 7 }
"#;

/// The sample event's time.
fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-12-01T03:00:00Z").expect("valid")
}

fn image(n: u32, days: i64, tags: &[&str]) -> ImageRecord {
    ImageRecord {
        digest: format!("sha256:{n:064x}"),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        pushed_at: Timestamp(now().0 - days * DAY),
        last_pulled: None,
        media_type: None,
        size_bytes: Some(2_000_000),
        children: vec![],
        subject: None,
        in_use: vec![],
        status: ImageStatus::Active,
        archived_at: None,
    }
}

fn store() -> MemoryRetention {
    MemoryRetention::default()
        .with("team/app", image(1, 200, &["1.0.0"]))
        .with("team/app", image(2, 100, &["1.1.0"]))
        .with("team/app", image(3, 30, &[]))
        .with("team/web", image(4, 2, &["2.0.0"]))
        .with("other/x", image(5, 900, &[]))
}

fn function(
    apply: bool,
    store: MemoryRetention,
) -> Retention<MemoryRetention, Inbox, MemoryWorkloads, MemoryCursor> {
    Retention {
        policy: Policy::from_text(POLICY, "p.yaml", SourceFormat::Yaml)
            .expect("valid")
            .into(),
        apply,
        region: "us-east-1".into(),
        store,
        notifier: Inbox::default(),
        workloads: MemoryWorkloads::default(),
        cursor: MemoryCursor::default(),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_dry_run_notifies_what_it_would_delete_and_deletes_nothing() {
    let retention = function(false, store());
    let answer = retention
        .invoke(sample_event("retention-scheduled.json"))
        .await
        .expect("handled");
    assert_eq!(answer["outcome"], "prune-planned");
    let repositories: Vec<&str> = answer["repositories"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["repository"].as_str().expect("name"))
        .collect();
    // In name order from the start; other/x has no retention section.
    assert_eq!(repositories, ["team/app", "team/web"]);
    assert_eq!(
        answer["repositories"][0]["expired"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(retention.store.digests("team/app").len(), 3);
    let sent = retention.notifier.received();
    assert_eq!(sent.len(), 1, "team/web has nothing expired");
    assert_eq!(sent[0].outcome, Outcome::PrunePlanned);
    assert_eq!(
        sent[0].title,
        "Retention would delete 2 images in team/app (dry run)"
    );
    let message = sent[0].chat_message();
    assert_eq!(message["metadata"]["threadId"], "retention.run:team/app");
    assert!(
        message["content"]["description"]
            .as_str()
            .expect("text")
            .contains("`1.0.0`: expires (semver.release: not among the newest 1 of 1.x"),
        "{message}"
    );
    assert_eq!(
        retention.cursor.get(),
        None,
        "the run finished: the next starts at the first"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn apply_deletes_and_says_so() {
    let retention = function(true, store());
    let answer = retention
        .invoke(sample_event("retention-scheduled.json"))
        .await
        .expect("handled");
    assert_eq!(answer["outcome"], "pruned");
    assert_eq!(
        retention.store.digests("team/app"),
        [format!("sha256:{:064x}", 2)]
    );
    let sent = retention.notifier.received();
    assert_eq!(sent[0].title, "Retention deleted 2 images in team/app");
    assert_eq!(sent[0].outcome, Outcome::Pruned);
}

#[tokio::test(flavor = "current_thread")]
async fn with_little_time_left_repositories_wait_for_the_next_run() {
    let retention = function(true, store());
    let answer = retention
        .invoke_with(
            sample_event("retention-scheduled.json"),
            Invocation::until(Deadline::after(Duration::from_secs(5))),
        )
        .await
        .expect("handled");
    assert_eq!(
        answer["carried_over"],
        serde_json::json!(["team/app", "team/web"])
    );
    assert_eq!(retention.store.digests("team/app").len(), 3);
    assert_eq!(retention.cursor.get().as_deref(), Some("team/app"));

    // The next run starts where this one stopped, and wraps around.
    let mut next = function(true, store());
    next.cursor = MemoryCursor::at("team/web");
    let answer = next
        .invoke(sample_event("retention-scheduled.json"))
        .await
        .expect("handled");
    let order: Vec<&str> = answer["repositories"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["repository"].as_str().expect("name"))
        .collect();
    assert_eq!(order, ["team/web", "team/app"]);
    assert_eq!(next.cursor.get(), None);
}

#[test]
fn the_cursor_rotates_the_names_from_the_first_at_or_after_it() {
    let names = || vec!["a".to_string(), "c".to_string(), "e".to_string()];
    assert_eq!(from_cursor(names(), None), ["a", "c", "e"]);
    assert_eq!(from_cursor(names(), Some("c")), ["c", "e", "a"]);
    // A repository deleted since: the next name after it.
    assert_eq!(from_cursor(names(), Some("d")), ["e", "a", "c"]);
    assert_eq!(from_cursor(names(), Some("z")), ["a", "c", "e"]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_future_event_time_is_capped_at_the_clock_and_other_events_are_skipped() {
    let retention = function(false, store());
    let far = patched_sample("retention-scheduled.json", |event| {
        event["time"] = "2999-01-01T00:00:00Z".into();
    });
    let answer = retention.invoke(far).await.expect("handled");
    assert!(answer["now"].as_str().expect("time") < "2999");
    let skipped = retention
        .invoke(sample_event("image-push-semver.json"))
        .await
        .expect("handled");
    assert_eq!(skipped["outcome"], "skipped");
    assert!(apply_from([(RETENTION_APPLY.to_string(), "yes".to_string())]).is_err());
    assert!(apply_from([(RETENTION_APPLY.to_string(), "true".to_string())]).expect("valid"));
    assert!(!apply_from([]).expect("valid"));
}
