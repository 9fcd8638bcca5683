//! The replicator's domain: per-region outcomes of a copy, and the notifications about them
//! and about ECR's own replication events.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::copy::CopyStats;
use crate::events::{ActionResult, EventBridgeEvent, ReplicationAction};
use crate::notify::{untrusted, ImageRef, Notification, Severity};
use crate::policy::Target;

/// How the copy to one destination went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionOutcome {
    pub region: String,
    pub account: Option<String>,
    pub repository: String,
    pub rule: String,
    pub ok: bool,
    pub stats: CopyStats,
    pub duration_ms: u64,
    pub error: Option<String>,
}

impl RegionOutcome {
    pub fn new(target: &Target, result: Result<CopyStats, String>, duration_ms: u64) -> Self {
        let (ok, stats, error) = match result {
            Ok(stats) => (true, stats, None),
            Err(error) => (false, CopyStats::default(), Some(error)),
        };
        Self {
            region: target.region.clone(),
            account: target.account.clone(),
            repository: target.repository.clone(),
            rule: target.rule.clone(),
            ok,
            stats,
            duration_ms,
            error,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicationReport {
    pub repository: String,
    pub digest: String,
    pub tag: String,
    pub outcomes: Vec<RegionOutcome>,
}

impl ReplicationReport {
    pub fn failed_regions(&self) -> Vec<&str> {
        self.outcomes
            .iter()
            .filter(|o| !o.ok)
            .map(|o| o.region.as_str())
            .collect()
    }

    /// One notification for the image, with a line per destination.
    pub fn notification(&self, image: &ImageRef) -> Notification {
        let failed = self.failed_regions();
        let (severity, outcome, title) = if failed.is_empty() {
            (
                Severity::Info,
                "replicated",
                format!(
                    "Replicated {}:{} to {}",
                    self.repository,
                    self.tag,
                    self.regions()
                ),
            )
        } else {
            (
                Severity::Critical,
                "replication-failed",
                format!(
                    "Replication of {}:{} failed for {}",
                    self.repository,
                    self.tag,
                    failed.join(", ")
                ),
            )
        };
        let mut description = format!("`{}` (`{}`)\n", untrusted(&self.tag), self.digest);
        for outcome in &self.outcomes {
            let place = match &outcome.account {
                Some(account) => format!("{}/{} ({account})", outcome.region, outcome.repository),
                None => format!("{}/{}", outcome.region, outcome.repository),
            };
            if outcome.ok {
                let _ = writeln!(
                    description,
                    "• {place}: copied {} bytes in {} blobs, {} blobs already there, {} ms",
                    outcome.stats.bytes_copied,
                    outcome.stats.blobs_copied,
                    outcome.stats.blobs_skipped,
                    outcome.duration_ms
                );
            } else {
                let _ = writeln!(
                    description,
                    "• {place}: FAILED: {}",
                    untrusted(outcome.error.as_deref().unwrap_or("unknown error"))
                );
            }
        }
        let next_steps = if failed.is_empty() {
            Vec::new()
        } else {
            vec![
                "Lambda retries the event; the copy resumes where it stopped.".to_string(),
                "To copy by hand: ecr-steward replicate --repository <name> --to <region>".into(),
            ]
        };
        let context = self
            .outcomes
            .iter()
            .map(|o| {
                (
                    o.region.clone(),
                    if o.ok {
                        "ok".to_string()
                    } else {
                        "failed".to_string()
                    },
                )
            })
            .chain([("tag".to_string(), untrusted(&self.tag))])
            .collect();
        Notification {
            event_type: "replicator.copy".into(),
            severity,
            outcome: outcome.into(),
            link: image.console_link("details"),
            image: image.clone(),
            title,
            description,
            next_steps,
            keywords: vec!["ecr-steward".into(), "replicator".into()],
            context,
        }
    }

    fn regions(&self) -> String {
        self.outcomes
            .iter()
            .map(|o| o.region.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// ECR's own replication finished (or failed) in the event's region.
pub fn native_replication_notification(
    event: &EventBridgeEvent<ReplicationAction>,
) -> Notification {
    let detail = &event.detail;
    let region = event.region.clone().unwrap_or_default();
    let image = ImageRef {
        account: event.account.clone(),
        region: region.clone(),
        repository: detail.repository_name.clone(),
        digest: detail.image_digest.clone(),
    };
    let tag = detail
        .image_tag
        .as_deref()
        .map(untrusted)
        .unwrap_or_else(|| "untagged".into());
    let source = format!(
        "{}{}",
        detail.source_region.as_deref().unwrap_or("?"),
        detail
            .source_account
            .as_deref()
            .map(|a| format!(" ({a})"))
            .unwrap_or_default()
    );
    let ok = detail.result == ActionResult::Success;
    let (severity, outcome, title) = if ok {
        (
            Severity::Info,
            "replicated",
            format!(
                "ECR replicated {}:{tag} to {region}",
                detail.repository_name
            ),
        )
    } else {
        (
            Severity::Critical,
            "replication-failed",
            format!(
                "ECR replication of {}:{tag} to {region} failed",
                detail.repository_name
            ),
        )
    };
    Notification {
        event_type: "replicator.native".into(),
        severity,
        outcome: outcome.into(),
        link: image.console_link("details"),
        title,
        description: format!(
            "ECR's native replication from {source} to {region}: `{}`",
            image.digest
        ),
        next_steps: if ok {
            Vec::new()
        } else {
            vec![
                "Check the replication configuration and the destination's repository policy."
                    .into(),
            ]
        },
        keywords: vec!["ecr-steward".into(), "replicator".into(), "native".into()],
        context: BTreeMap::from([("source".to_string(), source), ("tag".to_string(), tag)]),
        image,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::StewardEvent;

    fn target(region: &str) -> Target {
        Target {
            rule: "releases".into(),
            region: region.into(),
            account: None,
            repository: "team/app".into(),
            create_repository: false,
        }
    }

    #[test]
    fn one_notification_with_a_line_per_region() {
        let stats = CopyStats {
            bytes_copied: 2048,
            blobs_copied: 2,
            blobs_skipped: 1,
            ..CopyStats::default()
        };
        let report = ReplicationReport {
            repository: "team/app".into(),
            digest: "sha256:d".into(),
            tag: "1.2.3".into(),
            outcomes: vec![
                RegionOutcome::new(&target("eu-west-1"), Ok(stats), 120),
                RegionOutcome::new(
                    &target("ap-south-1"),
                    Err("the registry is unavailable: 503".into()),
                    80,
                ),
            ],
        };
        assert_eq!(report.failed_regions(), ["ap-south-1"]);
        let image = ImageRef {
            account: Some("1".into()),
            region: "us-east-1".into(),
            repository: "team/app".into(),
            digest: "sha256:d".into(),
        };
        let message = report.notification(&image);
        assert_eq!(
            (message.severity, message.outcome.as_str()),
            (Severity::Critical, "replication-failed")
        );
        assert!(message
            .description
            .contains("eu-west-1/team/app: copied 2048 bytes in 2 blobs, 1 blobs already there"));
        assert!(message
            .description
            .contains("ap-south-1/team/app: FAILED: the registry is unavailable: 503"));
    }

    #[test]
    fn native_replication_events_become_notifications() {
        for (file, outcome) in [
            ("replication-success.json", "replicated"),
            ("replication-failed.json", "replication-failed"),
        ] {
            let path = format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"));
            let value = serde_json::from_str(&std::fs::read_to_string(path).expect("sample"))
                .expect("json");
            let StewardEvent::ReplicationAction(event) =
                StewardEvent::from_value(value).expect("typed")
            else {
                panic!("not a replication action");
            };
            let message = native_replication_notification(&event);
            assert_eq!(message.outcome, outcome);
            assert_eq!(message.image.region, "eu-west-1", "the destination region");
            assert!(message
                .description
                .contains("from us-east-1 (123456789012) to eu-west-1"));
        }
    }
}
