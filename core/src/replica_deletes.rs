//! Delete replication (`replicate_deletes` on a replication rule): what the replicator does at
//! each destination when a tag it replicates is deleted at the source, and the report and the
//! notification about it.
//!
//! The rules, each decided here on what was read just before acting:
//! - a destination tag is removed only while it names the digest the source's tag named;
//! - removing a tag is a BatchDeleteImage by tag, never by digest: ECR deletes the image only
//!   with its last tag, which happens only when the rule says `images` (else the tag stays,
//!   reported as kept);
//! - a tag that exists at the source again (pushed again, to any image) is left alone: its
//!   push replicates it;
//! - an image deleted at the source by digest (an event without a tag) takes at a destination
//!   only the tags the rules replicate deletes of and that the source no longer has; the
//!   image itself goes only when none of its tags there stays and the rules say `images`;
//!   an image untagged there goes by digest only when every rule replicating the repository
//!   there says `images`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::image::TaggedImage;
use crate::notify::{untrusted, EventType, ImageRef, Notification, Outcome, Severity};
use crate::policy::{Policy, ReplicateDeletes, Target};

/// What was done at one destination. The names are the contract of the function's response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicaDeleteStatus {
    /// The tag (tags, for an image deleted by digest) was removed; the image keeps its others.
    TagRemoved,
    /// The image was deleted there with its last tag (`replicate_deletes: images`).
    ImageDeleted,
    /// Kept: the tag there names another image than the source's did.
    KeptDigestDiffers,
    /// Kept: the tag is the image's last there, and the rule deletes tags, not images.
    KeptLastTag,
    /// Kept: the image is untagged there, and not every rule replicating there says `images`.
    KeptImage,
    /// Kept: the image there still has tags the source has, or that no rule replicates
    /// deletes of; the tags the source lost were removed.
    KeptStillTagged,
    /// Kept: the tag (or the image) exists at the source again; its push replicates it.
    KeptRePushed,
    /// Nothing there to remove: a repeat, or it was never replicated.
    AlreadyGone,
    /// Failed; the error says why.
    Failed,
}

impl ReplicaDeleteStatus {
    /// The status's name, such as `kept-last-tag`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TagRemoved => "tag-removed",
            Self::ImageDeleted => "image-deleted",
            Self::KeptDigestDiffers => "kept-digest-differs",
            Self::KeptLastTag => "kept-last-tag",
            Self::KeptImage => "kept-image",
            Self::KeptStillTagged => "kept-still-tagged",
            Self::KeptRePushed => "kept-re-pushed",
            Self::AlreadyGone => "already-gone",
            Self::Failed => "failed",
        }
    }

    fn removed_something(self) -> bool {
        matches!(self, Self::TagRemoved | Self::ImageDeleted)
    }
}

/// What to do at one destination, decided on what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaDeletePlan {
    /// Tags to remove there, by tag, in this order (the image goes with its last one).
    pub remove: Vec<String>,
    /// The image is untagged there and goes by digest.
    pub delete_untagged: bool,
    /// The tags left there.
    pub kept: Vec<String>,
    /// What it comes to once done.
    pub status: ReplicaDeleteStatus,
    /// Why, for the report: the other digest, the tags kept.
    pub detail: Option<String>,
}

impl ReplicaDeletePlan {
    fn nothing(status: ReplicaDeleteStatus, detail: Option<String>) -> Self {
        Self {
            remove: Vec::new(),
            delete_untagged: false,
            kept: Vec::new(),
            status,
            detail,
        }
    }

    /// True when the plan writes nothing.
    pub fn is_nothing(&self) -> bool {
        self.remove.is_empty() && !self.delete_untagged
    }
}

/// The plan for `tag`, deleted at the source from the image `digest`, at a destination where
/// the tag names `there` (`None`: it is not there), with the rules' `mode` for that place.
pub fn plan_tag_delete(
    mode: ReplicateDeletes,
    tag: &str,
    digest: &str,
    there: Option<&TaggedImage>,
) -> ReplicaDeletePlan {
    let Some(there) = there else {
        return ReplicaDeletePlan::nothing(ReplicaDeleteStatus::AlreadyGone, None);
    };
    if there.digest != digest {
        return ReplicaDeletePlan::nothing(
            ReplicaDeleteStatus::KeptDigestDiffers,
            Some(format!("the tag names {} there", there.digest)),
        );
    }
    let mut others: Vec<String> = there.tags.iter().filter(|t| *t != tag).cloned().collect();
    // In order, whatever order the registry lists them in: the report is a contract.
    others.sort();
    if others.is_empty() && mode != ReplicateDeletes::Images {
        return ReplicaDeletePlan {
            kept: vec![tag.to_string()],
            ..ReplicaDeletePlan::nothing(
                ReplicaDeleteStatus::KeptLastTag,
                Some(
                    // The line says it is the last tag; the detail says what would remove it
                    // (no markdown: a detail is escaped as untrusted text in notifications).
                    "replicate_deletes: images would delete the image with it".into(),
                ),
            )
        };
    }
    ReplicaDeletePlan {
        remove: vec![tag.to_string()],
        delete_untagged: false,
        status: if others.is_empty() {
            ReplicaDeleteStatus::ImageDeleted
        } else {
            ReplicaDeleteStatus::TagRemoved
        },
        detail: None,
        kept: others,
    }
}

/// The plan for the image `there` (looked up by the digest deleted at the source) at `place`,
/// when the source deleted it by digest: each of its tags there goes when the rules replicate
/// its deletion there and `at_source` (what the tag names at the source now) says the source
/// no longer has it.
pub fn plan_image_delete(
    policy: &Policy,
    repository: &str,
    place: &Target,
    there: Option<&TaggedImage>,
    at_source: &BTreeMap<String, Option<String>>,
) -> ReplicaDeletePlan {
    let Some(there) = there else {
        return ReplicaDeletePlan::nothing(ReplicaDeleteStatus::AlreadyGone, None);
    };
    if there.tags.is_empty() {
        return if policy.untagged_deletes(repository, place) == ReplicateDeletes::Images {
            ReplicaDeletePlan {
                delete_untagged: true,
                ..ReplicaDeletePlan::nothing(ReplicaDeleteStatus::ImageDeleted, None)
            }
        } else {
            ReplicaDeletePlan::nothing(
                ReplicaDeleteStatus::KeptImage,
                Some("untagged there, and not every rule replicating there says `replicate_deletes: images`".into()),
            )
        };
    }
    let mut tags = there.tags.clone();
    tags.sort();
    let mut removable = Vec::new();
    let mut kept = Vec::new();
    let mut careful = ReplicateDeletes::Images;
    for tag in tags {
        let mode = policy.deletes_of(repository, &tag, place);
        let gone_at_source = matches!(at_source.get(&tag), Some(None));
        if mode == ReplicateDeletes::None || !gone_at_source {
            kept.push(tag);
        } else {
            careful = careful.min(mode);
            removable.push(tag);
        }
    }
    if removable.is_empty() {
        return ReplicaDeletePlan {
            detail: Some(format!("its tags there stay: {}", kept.join(", "))),
            kept,
            ..ReplicaDeletePlan::nothing(ReplicaDeleteStatus::KeptStillTagged, None)
        };
    }
    if !kept.is_empty() {
        return ReplicaDeletePlan {
            remove: removable,
            delete_untagged: false,
            status: ReplicaDeleteStatus::TagRemoved,
            detail: Some(format!("its tags there stay: {}", kept.join(", "))),
            kept,
        };
    }
    if careful == ReplicateDeletes::Images {
        return ReplicaDeletePlan {
            remove: removable,
            delete_untagged: false,
            status: ReplicaDeleteStatus::ImageDeleted,
            detail: None,
            kept,
        };
    }
    // Every tag may go, but not the image: its last tag stays.
    let last = removable.pop().unwrap_or_default();
    ReplicaDeletePlan {
        status: if removable.is_empty() {
            ReplicaDeleteStatus::KeptLastTag
        } else {
            ReplicaDeleteStatus::TagRemoved
        },
        remove: removable,
        delete_untagged: false,
        detail: Some(format!(
            "{last} is the image's last tag there; replicate_deletes: images would delete the image"
        )),
        kept: vec![last],
    }
}

/// Where a deletion of `tag` (`None`: of the image, by digest) in the source image's
/// repository is replicated, each with the rules' setting for it there; never the image's own
/// place.
pub fn delete_targets(
    policy: &Policy,
    source: &ImageRef,
    tag: Option<&str>,
) -> Vec<(Target, ReplicateDeletes)> {
    policy
        .delete_targets(&source.repository)
        .into_iter()
        .filter(|target| !crate::replication::is_source(target, source))
        .filter_map(|target| {
            let mode = match tag {
                Some(tag) => policy.deletes_of(&source.repository, tag, &target),
                None => policy.untagged_deletes(&source.repository, &target),
            };
            // An untagged deletion is looked at wherever any rule replicates deletes: which
            // tags go is decided per tag there.
            (mode != ReplicateDeletes::None || tag.is_none()).then_some((target, mode))
        })
        .collect()
}

/// How one destination went; part of the function's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaDelete {
    /// The destination region.
    pub region: String,
    /// The destination account; `None` for the function's own.
    pub account: Option<String>,
    /// The destination repository.
    pub repository: String,
    /// The replication rule of the place (the first that replicates there).
    pub rule: String,
    /// What was done.
    pub status: ReplicaDeleteStatus,
    /// The tags removed there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// The image's tags left there.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<String>,
    /// Why: the other digest, the tags kept, or the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For a failure: whether trying again may succeed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

impl ReplicaDelete {
    /// The outcome at `target` of a plan carried out (or of one with nothing to do).
    pub fn done(target: &Target, plan: ReplicaDeletePlan, removed: Vec<String>) -> Self {
        Self {
            region: target.region.clone(),
            account: target.account.clone(),
            repository: target.repository.clone(),
            rule: target.rule.clone(),
            status: plan.status,
            removed,
            kept: plan.kept,
            detail: plan.detail,
            retryable: None,
        }
    }

    /// A failure at `target`, after removing `removed`.
    pub fn failed(
        target: &Target,
        removed: Vec<String>,
        error: &crate::error::StewardError,
    ) -> Self {
        Self {
            region: target.region.clone(),
            account: target.account.clone(),
            repository: target.repository.clone(),
            rule: target.rule.clone(),
            status: ReplicaDeleteStatus::Failed,
            removed,
            kept: Vec::new(),
            detail: Some(error.to_string()),
            retryable: Some(error.is_retryable()),
        }
    }

    /// Left alone: the source has it again.
    pub fn re_pushed(target: &Target, detail: String) -> Self {
        Self::done(
            target,
            ReplicaDeletePlan::nothing(ReplicaDeleteStatus::KeptRePushed, Some(detail)),
            Vec::new(),
        )
    }

    fn place(&self) -> String {
        match &self.account {
            Some(account) => format!("{}/{} ({account})", self.region, self.repository),
            None => format!("{}/{}", self.region, self.repository),
        }
    }
}

/// What one deletion at the source came to, over its destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeleteOutcome {
    /// Something was removed at a destination; none failed.
    DeleteReplicated,
    /// Nothing removed; something kept on purpose.
    DeleteKept,
    /// Every destination had it gone already.
    DeleteAlreadyReplicated,
    /// A destination failed.
    DeleteReplicationFailed,
}

impl DeleteOutcome {
    /// The same name, as a notification outcome.
    pub fn notified_as(self) -> Outcome {
        match self {
            Self::DeleteReplicated => Outcome::DeleteReplicated,
            Self::DeleteKept => Outcome::DeleteKept,
            Self::DeleteAlreadyReplicated => Outcome::DeleteAlreadyReplicated,
            Self::DeleteReplicationFailed => Outcome::DeleteReplicationFailed,
        }
    }

    /// The outcome's name, such as `delete-replicated`.
    pub fn as_str(self) -> &'static str {
        self.notified_as().as_str()
    }
}

/// The replicator's response to a deletion at the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteReport {
    /// The source repository.
    pub repository: String,
    /// The digest the deleted tag named (or the image deleted).
    pub digest: String,
    /// The tag deleted; `None` when the image was deleted by digest.
    pub tag: Option<String>,
    /// Over all destinations.
    pub outcome: DeleteOutcome,
    /// One per destination.
    pub deletes: Vec<ReplicaDelete>,
}

impl DeleteReport {
    /// The report from the destinations' outcomes.
    pub fn new(image: &ImageRef, tag: Option<&str>, deletes: Vec<ReplicaDelete>) -> Self {
        let has = |f: fn(&ReplicaDelete) -> bool| deletes.iter().any(f);
        let outcome = if has(|d| d.status == ReplicaDeleteStatus::Failed) {
            DeleteOutcome::DeleteReplicationFailed
        } else if has(|d| d.status.removed_something()) {
            DeleteOutcome::DeleteReplicated
        } else if deletes
            .iter()
            .all(|d| d.status == ReplicaDeleteStatus::AlreadyGone)
        {
            DeleteOutcome::DeleteAlreadyReplicated
        } else {
            DeleteOutcome::DeleteKept
        };
        Self {
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            tag: tag.map(str::to_string),
            outcome,
            deletes,
        }
    }

    /// True when a failed destination may succeed if tried again.
    pub fn worth_retrying(&self) -> bool {
        self.deletes.iter().any(|d| d.retryable == Some(true))
    }

    /// The regions that failed.
    pub fn failed_regions(&self) -> Vec<&str> {
        self.deletes
            .iter()
            .filter(|d| d.status == ReplicaDeleteStatus::Failed)
            .map(|d| d.region.as_str())
            .collect()
    }

    /// Whether it is worth a notification: anything removed or failed, or kept for a reason a
    /// reader should know (another image there, a last tag, tags left); a repeat only when
    /// asked for; a tag pushed again at the source never (its push has its own event).
    pub fn should_notify(&self, notify_already_replicated: bool) -> bool {
        match self.outcome {
            DeleteOutcome::DeleteReplicated | DeleteOutcome::DeleteReplicationFailed => true,
            DeleteOutcome::DeleteAlreadyReplicated => notify_already_replicated,
            DeleteOutcome::DeleteKept => self.deletes.iter().any(|d| {
                !matches!(
                    d.status,
                    ReplicaDeleteStatus::KeptRePushed | ReplicaDeleteStatus::AlreadyGone
                )
            }),
        }
    }

    fn what(&self) -> String {
        match &self.tag {
            Some(tag) => format!("{}:{}", self.repository, untrusted(tag)),
            None => format!("{}@{}", self.repository, self.digest),
        }
    }

    /// One notification, with a line per destination.
    pub fn notification(&self, image: &ImageRef) -> Notification {
        let (severity, title) = match self.outcome {
            DeleteOutcome::DeleteReplicationFailed => (
                Severity::Critical,
                format!(
                    "Deleting {} at its replicas failed for {}",
                    self.what(),
                    self.failed_regions().join(", ")
                ),
            ),
            DeleteOutcome::DeleteReplicated => (
                Severity::Info,
                format!("Deleted at its replicas: {}", self.what()),
            ),
            DeleteOutcome::DeleteKept => (
                Severity::Info,
                format!(
                    "Deleted at the source, kept at its replicas: {}",
                    self.what()
                ),
            ),
            DeleteOutcome::DeleteAlreadyReplicated => (
                Severity::Info,
                format!("Already deleted at its replicas: {}", self.what()),
            ),
        };
        let mut description = format!(
            "{} (`{}`) was deleted at the source\n",
            self.tag.as_deref().map_or_else(
                || "The image".to_string(),
                |t| format!("`{}`", untrusted(t))
            ),
            self.digest
        );
        for delete in &self.deletes {
            let place = delete.place();
            let removed = delete
                .removed
                .iter()
                .map(|t| untrusted(t))
                .collect::<Vec<_>>()
                .join(", ");
            let line = match delete.status {
                ReplicaDeleteStatus::TagRemoved => format!("removed tag(s) {removed}"),
                ReplicaDeleteStatus::ImageDeleted if removed.is_empty() => {
                    "deleted the untagged image".into()
                }
                ReplicaDeleteStatus::ImageDeleted => {
                    format!("removed tag(s) {removed}, and the image with its last tag")
                }
                ReplicaDeleteStatus::KeptDigestDiffers => {
                    "kept: the tag there names another image".into()
                }
                ReplicaDeleteStatus::KeptLastTag if removed.is_empty() => {
                    "kept: it is the image's last tag there".into()
                }
                ReplicaDeleteStatus::KeptLastTag => {
                    format!("removed tag(s) {removed}; kept the image's last tag")
                }
                ReplicaDeleteStatus::KeptImage => "kept the untagged image".into(),
                ReplicaDeleteStatus::KeptStillTagged => "kept: the image keeps tags there".into(),
                ReplicaDeleteStatus::KeptRePushed => "kept: pushed again at the source".into(),
                ReplicaDeleteStatus::AlreadyGone => "already gone".into(),
                ReplicaDeleteStatus::Failed => format!(
                    "FAILED{}",
                    if removed.is_empty() {
                        String::new()
                    } else {
                        format!(" after removing {removed}")
                    }
                ),
            };
            let _ = write!(description, "• {place}: {line}");
            if let Some(detail) = &delete.detail {
                let _ = write!(description, " ({})", untrusted(detail));
            }
            description.push('\n');
        }
        let next_steps = if self.outcome == DeleteOutcome::DeleteReplicationFailed {
            vec![if self.worth_retrying() {
                "Lambda retries the event; a retry finds what is already gone.".to_string()
            } else {
                "Not retried: no retry can succeed until the cause above is fixed.".to_string()
            }]
        } else {
            Vec::new()
        };
        let context = self
            .deletes
            .iter()
            .map(|d| (d.region.clone(), d.status.as_str().to_string()))
            .chain(
                self.tag
                    .as_deref()
                    .map(|t| ("tag".to_string(), untrusted(t))),
            )
            .collect();
        Notification {
            event_type: EventType::ReplicatorDelete,
            severity,
            outcome: self.outcome.notified_as(),
            link: image.console_link("details"),
            image: image.clone(),
            title,
            description,
            next_steps,
            keywords: vec!["ecr-steward".into(), "replicator".into(), "delete".into()],
            context,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SourceFormat;

    const D: &str = "sha256:aaaa";
    const OTHER: &str = "sha256:bbbb";

    fn image(digest: &str, tags: &[&str]) -> TaggedImage {
        TaggedImage {
            digest: digest.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            archived: false,
        }
    }

    fn policy(extra: &str) -> Policy {
        Policy::from_text(
            &format!(
                "version: 1\nrules:\n  - tags: {{ semver: {{}} }}\nreplication:\n  - name: releases\n    repositories: [\"team/*\"]\n    tags: {{ semver: {{ prerelease: false }} }}\n    destinations: [{{ region: eu-west-1 }}]\n{extra}"
            ),
            "test.yaml",
            SourceFormat::Yaml,
        )
        .expect("policy")
    }

    fn source() -> ImageRef {
        ImageRef {
            account: Some("123456789012".into()),
            region: "us-east-1".into(),
            repository: "team/app".into(),
            digest: D.into(),
        }
    }

    #[test]
    fn the_option_is_off_by_default_and_spelled_none_tags_images() {
        assert!(delete_targets(&policy(""), &source(), Some("1.0.0")).is_empty());
        for (text, mode) in [
            ("none", ReplicateDeletes::None),
            ("tags", ReplicateDeletes::Tags),
            ("images", ReplicateDeletes::Images),
        ] {
            let policy = policy(&format!("    replicate_deletes: {text}\n"));
            assert_eq!(policy.replication[0].replicate_deletes, mode);
        }
        let error = Policy::from_text(
            "version: 1\nrules:\n  - tags: { semver: {} }\nreplication:\n  - repositories: [a]\n    destinations: [{ region: eu-west-1 }]\n    replicate_deletes: all\n",
            "test.yaml",
            SourceFormat::Yaml,
        )
        .expect_err("no such setting")
        .to_string();
        assert!(error.contains("test.yaml:7:"), "{error}");
    }

    #[test]
    fn only_tags_the_rule_replicates_and_never_the_source_s_own_place() {
        let policy = policy("    replicate_deletes: tags\n");
        let targets = delete_targets(&policy, &source(), Some("1.0.0"));
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].0.region, "eu-west-1");
        assert_eq!(targets[0].1, ReplicateDeletes::Tags);
        assert!(
            delete_targets(&policy, &source(), Some("1.0.0-rc.1")).is_empty(),
            "pre-releases are not replicated, so their deletions are not either"
        );
        let mut there = source();
        there.region = "eu-west-1".into();
        assert!(delete_targets(&policy, &there, Some("1.0.0")).is_empty());
    }

    #[test]
    fn the_most_careful_rule_for_a_place_decides() {
        let policy = policy(
            "    replicate_deletes: images\n  - repositories: [\"team/app\"]\n    destinations: [{ region: eu-west-1 }]\n",
        );
        let targets = delete_targets(&policy, &source(), Some("1.0.0"));
        assert!(
            targets.is_empty(),
            "a second rule copies the tag there and keeps it: {targets:?}"
        );
    }

    #[test]
    fn a_tag_goes_only_while_it_names_the_same_image_and_the_last_only_with_images() {
        let tags = ReplicateDeletes::Tags;
        let images = ReplicateDeletes::Images;
        assert_eq!(
            plan_tag_delete(tags, "1.0.0", D, None).status,
            ReplicaDeleteStatus::AlreadyGone
        );
        let moved = plan_tag_delete(images, "1.0.0", D, Some(&image(OTHER, &["1.0.0"])));
        assert_eq!(moved.status, ReplicaDeleteStatus::KeptDigestDiffers);
        assert!(moved.is_nothing());
        let shared = plan_tag_delete(tags, "1.0.0", D, Some(&image(D, &["1.0.0", "latest"])));
        assert_eq!(
            (shared.status, shared.remove.clone(), shared.kept.clone()),
            (
                ReplicaDeleteStatus::TagRemoved,
                vec!["1.0.0".to_string()],
                vec!["latest".to_string()]
            )
        );
        let last = plan_tag_delete(tags, "1.0.0", D, Some(&image(D, &["1.0.0"])));
        assert_eq!(last.status, ReplicaDeleteStatus::KeptLastTag);
        assert!(last.is_nothing());
        let last = plan_tag_delete(images, "1.0.0", D, Some(&image(D, &["1.0.0"])));
        assert_eq!(last.status, ReplicaDeleteStatus::ImageDeleted);
        assert_eq!(last.remove, ["1.0.0"], "by tag, never by digest");
        assert!(!last.delete_untagged);
    }

    #[test]
    fn an_image_deleted_by_digest_takes_only_the_tags_the_source_lost_and_the_rules_replicate() {
        let policy = policy("    replicate_deletes: images\n");
        let place = policy.delete_targets("team/app").remove(0);
        let gone = |tags: &[&str]| -> BTreeMap<String, Option<String>> {
            tags.iter().map(|t| (t.to_string(), None)).collect()
        };
        // Every tag gone at the source, each replicated: the image goes, tag by tag.
        let plan = plan_image_delete(
            &policy,
            "team/app",
            &place,
            Some(&image(D, &["1.0.0", "1.0.1"])),
            &gone(&["1.0.0", "1.0.1"]),
        );
        assert_eq!(plan.status, ReplicaDeleteStatus::ImageDeleted);
        assert_eq!(plan.remove, ["1.0.0", "1.0.1"]);
        // A pre-release (not replicated) or a tag the source still has stays, and the image.
        let mut at_source = gone(&["1.0.0", "1.0.0-rc.1"]);
        at_source.insert("1.0.1".into(), Some(OTHER.into()));
        let plan = plan_image_delete(
            &policy,
            "team/app",
            &place,
            Some(&image(D, &["1.0.0", "1.0.0-rc.1", "1.0.1"])),
            &at_source,
        );
        assert_eq!(plan.status, ReplicaDeleteStatus::TagRemoved);
        assert_eq!(plan.remove, ["1.0.0"]);
        assert_eq!(plan.kept, ["1.0.0-rc.1", "1.0.1"]);
        // A tag whose source state was not read is kept (fail closed).
        let plan = plan_image_delete(
            &policy,
            "team/app",
            &place,
            Some(&image(D, &["1.0.0"])),
            &BTreeMap::new(),
        );
        assert_eq!(plan.status, ReplicaDeleteStatus::KeptStillTagged);
        assert!(plan.is_nothing());
        // Untagged there: by digest, with `images` only.
        let plan = plan_image_delete(
            &policy,
            "team/app",
            &place,
            Some(&image(D, &[])),
            &gone(&[]),
        );
        assert!(plan.delete_untagged);
        let tags_only = self::policy("    replicate_deletes: tags\n");
        let plan = plan_image_delete(
            &tags_only,
            "team/app",
            &place,
            Some(&image(D, &[])),
            &gone(&[]),
        );
        assert_eq!(plan.status, ReplicaDeleteStatus::KeptImage);
        assert!(plan.is_nothing());
        // `tags`: all but the last.
        let plan = plan_image_delete(
            &tags_only,
            "team/app",
            &place,
            Some(&image(D, &["1.0.0", "1.0.1"])),
            &gone(&["1.0.0", "1.0.1"]),
        );
        assert_eq!(plan.status, ReplicaDeleteStatus::TagRemoved);
        assert_eq!(
            (plan.remove, plan.kept),
            (vec!["1.0.0".to_string()], vec!["1.0.1".to_string()])
        );
    }

    #[test]
    fn the_report_says_what_was_done_per_destination() {
        let target = |region: &str| Target {
            rule: "releases".into(),
            region: region.into(),
            account: None,
            repository: "team/app".into(),
            create_repository: false,
            encryption: None,
        };
        let removed = ReplicaDelete::done(
            &target("eu-west-1"),
            plan_tag_delete(
                ReplicateDeletes::Tags,
                "1.0.0",
                D,
                Some(&image(D, &["1.0.0", "x"])),
            ),
            vec!["1.0.0".into()],
        );
        let kept = ReplicaDelete::done(
            &target("ap-south-1"),
            plan_tag_delete(
                ReplicateDeletes::Tags,
                "1.0.0",
                D,
                Some(&image(D, &["1.0.0"])),
            ),
            Vec::new(),
        );
        let report = DeleteReport::new(&source(), Some("1.0.0"), vec![removed, kept]);
        assert_eq!(report.outcome, DeleteOutcome::DeleteReplicated);
        let message = report.notification(&source());
        assert_eq!(message.outcome, "delete-replicated");
        assert_eq!(message.event_type, EventType::ReplicatorDelete);
        assert!(message
            .description
            .contains("• eu-west-1/team/app: removed tag(s) 1.0.0"));
        assert!(
            message
                .description
                .contains("• ap-south-1/team/app: kept: it is the image's last tag there"),
            "{}",
            message.description
        );
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["deletes"][1]["status"], "kept-last-tag");

        let repeat = DeleteReport::new(
            &source(),
            Some("1.0.0"),
            vec![ReplicaDelete::done(
                &target("eu-west-1"),
                plan_tag_delete(ReplicateDeletes::Tags, "1.0.0", D, None),
                Vec::new(),
            )],
        );
        assert_eq!(repeat.outcome, DeleteOutcome::DeleteAlreadyReplicated);
        assert!(!repeat.should_notify(false));
        let re_pushed = DeleteReport::new(
            &source(),
            Some("1.0.0"),
            vec![ReplicaDelete::re_pushed(
                &target("eu-west-1"),
                "now names x".into(),
            )],
        );
        assert_eq!(re_pushed.outcome, DeleteOutcome::DeleteKept);
        assert!(!re_pushed.should_notify(true), "its push has its own event");
        let failed = DeleteReport::new(
            &source(),
            Some("1.0.0"),
            vec![ReplicaDelete::failed(
                &target("eu-west-1"),
                Vec::new(),
                &crate::error::StewardError::Internal("boom".into()),
            )],
        );
        assert_eq!(failed.outcome, DeleteOutcome::DeleteReplicationFailed);
        assert_eq!(failed.failed_regions(), ["eu-west-1"]);
    }
}
