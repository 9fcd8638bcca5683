//! What a retention run did to one repository, and its notification in the chat format.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{short, PlannedImage};
use crate::notify::{untrusted, EventType, ImageRef, Notification, Outcome, Severity};

/// An expired image ECR did not delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeleteFailure {
    /// The image's digest.
    pub digest: String,
    /// ECR's failure code (`ImageReferencedByManifestList`, …), or the error's class.
    pub code: String,
    /// What ECR or the client said.
    pub message: String,
}

/// One repository's retention: the plan's verdicts and, with `applied`, what was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionResult {
    /// The repository.
    pub repository: String,
    /// The rule whose retention applied.
    pub rule: String,
    /// True when deletions were made (not a dry run).
    pub applied: bool,
    /// How many images the plan keeps.
    pub kept: usize,
    /// The images the plan expires, with why.
    pub expired: Vec<PlannedImage>,
    /// The bytes ECR reports for the expired images.
    pub expired_bytes: u64,
    /// The digests deleted.
    pub deleted: Vec<String>,
    /// Expired in the plan, kept when checked again just before deleting (a new tag, a new
    /// index or referrer since the plan); not deleted.
    pub kept_on_recheck: Vec<String>,
    /// Expired images ECR did not delete.
    pub failed: Vec<DeleteFailure>,
    /// Expired images that were gone already when their turn came (deleted by someone else).
    pub already_gone: Vec<String>,
    /// True when the time ran out before every batch was deleted: the next run carries on.
    pub unfinished: bool,
    /// The images the plan moves to the archive storage class (the policy's `archive`).
    pub to_archive: Vec<PlannedImage>,
    /// The digests moved to the archive.
    pub archived: Vec<String>,
}

impl RetentionResult {
    /// What the notification's and the report's `outcome` is.
    pub fn outcome(&self) -> Outcome {
        if !self.failed.is_empty() {
            Outcome::PruneFailed
        } else if self.applied {
            Outcome::Pruned
        } else {
            Outcome::PrunePlanned
        }
    }

    /// True when there is something to tell: expirations or archivings planned, made or
    /// failed.
    pub fn is_news(&self) -> bool {
        !self.expired.is_empty() || !self.to_archive.is_empty() || !self.failed.is_empty()
    }

    /// The notification: one per repository and run, in the chat format.
    pub fn notification(&self, region: &str, account: Option<&str>) -> Notification {
        const LISTED: usize = 10;
        let repository = &self.repository;
        let outcome = self.outcome();
        let count = |n: usize| {
            if n == 1 {
                "1 image".to_string()
            } else {
                format!("{n} images")
            }
        };
        let title = match outcome {
            Outcome::PruneFailed => format!(
                "Retention could not delete {} of {} in {repository}",
                self.failed.len(),
                count(self.expired.len())
            ),
            Outcome::Pruned => format!(
                "Retention deleted {} in {repository}",
                count(self.deleted.len())
            ),
            _ => format!(
                "Retention would delete {} in {repository} (dry run)",
                count(self.expired.len())
            ),
        };
        let mut lines = vec![format!(
            "Rule *{}*: {} kept, {} expired ({}).",
            untrusted(&self.rule),
            self.kept,
            self.expired.len(),
            megabytes(self.expired_bytes)
        )];
        for image in self.expired.iter().take(LISTED) {
            let tags = if image.tags.is_empty() {
                "untagged".to_string()
            } else {
                image
                    .tags
                    .iter()
                    .map(|t| format!("`{}`", untrusted(t)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let why = image
                .reasons
                .first()
                .map(|r| format!("{}: {}", r.clause.as_str(), untrusted(&r.detail)))
                .unwrap_or_default();
            let done = if self.deleted.contains(&image.digest) {
                "deleted"
            } else if self.kept_on_recheck.contains(&image.digest) {
                "kept on recheck"
            } else if self.failed.iter().any(|f| f.digest == image.digest) {
                "not deleted"
            } else {
                "expires"
            };
            lines.push(format!("• {} {tags}: {done} ({why})", short(&image.digest)));
        }
        if !self.to_archive.is_empty() {
            let done = if self.applied {
                format!("{} archived", self.archived.len())
            } else {
                "to be archived".to_string()
            };
            lines.push(format!(
                "Archive storage class (not pullable until restored): {} planned, {done}: {}",
                self.to_archive.len(),
                self.to_archive
                    .iter()
                    .take(LISTED)
                    .map(|image| short(&image.digest))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.kept_on_recheck.is_empty() {
            lines.push(format!(
                "Kept on recheck (changed since the plan): {}",
                self.kept_on_recheck
                    .iter()
                    .map(|d| short(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if self.unfinished {
            lines.push("Time ran out before every batch; the next run carries on.".into());
        }
        if self.expired.len() > LISTED {
            lines.push(format!("… and {} more", self.expired.len() - LISTED));
        }
        for failure in &self.failed {
            lines.push(format!(
                "Not deleted: {} ({}: {})",
                short(&failure.digest),
                untrusted(&failure.code),
                untrusted(&failure.message)
            ));
        }
        let mut next_steps = Vec::new();
        match outcome {
            Outcome::PrunePlanned => next_steps.push(
                "Review the plan with `ecr-steward prune --repository NAME`; deploy with RetentionMode=apply to delete".into(),
            ),
            Outcome::PruneFailed => next_steps.push(
                "The next run tries again; `ecr-steward prune --repository NAME --apply` runs it now".into(),
            ),
            _ => {}
        }
        let image = ImageRef {
            account: account.map(Into::into),
            region: region.into(),
            repository: repository.clone(),
            digest: String::new(),
        };
        Notification {
            event_type: EventType::RetentionRun,
            severity: if outcome == Outcome::PruneFailed {
                Severity::Warning
            } else {
                Severity::Info
            },
            outcome,
            link: format!(
                "https://{region}.console.aws.amazon.com/ecr/repositories/private/{}/{repository}?region={region}",
                account.unwrap_or("-")
            ),
            image,
            title,
            description: lines.join("\n"),
            next_steps,
            keywords: vec!["ecr-steward".into(), "retention".into(), repository.clone()],
            context: BTreeMap::from([
                ("rule".to_string(), self.rule.clone()),
                ("expired".to_string(), self.expired.len().to_string()),
                ("deleted".to_string(), self.deleted.len().to_string()),
                ("archived".to_string(), self.archived.len().to_string()),
                ("kept".to_string(), self.kept.to_string()),
            ]),
        }
    }
}

/// `12.3 MB`, in decimal megabytes as ECR's console shows sizes.
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}
