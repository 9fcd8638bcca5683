//! push-guard: on an `ECR Image Action` PUSH, judges the tag and the image's labels against
//! the policy; in audit mode it notifies, in enforce mode it also removes the offending tag.

#![warn(missing_docs)]

use std::time::Duration;

use steward::error::StewardError;
use steward::events::StewardEvent;
use steward::harness::{Handled, Handler, Invocation};
use steward::image::ImageRef;
use steward::metrics::Function;
use steward::policy::Mode;
use steward::policy_source::LivePolicy;
use steward::ports::{ImageReader, Notifier, ProvenanceReader, Rechecks, TagStore};
use steward::provenance::{self, ProvenanceState, Scheme};
use steward::push::{
    judge, plan_enforcement, recheck_delay, triage, EnforcementStep, GuardAction, GuardReport,
    PushedTag, Recheck, ReferrerPush, Triage, MAX_RECHECKS,
};
use steward::timestamp::Timestamp;
use tracing::info;

/// Time kept for a tag change (a few ECR calls, retried when throttled) and its notification.
pub const CHANGE_RESERVE: Duration = Duration::from_secs(10);

/// push-guard on its ports: `R` reads images, their labels and what they carry for their
/// provenance, `T` reads and changes tags in ECR, `N` publishes notifications, `Q` is the
/// re-check queue of pushes whose provenance is awaited.
pub struct PushGuard<R, T, N, Q = steward::aws::Sqs> {
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
    /// Where a push whose provenance is awaited is sent to be judged again; without one, it is
    /// judged again only when a signature or SBOM arrives.
    pub rechecks: Option<Q>,
}

impl<R: ImageReader + ProvenanceReader, T: TagStore, N: Notifier, Q: Rechecks> Handler
    for PushGuard<R, T, N, Q>
{
    const FUNCTION: Function = Function::PushGuard;
    type Report = GuardReport;

    /// A tag is changed only while [`CHANGE_RESERVE`] is left before the deadline; the change
    /// and its notification then run to their end (each call bounded by the SDK's timeouts).
    async fn handle(
        &self,
        event: StewardEvent,
        invocation: Invocation,
    ) -> Result<Handled<GuardReport>, StewardError> {
        let event = match event {
            StewardEvent::ImageAction(event) => event,
            StewardEvent::SqsBatch(batch) => return self.rechecked(&batch, &invocation).await,
            other => return Ok(Handled::other_event(&other)),
        };
        match triage(&event)? {
            Triage::Check(pushed) => {
                let pushed_at = steward::events::sent_at(&event);
                self.check(&pushed, pushed_at, None, Some(0), &invocation)
                    .await
            }
            Triage::Referrer(referrer) => self.referrer(referrer, &invocation).await,
            Triage::Skip(reason) => Ok(Handled::skipped(reason)),
        }
    }
}

impl<R: ImageReader + ProvenanceReader, T: TagStore, N: Notifier, Q: Rechecks>
    PushGuard<R, T, N, Q>
{
    /// Judges a tag of an image: the tag, its labels on every platform, and where the rule's
    /// `provenance` covers the tag, what the image carries. `referrer`: the signature or SBOM
    /// whose push asked for it. `recheck`: which re-check this is (0: the tag's push), for a
    /// judgement that may send the next one; `None` sends none (a referrer's push: the tag's
    /// own re-checks are under way).
    async fn check(
        &self,
        pushed: &PushedTag,
        pushed_at: Option<Timestamp>,
        referrer: Option<String>,
        recheck: Option<u32>,
        invocation: &Invocation,
    ) -> Result<Handled<GuardReport>, StewardError> {
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
        let section = rule
            .and_then(|rule| rule.provenance.as_ref())
            .filter(|section| section.applies_to(&pushed.tag));
        let provenance = match section {
            Some(section) => {
                let evidence = deadline
                    .run(self.images.provenance(
                        &image.region,
                        &image.repository,
                        &image.digest,
                        section.schemes.contains(&Scheme::EcrManaged),
                    ))
                    .await?;
                let mut verdict =
                    provenance::judge(&evidence, section, pushed_at, Timestamp::now());
                if recheck.is_some_and(|n| n >= MAX_RECHECKS) {
                    verdict.stop_waiting(&format!(
                        "still awaited after {MAX_RECHECKS} re-checks; no longer awaited"
                    ));
                }
                Some(verdict)
            }
            None => None,
        };
        let provenance_missing = provenance
            .as_ref()
            .is_some_and(|p| p.state == ProvenanceState::Missing);
        let verdict = judge(&policy, &image.repository, &pushed.tag, &platforms);
        let mode = policy.mode_in(&image.repository, self.mode_override);
        let action = match (verdict.compliant && !provenance_missing, mode) {
            (true, _) => GuardAction::Compliant,
            (false, Mode::Audit) => GuardAction::Audited,
            (false, Mode::Enforce) => {
                let last_tag = rule.map(|rule| rule.enforce.last_tag).unwrap_or_default();
                let current = deadline
                    .run(self.tags.tagged_image(&image.repository, &pushed.tag))
                    .await?;
                // Another tag keeps the image only when it complies and, with provenance
                // missing, is not one the provenance rule covers.
                let stays = |other: &str| {
                    judge(&policy, &image.repository, other, &platforms).compliant
                        && !(provenance_missing && section.is_some_and(|s| s.applies_to(other)))
                };
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
        let attempt = recheck.unwrap_or_default();
        let recheck_in_seconds = match (&provenance, &self.rechecks, recheck) {
            (Some(awaited), Some(queue), Some(attempt))
                if awaited.state == ProvenanceState::Pending =>
            {
                let delay = recheck_delay(awaited, Timestamp::now());
                let recheck = Recheck {
                    region: image.region.clone(),
                    account: image.account.clone(),
                    repository: image.repository.clone(),
                    digest: image.digest.clone(),
                    tag: pushed.tag.clone(),
                    pushed_at: pushed_at.map(|at| at.to_string()),
                    attempt: attempt + 1,
                };
                queue.later(&recheck, delay).await?;
                Some(delay)
            }
            _ => None,
        };
        let mut report = GuardReport::new(pushed, mode, platforms.len(), verdict, action)
            .with_provenance(provenance);
        report.referrer = referrer;
        report.recheck = attempt;
        report.recheck_in_seconds = recheck_in_seconds;
        if let Some(notification) = report.notification(image) {
            self.notifier.publish(&notification).await?;
        }
        info!(
            repository = %report.repository,
            tag = %report.tag,
            digest = %report.digest,
            outcome = report.action.outcome().map_or("compliant", |o| o.as_str()),
            violations = report.verdict.violations.len(),
            provenance = report.provenance.as_ref().map_or("-", |p| match p.state {
                ProvenanceState::Satisfied => "satisfied",
                ProvenanceState::Pending => "pending",
                ProvenanceState::Missing => "missing",
            }),
            "push checked"
        );
        Ok(Handled::Done(report))
    }

    /// Re-checks from the queue (a batch of one, as the template maps it): each push judged
    /// again, if its tag still names the image. A message that is not a re-check is refused
    /// (it goes to the queue's dead-letter queue).
    async fn rechecked(
        &self,
        batch: &steward::events::SqsEvent,
        invocation: &Invocation,
    ) -> Result<Handled<GuardReport>, StewardError> {
        let mut last = Handled::skipped("an empty batch");
        for message in &batch.records {
            let body = message.body.as_deref().unwrap_or_default();
            let recheck = Recheck::from_message(body)?;
            let current = invocation
                .deadline
                .run(self.tags.tagged_image(&recheck.repository, &recheck.tag))
                .await?;
            if current.is_none_or(|image| image.digest != recheck.digest) {
                last = Handled::skipped("re-check: the tag no longer names the image");
                continue;
            }
            let pushed_at = recheck
                .pushed_at
                .as_deref()
                .and_then(Timestamp::parse_rfc3339);
            last = self
                .check(
                    &recheck.pushed(),
                    pushed_at,
                    None,
                    Some(recheck.attempt),
                    invocation,
                )
                .await?;
        }
        Ok(last)
    }

    /// A signature, SBOM or attestation arrived: the image it is about is judged again, for
    /// each of its tags the rule's `provenance` covers (they were judged at their own push
    /// too; this judgement is the newer one).
    async fn referrer(
        &self,
        referrer: ReferrerPush,
        invocation: &Invocation,
    ) -> Result<Handled<GuardReport>, StewardError> {
        let artifact = &referrer.image;
        let policy = self.policy.current();
        let Some(section) = policy
            .rule_for(Some(&artifact.repository))
            .and_then(|rule| rule.provenance.clone())
        else {
            return Ok(Handled::skipped(
                "a referrer in a repository no provenance rule covers",
            ));
        };
        let subject = match referrer.subject {
            Some(subject) => Some(subject),
            None => {
                invocation
                    .deadline
                    .run(self.images.subject_of(
                        &artifact.region,
                        &artifact.repository,
                        &artifact.digest,
                    ))
                    .await?
            }
        };
        let Some(subject) = subject else {
            return Ok(Handled::skipped("an artifact that names no image"));
        };
        let Some((image, pushed_at)) = invocation
            .deadline
            .run(self.tags.image_by_digest(&artifact.repository, &subject))
            .await?
        else {
            return Ok(Handled::skipped("a referrer of an image that is gone"));
        };
        let covered: Vec<&String> = image
            .tags
            .iter()
            .filter(|tag| section.applies_to(tag) && !steward::push::is_quarantine_tag(tag))
            .collect();
        let mut last =
            Handled::skipped("a referrer of an image with no tag the provenance rule covers");
        for tag in covered {
            let pushed = PushedTag {
                image: ImageRef {
                    digest: subject.clone(),
                    ..artifact.clone()
                },
                tag: tag.clone(),
            };
            last = self
                .check(
                    &pushed,
                    pushed_at,
                    Some(artifact.digest.clone()),
                    None,
                    invocation,
                )
                .await?;
        }
        Ok(last)
    }
}

impl<R: ImageReader, T: TagStore, N: Notifier, Q> PushGuard<R, T, N, Q> {
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
            rechecks: None,
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

    /// Provenance through the ports' fakes: ECR managed signing's status (moto has no
    /// DescribeImageSigningStatus) and an attached SBOM.
    mod provenance {
        use steward::provenance::{
            Artifact, Evidence, ImageEvidence, ManagedSigning, SigningState,
        };
        use steward::testing::MemoryRechecks;

        use super::*;

        const PROFILE: &str = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/releases";

        fn policy(mode: &str, grace: &str) -> Policy {
            let text = format!(
                "version: 1\nmode: {mode}\nrules:\n  - tags: {{ semver: {{}} }}\n    provenance:\n      tags: [semver]\n      require: [signature, sbom]\n      signing_profiles: [\"{PROFILE}\"]\n      grace: {grace}\n"
            );
            Policy::from_text(&text, "test", SourceFormat::Yaml).expect("policy")
        }

        fn evidence(signing: Option<SigningState>, sbom: bool) -> ImageEvidence {
            ImageEvidence {
                image: Evidence {
                    digest: DIGEST.into(),
                    artifacts: if sbom {
                        vec![Artifact {
                            digest: NEWER.into(),
                            artifact_type: "application/spdx+json".into(),
                            ..Artifact::default()
                        }]
                    } else {
                        Vec::new()
                    },
                    managed: signing
                        .map(|state| ManagedSigning {
                            profile: format!("{PROFILE}/a1b2c3"),
                            state,
                            reason: None,
                        })
                        .into_iter()
                        .collect(),
                    platform: None,
                },
                platforms: Vec::new(),
            }
        }

        fn guard(
            policy: Policy,
            evidence: ImageEvidence,
        ) -> PushGuard<MemoryImages, MemoryTags, Inbox, MemoryRechecks> {
            PushGuard {
                policy: policy.into(),
                mode_override: None,
                images: MemoryImages::default()
                    .with("1.4.2", DIGEST, good_labels())
                    .with_evidence(evidence)
                    .with_referrer(NEWER, DIGEST),
                tags: MemoryTags::default().with_image(DIGEST, &["1.4.2"]),
                notifier: Inbox::default(),
                rechecks: Some(MemoryRechecks::default()),
            }
        }

        /// The push event, sent `age` seconds ago.
        fn push_sent(age: i64) -> Value {
            let mut event = push("1.4.2");
            event["time"] = Timestamp(Timestamp::now().0 - age).to_string().into();
            event
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_signed_release_with_its_sbom_is_compliant() {
            let guard = guard(
                policy("enforce", "0s"),
                evidence(Some(SigningState::Complete), true),
            );
            let response = guard.invoke(push_sent(5)).await.expect("handled");
            assert_eq!(response["outcome"], "compliant", "{response}");
            assert_eq!(response["provenance"]["state"], "satisfied", "{response}");
            assert!(guard.notifier.received().is_empty());
        }

        #[tokio::test(flavor = "current_thread")]
        async fn an_unsigned_release_is_a_violation_once_the_grace_period_is_over() {
            let audit = guard(policy("audit", "10m"), evidence(None, true));
            let within = audit.invoke(push_sent(60)).await.expect("handled");
            assert_eq!(within["outcome"], "compliant", "{within}");
            assert_eq!(within["provenance"]["state"], "pending", "{within}");
            assert!(
                audit.notifier.received().is_empty(),
                "awaited, not reported"
            );

            let late = audit.invoke(push_sent(601)).await.expect("handled");
            assert_eq!(late["outcome"], "audited", "{late}");
            let notified = audit.notifier.received();
            assert_eq!(notified.len(), 1);
            assert!(
                notified[0].description.contains("has no valid signature"),
                "{}",
                notified[0].description
            );

            // Enforce: the release's only tag goes, the image stays as its quarantine tag.
            let enforce = guard(policy("enforce", "0s"), evidence(None, true));
            let response = enforce.invoke(push_sent(5)).await.expect("handled");
            assert_eq!(response["outcome"], "quarantined", "{response}");
            assert!(enforce
                .tags
                .tagged_image("team-a/api", "1.4.2")
                .await
                .expect("read")
                .is_none());
        }

        fn sqs(body: &str) -> Value {
            serde_json::json!({"Records": [{
                "messageId": "m-1", "receiptHandle": "r", "body": body,
                "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:push-guard-rechecks",
                "awsRegion": "us-east-1"
            }]})
        }

        #[tokio::test(flavor = "current_thread")]
        async fn an_awaited_push_is_judged_again_when_the_grace_period_ends() {
            let guard = guard(policy("audit", "10m"), evidence(None, true));
            let response = guard.invoke(push_sent(60)).await.expect("handled");
            assert_eq!(response["provenance"]["state"], "pending", "{response}");
            let sent = guard.rechecks.as_ref().expect("a queue").sent();
            assert_eq!(sent.len(), 1, "{sent:?}");
            let (recheck, delay) = &sent[0];
            assert!(
                (535..=545).contains(delay),
                "the grace period's end: {delay}"
            );
            assert_eq!(response["recheck_in_seconds"], *delay, "{response}");
            assert_eq!((recheck.tag.as_str(), recheck.attempt), ("1.4.2", 1));

            // Delivered when the grace period is over (as if 601 s after the push).
            let mut late = recheck.clone();
            late.pushed_at = Some(Timestamp(Timestamp::now().0 - 601).to_string());
            let body = serde_json::to_string(&late).expect("json");
            let response = guard.invoke(sqs(&body)).await.expect("handled");
            assert_eq!(response["outcome"], "audited", "{response}");
            assert_eq!(response["recheck"], 1, "{response}");
            assert_eq!(guard.notifier.received().len(), 1);
            assert_eq!(
                guard.rechecks.as_ref().expect("a queue").sent().len(),
                1,
                "no more"
            );

            // The tag moved on meanwhile: nothing to judge.
            let mut moved = late.clone();
            moved.digest = NEWER.into();
            let body = serde_json::to_string(&moved).expect("json");
            let response = guard.invoke(sqs(&body)).await.expect("handled");
            assert_eq!(response["outcome"], "skipped", "{response}");

            // Not a re-check: refused, not retried.
            let error = guard
                .invoke(sqs("{\"hello\": 1}"))
                .await
                .expect_err("malformed");
            assert!(!error.is_retryable());
        }

        #[tokio::test(flavor = "current_thread")]
        async fn signing_that_never_ends_is_no_longer_awaited_after_the_last_recheck() {
            let guard = guard(
                policy("audit", "0s"),
                evidence(Some(SigningState::InProgress), true),
            );
            let response = guard.invoke(push_sent(5)).await.expect("handled");
            assert_eq!(response["provenance"]["state"], "pending", "{response}");
            assert_eq!(
                response["recheck_in_seconds"], 60,
                "a minute while ECR signs"
            );
            let (mut recheck, _) = guard.rechecks.as_ref().expect("a queue").sent()[0].clone();
            recheck.attempt = MAX_RECHECKS;
            let body = serde_json::to_string(&recheck).expect("json");
            let response = guard.invoke(sqs(&body)).await.expect("handled");
            assert_eq!(response["outcome"], "audited", "{response}");
            assert_eq!(response["provenance"]["state"], "missing", "{response}");
            assert_eq!(
                guard.rechecks.as_ref().expect("a queue").sent().len(),
                1,
                "no more"
            );
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_referrer_push_sends_no_recheck_of_its_own() {
            let guard = guard(policy("audit", "10m"), evidence(None, true));
            let mut sig = push("x");
            sig["detail"]["image-tag"] = format!("{}.sig", DIGEST.replacen(':', "-", 1)).into();
            sig["detail"]["image-digest"] = NEWER.into();
            let response = guard.invoke(sig).await.expect("handled");
            assert_eq!(response["referrer"], NEWER, "{response}");
            assert!(guard.rechecks.as_ref().expect("a queue").sent().is_empty());
        }

        #[tokio::test(flavor = "current_thread")]
        async fn managed_signing_in_progress_is_awaited_and_a_failed_one_is_not() {
            let in_progress = guard(
                policy("enforce", "0s"),
                evidence(Some(SigningState::InProgress), true),
            );
            let response = in_progress.invoke(push_sent(5)).await.expect("handled");
            assert_eq!(response["provenance"]["state"], "pending", "{response}");
            assert_eq!(response["outcome"], "compliant");
            let failed = guard(
                policy("audit", "0s"),
                evidence(Some(SigningState::Failed), true),
            );
            let response = failed.invoke(push_sent(5)).await.expect("handled");
            assert_eq!(response["outcome"], "audited", "{response}");
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_signature_arriving_later_judges_the_image_again() {
            // cosign's tag scheme: the tag names the image it signs.
            let guard = guard(
                policy("audit", "0s"),
                evidence(Some(SigningState::Complete), true),
            );
            let mut sig = push("x");
            sig["detail"]["image-tag"] = format!("{}.sig", DIGEST.replacen(':', "-", 1)).into();
            sig["detail"]["image-digest"] = NEWER.into();
            let response = guard.invoke(sig).await.expect("handled");
            assert_eq!(response["outcome"], "compliant", "{response}");
            assert_eq!(response["tag"], "1.4.2");
            assert_eq!(response["referrer"], NEWER);

            // An OCI referrer (Notation, an SBOM): untagged, its subject read from the registry.
            let mut referrer = push("x");
            let detail = referrer["detail"].as_object_mut().expect("object");
            detail.remove("image-tag");
            detail.insert("image-digest".into(), NEWER.into());
            detail.insert(
                "artifact-media-type".into(),
                "application/vnd.cncf.notary.signature".into(),
            );
            let response = guard.invoke(referrer).await.expect("handled");
            assert_eq!(response["provenance"]["state"], "satisfied", "{response}");
            assert!(guard.notifier.received().is_empty());
        }

        #[tokio::test(flavor = "current_thread")]
        async fn cosign_tags_are_never_judged_as_tags() {
            // Without a provenance rule, a `.sig` push is skipped, not reported as a bad tag.
            let guard = super::guard(Some(Mode::Enforce), &["1.4.2"]);
            let mut sig = push("x");
            sig["detail"]["image-tag"] = format!("{}.att", DIGEST.replacen(':', "-", 1)).into();
            let response = guard.invoke(sig).await.expect("handled");
            assert_eq!(response["outcome"], "skipped", "{response}");
            assert!(guard.notifier.received().is_empty());
        }
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
