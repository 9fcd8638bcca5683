//! push-guard: on an `ECR Image Action` PUSH, judges the tag and the image's labels against
//! the policy; in audit mode it notifies, in enforce mode it also removes the offending tag.

use serde_json::Value;
use steward::error::StewardError;
use steward::events::StewardEvent;
use steward::guard::{judge, triage, GuardReport, Triage};
use steward::policy::{Mode, Policy};
use steward::ports::{ImageReader, Notifier, TagRemover};
use tracing::info;

pub struct PushGuard<R, T, N> {
    pub policy: Policy,
    /// Overrides the policy's modes (the SAM parameter `Mode`).
    pub mode_override: Option<Mode>,
    pub images: R,
    pub tags: T,
    pub notifier: N,
}

impl<R: ImageReader, T: TagRemover, N: Notifier> PushGuard<R, T, N> {
    /// Handles one event. The response is the report, or `{"skipped": reason}`.
    pub async fn handle(&self, event: Value) -> Result<Value, StewardError> {
        let event = match StewardEvent::from_value(event)
            .map_err(|e| StewardError::MalformedEvent(e.to_string()))?
        {
            StewardEvent::ImageAction(event) => event,
            other => return Ok(skipped(&format!("a {} event", other.detail_type()))),
        };
        let pushed = match triage(&event)? {
            Triage::Check(pushed) => pushed,
            Triage::Skip(reason) => return Ok(skipped(reason)),
        };
        let image = &pushed.image;
        let rule = self.policy.rule_for(Some(&image.repository));
        let platforms = match rule {
            Some(_) => {
                self.images
                    .platform_labels(&image.region, &image.repository, &image.digest)
                    .await?
            }
            None => Vec::new(),
        };
        let verdict = judge(&self.policy, &image.repository, &pushed.tag, &platforms);
        let mode = self
            .mode_override
            .or(rule.map(|rule| self.policy.mode_for(rule)))
            .unwrap_or(self.policy.mode);
        let removal = match (verdict.compliant, mode) {
            (false, Mode::Enforce) => Some(
                self.tags
                    .remove_tag(&image.repository, &pushed.tag, &image.digest)
                    .await?,
            ),
            _ => None,
        };
        let report = GuardReport::new(&pushed, mode, platforms.len(), verdict, removal);
        if let Some(notification) = report.notification(image) {
            self.notifier.publish(&notification).await?;
        }
        info!(
            repository = %report.repository,
            tag = %report.tag,
            digest = %report.digest,
            compliant = report.compliant,
            action = report.action,
            violations = report.verdict.violations.len(),
            "push checked"
        );
        serde_json::to_value(&report).map_err(|e| StewardError::MalformedEvent(e.to_string()))
    }
}

fn skipped(reason: &str) -> Value {
    info!(reason, "skipped");
    serde_json::json!({ "skipped": reason })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use steward::error::Service;
    use steward::labels::Labels;
    use steward::ports::{PlatformLabels, TagRemoval};
    use steward::testing::Inbox;

    use super::*;

    const DIGEST: &str = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd";

    /// Images by digest; a digest that is absent is not found.
    struct Images(BTreeMap<String, Vec<PlatformLabels>>);

    impl ImageReader for Images {
        async fn platform_labels(
            &self,
            _: &str,
            _: &str,
            digest: &str,
        ) -> Result<Vec<PlatformLabels>, StewardError> {
            self.0.get(digest).cloned().ok_or(StewardError::NotFound {
                service: Service::Registry,
                what: digest.into(),
            })
        }
    }

    /// Tags by name; removing one records it.
    #[derive(Default)]
    struct Tags {
        present: Mutex<BTreeMap<String, String>>,
        removed: Mutex<Vec<String>>,
    }

    impl TagRemover for Tags {
        async fn remove_tag(
            &self,
            _: &str,
            tag: &str,
            digest: &str,
        ) -> Result<TagRemoval, StewardError> {
            let mut present = self.present.lock().expect("lock");
            Ok(match present.get(tag) {
                None => TagRemoval::AlreadyGone,
                Some(other) if other != digest => TagRemoval::MovedOn,
                Some(_) => {
                    present.remove(tag);
                    self.removed.lock().expect("lock").push(tag.into());
                    TagRemoval::Removed
                }
            })
        }
    }

    fn good_labels() -> Labels {
        [
            (
                "org.opencontainers.image.source",
                "https://github.com/example/app",
            ),
            (
                "org.opencontainers.image.revision",
                "4f9c2e1d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d",
            ),
            ("org.opencontainers.image.created", "2026-11-20T09:41:07Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn guard(mode: Option<Mode>, tags: &[&str]) -> PushGuard<Images, Tags, Inbox> {
        let image = PlatformLabels {
            platform: None,
            digest: DIGEST.into(),
            labels: good_labels(),
        };
        let present = tags
            .iter()
            .map(|t| (t.to_string(), DIGEST.to_string()))
            .collect();
        PushGuard {
            policy: Policy::builtin(),
            mode_override: mode,
            images: Images(BTreeMap::from([(DIGEST.to_string(), vec![image])])),
            tags: Tags {
                present: Mutex::new(present),
                ..Tags::default()
            },
            notifier: Inbox::default(),
        }
    }

    fn push(tag: &str) -> Value {
        let mut event: Value =
            serde_json::from_str(include_str!("../../../events/image-push-semver.json"))
                .expect("sample");
        event["detail"]["image-tag"] = tag.into();
        event
    }

    #[tokio::test(flavor = "current_thread")]
    async fn compliant_push_does_nothing() {
        let guard = guard(Some(Mode::Enforce), &["1.4.2"]);
        let report = guard.handle(push("1.4.2")).await.expect("handled");
        assert_eq!(
            (report["compliant"].as_bool(), report["action"].as_str()),
            (Some(true), Some("none"))
        );
        assert!(guard.notifier.received().is_empty());
        assert!(guard.tags.removed.lock().expect("lock").is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn audit_notifies_and_changes_nothing() {
        let guard = guard(None, &["latest"]);
        let report = guard.handle(push("latest")).await.expect("handled");
        assert_eq!(report["action"], "notified");
        assert_eq!(report["mode"], "audit");
        let inbox = guard.notifier.received();
        assert_eq!(inbox.len(), 1);
        assert_eq!(inbox[0].outcome, "audited");
        assert!(guard.tags.removed.lock().expect("lock").is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn enforce_removes_the_tag_once_and_notifies_each_delivery() {
        let guard = guard(Some(Mode::Enforce), &["latest", "1.4.2"]);
        let first = guard.handle(push("latest")).await.expect("handled");
        let second = guard.handle(push("latest")).await.expect("handled again");
        assert_eq!(
            (first["action"].as_str(), second["action"].as_str()),
            (Some("tag-removed"), Some("already-removed"))
        );
        assert_eq!(*guard.tags.removed.lock().expect("lock"), ["latest"]);
        assert!(guard
            .tags
            .present
            .lock()
            .expect("lock")
            .contains_key("1.4.2"));
        let outcomes: Vec<String> = guard
            .notifier
            .received()
            .iter()
            .map(|n| n.outcome.clone())
            .collect();
        assert_eq!(outcomes, ["tag-removed", "tag-removed"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn skips_what_is_not_a_tagged_successful_push() {
        let guard = guard(Some(Mode::Enforce), &[]);
        let mut untagged = push("x");
        untagged["detail"]
            .as_object_mut()
            .expect("object")
            .remove("image-tag");
        let mut delete = push("latest");
        delete["detail"]["action-type"] = "DELETE".into();
        let scan: Value =
            serde_json::from_str(include_str!("../../../events/image-scan-basic.json"))
                .expect("sample");
        for event in [untagged, delete, scan] {
            let response = guard.handle(event).await.expect("handled");
            assert!(response["skipped"].is_string(), "{response}");
        }
        assert!(guard.notifier.received().is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn malformed_and_missing_are_not_retryable() {
        let guard = guard(None, &[]);
        let error = guard
            .handle(serde_json::json!({"detail": {}}))
            .await
            .expect_err("malformed");
        assert_eq!(error.error_type(), "NonRetryable.MalformedEvent");
        let mut missing = push("1.4.2");
        missing["detail"]["image-digest"] = format!("sha256:{}", "0".repeat(64)).into();
        let error = guard.handle(missing).await.expect_err("not found");
        assert!(!error.is_retryable());
        assert_eq!(error.error_type(), "NonRetryable.NotFound");
    }
}
