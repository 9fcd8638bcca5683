//! The planner on hand-made repositories, with push times spread over months.

use super::*;
use crate::policy::{Policy, SourceFormat};
use crate::timestamp::DAY;

const POLICY: &str = r#"
version: 1
rules:
  - name: services
    repositories: ["team/*"]
    tags:
      semver: { floating_aliases: true }
      git_sha: { prefixes: ["sha-"] }
      upstream: { revision: 'c[0-9]+' }
      literals: { allow: [stable, edge] }
    retention:
      semver:
        keep_per_major: 2
        keep_per_minor: 1
        prerelease: { max_age_days: 30, until_released: true }
      upstream: { keep_versions: 2, keep_revisions: 1 }
      git_sha: { keep_newest: 2, max_age_days: 14 }
      untagged: { max_age_days: 7 }
      protect: [stable, "lts-*"]
      keep_pulled_within_days: 30
"#;

fn policy() -> Policy {
    Policy::from_text(POLICY, "test.yaml", SourceFormat::Yaml).expect("valid policy")
}

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-12-01T00:00:00Z").expect("valid")
}

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

/// An image pushed `days` days before [`now`].
fn image(n: u32, days: i64, tags: &[&str]) -> ImageRecord {
    ImageRecord {
        digest: digest(n),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        pushed_at: Timestamp(now().0 - days * DAY),
        last_pulled: None,
        media_type: Some(crate::manifest::OCI_MANIFEST.into()),
        size_bytes: Some(1000),
        children: vec![],
        subject: None,
        in_use: vec![],
        status: ImageStatus::Active,
        archived_at: None,
    }
}

fn run(images: &[ImageRecord]) -> Plan {
    let policy = policy();
    let rule = policy.rule_for(Some("team/app")).expect("a rule");
    let retention = rule.retention.as_ref().expect("retention");
    plan("team/app", rule, retention, images, now())
}

fn decision(plan: &Plan, n: u32) -> (Decision, Vec<Clause>) {
    let image = plan
        .images
        .iter()
        .find(|i| i.digest == digest(n))
        .expect("planned");
    (
        image.decision,
        image.reasons.iter().map(|r| r.clause).collect(),
    )
}

fn keeps(plan: &Plan, n: u32) -> bool {
    decision(plan, n).0 == Decision::Keep
}

#[test]
fn keeps_the_newest_releases_per_major_and_minor_by_precedence() {
    // Push order is not version order: 1.10.0 is newest by precedence, not by string.
    let images = [
        image(1, 300, &["1.2.0"]),
        image(2, 200, &["1.9.0"]),
        image(3, 100, &["1.10.0"]),
        image(4, 250, &["1.9.1"]),
        image(5, 150, &["v1.2.1"]),
        image(6, 10, &["2.0.0"]),
        image(7, 5, &["2.0.1"]),
        image(8, 1, &["2.0.2"]),
    ];
    let plan = run(&images);
    // 1.x: newest two are 1.10.0 and 1.9.1; per minor: 1.10.0, 1.9.1, 1.2.1 lead their lines.
    assert!(keeps(&plan, 3) && keeps(&plan, 4) && keeps(&plan, 5));
    assert_eq!(
        decision(&plan, 1),
        (Decision::Expire, vec![Clause::SemverRelease])
    );
    assert_eq!(
        decision(&plan, 2),
        (Decision::Expire, vec![Clause::SemverRelease])
    );
    // 2.x: one minor line; the newest two of the major.
    assert!(keeps(&plan, 8) && keeps(&plan, 7));
    assert!(!keeps(&plan, 6));
    let reason = &plan
        .images
        .iter()
        .find(|i| i.digest == digest(1))
        .expect("x")
        .reasons[0];
    assert_eq!(reason.tag.as_deref(), Some("1.2.0"));
    assert_eq!(
        reason.detail,
        "not among the newest 2 of 1.x (#5) nor the newest 1 of 1.2.x (#2)"
    );
    assert_eq!(plan.expired().count(), 3);
    assert_eq!(plan.expired_bytes(), 3000);
}

#[test]
fn pre_releases_expire_with_age_or_once_released() {
    let images = [
        image(1, 60, &["3.0.0-rc.1"]), // 60 days: too old
        image(2, 5, &["3.1.0-rc.1"]),  // young, released below
        image(3, 4, &["3.1.0"]),
        image(4, 3, &["3.2.0-beta.2"]), // young, not released
    ];
    let plan = run(&images);
    assert_eq!(
        decision(&plan, 1),
        (Decision::Expire, vec![Clause::SemverPrerelease])
    );
    assert_eq!(
        decision(&plan, 2),
        (Decision::Expire, vec![Clause::SemverPrerelease])
    );
    assert_eq!(
        decision(&plan, 4),
        (Decision::Keep, vec![Clause::SemverPrerelease])
    );
    assert!(keeps(&plan, 3));
}

#[test]
fn upstream_revisions_are_not_pre_releases() {
    // 8.0.12-c15 would be a pre-release of 8.0.12 as SemVer, ordered before it and expired
    // "once released"; as upstream plus revision it is the newest packaging of 8.0.12.
    let images = [
        image(1, 90, &["8.0.12-c14"]),
        image(2, 80, &["8.0.12-c15"]),
        image(3, 120, &["8.0.9-c3"]),
        image(4, 150, &["8.0.2-c7"]),
        image(5, 70, &["8.4.0-c1"]),
        image(6, 30, &["8.0.12"]),
    ];
    let plan = run(&images);
    assert_eq!(decision(&plan, 2), (Decision::Keep, vec![Clause::Upstream]));
    assert_eq!(
        decision(&plan, 1),
        (Decision::Expire, vec![Clause::Upstream])
    );
    assert!(keeps(&plan, 3), "second newest version of 8.0");
    assert_eq!(
        decision(&plan, 4),
        (Decision::Expire, vec![Clause::Upstream])
    );
    assert!(keeps(&plan, 5), "8.4 is a line of its own");
    let words = &plan
        .images
        .iter()
        .find(|i| i.digest == digest(4))
        .expect("x")
        .reasons[0];
    assert_eq!(
        words.detail,
        "8.0.2 is not among the newest 2 versions of 8.0.x (#3); c7 is among the newest 1 revisions of 8.0.2 (#1)"
    );
}

#[test]
fn commit_images_keep_the_newest_and_the_young() {
    let images = [
        image(1, 200, &["sha-aaaaaaa"]),
        image(2, 100, &["sha-bbbbbbb"]),
        image(3, 40, &["sha-ccccccc"]),
        image(4, 30, &["sha-ddddddd"]),
        image(5, 20, &["sha-eeeeeee"]),
        image(6, 10, &["sha-fffffff"]),
    ];
    let plan = run(&images);
    assert!(keeps(&plan, 6) && keeps(&plan, 5), "the newest two");
    for n in [1, 2, 3, 4] {
        assert_eq!(
            decision(&plan, n),
            (Decision::Expire, vec![Clause::GitSha]),
            "{n}"
        );
    }
    // Younger than 14 days, though not among the newest two.
    let plan = run(&[
        image(1, 3, &["sha-aaaaaaa"]),
        image(2, 2, &["sha-bbbbbbb"]),
        image(3, 1, &["sha-ccccccc"]),
    ]);
    assert!(keeps(&plan, 1));
}

#[test]
fn an_image_is_kept_when_any_tag_keeps_it() {
    let images = [
        image(1, 300, &["1.0.0", "stable"]),
        image(2, 290, &["1.0.1", "sha-1111111"]),
        image(3, 280, &["1.0.2", "lts-2025"]),
        image(4, 270, &["1.0.3", "1.0"]),
        image(5, 260, &["1.0.4", "edge"]),
        image(6, 200, &["1.0.5"]),
        image(7, 100, &["1.0.6"]),
        image(8, 1, &["sha-2222222"]),
        image(9, 2, &["sha-3333333"]),
    ];
    let plan = run(&images);
    assert_eq!(decision(&plan, 1), (Decision::Keep, vec![Clause::Protect]));
    assert_eq!(decision(&plan, 3), (Decision::Keep, vec![Clause::Protect]));
    assert_eq!(
        decision(&plan, 4),
        (Decision::Keep, vec![Clause::FloatingAlias])
    );
    assert_eq!(decision(&plan, 5), (Decision::Keep, vec![Clause::NoClause]));
    assert!(keeps(&plan, 7) && keeps(&plan, 6), "the newest two of 1.x");
    // 1.0.1 is old and its commit tag is neither newest nor young: both tags expire.
    assert_eq!(
        decision(&plan, 2),
        (
            Decision::Expire,
            vec![Clause::SemverRelease, Clause::GitSha]
        )
    );
}

#[test]
fn untagged_images_expire_after_their_days_and_pulls_keep() {
    let mut pulled = image(3, 100, &[]);
    pulled.last_pulled = Some(Timestamp(now().0 - 3 * DAY));
    let mut pulled_long_ago = image(4, 100, &[]);
    pulled_long_ago.last_pulled = Some(Timestamp(now().0 - 60 * DAY));
    let plan = run(&[image(1, 10, &[]), image(2, 2, &[]), pulled, pulled_long_ago]);
    assert_eq!(
        decision(&plan, 1),
        (Decision::Expire, vec![Clause::Untagged])
    );
    assert_eq!(decision(&plan, 2), (Decision::Keep, vec![Clause::Untagged]));
    assert_eq!(decision(&plan, 3), (Decision::Keep, vec![Clause::Pulled]));
    assert!(!keeps(&plan, 4));
}

#[test]
fn a_kept_index_keeps_its_children_and_an_expired_one_takes_them() {
    let mut kept_index = image(1, 5, &["2.3.0"]);
    kept_index.children = vec![digest(11), digest(12)];
    kept_index.media_type = Some(crate::manifest::OCI_INDEX.into());
    let mut old_index = image(2, 400, &["2.0.0"]);
    old_index.children = vec![digest(21), digest(22), digest(12)];
    let plan = run(&[
        kept_index,
        old_index,
        image(11, 400, &[]),
        image(12, 400, &[]),
        image(21, 400, &[]),
        image(22, 400, &[]),
        image(3, 3, &["2.1.1"]),
        image(4, 2, &["2.2.0"]),
        image(5, 1, &["2.0.1"]),
    ]);
    assert!(!keeps(&plan, 2));
    assert_eq!(
        decision(&plan, 11),
        (Decision::Keep, vec![Clause::IndexChild])
    );
    // Shared with the kept index: kept, though the old index goes.
    assert_eq!(
        decision(&plan, 12),
        (Decision::Keep, vec![Clause::IndexChild])
    );
    assert_eq!(
        decision(&plan, 21),
        (Decision::Expire, vec![Clause::IndexChild])
    );
    assert_eq!(
        decision(&plan, 22),
        (Decision::Expire, vec![Clause::IndexChild])
    );
    let batches = deletion_batches(
        &plan_input_for_batches(),
        &[digest(2), digest(21), digest(22)].into_iter().collect(),
        100,
    );
    assert_eq!(batches, vec![vec![digest(2)], vec![digest(21), digest(22)]]);
    let small = deletion_batches(&[], &(1..=5).map(digest).collect(), 2);
    assert_eq!(small.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
}

fn plan_input_for_batches() -> Vec<ImageRecord> {
    let mut index = image(2, 400, &["2.0.0"]);
    index.children = vec![digest(21), digest(22)];
    vec![index, image(21, 400, &[]), image(22, 400, &[])]
}

#[test]
fn referrers_follow_their_subject_and_keep_it() {
    let mut signature_of_kept = image(31, 2, &[]);
    signature_of_kept.subject = Some(digest(1));
    let mut signature_of_expired = image(32, 300, &[]);
    signature_of_expired.subject = Some(digest(2));
    let cosign_tag = format!("sha256-{}.sig", &digest(2)[7..]);
    let cosign = image(33, 300, &[cosign_tag.as_str()]);
    // A protected referrer keeps its subject, though the subject's own tag expires.
    let mut protected_sbom = image(34, 300, &["lts-sbom"]);
    protected_sbom.subject = Some(digest(5));
    let plan = run(&[
        image(1, 1, &["4.0.2"]),
        image(2, 300, &["4.0.0"]),
        image(3, 2, &["4.0.1"]),
        image(5, 290, &["3.9.0"]),
        image(6, 1, &["3.9.9"]),
        image(7, 1, &["3.10.0"]),
        signature_of_kept,
        signature_of_expired,
        cosign,
        protected_sbom,
    ]);
    assert_eq!(
        decision(&plan, 31),
        (Decision::Keep, vec![Clause::Referrer])
    );
    assert!(!keeps(&plan, 2));
    assert_eq!(
        decision(&plan, 32),
        (Decision::Expire, vec![Clause::Referrer])
    );
    assert_eq!(
        decision(&plan, 33),
        (Decision::Expire, vec![Clause::Referrer])
    );
    assert_eq!(decision(&plan, 5), (Decision::Keep, vec![Clause::Subject]));
    let expired = plan.expired_digests();
    let batches = deletion_batches(
        &[image(2, 300, &["4.0.0"]), {
            let mut s = image(32, 300, &[]);
            s.subject = Some(digest(2));
            s
        }],
        &expired,
        100,
    );
    assert_eq!(batches.len(), 2, "referrers first, then their subject");
    assert!(batches[1].contains(&digest(2)));
}

#[test]
fn without_clauses_nothing_expires() {
    let policy = Policy::from_text(
        "version: 1\nrules:\n  - tags: { semver: {}, git_sha: {} }\n    retention: {}\n",
        "t.yaml",
        SourceFormat::Yaml,
    )
    .expect("valid");
    let rule = &policy.rules[0];
    let images = [
        image(1, 900, &["1.0.0"]),
        image(2, 900, &["1.0.0-rc.1"]),
        image(3, 900, &["abcdef1"]),
        image(4, 900, &[]),
        image(5, 900, &["whatever"]),
    ];
    let plan = plan(
        "x",
        rule,
        rule.retention.as_ref().expect("set"),
        &images,
        now(),
    );
    assert_eq!(plan.expired().count(), 0);
    assert_eq!(plan.kept_count(), 5);
}

#[test]
fn a_recheck_keeps_what_changed_and_lets_children_follow_a_deleted_index() {
    let mut index = image(2, 400, &["2.0.0"]);
    index.children = vec![digest(21)];
    let original = vec![
        index,
        image(21, 400, &[]),
        image(1, 300, &["1.0.0"]),
        image(3, 3, &["2.1.0"]),
        image(4, 2, &["2.2.0"]),
        image(5, 1, &["1.1.0"]),
        image(6, 1, &["1.2.0"]),
        image(7, 1, &["1.0.1"]),
        image(8, 1, &["2.0.1"]),
    ];
    let first = run(&original);
    assert_eq!(
        first.expired_digests(),
        [digest(1), digest(2), digest(21)].into_iter().collect()
    );
    // The index is deleted; meanwhile someone tags 1.0.0 `stable`.
    let deleted: BTreeSet<String> = [digest(2)].into_iter().collect();
    let mut fresh: Vec<ImageRecord> = original
        .iter()
        .filter(|i| i.digest != digest(2))
        .cloned()
        .collect();
    fresh
        .iter_mut()
        .filter(|i| i.digest == digest(1))
        .for_each(|i| i.tags.push("stable".into()));
    let again = run(&recheck_view(&original, &deleted, &fresh));
    assert!(
        keeps(&again, 1),
        "a tag pushed since the plan keeps the image"
    );
    assert!(
        !keeps(&again, 21),
        "the child still follows its deleted index"
    );
}

#[test]
fn an_image_in_use_is_kept_whatever_its_tags_and_age_and_says_what_runs_it() {
    let mut old_release = image(1, 400, &["1.0.0"]);
    old_release.in_use = vec![
        Usage {
            source: UsageSource::Lambda,
            what: "Lambda function api (version 3)".into(),
            last_seen: None,
        },
        Usage {
            source: UsageSource::Inspector,
            what: "3 ECS tasks or EKS pods".into(),
            last_seen: Timestamp::parse_rfc3339("2026-11-30T10:00:00Z"),
        },
    ];
    let mut untagged = image(2, 400, &[]);
    untagged.in_use = vec![Usage {
        source: UsageSource::Ecs,
        what: "ECS task 0f1e of cluster prod".into(),
        last_seen: None,
    }];
    let mut index = image(5, 400, &["1.1.0"]);
    index.children = vec![digest(6)];
    index.in_use = untagged.in_use.clone();
    let plan = run(&[
        old_release,
        untagged,
        image(3, 300, &["1.0.1"]),
        image(4, 200, &["1.0.2"]),
        index,
        image(6, 400, &[]),
    ]);
    assert_eq!(decision(&plan, 1), (Decision::Keep, vec![Clause::InUse]));
    assert_eq!(decision(&plan, 2), (Decision::Keep, vec![Clause::InUse]));
    assert_eq!(
        decision(&plan, 6),
        (Decision::Keep, vec![Clause::IndexChild]),
        "what a running index lists runs too"
    );
    let reason = plan
        .images
        .iter()
        .find(|i| i.digest == digest(1))
        .expect("planned")
        .reasons[0]
        .to_string();
    assert_eq!(
        reason,
        "[in-use]: in use: Lambda function api (version 3); 3 ECS tasks or EKS pods, last seen 2026-11-30"
    );
}

#[test]
fn quarantined_images_are_kept_unless_a_clause_expires_them() {
    let tag = crate::push::quarantine_tag(&digest(1));
    let images = [image(1, 40, &[tag.as_str()]), image(2, 5, &[tag.as_str()])];
    let plan = run(&images);
    assert_eq!(
        decision(&plan, 1),
        (Decision::Keep, vec![Clause::Quarantine])
    );
    let policy = Policy::from_text(
        &POLICY.replace(
            "keep_pulled_within_days: 30",
            "quarantine: { max_age_days: 30 }",
        ),
        "test.yaml",
        SourceFormat::Yaml,
    )
    .expect("valid");
    let rule = &policy.rules[0];
    let clause = super::plan(
        "team/app",
        rule,
        rule.retention.as_ref().expect("set"),
        &images,
        now(),
    );
    assert_eq!(
        decision(&clause, 1),
        (Decision::Expire, vec![Clause::Quarantine])
    );
    assert_eq!(
        decision(&clause, 2),
        (Decision::Keep, vec![Clause::Quarantine])
    );
}

fn archiving(delete_after: &str) -> Policy {
    Policy::from_text(
        &POLICY.replace(
            "keep_pulled_within_days: 30",
            &format!("archive: {{ {delete_after} }}"),
        ),
        "test.yaml",
        SourceFormat::Yaml,
    )
    .expect("valid")
}

fn run_with(policy: &Policy, images: &[ImageRecord]) -> Plan {
    let rule = &policy.rules[0];
    plan(
        "team/app",
        rule,
        rule.retention.as_ref().expect("set"),
        images,
        now(),
    )
}

fn archived(mut image: ImageRecord, days_ago: i64) -> ImageRecord {
    image.status = ImageStatus::Archived;
    image.archived_at = Some(Timestamp(now().0 - days_ago * DAY));
    image
}

#[test]
fn with_archive_what_expires_is_archived_first_and_deleted_after_its_days() {
    let policy = archiving("delete_after_days: 90");
    let mut old_index = image(5, 400, &["0.9.2"]);
    old_index.children = vec![digest(6)];
    let mut restoring = image(9, 300, &["0.9.0-rc.1"]);
    restoring.status = ImageStatus::Activating;
    // keep_per_major: 2 keeps 0.9.5 and 0.9.4; every other 0.9.x release expires.
    let plan = run_with(
        &policy,
        &[
            image(1, 10, &["0.9.5"]),
            image(10, 11, &["0.9.4"]),
            image(2, 20, &["0.9.3"]),
            archived(image(3, 300, &["0.9.0"]), 120),
            archived(image(4, 200, &["0.9.1"]), 30),
            old_index,
            image(6, 400, &[]),
            restoring,
        ],
    );
    // 0.9.3 expires: archived, not deleted.
    assert_eq!(
        decision(&plan, 2),
        (Decision::Archive, vec![Clause::SemverRelease])
    );
    assert_eq!(
        decision(&plan, 3),
        (
            Decision::Expire,
            vec![Clause::SemverRelease, Clause::Archive]
        ),
        "archived 120 days ago, over 90"
    );
    assert_eq!(decision(&plan, 4), (Decision::Keep, vec![Clause::Archive]));
    // An index goes to the archive with its child.
    assert_eq!(decision(&plan, 5).0, Decision::Archive);
    assert_eq!(decision(&plan, 6).0, Decision::Archive);
    assert_eq!(decision(&plan, 9), (Decision::Keep, vec![Clause::Archive]));
    assert_eq!(plan.archive_digests().len(), 3);
    let reasons = |n: u32| {
        plan.images
            .iter()
            .find(|i| i.digest == digest(n))
            .expect("planned")
            .reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    };
    assert!(
        reasons(3).contains("archived 120 days ago, at least 90 days"),
        "{}",
        reasons(3)
    );
    assert!(
        reasons(4).contains("stays archived: archived 30 days ago, deleted after 90 days"),
        "{}",
        reasons(4)
    );

    // Without delete_after_days, archived images stay; without `archive`, they are deleted.
    let newer = [image(1, 10, &["0.9.5"]), image(10, 11, &["0.9.4"])];
    let plan = run_with(
        &archiving(""),
        &[
            newer[0].clone(),
            newer[1].clone(),
            archived(image(3, 300, &["0.9.0"]), 400),
        ],
    );
    assert_eq!(decision(&plan, 3), (Decision::Keep, vec![Clause::Archive]));
    let plan = run(&[
        newer[0].clone(),
        newer[1].clone(),
        archived(image(3, 300, &["0.9.0"]), 1),
    ]);
    assert_eq!(
        decision(&plan, 3),
        (Decision::Expire, vec![Clause::SemverRelease])
    );
}

#[test]
fn archive_days_under_ecrs_minimum_are_refused_with_a_hint() {
    let error = Policy::from_text(
        &POLICY.replace(
            "keep_pulled_within_days: 30",
            "archive: { delete_after_days: 30 }",
        ),
        "test.yaml",
        SourceFormat::Yaml,
    )
    .expect_err("under 90 days");
    let message = error.to_string();
    assert!(
        message.contains("at least 90 days") && message.contains("hint"),
        "{message}"
    );
}
