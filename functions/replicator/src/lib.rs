//! replicator: copies pushed images whose tags match the policy's replication rules to other
//! regions and reports per region; turns ECR's own `ECR Replication Action` events into
//! notifications too.

use std::time::Instant;

use serde_json::{json, Value};
use steward::error::{Service, StewardError};
use steward::events::StewardEvent;
use steward::guard::{triage, Triage};
use steward::policy::Policy;
use steward::ports::{Notifier, Replicator};
use steward::replicate::{native_replication_notification, RegionOutcome, ReplicationReport};
use tracing::info;

pub struct ReplicatorFunction<R, N> {
    pub policy: Policy,
    pub replicator: R,
    pub notifier: N,
}

impl<R: Replicator, N: Notifier> ReplicatorFunction<R, N> {
    pub async fn handle(&self, event: Value) -> Result<Value, StewardError> {
        let event = match StewardEvent::from_value(event)
            .map_err(|e| StewardError::MalformedEvent(e.to_string()))?
        {
            StewardEvent::ImageAction(event) => event,
            StewardEvent::ReplicationAction(event) => {
                let notification = native_replication_notification(&event);
                self.notifier.publish(&notification).await?;
                info!(repository = %event.detail.repository_name, outcome = %notification.outcome, "native replication reported");
                return Ok(
                    json!({ "native": notification.outcome, "repository": event.detail.repository_name }),
                );
            }
            other => return Ok(skipped(&format!("a {} event", other.detail_type()))),
        };
        let pushed = match triage(&event)? {
            Triage::Check(pushed) => pushed,
            Triage::Skip(reason) => return Ok(skipped(reason)),
        };
        let image = &pushed.image;
        let targets = self
            .policy
            .replication_targets(&image.repository, &pushed.tag);
        if targets.is_empty() {
            return Ok(skipped(
                "no replication rule matches the repository and tag",
            ));
        }
        let tags = [pushed.tag.clone()];
        // Every destination is tried; one failing does not stop the others.
        let outcomes = futures_util::future::join_all(targets.iter().map(|target| async {
            let started = Instant::now();
            let result = self.replicator.replicate(image, &tags, target).await;
            let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            RegionOutcome::new(target, result.map_err(|e| e.to_string()), elapsed)
        }))
        .await;
        let report = ReplicationReport {
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            tag: pushed.tag.clone(),
            outcomes,
        };
        self.notifier.publish(&report.notification(image)).await?;
        let failed = report.failed_regions();
        info!(repository = %report.repository, tag = %report.tag, failed = failed.len(), "replicated");
        if !failed.is_empty() {
            // Retryable: a retry copies only what is still missing.
            return Err(StewardError::Unavailable {
                service: Service::Registry,
                message: format!("replication to {} failed", failed.join(", ")),
            });
        }
        serde_json::to_value(&report).map_err(|e| StewardError::MalformedEvent(e.to_string()))
    }
}

fn skipped(reason: &str) -> Value {
    info!(reason, "skipped");
    json!({ "skipped": reason })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use steward::copy::CopyStats;
    use steward::notify::ImageRef;
    use steward::policy::{SourceFormat, Target};
    use steward::testing::Inbox;

    use super::*;

    /// Fails the regions it is told to; records every copy.
    #[derive(Default)]
    struct Copies {
        failing: Vec<&'static str>,
        made: Mutex<Vec<(String, String)>>,
    }

    impl Replicator for Copies {
        async fn replicate(
            &self,
            _: &ImageRef,
            tags: &[String],
            target: &Target,
        ) -> Result<CopyStats, StewardError> {
            if self.failing.contains(&target.region.as_str()) {
                return Err(StewardError::Unavailable {
                    service: Service::Registry,
                    message: "connection refused".into(),
                });
            }
            if let Ok(mut made) = self.made.lock() {
                made.push((target.region.clone(), tags.join(",")));
            }
            Ok(CopyStats {
                bytes_copied: 10,
                blobs_copied: 1,
                ..CopyStats::default()
            })
        }
    }

    const POLICY: &str = "version: 1\nrules:\n  - tags: { semver: {} }\nreplication:\n  - repositories: [\"team-a/*\"]\n    tags: { semver: { prerelease: false } }\n    destinations: [{ region: eu-west-1 }, { region: ap-south-1 }]\n";

    fn function(failing: Vec<&'static str>) -> ReplicatorFunction<Copies, Inbox> {
        ReplicatorFunction {
            policy: Policy::from_text(POLICY, "test", SourceFormat::Yaml).expect("policy"),
            replicator: Copies {
                failing,
                ..Copies::default()
            },
            notifier: Inbox::default(),
        }
    }

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("json")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn copies_matching_tags_to_every_destination_and_notifies_once() {
        let function = function(vec![]);
        let report = function
            .handle(sample("image-push-semver.json"))
            .await
            .expect("replicated");
        assert_eq!(report["outcomes"].as_array().map(Vec::len), Some(2));
        let made = function.replicator.made.lock().expect("lock").clone();
        assert_eq!(
            made,
            [
                ("eu-west-1".to_string(), "1.4.2".to_string()),
                ("ap-south-1".into(), "1.4.2".into())
            ]
        );
        let inbox = function.notifier.received();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].outcome, "replicated");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn one_failing_region_does_not_stop_the_others_and_the_error_is_retryable() {
        let function = function(vec!["ap-south-1"]);
        let error = function
            .handle(sample("image-push-semver.json"))
            .await
            .expect_err("partly failed");
        assert!(error.is_retryable());
        assert!(error.to_string().contains("ap-south-1"));
        assert_eq!(
            function.replicator.made.lock().expect("lock").len(),
            1,
            "eu-west-1 was still copied"
        );
        assert_eq!(
            function.notifier.received()[0].outcome,
            "replication-failed"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn pre_releases_and_other_events_are_skipped_and_native_events_reported() {
        let function = function(vec![]);
        let mut pre = sample("image-push-semver.json");
        pre["detail"]["image-tag"] = "1.4.2-rc.1".into();
        assert!(function.handle(pre).await.expect("handled")["skipped"].is_string());
        assert!(function
            .handle(sample("image-delete.json"))
            .await
            .expect("handled")["skipped"]
            .is_string());
        assert!(function.replicator.made.lock().expect("lock").is_empty());
        let native = function
            .handle(sample("replication-failed.json"))
            .await
            .expect("handled");
        assert_eq!(native["native"], "replication-failed");
        assert_eq!(function.notifier.received().len(), 1);
    }
}
