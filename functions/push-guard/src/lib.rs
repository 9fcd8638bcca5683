//! push-guard: on an `ECR Image Action` PUSH, judges the tag and the image's labels against
//! the policy; in audit mode it notifies, in enforce mode it also removes the offending tag.

#![warn(missing_docs)]

use std::time::Duration;

use steward::error::StewardError;
use steward::events::StewardEvent;
use steward::harness::{Handled, Handler, Invocation};
use steward::metrics::Function;
use steward::policy::Mode;
use steward::policy_source::LivePolicy;
use steward::ports::{ImageReader, Notifier, TagStore};
use steward::push::{
    judge, plan_enforcement, triage, EnforcementStep, GuardAction, GuardReport, Triage,
};
use tracing::info;

/// Time kept for a tag change (a few ECR calls, retried when throttled) and its notification.
pub const CHANGE_RESERVE: Duration = Duration::from_secs(10);

/// push-guard on its ports: `R` reads images and their labels, `T` reads and changes tags in ECR,
/// `N` publishes notifications.
pub struct PushGuard<R, T, N> {
    /// The policy pushes are judged by; read once an invocation.
    pub policy: LivePolicy,
    /// Overrides the policy's modes (the SAM parameter `Mode`).
    pub mode_override: Option<Mode>,
    /// Reads what a tag names and the image's labels.
    pub images: R,
    /// Reads and changes tags (enforce mode).
    pub tags: T,
    /// Publishes the notifications.
    pub notifier: N,
}

impl<R: ImageReader, T: TagStore, N: Notifier> Handler for PushGuard<R, T, N> {
    const FUNCTION: Function = Function::PushGuard;
    type Report = GuardReport;

    /// A tag is changed only while [`CHANGE_RESERVE`] is left before the deadline; the change
    /// and its notification then run to their end (each call bounded by the SDK's timeouts).
    async fn handle(
        &self,
        event: StewardEvent,
        invocation: Invocation,
    ) -> Result<Handled<GuardReport>, StewardError> {
        let StewardEvent::ImageAction(event) = event else {
            return Ok(Handled::other_event(&event));
        };
        let pushed = match triage(&event)? {
            Triage::Check(pushed) => pushed,
            Triage::Skip(reason) => return Ok(Handled::skipped(reason)),
        };
        let image = &pushed.image;
        let policy = self.policy.current();
        let rule = policy.rule_for(Some(&image.repository));
        // Reads may be cut off by the deadline (a retry reads again); a change, once started,
        // is not: it runs to its end and its notification.
        let deadline = invocation.deadline;
        let platforms = match rule {
            Some(_) => {
                deadline
                    .run(self.images.platform_labels(
                        &image.region,
                        &image.repository,
                        &image.digest,
                    ))
                    .await?
            }
            None => Vec::new(),
        };
        let verdict = judge(&policy, &image.repository, &pushed.tag, &platforms);
        let mode = policy.mode_in(&image.repository, self.mode_override);
        let action = match (verdict.compliant, mode) {
            (true, _) => GuardAction::Compliant,
            (false, Mode::Audit) => GuardAction::Audited,
            (false, Mode::Enforce) => {
                let last_tag = rule.map(|rule| rule.enforce.last_tag).unwrap_or_default();
                let current = deadline
                    .run(self.tags.tagged_image(&image.repository, &pushed.tag))
                    .await?;
                let stays =
                    |other: &str| judge(&policy, &image.repository, other, &platforms).compliant;
                let step = plan_enforcement(
                    &image.digest,
                    &pushed.tag,
                    current.as_ref(),
                    last_tag,
                    stays,
                );
                if step.changes_tags() {
                    deadline.ensure(CHANGE_RESERVE, "changing the tag")?;
                }
                self.enforce(&image.repository, &pushed.tag, &image.digest, step)
                    .await?
            }
        };
        let report = GuardReport::new(&pushed, mode, platforms.len(), verdict, action);
        if let Some(notification) = report.notification(image) {
            self.notifier.publish(&notification).await?;
        }
        info!(
            repository = %report.repository,
            tag = %report.tag,
            digest = %report.digest,
            outcome = report.action.outcome().map_or("compliant", |o| o.as_str()),
            violations = report.verdict.violations.len(),
            "push checked"
        );
        Ok(Handled::Done(report))
    }
}

impl<R: ImageReader, T: TagStore, N: Notifier> PushGuard<R, T, N> {
    /// Carries out `step`, decided on what the tag named just before. ECR's refusals
    /// (immutable tags) are reported, not retried.
    async fn enforce(
        &self,
        repository: &str,
        tag: &str,
        digest: &str,
        step: EnforcementStep,
    ) -> Result<GuardAction, StewardError> {
        match step {
            EnforcementStep::AlreadyGone => Ok(GuardAction::AlreadyRemoved),
            EnforcementStep::MovedOn => Ok(GuardAction::TagMovedOn { restored_to: None }),
            EnforcementStep::Keep => Ok(GuardAction::KeptLastTag),
            EnforcementStep::Remove { other_tags } => {
                self.remove(
                    repository,
                    tag,
                    digest,
                    GuardAction::TagRemoved { other_tags },
                )
                .await
            }
            EnforcementStep::DeleteImage => {
                self.remove(repository, tag, digest, GuardAction::ImageDeleted)
                    .await
            }
            EnforcementStep::Quarantine(quarantine_tag) => {
                match self.tags.put_tag(repository, &quarantine_tag, digest).await {
                    Ok(()) => {
                        self.remove(repository, tag, digest, GuardAction::Quarantined { quarantine_tag })
                            .await
                    }
                    Err(StewardError::Conflict { message, .. }) => Ok(GuardAction::Refused {
                        reason: format!("{message}; the image could not be quarantined, so {tag} was left in place"),
                    }),
                    Err(other) => Err(other),
                }
            }
        }
    }

    /// Removes `tag`; when ECR says it was removed from another image than `digest` (pushed
    /// again meanwhile), puts it straight back there.
    async fn remove(
        &self,
        repository: &str,
        tag: &str,
        digest: &str,
        done: GuardAction,
    ) -> Result<GuardAction, StewardError> {
        match self.tags.remove_tag(repository, tag).await? {
            None => Ok(GuardAction::AlreadyRemoved),
            Some(removed) if removed == digest => Ok(done),
            Some(newer) => match self.tags.put_tag(repository, tag, &newer).await {
                Ok(()) => Ok(GuardAction::TagMovedOn {
                    restored_to: Some(newer),
                }),
                Err(StewardError::Conflict { message, .. }) => Ok(GuardAction::Refused {
                    reason: format!("{tag} was pushed again as {newer} while it was being removed, and putting it back failed: {message}"),
                }),
                // It was the newer image's only tag, so ECR deleted that image with it.
                Err(StewardError::NotFound { .. }) => {
                    Ok(GuardAction::NewerImageDeleted {
                        newer_digest: newer,
                    })
                }
                Err(other) => Err(other),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use steward::labels::Labels;
    use steward::policy::{Policy, SourceFormat};
    use steward::testing::{Inbox, MemoryImages, MemoryTags};

    use serde_json::Value;

    use super::*;
    use steward::harness::Invoke;

    const DIGEST: &str = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd";
    const NEWER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn good_labels() -> Labels {
        steward::labels::samples::compliant()
    }

    fn guard_with(
        policy: Policy,
        mode: Option<Mode>,
        tags: MemoryTags,
    ) -> PushGuard<MemoryImages, MemoryTags, Inbox> {
        PushGuard {
            policy: policy.into(),
            mode_override: mode,
            images: MemoryImages::default().with("1.4.2", DIGEST, good_labels()),
            tags,
            notifier: Inbox::default(),
        }
    }

    fn guard(mode: Option<Mode>, tags: &[&str]) -> PushGuard<MemoryImages, MemoryTags, Inbox> {
        guard_with(
            Policy::builtin(),
            mode,
            MemoryTags::default().with_image(DIGEST, tags),
        )
    }

    fn last_tag_policy(choice: &str) -> Policy {
        let text = format!(
            "version: 1\nrules:\n  - tags: {{ semver: {{}}, literals: {{ deny: [latest] }} }}\n    enforce: {{ last_tag: {choice} }}\n"
        );
        Policy::from_text(&text, "test", SourceFormat::Yaml).expect("policy")
    }

    fn push(tag: &str) -> Value {
        let mut event: Value = steward::testing::sample_event("image-push-semver.json");
        event["detail"]["image-tag"] = tag.into();
        event
    }

    fn outcomes(guard: &PushGuard<MemoryImages, MemoryTags, Inbox>) -> Vec<String> {
        guard
            .notifier
            .received()
            .iter()
            .map(|n| n.outcome.to_string())
            .collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn compliant_push_does_nothing() {
        let guard = guard(Some(Mode::Enforce), &["1.4.2"]);
        let report = guard.invoke(push("1.4.2")).await.expect("handled");
        assert_eq!(
            (report["compliant"].as_bool(), report["outcome"].as_str()),
            (Some(true), Some("compliant"))
        );
        assert!(guard.notifier.received().is_empty());
        assert_eq!(guard.tags.tags_of(DIGEST), Some(vec!["1.4.2".to_string()]));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_replaced_policy_judges_the_next_push() {
        let guard = guard(None, &["latest"]);
        assert_eq!(
            guard.invoke(push("latest")).await.expect("handled")["outcome"],
            "audited"
        );
        let allows_latest = "version: 1\nrules:\n  - tags: { literals: { allow: [latest] } }\n";
        guard
            .policy
            .replace(Policy::from_text(allows_latest, "new", SourceFormat::Yaml).expect("policy"));
        let report = guard.invoke(push("latest")).await.expect("handled");
        assert_eq!(report["outcome"], "compliant", "{report}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn audit_notifies_and_changes_nothing() {
        let guard = guard(None, &["latest"]);
        let report = guard.invoke(push("latest")).await.expect("handled");
        assert_eq!(report["outcome"], "audited");
        assert_eq!(report["mode"], "audit");
        assert_eq!(outcomes(&guard), ["audited"]);
        assert_eq!(guard.tags.tags_of(DIGEST), Some(vec!["latest".to_string()]));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_repeated_delivery_removes_the_tag_once_and_says_so() {
        let guard = guard(Some(Mode::Enforce), &["latest", "1.4.2"]);
        let first = guard.invoke(push("latest")).await.expect("handled");
        let second = guard.invoke(push("latest")).await.expect("handled again");
        assert_eq!(
            (first["outcome"].as_str(), second["outcome"].as_str()),
            (Some("tag-removed"), Some("already-removed"))
        );
        assert_eq!(first["other_tags"], serde_json::json!(["1.4.2"]));
        assert_eq!(guard.tags.tags_of(DIGEST), Some(vec!["1.4.2".to_string()]));
        assert_eq!(outcomes(&guard), ["tag-removed", "already-removed"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_last_tag_is_quarantined_by_default_so_the_image_stays() {
        let guard = guard(Some(Mode::Enforce), &["latest"]);
        let report = guard.invoke(push("latest")).await.expect("handled");
        assert_eq!(report["outcome"], "quarantined");
        assert_eq!(report["quarantine_tag"], "quarantine-7f5b2640fe6f");
        assert_eq!(
            guard.tags.tags_of(DIGEST),
            Some(vec!["quarantine-7f5b2640fe6f".to_string()])
        );
        let notification = &guard.notifier.received()[0];
        assert_eq!(notification.outcome, "quarantined");
        assert!(notification
            .description
            .contains("first tagged `quarantine-7f5b2640fe6f` (same digest)"));
        let again = guard.invoke(push("latest")).await.expect("repeat");
        assert_eq!(again["outcome"], "already-removed");
        assert_eq!(
            guard.tags.tags_of(DIGEST),
            Some(vec!["quarantine-7f5b2640fe6f".to_string()])
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_quarantine_tag_itself_is_never_judged() {
        let guard = guard(Some(Mode::Enforce), &["quarantine-7f5b2640fe6f"]);
        let report = guard
            .invoke(push("quarantine-7f5b2640fe6f"))
            .await
            .expect("handled");
        assert!(report["outcome"] == "skipped", "{report}");
        assert!(guard.notifier.received().is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn keep_leaves_the_last_tag_and_delete_deletes_the_image_only_when_asked() {
        let tags = MemoryTags::default().with_image(DIGEST, &["latest"]);
        let keep = guard_with(last_tag_policy("keep"), Some(Mode::Enforce), tags);
        let report = keep.invoke(push("latest")).await.expect("handled");
        assert_eq!(report["outcome"], "kept-last-tag");
        assert_eq!(keep.tags.tags_of(DIGEST), Some(vec!["latest".to_string()]));
        assert_eq!(outcomes(&keep), ["kept-last-tag"]);

        let tags = MemoryTags::default().with_image(DIGEST, &["latest"]);
        let delete = guard_with(last_tag_policy("delete"), Some(Mode::Enforce), tags);
        let report = delete.invoke(push("latest")).await.expect("handled");
        assert_eq!(report["outcome"], "image-deleted");
        assert_eq!(delete.tags.tags_of(DIGEST), None);
        assert_eq!(outcomes(&delete), ["image-deleted"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_tag_pushed_again_during_the_removal_is_put_back_on_the_new_image() {
        let tags = MemoryTags::default()
            .with_image(DIGEST, &["latest", "1.4.2"])
            .with_image(NEWER, &["other"]);
        tags.race_next_removal("latest", NEWER);
        let guard = guard_with(Policy::builtin(), Some(Mode::Enforce), tags);
        let report = guard.invoke(push("latest")).await.expect("handled");
        assert_eq!(report["outcome"], "tag-moved-on");
        assert_eq!(report["restored_to"], NEWER);
        let newer = guard.tags.tags_of(NEWER).expect("newer image");
        assert!(newer.contains(&"latest".to_string()), "{newer:?}");
        assert_eq!(guard.tags.tags_of(DIGEST), Some(vec!["1.4.2".to_string()]));
        assert_eq!(outcomes(&guard), ["tag-moved-on"]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn two_offending_tags_of_one_push_leave_the_image_quarantined() {
        // `docker push` of `latest` and `dev` at once: one event each. Neither delivery counts
        // the other offending tag as keeping the image (its own delivery removes it, maybe at
        // the same moment), so the first quarantines the image before it removes its tag.
        let tags = MemoryTags::default().with_image(DIGEST, &["latest", "dev"]);
        let guard = guard_with(Policy::builtin(), Some(Mode::Enforce), tags);
        let mut dev = push("dev");
        dev["detail"]["image-tag"] = "dev".into();
        let (first, second) = futures_join(guard.invoke(push("latest")), guard.invoke(dev)).await;
        let outcomes = [
            first.expect("latest")["outcome"].clone(),
            second.expect("dev")["outcome"].clone(),
        ];
        assert!(outcomes.contains(&"quarantined".into()), "{outcomes:?}");
        assert_eq!(
            guard.tags.tags_of(DIGEST),
            Some(vec!["quarantine-7f5b2640fe6f".to_string()]),
            "the image is still there, under its quarantine tag"
        );
    }

    async fn futures_join<A: std::future::Future, B: std::future::Future>(
        a: A,
        b: B,
    ) -> (A::Output, B::Output) {
        let a = a.await;
        let b = b.await;
        (a, b)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_newer_image_deleted_by_the_race_is_reported_not_hidden() {
        let tags = MemoryTags::default().with_image(DIGEST, &["latest", "1.4.2"]);
        tags.race_next_removal("latest", NEWER);
        let guard = guard_with(Policy::builtin(), Some(Mode::Enforce), tags);
        let report = guard.invoke(push("latest")).await.expect("reported");
        assert_eq!(report["outcome"], "newer-image-deleted", "{report}");
        assert_eq!(report["digest"], DIGEST);
        assert_eq!(report["newer_digest"], NEWER);
        assert_eq!(guard.tags.tags_of(NEWER), None);
        let notification = &guard.notifier.received()[0];
        assert_eq!(notification.outcome, "newer-image-deleted");
        assert!(notification
            .description
            .contains(&format!("Push `{NEWER}` again")));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_tag_that_already_names_another_image_is_left_alone() {
        let tags = MemoryTags::default().with_image(NEWER, &["latest"]);
        let guard = guard_with(Policy::builtin(), Some(Mode::Enforce), tags);
        let report = guard.invoke(push("latest")).await.expect("handled");
        assert_eq!(report["outcome"], "tag-moved-on");
        assert!(report.get("restored_to").is_none());
        assert_eq!(guard.tags.tags_of(NEWER), Some(vec!["latest".to_string()]));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_immutable_refusal_is_reported_and_not_retried() {
        let tags = MemoryTags::immutable()
            .with_image(DIGEST, &["latest"])
            .with_image(NEWER, &["quarantine-7f5b2640fe6f"]);
        let guard = guard_with(Policy::builtin(), Some(Mode::Enforce), tags);
        let report = guard
            .invoke(push("latest"))
            .await
            .expect("reported, not failed");
        assert_eq!(report["outcome"], "refused");
        assert!(report["reason"]
            .as_str()
            .is_some_and(|r| r.contains("immutable") && r.contains("left in place")));
        assert_eq!(guard.tags.tags_of(DIGEST), Some(vec!["latest".to_string()]));
        assert_eq!(outcomes(&guard), ["refused"]);
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
        let scan: Value = steward::testing::sample_event("image-scan-basic.json");
        for event in [untagged, delete, scan] {
            let response = guard.invoke(event).await.expect("handled");
            assert!(response["outcome"] == "skipped", "{response}");
        }
        assert!(guard.notifier.received().is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn malformed_and_missing_are_not_retryable() {
        let guard = guard(None, &[]);
        let error = guard
            .invoke(serde_json::json!({"detail": {}}))
            .await
            .expect_err("malformed");
        assert_eq!(error.error_type(), "NonRetryable.MalformedEvent");
        let mut missing = push("1.4.2");
        missing["detail"]["image-digest"] = format!("sha256:{}", "0".repeat(64)).into();
        let error = guard.invoke(missing).await.expect_err("not found");
        assert!(!error.is_retryable());
        assert_eq!(error.error_type(), "NonRetryable.NotFound");
    }

    mod metrics {
        use steward::harness::Invocation;
        use steward::metrics::{Dimension, Metric};

        use super::*;

        fn events(metrics: &steward::metrics::Measurements, outcome: &str) -> u64 {
            metrics.total(Metric::Events, &[(Dimension::Outcome, outcome)])
        }

        #[tokio::test(flavor = "current_thread")]
        async fn each_outcome_counts_its_event_violations_and_removed_tags() {
            let compliant = guard(Some(Mode::Enforce), &["1.4.2"])
                .answer(push("1.4.2"), Invocation::unlimited())
                .await;
            assert_eq!(events(&compliant.metrics, "compliant"), 1);
            assert_eq!(compliant.metrics.total(Metric::Violations, &[]), 0);

            let audited = guard(None, &["latest"])
                .answer(push("latest"), Invocation::unlimited())
                .await;
            assert_eq!(events(&audited.metrics, "audited"), 1);
            let denied = [(Dimension::Check, "tag.literals.deny")];
            assert_eq!(audited.metrics.total(Metric::Violations, &denied), 1);
            assert_eq!(audited.metrics.total(Metric::TagsRemoved, &[]), 0);

            let enforce = guard(Some(Mode::Enforce), &["latest", "1.4.2"]);
            let removed = enforce
                .answer(push("latest"), Invocation::unlimited())
                .await;
            assert_eq!(events(&removed.metrics, "tag-removed"), 1);
            assert_eq!(removed.metrics.total(Metric::TagsRemoved, &[]), 1);
            let again = enforce
                .answer(push("latest"), Invocation::unlimited())
                .await;
            assert_eq!(events(&again.metrics, "already-removed"), 1);
            assert_eq!(
                again.metrics.total(Metric::TagsRemoved, &[]),
                0,
                "removed once"
            );

            let quarantined = guard(Some(Mode::Enforce), &["latest"])
                .answer(push("latest"), Invocation::unlimited())
                .await;
            assert_eq!(events(&quarantined.metrics, "quarantined"), 1);
            assert_eq!(quarantined.metrics.total(Metric::TagsRemoved, &[]), 1);
        }

        #[tokio::test(flavor = "current_thread")]
        async fn skips_and_failures_are_counted_by_class() {
            let guard = guard(Some(Mode::Enforce), &["quarantine-7f5b2640fe6f"]);
            let skipped = guard
                .answer(push("quarantine-7f5b2640fe6f"), Invocation::unlimited())
                .await;
            assert_eq!(events(&skipped.metrics, "skipped"), 1);
            assert_eq!(skipped.metrics.total(Metric::Failures, &[]), 0);
            let malformed = guard
                .answer(
                    serde_json::json!({"detail-type": 7}),
                    Invocation::unlimited(),
                )
                .await;
            assert!(malformed.result.is_err());
            assert_eq!(events(&malformed.metrics, "error"), 1);
            let class = [(Dimension::ErrorClass, "NonRetryable.MalformedEvent")];
            assert_eq!(malformed.metrics.total(Metric::Failures, &class), 1);
        }
    }
}
