//! Property tests of the retention planner, on generated repositories (releases, pre-releases,
//! aliases, upstream revisions, commit tags, literals, untagged images, indexes sharing
//! children, referrers by `subject` and by tag) under generated retention sections:
//! - nothing a kept manifest references is expired (index children, a referrer's subject);
//! - an image with a protected tag, a floating alias, or a tag no clause speaks of is kept;
//! - a kept image's referrers are kept; the plan covers every image once;
//! - an image something runs (its `in_use`) is kept, whatever its tags and age;
//! - what ECR's own lifecycle policy would expire under `lifecycle render`'s document (an
//!   evaluator of ECR's documented semantics, below) is a subset of what the planner expires;
//! - the deletion batches delete exactly the expired set, each image after what references it.

// An integration test: a failed step is a failed test, so it may unwrap and expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use steward_core::policy::{Policy, SourceFormat};
use steward_core::retention::{
    deletion_batches, lifecycle_policy, plan, tag_scheme_subject, Assume, Decision, ImageRecord,
    ImageStatus, Plan, Usage, UsageSource,
};
use steward_core::timestamp::{Timestamp, DAY};

const NOW: i64 = 1_800_000_000;

fn digest(n: usize) -> String {
    format!("sha256:{n:064x}")
}

fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u8..3, 0u8..4, 0u8..4).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (0u8..3, 0u8..4, 0u8..4, 1u8..3).prop_map(|(a, b, c, r)| format!("v{a}.{b}.{c}-rc.{r}")),
        (0u8..3, 0u8..4).prop_map(|(a, b)| format!("{a}.{b}")),
        (0u8..3).prop_map(|a| format!("{a}")),
        (7u8..9, 0u8..3, 0u8..20, 1u8..20).prop_map(|(a, b, c, r)| format!("{a}.{b}.{c}-c{r}")),
        "[0-9a-f]{7}".prop_map(|hex| format!("sha-{hex}")),
        prop_oneof![Just("stable"), Just("edge"), Just("lts-1"), Just("main")]
            .prop_map(String::from),
    ]
}

fn retention() -> impl Strategy<Value = String> {
    let count = || prop_oneof![Just(String::new()), (1u8..4).prop_map(|n| n.to_string())];
    let days = || prop_oneof![Just(String::new()), (1u16..200).prop_map(|n| n.to_string())];
    (
        (count(), count(), days(), any::<bool>()),
        (count(), count()),
        (count(), days()),
        (days(), days(), any::<bool>(), any::<bool>()),
        prop_oneof![Just(None), Just(Some(String::new())), (90u16..200).prop_map(|d| Some(d.to_string()))],
    )
        .prop_map(
            |((major, minor, pre_days, released), (versions, revisions), (newest, sha_days), (untagged, pulled, protect, runs), archive)| {
                let field = |name: &str, value: &str| {
                    if value.is_empty() {
                        String::new()
                    } else {
                        format!("{name}: {value}, ")
                    }
                };
                let mut out = format!(
                    "{{ semver: {{ {}{}prerelease: {{ {}until_released: {released} }} }}, upstream: {{ {}{} }}, git_sha: {{ {}{} }}",
                    field("keep_per_major", &major),
                    field("keep_per_minor", &minor),
                    field("max_age_days", &pre_days),
                    field("keep_versions", &versions),
                    field("keep_revisions", &revisions),
                    field("keep_newest", &newest),
                    field("max_age_days", &sha_days),
                );
                out = out.replace(", }", " }");
                if !untagged.is_empty() {
                    out.push_str(&format!(", untagged: {{ max_age_days: {untagged} }}"));
                }
                if !pulled.is_empty() {
                    out.push_str(&format!(", keep_pulled_within_days: {pulled}"));
                }
                if protect {
                    out.push_str(", protect: [stable, 'lts-*']");
                }
                if !runs {
                    out.push_str(", in_use: { lambda: false, ecs: false }");
                }
                match archive.as_deref() {
                    Some("") => out.push_str(", archive: {}"),
                    Some(days) => out.push_str(&format!(", archive: {{ delete_after_days: {days} }}")),
                    None => {}
                }
                out.push_str(" }");
                out
            },
        )
}

#[derive(Debug, Clone)]
struct Raw {
    tags: Vec<String>,
    age_days: i64,
    pulled_days: Option<i64>,
    children: Vec<usize>,
    subject: Option<usize>,
    subject_by_tag: bool,
    running: bool,
    /// 0: archived `archived_days` ago; 1: being restored; else active.
    storage: u8,
    /// An index (its media type says so), with or without children.
    index: bool,
    archived_days: i64,
}

fn repository() -> impl Strategy<Value = Vec<Raw>> {
    prop::collection::vec(
        (
            prop::collection::vec(tag(), 0..3),
            0i64..400,
            prop::option::of(0i64..100),
            prop::collection::vec(0usize..30, 0..3),
            prop::option::of(0usize..30),
            any::<bool>(),
            0u8..4,
            0u8..8,
            (0u8..6, 0i64..300),
        )
            .prop_map(
                |(
                    tags,
                    age_days,
                    pulled_days,
                    children,
                    subject,
                    by_tag,
                    shape,
                    running,
                    (storage, archived_days),
                )| Raw {
                    tags,
                    age_days,
                    pulled_days,
                    // A quarter are indexes, a quarter referrers, the rest plain images.
                    children: if shape == 0 { children } else { vec![] },
                    subject: if shape == 1 { subject } else { None },
                    subject_by_tag: by_tag,
                    running: running == 0,
                    storage,
                    archived_days,
                    index: shape == 0,
                },
            ),
        1..30,
    )
}

/// References point to lower-numbered images only: digests cannot form a cycle.
fn records(raw: &[Raw]) -> Vec<ImageRecord> {
    raw.iter()
        .enumerate()
        .map(|(i, r)| {
            let mut tags = r.tags.clone();
            tags.sort();
            tags.dedup();
            let mut subject = r.subject.filter(|_| i > 0).map(|s| digest(s % i));
            if r.subject_by_tag {
                if let Some(s) = subject.take() {
                    tags = vec![format!("sha256-{}.sig", &s[7..])];
                }
            }
            ImageRecord {
                digest: digest(i),
                tags,
                pushed_at: Timestamp(NOW - r.age_days * DAY),
                last_pulled: r.pulled_days.map(|d| Timestamp(NOW - d * DAY)),
                media_type: r
                    .index
                    .then(|| "application/vnd.oci.image.index.v1+json".to_string()),
                size_bytes: Some(1),
                children: r
                    .children
                    .iter()
                    .filter(|_| i > 0)
                    .map(|c| digest(c % i))
                    .collect(),
                subject,
                in_use: if r.running {
                    vec![Usage {
                        source: UsageSource::Lambda,
                        what: format!("Lambda function f{i}"),
                        last_seen: None,
                    }]
                } else {
                    vec![]
                },
                status: match r.storage {
                    0 => ImageStatus::Archived,
                    1 => ImageStatus::Activating,
                    _ => ImageStatus::Active,
                },
                // Archived after its push.
                archived_at: (r.storage == 0)
                    .then(|| Timestamp(NOW - r.archived_days.min(r.age_days) * DAY)),
            }
        })
        .collect()
}

fn planned(raw: &[Raw], retention: &str) -> (Vec<ImageRecord>, Plan, Policy) {
    let text = format!(
        "version: 1\nrules:\n  - tags: {{ semver: {{ floating_aliases: true }}, git_sha: {{ prefixes: [\"sha-\"] }}, upstream: {{ revision: 'c[0-9]+' }}, literals: {{ allow: [stable, edge] }} }}\n    retention: {retention}\n"
    );
    let policy = Policy::from_text(&text, "p.yaml", SourceFormat::Yaml)
        .unwrap_or_else(|e| panic!("{text}\n{e}"));
    let mut images = records(raw);
    let rule = &policy.rules[0];
    let sources = rule.retention.as_ref().expect("set").in_use;
    if !(sources.lambda || sources.ecs || sources.inspector) {
        // No source read: nothing is known to run.
        images.iter_mut().for_each(|image| image.in_use.clear());
    }
    let plan = plan(
        "r",
        rule,
        rule.retention.as_ref().expect("set"),
        &images,
        Timestamp(NOW),
    );
    (images, plan, policy)
}

/// ECR's lifecycle evaluation as AWS documents it ("How lifecycle policies work", "Lifecycle
/// policy parameters"): rules in `rulePriority` order; a rule applies to the images of its
/// `storageClass` (standard by default: active images; archive: archived ones; one being
/// restored is in neither); its tag filters select an image when each prefix or pattern
/// matches any one of its tags; an image whose tags a rule selects cannot be expired by a rule
/// of lower priority; `sinceImagePushed` takes what is older than the count of days,
/// `sinceImageTransitioned` what was archived longer ago, `imageCountMoreThan` what is beyond
/// the newest N pushed; an image an index lists is not expired before the index; a referrer
/// goes with its subject. Runs until nothing more changes (an expired index frees its
/// children for the next evaluation). Returns (expired, moved to the archive).
fn ecr_applies(
    rules: &[serde_json::Value],
    images: &[ImageRecord],
    now: i64,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut rules: Vec<&serde_json::Value> = rules.iter().collect();
    rules.sort_by_key(|rule| rule["rulePriority"].as_i64());
    let matches = |selection: &serde_json::Value, image: &ImageRecord| -> bool {
        let filters = |key: &str| -> Vec<String> {
            selection[key]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        match selection["tagStatus"].as_str() {
            Some("untagged") => image.tags.is_empty(),
            Some("any") => true,
            _ if image.tags.is_empty() => false,
            _ => {
                let prefixes = filters("tagPrefixList");
                let patterns = filters("tagPatternList");
                prefixes
                    .iter()
                    .all(|p| image.tags.iter().any(|t| t.starts_with(p.as_str())))
                    && patterns
                        .iter()
                        .all(|p| image.tags.iter().any(|t| glob(p, t)))
            }
        }
    };
    let mut gone: BTreeSet<String> = BTreeSet::new();
    let mut moved: BTreeSet<String> = BTreeSet::new();
    loop {
        let present: Vec<ImageRecord> = images
            .iter()
            .filter(|i| !gone.contains(&i.digest))
            .map(|i| {
                let mut image = i.clone();
                if moved.contains(&image.digest) {
                    image.status = ImageStatus::Archived;
                    image.archived_at = Some(Timestamp(now));
                }
                image
            })
            .collect();
        let listed: BTreeSet<&str> = present
            .iter()
            .flat_map(|i| i.children.iter().map(String::as_str))
            .collect();
        let here: BTreeSet<&str> = present.iter().map(|i| i.digest.as_str()).collect();
        let referrer =
            |image: &ImageRecord| image.subject.as_deref().is_some_and(|s| here.contains(s));
        let mut claimed: BTreeSet<&str> = BTreeSet::new();
        let mut expired: BTreeSet<String> = BTreeSet::new();
        let mut transitioned: BTreeSet<String> = BTreeSet::new();
        for rule in &rules {
            let selection = &rule["selection"];
            let class = match selection["storageClass"].as_str() {
                Some("archive") => ImageStatus::Archived,
                _ => ImageStatus::Active,
            };
            let mut selected: Vec<&ImageRecord> = present
                .iter()
                .filter(|i| i.status == class)
                .filter(|i| {
                    !claimed.contains(i.digest.as_str())
                        && !listed.contains(i.digest.as_str())
                        && !referrer(i)
                })
                .filter(|i| matches(selection, i))
                .collect();
            claimed.extend(selected.iter().map(|i| i.digest.as_str()));
            let count = selection["countNumber"].as_i64().expect("a count");
            match selection["countType"].as_str() {
                Some("sinceImagePushed") => selected.retain(|i| i.pushed_at.0 < now - count * DAY),
                Some("sinceImageTransitioned") => {
                    selected.retain(|i| i.archived_at.is_some_and(|at| at.0 < now - count * DAY))
                }
                Some("imageCountMoreThan") => {
                    selected.sort_by_key(|i| std::cmp::Reverse(i.pushed_at));
                    selected = selected.into_iter().skip(count as usize).collect();
                }
                other => panic!("countType {other:?} is not modelled"),
            }
            let into = match rule["action"]["type"].as_str() {
                Some("expire") => &mut expired,
                Some("transition") => &mut transitioned,
                other => panic!("action {other:?} is not modelled"),
            };
            into.extend(selected.iter().map(|i| i.digest.clone()));
        }
        // Referrers go with their subjects.
        let mut changed = true;
        while changed {
            changed = false;
            for image in &present {
                let Some(subject) = &image.subject else {
                    continue;
                };
                if expired.contains(subject) && expired.insert(image.digest.clone()) {
                    changed = true;
                }
                if transitioned.contains(subject)
                    && image.status == ImageStatus::Active
                    && transitioned.insert(image.digest.clone())
                {
                    changed = true;
                }
            }
        }
        transitioned.retain(|d| !moved.contains(d));
        if expired.is_empty() && transitioned.is_empty() {
            return (gone, moved);
        }
        gone.extend(expired);
        moved.extend(transitioned);
    }
}

/// ECR's `tagPatternList` wildcard: `*` matches any run of characters.
fn glob(pattern: &str, tag: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == tag,
        Some((head, rest)) => {
            tag.starts_with(head)
                && (0..=tag.len() - head.len()).any(|skip| glob(rest, &tag[head.len() + skip..]))
        }
    }
}

fn planned_image<'p>(
    plan: &'p Plan,
    digest: &str,
) -> Option<&'p steward_core::retention::PlannedImage> {
    plan.images.iter().find(|i| i.digest == digest)
}

/// 2: stays pullable; 1: in the archive (archived now, or kept there); 0: deleted.
fn level(image: &steward_core::retention::PlannedImage) -> u8 {
    match (image.decision, image.status) {
        (Decision::Expire, _) => 0,
        (Decision::Archive, _)
        | (Decision::Keep, ImageStatus::Archived | ImageStatus::Activating) => 1,
        (Decision::Keep, _) => 2,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ecr_never_expires_under_the_rendered_policy_what_the_planner_keeps(raw in repository(), retention in retention()) {
        let (images, plan, policy) = planned(&raw, &retention);
        let section = policy.rules[0].retention.as_ref().expect("set");
        let by_planner = plan.expired_digests();
        let by_planner_archive = plan.archive_digests();
        let check = |rendered: &steward_core::retention::Lifecycle| -> Result<(), TestCaseError> {
            let (expired, archived) = ecr_applies(rendered.rules(), &images, NOW);
            for digest in &expired {
                prop_assert!(by_planner.contains(digest), "ECR expires {} which the planner does not: {:?}\n{:#?}", digest, rendered.policy, plan.images.iter().map(|i| (&i.digest[64..], i.status, i.decision, &i.reasons)).collect::<Vec<_>>());
            }
            for digest in &archived {
                prop_assert!(
                    by_planner.contains(digest) || by_planner_archive.contains(digest),
                    "ECR archives {} which the planner keeps: {:?}", digest, rendered.policy
                );
            }
            Ok(())
        };
        // Whatever the repository holds, with nothing assumed of it.
        check(&lifecycle_policy(section, Assume::Nothing))?;
        // Where every referrer (a `subject`, or a cosign tag) carries no other tag and is in
        // no index (what the assumption says), its rules too.
        let listed: BTreeSet<&String> = images.iter().flat_map(|i| &i.children).collect();
        let no_unread_index = !images.iter().any(steward_core::retention::is_unread_index);
        let untagged_referrers = no_unread_index && images.iter().all(|i| {
            let by_tag = i.tags.iter().any(|t| tag_scheme_subject(t).is_some());
            !(i.subject.is_some() || by_tag)
                || (i.tags.iter().all(|t| tag_scheme_subject(t).is_some()) && !listed.contains(&i.digest))
        });
        if untagged_referrers {
            check(&lifecycle_policy(section, Assume::UntaggedReferrers))?;
        }
    }

    #[test]
    fn never_expires_what_a_kept_manifest_references(raw in repository(), retention in retention()) {
        let (images, plan, _) = planned(&raw, &retention);
        let decision: BTreeMap<&str, Decision> =
            plan.images.iter().map(|i| (i.digest.as_str(), i.decision)).collect();
        prop_assert_eq!(plan.images.len(), images.len(), "every image planned once");
        for image in &images {
            let subjects: Vec<String> = image.subject.iter().cloned().chain(image.tags.iter().filter_map(|t| tag_scheme_subject(t))).collect();
            // Nothing is archived or deleted while a manifest that references it stays more
            // available (pullable over archived over deleted).
            for referenced in image.children.iter().chain(&subjects) {
                if let Some(other) = planned_image(&plan, referenced) {
                    if other.decision != Decision::Keep {
                        let this = planned_image(&plan, &image.digest).expect("planned");
                        prop_assert!(level(other) >= level(this), "{} ({:?}) references {} ({:?})", image.digest, this.decision, referenced, other.decision);
                    }
                }
            }
            if decision[image.digest.as_str()] != Decision::Keep {
                // An expired image's referrers are not kept for its sake: if one is kept, it
                // is for a reason of its own, and then it keeps its subject (checked above).
                prop_assert!(!plan.images.iter().find(|i| i.digest == image.digest).unwrap().reasons.is_empty());
            }
        }
        // An image keeps its referrers where it is: none is archived or deleted while it
        // stays more available.
        for image in &images {
            if let Some(subject) = image.subject.as_deref().and_then(|s| planned_image(&plan, s)) {
                let this = planned_image(&plan, &image.digest).expect("planned");
                if this.decision != Decision::Keep {
                    prop_assert!(level(this) >= level(subject), "referrer {} goes before {}", image.digest, subject.digest);
                }
            }
        }
    }

    #[test]
    fn never_expires_a_protected_alias_or_unruled_tag(raw in repository(), retention in retention()) {
        let (images, plan, _) = planned(&raw, &retention);
        let expired = plan.expired_digests();
        let protects = retention.contains("protect");
        for image in &images {
            let safe = image.tags.iter().any(|t| {
                (protects && (t == "stable" || t.starts_with("lts-")))
                    || t.parse::<u8>().is_ok()
                    || (t.split('.').count() == 2 && t.split('.').all(|p| p.parse::<u8>().is_ok()))
                    || t == "edge" || t == "main" || (!protects && (t == "stable" || t == "lts-1"))
            });
            prop_assert!(!(safe && expired.contains(&image.digest)), "{:?} expired", image.tags);
            prop_assert!(image.in_use.is_empty() || !expired.contains(&image.digest), "{:?} runs", image.tags);
            // An archived index's children are unknown: untagged images nothing else links
            // stay while one is there.
            let unread = images.iter().any(|i| i.digest != image.digest && steward_core::retention::is_unread_index(i));
            let linked = images.iter().any(|i| i.children.contains(&image.digest))
                || image.subject.as_ref().is_some_and(|s| images.iter().any(|i| &i.digest == s));
            if unread && image.tags.is_empty() && !linked {
                let decision = plan.images.iter().find(|i| i.digest == image.digest).map(|i| i.decision);
                prop_assert_eq!(decision, Some(Decision::Keep), "untagged {} beside an archived index", image.digest);
            }
            if let (Some(days), Some(pulled)) = (
                retention.split("keep_pulled_within_days: ").nth(1).and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()).and_then(|d| d.parse::<i64>().ok()),
                image.last_pulled,
            ) {
                if pulled.0 >= NOW - days * DAY {
                    prop_assert!(!expired.contains(&image.digest), "pulled recently");
                }
            }
        }
    }

    #[test]
    fn batches_delete_exactly_the_expired_set_in_reference_order(raw in repository(), retention in retention(), size in 1usize..5) {
        let (images, plan, _) = planned(&raw, &retention);
        let expired = plan.expired_digests();
        let batches = deletion_batches(&images, &expired, size);
        let mut seen = BTreeSet::new();
        for batch in &batches {
            let before = seen.clone();
            prop_assert!(batch.len() <= size);
            for digest in batch {
                prop_assert!(seen.insert(digest.clone()), "deleted twice");
                // Every expired image that references this one was deleted in an earlier batch.
                for image in images.iter().filter(|i| expired.contains(&i.digest)) {
                    let references = image.children.contains(digest) || image.subject.as_ref() == Some(digest);
                    if references {
                        prop_assert!(before.contains(&image.digest), "{} before {}", digest, image.digest);
                    }
                }
            }
        }
        prop_assert_eq!(seen, expired);
    }
}
