//! The prune operation on the in-memory store: dry runs change nothing, `apply` deletes
//! exactly the plan in batches of at most 100, a change since the plan keeps its image.

use super::*;
use crate::policy::SourceFormat;
use crate::retention::{Decision, ImageRecord, ImageStatus};
use crate::testing::{MemoryRetention, MemoryWorkloads};
use crate::timestamp::DAY;

const POLICY: &str = r#"
version: 1
rules:
  - repositories: ["team/*"]
    tags: { semver: {}, git_sha: { prefixes: ["sha-"] } }
    retention:
      semver: { keep_per_major: 1 }
      git_sha: { keep_newest: 1 }
      untagged: { max_age_days: 7 }
  - repositories: ["**"]
    tags: { semver: {} }
"#;

fn policy() -> Policy {
    Policy::from_text(POLICY, "p.yaml", SourceFormat::Yaml).expect("valid")
}

const NOW: Timestamp = Timestamp(1_800_000_000);

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

fn image(n: u32, days: i64, tags: &[&str]) -> ImageRecord {
    ImageRecord {
        digest: digest(n),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        pushed_at: Timestamp(NOW.0 - days * DAY),
        last_pulled: None,
        media_type: None,
        size_bytes: Some(10),
        children: vec![],
        subject: None,
        in_use: vec![],
        status: ImageStatus::Active,
        archived_at: None,
    }
}

/// `apply` under `policy`, nothing running.
async fn apply_with(store: &MemoryRetention, policy: &Policy) -> RepositoryRetention {
    run_retention(
        store,
        &MemoryWorkloads::default(),
        policy,
        "team/app",
        &settings(true),
        &nothing_runs(),
        &mut |_| {},
    )
    .await
    .expect("runs")
    .expect("governed")
}

/// What the default sources (Lambda, ECS) report when nothing runs.
fn nothing_runs() -> Running {
    let read = [UsageSource::Lambda, UsageSource::Ecs]
        .into_iter()
        .map(|source| (source, Ok(Vec::new())))
        .collect();
    Running { read }
}

fn settings(apply: bool) -> RetentionSettings {
    RetentionSettings {
        now: NOW,
        apply,
        deadline: Deadline::unlimited(),
    }
}

async fn prune(store: &MemoryRetention, apply: bool) -> RepositoryRetention {
    run_retention(
        store,
        &MemoryWorkloads::default(),
        &policy(),
        "team/app",
        &settings(apply),
        &nothing_runs(),
        &mut |_| {},
    )
    .await
    .expect("runs")
    .expect("governed")
}

fn store() -> MemoryRetention {
    MemoryRetention::default()
        .with("team/app", image(1, 200, &["1.0.0"]))
        .with("team/app", image(2, 100, &["1.1.0"]))
        .with("team/app", image(3, 90, &["sha-aaaaaaa"]))
        .with("team/app", image(4, 80, &["sha-bbbbbbb"]))
        .with("team/app", image(5, 30, &[]))
        .with("team/app", image(6, 1, &[]))
}

#[tokio::test(flavor = "current_thread")]
async fn a_dry_run_plans_and_deletes_nothing() {
    let store = store();
    let result = prune(&store, false).await;
    let expired: Vec<&str> = result.plan.expired().map(|i| i.digest.as_str()).collect();
    assert_eq!(expired.len(), 3, "{expired:?}");
    assert!(result.pruning.deleted.is_empty());
    assert_eq!(store.digests("team/app").len(), 6);
    assert!(store.delete_requests().is_empty());
    assert_eq!(
        result.pruning.outcome(),
        crate::notify::Outcome::PrunePlanned
    );
}

#[tokio::test(flavor = "current_thread")]
async fn apply_deletes_exactly_the_plan() {
    let store = store();
    let result = prune(&store, true).await;
    let planned = result.plan.expired_digests();
    assert_eq!(
        planned,
        [digest(1), digest(3), digest(5)].into_iter().collect()
    );
    let deleted: BTreeSet<String> = result.pruning.deleted.iter().cloned().collect();
    assert_eq!(deleted, planned);
    assert_eq!(
        store.digests("team/app"),
        vec![digest(2), digest(4), digest(6)]
    );
    assert_eq!(result.pruning.outcome(), crate::notify::Outcome::Pruned);
    // Again: nothing left to expire.
    let again = prune(&store, true).await;
    assert!(again.pruning.expired.is_empty() && again.pruning.deleted.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn deletes_in_batches_of_at_most_a_hundred() {
    let mut store = MemoryRetention::default();
    for n in 0..250 {
        store = store.with("team/app", image(1000 + n, 30, &[]));
    }
    let result = prune(&store, true).await;
    assert_eq!(result.pruning.deleted.len(), 250);
    assert_eq!(store.delete_requests(), vec![100, 100, 50]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_tag_pushed_since_the_plan_keeps_the_image() {
    let store = store();
    store.tag_after_the_plan("team/app", &digest(1), "1.0.1-hotfix");
    let mut seen = Vec::new();
    let result = run_retention(
        &store,
        &MemoryWorkloads::default(),
        &policy(),
        "team/app",
        &settings(true),
        &nothing_runs(),
        &mut |p| seen.push(p),
    )
    .await
    .expect("runs")
    .expect("governed");
    assert!(result.plan.expired_digests().contains(&digest(1)));
    assert_eq!(result.pruning.kept_on_recheck, vec![digest(1)]);
    assert!(store.digests("team/app").contains(&digest(1)));
    assert!(!result.pruning.deleted.contains(&digest(1)));
    assert!(matches!(
        seen.last(),
        Some(Progress::Batch {
            done: 3,
            total: 3,
            ..
        })
    ));
}

#[tokio::test(flavor = "current_thread")]
async fn a_refused_index_keeps_its_children() {
    let mut index = image(10, 300, &["1.0.5"]);
    index.children = vec![digest(11)];
    let store = store()
        .with("team/app", index)
        .with("team/app", image(11, 300, &[]))
        .refusing(&digest(10), "ImageReferencedByManifestList");
    let result = prune(&store, true).await;
    assert_eq!(
        result
            .plan
            .images
            .iter()
            .find(|i| i.digest == digest(11))
            .map(|i| i.decision),
        Some(Decision::Expire)
    );
    let codes: Vec<(&str, &str)> = result
        .pruning
        .failed
        .iter()
        .map(|f| (f.digest.as_str(), f.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [
            (digest(10).as_str(), "ImageReferencedByManifestList"),
            (digest(11).as_str(), "StillReferenced")
        ]
    );
    assert!(store.digests("team/app").contains(&digest(11)));
    assert_eq!(
        result.pruning.outcome(),
        crate::notify::Outcome::PruneFailed
    );
}

#[tokio::test(flavor = "current_thread")]
async fn out_of_time_starts_no_batch() {
    let store = store();
    let result = run_retention(
        &store,
        &MemoryWorkloads::default(),
        &policy(),
        "team/app",
        &RetentionSettings {
            deadline: Deadline::after(Duration::from_secs(1)),
            ..settings(true)
        },
        &nothing_runs(),
        &mut |_| {},
    )
    .await
    .expect("runs")
    .expect("governed");
    assert!(result.pruning.unfinished);
    assert!(result.pruning.deleted.is_empty());
    assert_eq!(store.digests("team/app").len(), 6);
}

#[tokio::test(flavor = "current_thread")]
async fn only_repositories_with_a_retention_section_are_pruned() {
    let policy = policy();
    let all = ["team/app".to_string(), "team/web".into(), "other/x".into()];
    assert_eq!(select(&policy, &all, &[]), ["team/app", "team/web"]);
    let glob = Glob::new("team/w*").expect("glob");
    assert_eq!(select(&policy, &all, &[glob]), ["team/web"]);
    let store = MemoryRetention::default().with("other/x", image(1, 900, &[]));
    let none = run_retention(
        &store,
        &MemoryWorkloads::default(),
        &policy,
        "other/x",
        &settings(true),
        &nothing_runs(),
        &mut |_| {},
    )
    .await
    .expect("runs");
    assert!(none.is_none());
}

#[tokio::test(flavor = "current_thread")]
async fn what_runs_is_kept_and_a_source_that_cannot_be_read_keeps_everything() {
    // Under keep_per_major: 1 only 1.3.0 is kept by its tag.
    let store = MemoryRetention::default()
        .with("team/app", image(1, 300, &["1.0.0"]))
        .with("team/app", image(2, 200, &["1.1.0"]))
        .with("team/app", image(3, 100, &["1.2.0"]))
        .with("team/app", image(4, 90, &["1.3.0"]));
    let workloads = MemoryWorkloads::default();
    let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    workloads.run(
        UsageSource::Lambda,
        &format!("{host}/team/app:1.0.0"),
        "Lambda function api",
    );
    let sources = sources_for(&policy(), &["team/app".to_string()]);
    assert_eq!(
        sources,
        BTreeSet::from([UsageSource::Lambda, UsageSource::Ecs])
    );
    let running = Running::gather(&workloads, &sources, &Deadline::unlimited()).await;
    assert_eq!(running.count(), 1);
    // A service deployed after the run started, before the deletion, keeps its image too.
    workloads.run(
        UsageSource::Ecs,
        &format!("{host}/team/app:1.2.0"),
        "ECS service web of cluster prod",
    );
    let (policy, settings) = (policy(), settings(true));
    let (store, workloads, policy, settings) = (&store, &workloads, &policy, &settings);
    let run = |running| async move {
        run_retention(
            store,
            workloads,
            policy,
            "team/app",
            settings,
            running,
            &mut |_| {},
        )
        .await
    };
    let result = run(&running).await.expect("runs").expect("governed");
    let kept = result
        .plan
        .images
        .iter()
        .find(|i| i.digest == digest(1))
        .expect("planned");
    assert_eq!(kept.decision, Decision::Keep);
    assert_eq!(
        kept.reasons[0].to_string(),
        "[in-use]: in use: Lambda function api"
    );
    assert_eq!(
        result.plan.expired_digests(),
        BTreeSet::from([digest(2), digest(3)])
    );
    assert_eq!(result.pruning.kept_on_recheck, [digest(3)]);
    assert_eq!(result.pruning.deleted, [digest(2)]);
    assert_eq!(
        workloads.reads(),
        4,
        "read at the start, and again before deleting"
    );

    // Lambda denied: nothing of team/app expires this run, and the error says why.
    workloads.deny(UsageSource::Lambda);
    let running = Running::gather(workloads, &sources, &Deadline::unlimited()).await;
    let failure = run(&running).await.expect_err("fails closed");
    let message = failure.to_string();
    assert_eq!(failure.error_type(), "NonRetryable.Rejected");
    assert!(
        message.contains("Lambda functions")
            && message.contains("nothing in team/app expires this run")
            && message.contains("retention.in_use.lambda: false"),
        "{message}"
    );
    assert_eq!(store.digests("team/app").len(), 3, "nothing more deleted");
}

#[tokio::test(flavor = "current_thread")]
async fn with_archive_apply_archives_what_expires_and_deletes_what_was_archived_long_enough() {
    let policy = Policy::from_text(
        &POLICY.replace(
            "      untagged: { max_age_days: 7 }",
            "      untagged: { max_age_days: 7 }\n      archive: { delete_after_days: 90 }",
        ),
        "p.yaml",
        SourceFormat::Yaml,
    )
    .expect("valid");
    let mut long_archived = image(3, 300, &["0.9.0"]);
    long_archived.status = ImageStatus::Archived;
    long_archived.archived_at = Some(Timestamp(NOW.0 - 100 * DAY));
    let store = MemoryRetention::default()
        .archiving_at(NOW)
        .with("team/app", image(1, 10, &["1.1.0"]))
        .with("team/app", image(2, 20, &["1.0.0"]))
        .with("team/app", long_archived)
        .with("team/app", image(4, 30, &["0.9.1"]));
    let result = apply_with(&store, &policy).await;
    assert_eq!(result.plan.archive_digests(), BTreeSet::from([digest(2)]));
    assert_eq!(result.pruning.archived, [digest(2)]);
    assert_eq!(
        result.pruning.deleted,
        [digest(3)],
        "archived 100 days, over 90"
    );
    let listed = store.retention_images("team/app").await.expect("listed");
    let status = |n: u32| {
        listed
            .iter()
            .find(|i| i.digest == digest(n))
            .map(|i| i.status)
    };
    assert_eq!(status(2), Some(ImageStatus::Archived));
    assert_eq!(status(1), Some(ImageStatus::Active));
    assert_eq!(status(3), None);
    // Planned again: nothing more to do until the archived image has been there 90 days.
    let again = apply_with(&store, &policy).await;
    assert!(again.pruning.archived.is_empty() && again.pruning.deleted.is_empty());
    assert!(!again.pruning.is_news());
}
