//! replicator: copies pushed images whose tags match the policy's replication rules to other
//! regions and reports per region; turns ECR's own `ECR Replication Action` events into
//! notifications too.

#![warn(missing_docs)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use steward::copy_job::CopyJob;
use steward::deadline::Deadline;
use steward::error::{Service, StewardError};
use steward::events::{sent_at, SqsEvent, SqsMessage, SqsMessageExt, StewardEvent};
use steward::events::{ActionResult, ActionType, EventBridgeEvent, ImageAction};
use steward::harness::{Handled, Handler, Invocation};
use steward::image::ImageSelector;
use steward::metrics::Function;
use steward::notify::ImageRef;
use steward::policy::{Mode, Target};
use steward::policy_source::LivePolicy;
use steward::ports::{
    DeadLetters, EventPublisher, ImageReader, Notifier, ReplicaStore, Replicator,
};
use steward::push::{judge, triage, Triage};
use steward::replica_deletes::{
    delete_targets, plan_image_delete, plan_tag_delete, DeleteReport, ReplicaDelete,
    ReplicaDeletePlan,
};
use steward::replication::{
    is_source, native_replication_notification, replication_targets, BatchReport, JobFailure,
    JobReport, NativeReport, RegionOutcome, ReplicationReport, ReplicatorReport,
};
use steward::timestamp::Timestamp;
use tracing::{info, warn};

/// Time kept for publishing the report after the copies.
pub const PUBLISH_RESERVE: Duration = Duration::from_secs(2);

/// How many copy jobs of a batch run at once (each copies to its destinations in parallel).
pub const JOB_CONCURRENCY: usize = 4;

/// The replicator on its ports: `I` reads the source images, `R` copies to a target, `N` publishes
/// notifications, `D` takes the copy jobs that can never succeed, `E` announces replicas.
pub struct ReplicatorFunction<I, R, N, D, E> {
    /// The policy whose replication rules apply; read once an invocation.
    pub policy: LivePolicy,
    /// Overrides the policy's modes (the SAM parameter `Mode`): in enforce mode only tags the
    /// policy admits are copied, so a tag push-guard removes is never spread.
    pub mode_override: Option<Mode>,
    /// Notify when every destination had the image already (off by default).
    pub notify_already_replicated: bool,
    /// The source registry: what a tag names there just before copying, and labels.
    pub images: I,
    /// Copies an image to one target.
    pub replicator: R,
    /// Publishes the reports.
    pub notifier: N,
    /// The job queue's dead-letter queue; without one, a job that can never succeed returns
    /// to its queue until SQS moves it there.
    pub dead_letters: Option<D>,
    /// Where `Image Replicated` events go once every destination holds an image; none when
    /// `None`.
    pub events: Option<E>,
}

impl<
        I: ImageReader,
        R: Replicator + ReplicaStore,
        N: Notifier,
        D: DeadLetters,
        E: EventPublisher,
    > Handler for ReplicatorFunction<I, R, N, D, E>
{
    const FUNCTION: Function = Function::Replicator;
    type Report = ReplicatorReport;

    /// Copies stop [`PUBLISH_RESERVE`] before the deadline (a region cut off so is reported as
    /// failed), so that the report is always published.
    async fn handle(
        &self,
        event: StewardEvent,
        invocation: Invocation,
    ) -> Result<Handled<ReplicatorReport>, StewardError> {
        let event = match event {
            StewardEvent::ImageAction(event) => event,
            StewardEvent::ReplicationAction(event) => {
                let notification = native_replication_notification(&event);
                self.notifier.publish(&notification).await?;
                info!(repository = %event.detail.repository_name, outcome = %notification.outcome, "native replication reported");
                return Ok(Handled::Done(ReplicatorReport::Native(NativeReport {
                    outcome: notification.outcome,
                    native: true,
                    repository: event.detail.repository_name,
                    digest: event.detail.image_digest,
                    tag: event.detail.image_tag,
                    source_region: event.detail.source_region,
                })));
            }
            StewardEvent::SqsBatch(batch) => {
                let until = invocation.deadline.earlier_by(PUBLISH_RESERVE);
                return Ok(Handled::Done(ReplicatorReport::Batch(
                    self.run_jobs(batch, until).await,
                )));
            }
            other => return Ok(Handled::other_event(&other)),
        };
        if event.detail.action_type == ActionType::Delete {
            return self.replicate_delete(&event, &invocation).await;
        }
        let pushed =
            match triage(&event)? {
                Triage::Check(pushed) => pushed,
                Triage::Referrer(_) => return Ok(Handled::skipped(
                    "a signature, SBOM or attestation: it is copied with the image it refers to",
                )),
                Triage::Skip(reason) => return Ok(Handled::skipped(reason)),
            };
        let image = &pushed.image;
        let policy = self.policy.current();
        let targets = replication_targets(&policy, image, &pushed.tag);
        if targets.is_empty() {
            return Ok(Handled::skipped(
                "no replication rule matches the repository and tag",
            ));
        }
        if policy.mode_in(&image.repository, self.mode_override) == Mode::Enforce {
            let platforms = invocation
                .deadline
                .run(
                    self.images
                        .platform_labels(&image.region, &image.repository, &image.digest),
                )
                .await?;
            if !judge(&policy, &image.repository, &pushed.tag, &platforms).compliant {
                return Ok(Handled::skipped(
                    "the tag breaks the policy, and enforce mode removes it: it is not replicated",
                ));
            }
        }
        // The state acted on, read just before acting: a late or repeated event whose tag
        // names another image now copies nothing (the newer push has its own event).
        let at_source = invocation
            .deadline
            .run(
                self.images
                    .tag_digest(&image.region, &image.repository, &pushed.tag),
            )
            .await?;
        let outcomes = match at_source {
            None => return Ok(Handled::skipped("the tag no longer exists at the source")),
            Some(current) if current != image.digest => {
                targets.iter().map(RegionOutcome::moved_on).collect()
            }
            Some(_) => {
                let copies_until = invocation.deadline.earlier_by(PUBLISH_RESERVE);
                let copies: Vec<(Target, Vec<String>)> = targets
                    .into_iter()
                    .map(|t| (t, vec![pushed.tag.clone()]))
                    .collect();
                self.copy_to_every_target(image, &copies, copies_until)
                    .await
            }
        };
        let pushed_at = sent_at(&event);
        let report = ReplicationReport::new(image, std::slice::from_ref(&pushed.tag), outcomes)
            .with_lag(pushed_at, Timestamp::now());
        if report.should_notify(self.notify_already_replicated) {
            self.notifier.publish(&report.notification(image)).await?;
        }
        if let Err(error) = self.announce(&report, image).await {
            // The copies are in place; a retry finds them there and announces again.
            return Ok(Handled::Failed {
                report: ReplicatorReport::Copy(report),
                error,
            });
        }
        let failed = report.failed_regions();
        info!(repository = %report.repository, tag = %report.tag_list(), outcome = report.outcome.as_str(), failed = failed.len(), "replication handled");
        if report.worth_retrying() {
            // A retry copies only what is still missing.
            let error = StewardError::Unavailable {
                service: Service::Registry,
                message: format!("replication to {} failed", failed.join(", ")),
            };
            return Ok(Handled::Failed {
                report: ReplicatorReport::Copy(report),
                error,
            });
        }
        Ok(Handled::Done(ReplicatorReport::Copy(report)))
    }
}

impl<
        I: ImageReader,
        R: Replicator + ReplicaStore,
        N: Notifier,
        D: DeadLetters,
        E: EventPublisher,
    > ReplicatorFunction<I, R, N, D, E>
{
    /// A deletion at the source (`ECR Image Action`, `DELETE`), followed to the destinations
    /// of the rules that say `replicate_deletes` (see `steward::replica_deletes`). Each
    /// destination is read first, then the source, just before anything is removed.
    async fn replicate_delete(
        &self,
        event: &EventBridgeEvent<ImageAction>,
        invocation: &Invocation,
    ) -> Result<Handled<ReplicatorReport>, StewardError> {
        let detail = &event.detail;
        if detail.result != ActionResult::Success {
            return Ok(Handled::skipped("the deletion failed"));
        }
        let digest: String = detail
            .image_digest
            .as_deref()
            .and_then(|d| steward::image::Digest::parse(d).ok())
            .ok_or_else(|| {
                StewardError::MalformedEvent("a DELETE event without a valid image-digest".into())
            })?
            .into();
        let region = event
            .region
            .clone()
            .ok_or_else(|| StewardError::MalformedEvent("the event has no region".into()))?;
        let tag = detail.image_tag.clone().filter(|t| !t.is_empty());
        if tag.as_deref() == Some(steward::push::quarantine_tag(&digest).as_str()) {
            return Ok(Handled::skipped("ecr-steward's own quarantine tag"));
        }
        let image = ImageRef {
            account: event.account.clone(),
            region,
            repository: detail.repository_name.clone(),
            digest,
        };
        let policy = self.policy.current();
        let targets = delete_targets(&policy, &image, tag.as_deref());
        if targets.is_empty() {
            return Ok(Handled::skipped(
                "no replication rule replicates deletions of this repository and tag",
            ));
        }
        let until = invocation.deadline.earlier_by(PUBLISH_RESERVE);
        let deletes = match &tag {
            Some(tag) => self.delete_tag(&image, tag, &targets, until).await,
            None => self.delete_image(&image, &policy, &targets, until).await,
        };
        let report = DeleteReport::new(&image, tag.as_deref(), deletes);
        if report.should_notify(self.notify_already_replicated) {
            self.notifier.publish(&report.notification(&image)).await?;
        }
        let failed = report.failed_regions();
        info!(repository = %report.repository, tag = tag.as_deref().unwrap_or(""), outcome = report.outcome.as_str(), failed = failed.len(), "deletion replicated");
        if report.worth_retrying() {
            // A retry finds what is gone already and removes the rest.
            let error = StewardError::Unavailable {
                service: Service::Ecr,
                message: format!("delete replication to {} failed", failed.join(", ")),
            };
            return Ok(Handled::Failed {
                report: ReplicatorReport::Delete(report),
                error,
            });
        }
        Ok(Handled::Done(ReplicatorReport::Delete(report)))
    }

    /// `tag`, removed at the source from `image`: at each destination, read what the tag
    /// names there; then the source, once: a tag that is there again is left everywhere.
    async fn delete_tag(
        &self,
        image: &ImageRef,
        tag: &str,
        targets: &[(Target, steward::policy::ReplicateDeletes)],
        until: Deadline,
    ) -> Vec<ReplicaDelete> {
        let selector = ImageSelector::Tag(tag.to_string());
        let there = futures_util::future::join_all(targets.iter().map(|(target, _)| {
            until.run(self.replicator.image_in(
                &target.region,
                target.account.as_deref(),
                &target.repository,
                &selector,
            ))
        }))
        .await;
        let at_source = until
            .run(
                self.replicator
                    .image_in(&image.region, None, &image.repository, &selector),
            )
            .await;
        match at_source {
            Err(error) => {
                return targets
                    .iter()
                    .map(|(target, _)| ReplicaDelete::failed(target, Vec::new(), &error))
                    .collect()
            }
            Ok(Some(current)) => {
                return targets
                    .iter()
                    .map(|(target, _)| {
                        ReplicaDelete::re_pushed(
                            target,
                            format!("the tag names {} at the source again", current.digest),
                        )
                    })
                    .collect()
            }
            Ok(None) => {}
        }
        futures_util::future::join_all(targets.iter().zip(there).map(
            |((target, mode), there)| async move {
                match there {
                    Err(error) => ReplicaDelete::failed(target, Vec::new(), &error),
                    Ok(there) => {
                        let plan = plan_tag_delete(*mode, tag, &image.digest, there.as_ref());
                        self.carry_out(target, plan, &image.digest, until).await
                    }
                }
            },
        ))
        .await
    }

    /// The image deleted at the source by digest: at each destination, the image with that
    /// digest and its tags; then the source: the digest (there again: left everywhere) and
    /// each of those tags; then each destination's plan.
    async fn delete_image(
        &self,
        image: &ImageRef,
        policy: &steward::policy::Policy,
        targets: &[(Target, steward::policy::ReplicateDeletes)],
        until: Deadline,
    ) -> Vec<ReplicaDelete> {
        let selector = ImageSelector::Digest(image.digest.clone());
        let there = futures_util::future::join_all(targets.iter().map(|(target, _)| {
            until.run(self.replicator.image_in(
                &target.region,
                target.account.as_deref(),
                &target.repository,
                &selector,
            ))
        }))
        .await;
        let mut tags: Vec<String> = there
            .iter()
            .flat_map(|there| there.iter().flatten().flat_map(|i| i.tags.clone()))
            .collect();
        tags.sort();
        tags.dedup();
        let source_image =
            until.run(
                self.replicator
                    .image_in(&image.region, None, &image.repository, &selector),
            );
        let tag_selectors: Vec<ImageSelector> =
            tags.iter().map(|t| ImageSelector::Tag(t.clone())).collect();
        let source_tags = futures_util::future::join_all(tag_selectors.iter().map(|selector| {
            until.run(
                self.replicator
                    .image_in(&image.region, None, &image.repository, selector),
            )
        }));
        let (source_image, source_tags) =
            futures_util::future::join(source_image, source_tags).await;
        let mut at_source = std::collections::BTreeMap::new();
        let mut source_error = source_image.as_ref().err();
        for (tag, named) in tags.into_iter().zip(&source_tags) {
            match named {
                Ok(named) => {
                    at_source.insert(tag, named.as_ref().map(|i| i.digest.clone()));
                }
                Err(error) => source_error = source_error.or(Some(error)),
            }
        }
        if let Some(error) = source_error {
            return targets
                .iter()
                .map(|(target, _)| ReplicaDelete::failed(target, Vec::new(), error))
                .collect();
        }
        if let Ok(Some(_)) = source_image {
            return targets
                .iter()
                .map(|(target, _)| {
                    ReplicaDelete::re_pushed(target, "the image is at the source again".into())
                })
                .collect();
        }
        let at_source = &at_source;
        futures_util::future::join_all(targets.iter().zip(there).map(
            |((target, _), there)| async move {
                match there {
                    Err(error) => ReplicaDelete::failed(target, Vec::new(), &error),
                    Ok(there) => {
                        let plan = plan_image_delete(
                            policy,
                            &image.repository,
                            target,
                            there.as_ref(),
                            at_source,
                        );
                        self.carry_out(target, plan, &image.digest, until).await
                    }
                }
            },
        ))
        .await
    }

    /// Removes the plan's tags one by one (each must still name `digest`), then the untagged
    /// image; stops at the first failure, saying what was removed before it.
    async fn carry_out(
        &self,
        target: &Target,
        mut plan: ReplicaDeletePlan,
        digest: &str,
        until: Deadline,
    ) -> ReplicaDelete {
        if plan.is_nothing() {
            return ReplicaDelete::done(target, plan, Vec::new());
        }
        let mut removed = Vec::new();
        for tag in &plan.remove {
            let result = until
                .run(self.replicator.remove_tag_in(
                    &target.region,
                    target.account.as_deref(),
                    &target.repository,
                    tag,
                ))
                .await;
            match result {
                Ok(Some(from)) if from == digest => removed.push(tag.clone()),
                // Removed meanwhile (a concurrent delivery).
                Ok(None) => {}
                Ok(Some(other)) => {
                    // Moved there between the look and the removal: ECR has no conditional
                    // delete. Said loudly; the tag's newer push can be copied again.
                    let error = StewardError::Conflict {
                        service: Service::Ecr,
                        message: format!(
                            "tag {tag} named {other} there when it was removed (moved there meanwhile); copy it again with ecr-steward replicate"
                        ),
                    };
                    return ReplicaDelete::failed(target, removed, &error);
                }
                Err(error) => return ReplicaDelete::failed(target, removed, &error),
            }
        }
        let mut deleted = false;
        if plan.delete_untagged {
            match until
                .run(self.replicator.delete_image_in(
                    &target.region,
                    target.account.as_deref(),
                    &target.repository,
                    digest,
                ))
                .await
            {
                Ok(gone) => deleted = gone,
                Err(error) => return ReplicaDelete::failed(target, removed, &error),
            }
        }
        if removed.is_empty() && !deleted {
            plan.status = steward::replica_deletes::ReplicaDeleteStatus::AlreadyGone;
            plan.detail = None;
        }
        ReplicaDelete::done(target, plan, removed)
    }

    /// Every destination is tried with its tags; one failing does not stop the others. A
    /// destination with no tags left (they moved on at the source) copies nothing.
    async fn copy_to_every_target(
        &self,
        image: &ImageRef,
        copies: &[(Target, Vec<String>)],
        until: Deadline,
    ) -> Vec<RegionOutcome> {
        futures_util::future::join_all(copies.iter().map(|(target, tags)| async move {
            if tags.is_empty() {
                return RegionOutcome::moved_on(target);
            }
            let started = Instant::now();
            let result = until
                .run(self.replicator.replicate(image, tags, target))
                .await;
            let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            RegionOutcome::of(target, result.as_ref().map(Clone::clone), elapsed)
        }))
        .await
    }

    /// Puts the `Image Replicated` event when every destination holds the image.
    async fn announce(
        &self,
        report: &ReplicationReport,
        image: &ImageRef,
    ) -> Result<(), StewardError> {
        let (Some(events), Some(event)) = (
            &self.events,
            report.replicated_event(image, Timestamp::now()),
        ) else {
            return Ok(());
        };
        events.image_replicated(&event).await
    }

    /// The batch's jobs, [`JOB_CONCURRENCY`] at a time; each stands alone.
    async fn run_jobs(&self, batch: SqsEvent, until: Deadline) -> BatchReport {
        let jobs = futures_util::stream::iter(batch.records)
            .map(|message| self.run_job(message, until))
            .buffered(JOB_CONCURRENCY)
            .collect()
            .await;
        BatchReport { jobs }
    }

    /// One job: the tags still naming the image at the source, read just before the copies
    /// (a tag that moved on since the plan is not copied: that would move the replica's tag
    /// backwards), the copies, one notification for the image.
    async fn run_job(&self, message: SqsMessage, until: Deadline) -> JobReport {
        // Lambda always sends both. Should a message come without an ID and its job fail, the
        // answer names it with an empty ID, which Lambda reads as the whole batch failing: the
        // batch's other jobs run again (idempotent), and nothing is lost.
        let message_id = message.message_id.clone().unwrap_or_default();
        let body = message.body.as_deref().unwrap_or_default();
        let (report, result) = match CopyJob::from_message(body) {
            Err(error) => (None, Err(StewardError::MalformedEvent(error.to_string()))),
            Ok(job) => self.copy_job(&job, message.account(), until).await,
        };
        let failure = result.err().map(|error| (JobFailure::of(&error), error));
        let outcome = report
            .as_ref()
            .map(|r| r.outcome.as_str())
            .unwrap_or("none");
        // A job no retry can mend goes to the dead-letter queue now, with why; if that fails,
        // it returns to its queue like any failed job.
        let mut dead_lettered = false;
        if let (Some((failure, error)), Some(dead_letters)) = (&failure, &self.dead_letters) {
            // SQS refuses an empty body: such a message goes by the queue's redrive.
            if !error.is_retryable() && !body.is_empty() {
                let reason = format!("{}: {}", failure.error_type, failure.message);
                match dead_letters.bury(body, &reason).await {
                    Ok(()) => dead_lettered = true,
                    Err(bury) => {
                        warn!(message_id = %message_id, error = %bury, "the job could not be sent to the dead-letter queue")
                    }
                }
            }
        }
        match &failure {
            None => info!(message_id = %message_id, outcome, "copy job done"),
            Some((failure, _)) if dead_lettered => warn!(
                message_id = %message_id,
                outcome,
                error_type = failure.error_type,
                error = %failure.message,
                "copy job cannot succeed; sent to the dead-letter queue"
            ),
            Some((failure, _)) => warn!(
                message_id = %message_id,
                outcome,
                receive_count = message.receive_count(),
                error_type = failure.error_type,
                error = %failure.message,
                "copy job failed; it returns to the queue"
            ),
        }
        JobReport {
            message_id,
            report,
            failure: failure.map(|(failure, _)| failure),
            dead_lettered,
        }
    }

    async fn copy_job(
        &self,
        job: &CopyJob,
        account: Option<&str>,
        until: Deadline,
    ) -> (Option<ReplicationReport>, Result<(), StewardError>) {
        let mut image = job.image();
        image.account = account.map(str::to_string);
        let tags = job.tags();
        let now_named = futures_util::future::join_all(tags.iter().map(|tag| {
            until.run(
                self.images
                    .tag_digest(&image.region, &image.repository, tag),
            )
        }))
        .await;
        let mut current = Vec::new();
        for (tag, named) in tags.iter().zip(now_named) {
            match named {
                Ok(Some(digest)) if digest == image.digest => current.push(tag.clone()),
                Ok(_) => {}
                Err(error) => return (None, Err(error)),
            }
        }
        let copies: Vec<(Target, Vec<String>)> = job
            .destinations
            .iter()
            .map(|destination| {
                let tags = destination
                    .tags
                    .iter()
                    .filter(|tag| current.contains(tag))
                    .cloned()
                    .collect();
                (destination.target(), tags)
            })
            .filter(|(target, _)| !is_source(target, &image))
            .collect();
        let outcomes = self.copy_to_every_target(&image, &copies, until).await;
        let report = ReplicationReport::new(&image, &tags, outcomes);
        if report.should_notify(self.notify_already_replicated) {
            if let Err(error) = self.notifier.publish(&report.notification(&image)).await {
                return (Some(report), Err(error));
            }
        }
        if let Err(error) = self.announce(&report, &image).await {
            return (Some(report), Err(error));
        }
        let failed = report.failed_regions();
        let result = if failed.is_empty() {
            Ok(())
        } else if report.worth_retrying() {
            Err(StewardError::Unavailable {
                service: Service::Registry,
                message: format!("replication to {} failed", failed.join(", ")),
            })
        } else {
            let errors: Vec<String> = report
                .outcomes
                .iter()
                .filter_map(|o| Some(format!("{}: {}", o.region, o.run.error.as_deref()?)))
                .collect();
            Err(StewardError::Rejected {
                service: Service::Registry,
                code: None,
                message: format!("no retry can mend the copy: {}", errors.join("; ")),
            })
        };
        (Some(report), result)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use steward::labels::Labels;
    use steward::notify::ImageRef;
    use steward::policy::{Policy, SourceFormat, Target};
    use steward::replication::CopyStats;
    use steward::testing::{EventLog, Graveyard, Inbox, MemoryImages, MemoryReplicas};

    use super::*;
    use steward::harness::{Invocation, Invoke};

    const DIGEST: &str = "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234abcd";
    const NEWER: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    /// Fails the regions it is told to; records every copy. `already` regions have the image.
    #[derive(Default)]
    struct Copies {
        failing: Vec<&'static str>,
        failing_repositories: Vec<&'static str>,
        already: Vec<&'static str>,
        made: Mutex<Vec<(String, String)>>,
        /// Regions that refuse for good (access denied).
        denied: Vec<&'static str>,
        /// ECR's API everywhere, for delete replication.
        replicas: MemoryReplicas,
    }

    impl ReplicaStore for Copies {
        async fn image_in(
            &self,
            region: &str,
            account: Option<&str>,
            repository: &str,
            selector: &ImageSelector,
        ) -> Result<Option<steward::image::TaggedImage>, StewardError> {
            self.replicas
                .image_in(region, account, repository, selector)
                .await
        }

        async fn remove_tag_in(
            &self,
            region: &str,
            account: Option<&str>,
            repository: &str,
            tag: &str,
        ) -> Result<Option<String>, StewardError> {
            if self.failing.contains(&region) {
                return Err(StewardError::Unavailable {
                    service: Service::Ecr,
                    message: "connection refused".into(),
                });
            }
            self.replicas
                .remove_tag_in(region, account, repository, tag)
                .await
        }

        async fn delete_image_in(
            &self,
            region: &str,
            account: Option<&str>,
            repository: &str,
            digest: &str,
        ) -> Result<bool, StewardError> {
            self.replicas
                .delete_image_in(region, account, repository, digest)
                .await
        }
    }

    impl Replicator for Copies {
        async fn replicate(
            &self,
            image: &ImageRef,
            tags: &[String],
            target: &Target,
        ) -> Result<CopyStats, StewardError> {
            if self.failing.contains(&target.region.as_str())
                || self
                    .failing_repositories
                    .contains(&image.repository.as_str())
            {
                return Err(StewardError::Unavailable {
                    service: Service::Registry,
                    message: "connection refused".into(),
                });
            }
            if self.denied.contains(&target.region.as_str()) {
                return Err(StewardError::Rejected {
                    service: Service::Ecr,
                    code: None,
                    message: "AccessDeniedException: not authorized to perform ecr:PutImage".into(),
                });
            }
            if self.already.contains(&target.region.as_str()) {
                return Ok(CopyStats {
                    blobs_skipped: 2,
                    manifests_skipped: 1,
                    ..CopyStats::default()
                });
            }
            if let Ok(mut made) = self.made.lock() {
                made.push((target.region.clone(), tags.join(",")));
            }
            Ok(CopyStats {
                bytes_copied: 10,
                blobs_copied: 1,
                manifests_copied: 1,
                tags_set: 1,
                ..CopyStats::default()
            })
        }
    }

    const POLICY: &str = "version: 1\nrules:\n  - tags: { semver: {} }\nreplication:\n  - repositories: [\"team-a/*\"]\n    tags: { semver: { prerelease: false } }\n    destinations: [{ region: eu-west-1 }, { region: ap-south-1 }]\n";

    fn function_with(
        policy: &str,
        copies: Copies,
        mode_override: Option<Mode>,
    ) -> ReplicatorFunction<MemoryImages, Copies, Inbox, Graveyard, EventLog> {
        ReplicatorFunction {
            policy: Policy::from_text(policy, "test", SourceFormat::Yaml)
                .expect("policy")
                .into(),
            mode_override,
            notify_already_replicated: false,
            images: MemoryImages::default().with("1.4.2", DIGEST, Labels::new()),
            replicator: copies,
            notifier: Inbox::default(),
            dead_letters: Some(Graveyard::default()),
            events: Some(EventLog::default()),
        }
    }

    fn function(
        failing: Vec<&'static str>,
    ) -> ReplicatorFunction<MemoryImages, Copies, Inbox, Graveyard, EventLog> {
        let copies = Copies {
            failing,
            ..Copies::default()
        };
        function_with(POLICY, copies, None)
    }

    use steward::testing::sample_event as sample;

    #[tokio::test(flavor = "current_thread")]
    async fn copies_matching_tags_to_every_destination_and_notifies_once() {
        let function = function(vec![]);
        let report = function
            .invoke(sample("image-push-semver.json"))
            .await
            .expect("replicated");
        assert_eq!(report["outcomes"].as_array().map(Vec::len), Some(2));
        assert_eq!(report["outcome"], "replicated");
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
            .invoke(sample("image-push-semver.json"))
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
    async fn an_image_in_every_destination_is_announced_once_per_delivery_with_its_lag() {
        let function = function(vec![]);
        let report = function
            .invoke(sample("image-push-semver.json"))
            .await
            .expect("replicated");
        let events = function.events.as_ref().expect("a bus").events();
        assert_eq!(events.len(), 1);
        let event = &events[0];
        assert_eq!(event.image_digest, DIGEST);
        assert_eq!(event.image_tags, ["1.4.2"]);
        let regions: Vec<&str> = event
            .destinations
            .iter()
            .map(|d| d.region.as_str())
            .collect();
        assert_eq!(regions, ["eu-west-1", "ap-south-1"]);
        // The sample was pushed long ago: the lag is its age, in the report and the event.
        let lag = report["lag_seconds"].as_u64().expect("a lag");
        assert!(lag > 86_400, "{report}");
        assert_eq!(event.lag_seconds, Some(lag));

        // A destination that failed: not everywhere, no event.
        let failing = self::function(vec!["ap-south-1"]);
        let _ = failing.invoke(sample("image-push-semver.json")).await;
        assert!(failing.events.as_ref().expect("a bus").events().is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_region_that_cannot_succeed_is_notified_once_and_not_retried() {
        let copies = Copies {
            denied: vec!["ap-south-1"],
            ..Copies::default()
        };
        let function = function_with(POLICY, copies, None);
        let report = function
            .invoke(sample("image-push-semver.json"))
            .await
            .expect("a failure no retry can mend ends the invocation without an error");
        assert_eq!(report["outcome"], "replication-failed");
        assert_eq!(report["outcomes"][1]["region"], "ap-south-1");
        assert_eq!(report["outcomes"][1]["retryable"], false);
        assert_eq!(report["outcomes"][0]["ok"], true);
        let inbox = function.notifier.received();
        assert_eq!(inbox.len(), 1);
        assert!(
            inbox[0]
                .next_steps
                .iter()
                .any(|s| s.starts_with("Not retried")),
            "{:?}",
            inbox[0].next_steps
        );

        // With a region that may succeed later too, the invocation fails retryably.
        let copies = Copies {
            denied: vec!["ap-south-1"],
            failing: vec!["eu-west-1"],
            ..Copies::default()
        };
        let function = function_with(POLICY, copies, None);
        let error = function
            .invoke(sample("image-push-semver.json"))
            .await
            .expect_err("eu-west-1 is worth a retry");
        assert!(error.is_retryable());
    }

    const WORKER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    const WORKER_MESSAGE: &str = "2e1424d4-f796-459a-8184-9c92662be6da";

    fn batch_function(
        failing_repositories: Vec<&'static str>,
    ) -> ReplicatorFunction<MemoryImages, Copies, Inbox, Graveyard, EventLog> {
        let copies = Copies {
            failing_repositories,
            ..Copies::default()
        };
        let function = function_with(POLICY, copies, None);
        function.images.retag("latest", NEWER);
        function.images.retag("2.0.0", WORKER);
        function
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_batch_of_jobs_answers_with_the_failed_ones_only_and_notifies_per_image() {
        let mut function = batch_function(vec!["team-a/worker"]);
        let response = function
            .invoke(sample("copy-jobs-sqs.json"))
            .await
            .expect("a partial batch response, not an error");
        assert_eq!(
            response,
            serde_json::json!({ "batchItemFailures": [{ "itemIdentifier": WORKER_MESSAGE }] })
        );
        assert_eq!(
            function.replicator.made.lock().expect("lock").clone(),
            [("eu-west-1".to_string(), "1.4.2".to_string())],
            "`latest` names another image at the source now: it is not copied"
        );
        let outcomes: Vec<String> = function
            .notifier
            .received()
            .iter()
            .map(|n| format!("{} {}", n.outcome, n.image.repository))
            .collect();
        assert_eq!(outcomes.len(), 2, "{outcomes:?}");
        assert!(
            outcomes.contains(&"replicated team-a/api".to_string()),
            "{outcomes:?}"
        );
        assert!(
            outcomes.contains(&"replication-failed team-a/worker".to_string()),
            "{outcomes:?}"
        );

        function.replicator.failing_repositories.clear();
        let retried = steward::testing::patched_sample("copy-jobs-sqs.json", |event| {
            if let Some(records) = event["Records"].as_array_mut() {
                records.retain(|r| r["messageId"] == WORKER_MESSAGE);
            }
        });
        let response = function.invoke(retried).await.expect("handled");
        assert_eq!(response, serde_json::json!({ "batchItemFailures": [] }));
        assert_eq!(function.replicator.made.lock().expect("lock").len(), 2);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_message_that_is_not_a_job_fails_alone_and_is_counted_by_class() {
        use steward::metrics::{Dimension, Metric};
        let mut function = batch_function(vec![]);
        let body = "{\"kind\":\"ecr-steward/copy-job\",\"version\":9}";
        let event = steward::testing::patched_sample("copy-jobs-sqs.json", |event| {
            event["Records"][1]["body"] = body.into();
        });
        let answered = function
            .answer(event.clone(), Invocation::unlimited())
            .await;
        assert_eq!(
            answered.result.expect("handled"),
            serde_json::json!({ "batchItemFailures": [] }),
            "no retry can make it a job: it went to the dead-letter queue at once"
        );
        let buried = function.dead_letters.as_ref().expect("a queue").buried();
        assert_eq!(buried.len(), 1);
        assert_eq!(buried[0].0, body, "the message as received");
        assert!(
            buried[0].1.starts_with("NonRetryable.MalformedEvent: "),
            "{}",
            buried[0].1
        );
        // Without a dead-letter queue it returns to its queue, as before.
        function.dead_letters = None;
        let answered = function.answer(event, Invocation::unlimited()).await;
        assert_eq!(
            answered.result.expect("handled"),
            serde_json::json!({ "batchItemFailures": [{ "itemIdentifier": WORKER_MESSAGE }] })
        );
        let failures = answered.metrics.total(
            Metric::Failures,
            &[(Dimension::ErrorClass, "NonRetryable.MalformedEvent")],
        );
        assert_eq!(failures, 1);
        assert_eq!(answered.metrics.total(Metric::Copies, &[]), 1);
        assert_eq!(
            function.notifier.received().len(),
            2,
            "the other job, once a run"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_job_that_cannot_succeed_goes_to_the_dead_letter_queue_with_why() {
        let copies = Copies {
            denied: vec!["eu-west-1"],
            ..Copies::default()
        };
        let function = function_with(POLICY, copies, None);
        function.images.retag("latest", NEWER);
        function.images.retag("2.0.0", WORKER);
        let response = function
            .invoke(sample("copy-jobs-sqs.json"))
            .await
            .expect("handled");
        assert_eq!(response, serde_json::json!({ "batchItemFailures": [] }));
        let buried = function.dead_letters.as_ref().expect("a queue").buried();
        assert_eq!(buried.len(), 2, "both jobs copy to eu-west-1: {buried:?}");
        assert!(
            buried
                .iter()
                .all(|(_, why)| why.contains("no retry can mend") && why.contains("AccessDenied")),
            "{buried:?}"
        );
        assert_eq!(
            function.notifier.received().len(),
            2,
            "one notification per job"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_late_event_whose_tag_moved_on_copies_nothing_and_stays_quiet() {
        let function = function(vec![]);
        function.images.retag("1.4.2", NEWER);
        let report = function
            .invoke(sample("image-push-semver.json"))
            .await
            .expect("handled");
        assert_eq!(report["outcome"], "tag-moved-on", "{report}");
        assert_eq!(report["outcomes"][0]["status"], "tag-moved-on");
        assert!(function.replicator.made.lock().expect("lock").is_empty());
        assert!(function.notifier.received().is_empty());

        function.images.untag("1.4.2");
        let report = function
            .invoke(sample("image-push-semver.json"))
            .await
            .expect("handled");
        assert!(report["outcome"] == "skipped", "{report}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_image_already_everywhere_is_reported_but_notified_only_when_asked() {
        let copies = Copies {
            already: vec!["eu-west-1", "ap-south-1"],
            ..Copies::default()
        };
        let mut function = function_with(POLICY, copies, None);
        let report = function
            .invoke(sample("image-push-semver.json"))
            .await
            .expect("handled");
        assert_eq!(report["outcome"], "already-replicated");
        assert!(function.notifier.received().is_empty());
        function.notify_already_replicated = true;
        function
            .invoke(sample("image-push-semver.json"))
            .await
            .expect("handled");
        assert_eq!(
            function.notifier.received()[0].outcome,
            "already-replicated"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_source_region_is_never_a_destination() {
        let policy = "version: 1\nrules:\n  - tags: { semver: {} }\nreplication:\n  - repositories: [\"team-a/*\"]\n    destinations: [{ region: us-east-1 }]\n";
        let function = function_with(policy, Copies::default(), None);
        let report = function
            .invoke(sample("image-push-semver.json"))
            .await
            .expect("handled");
        assert!(report["outcome"] == "skipped", "{report}");
        assert!(function.replicator.made.lock().expect("lock").is_empty());
        assert!(function.notifier.received().is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn enforce_mode_does_not_spread_a_tag_that_push_guard_removes() {
        // The built-in rules want labels that this image lacks.
        let policy = format!(
            "{}\nreplication:\n  - repositories: [\"team-a/*\"]\n    destinations: [{{ region: eu-west-1 }}]\n",
            steward::policy::DEFAULT_POLICY_YAML
        );
        let audit = function_with(&policy, Copies::default(), None);
        let report = audit
            .invoke(sample("image-push-semver.json"))
            .await
            .expect("handled");
        assert_eq!(report["outcome"], "replicated", "audit copies: {report}");
        let enforce = function_with(&policy, Copies::default(), Some(Mode::Enforce));
        let report = enforce
            .invoke(sample("image-push-semver.json"))
            .await
            .expect("handled");
        assert!(report["outcome"] == "skipped", "{report}");
        assert!(enforce.replicator.made.lock().expect("lock").is_empty());
    }

    /// Takes a minute per copy.
    struct Stuck;

    impl ReplicaStore for Stuck {
        async fn image_in(
            &self,
            _: &str,
            _: Option<&str>,
            _: &str,
            _: &ImageSelector,
        ) -> Result<Option<steward::image::TaggedImage>, StewardError> {
            Ok(None)
        }

        async fn remove_tag_in(
            &self,
            _: &str,
            _: Option<&str>,
            _: &str,
            _: &str,
        ) -> Result<Option<String>, StewardError> {
            Ok(None)
        }

        async fn delete_image_in(
            &self,
            _: &str,
            _: Option<&str>,
            _: &str,
            _: &str,
        ) -> Result<bool, StewardError> {
            Ok(false)
        }
    }

    impl Replicator for Stuck {
        async fn replicate(
            &self,
            _: &ImageRef,
            _: &[String],
            _: &Target,
        ) -> Result<CopyStats, StewardError> {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(CopyStats::default())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn copies_that_run_out_of_time_are_reported_in_time_and_retried() {
        let function = ReplicatorFunction {
            policy: Policy::from_text(POLICY, "test", SourceFormat::Yaml)
                .expect("policy")
                .into(),
            mode_override: None,
            notify_already_replicated: false,
            images: MemoryImages::default().with("1.4.2", DIGEST, Labels::new()),
            replicator: Stuck,
            notifier: Inbox::default(),
            dead_letters: None::<Graveyard>,
            events: None::<EventLog>,
        };
        let deadline = Deadline::after(PUBLISH_RESERVE + Duration::from_millis(300));
        let started = Instant::now();
        let error = function
            .invoke_with(
                sample("image-push-semver.json"),
                Invocation::until(deadline),
            )
            .await
            .expect_err("out of time");
        assert!(
            started.elapsed() < PUBLISH_RESERVE,
            "{:?}",
            started.elapsed()
        );
        assert!(error.is_retryable(), "{error}");
        let inbox = function.notifier.received();
        assert_eq!(
            inbox.len(),
            1,
            "the report was published before the deadline"
        );
        assert_eq!(inbox[0].outcome, "replication-failed");
        assert!(
            inbox[0].description.contains("out of time"),
            "{}",
            inbox[0].description
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn pre_releases_and_other_events_are_skipped_and_native_events_reported() {
        let function = function(vec![]);
        let mut pre = sample("image-push-semver.json");
        pre["detail"]["image-tag"] = "1.4.2-rc.1".into();
        assert!(function.invoke(pre).await.expect("handled")["outcome"] == "skipped");
        assert!(
            function
                .invoke(sample("image-delete.json"))
                .await
                .expect("handled")["outcome"]
                == "skipped"
        );
        assert!(function.replicator.made.lock().expect("lock").is_empty());
        let native = function
            .invoke(sample("replication-failed.json"))
            .await
            .expect("handled");
        assert_eq!(native["outcome"], "replication-failed");
        assert_eq!(function.notifier.received().len(), 1);
    }

    mod deletes {
        use super::*;

        const REPO: &str = "team-a/api";

        fn policy(mode: &str) -> String {
            format!("{POLICY}    replicate_deletes: {mode}\n")
        }

        /// The source lost `1.4.2`; eu-west-1 has it with `latest` beside it, ap-south-1 as
        /// the image's last tag, and a pre-release the rule does not replicate.
        fn function_for(
            mode: &str,
        ) -> ReplicatorFunction<MemoryImages, Copies, Inbox, Graveyard, EventLog> {
            let function = function_with(&policy(mode), Copies::default(), None);
            let replicas = &function.replicator.replicas;
            replicas.tag("us-east-1", REPO, "latest", DIGEST);
            for tag in ["1.4.2", "latest", "1.4.2-rc.1"] {
                replicas.tag("eu-west-1", REPO, tag, DIGEST);
            }
            replicas.tag("ap-south-1", REPO, "1.4.2", DIGEST);
            replicas.tag("ap-south-1", REPO, "0.9.0", NEWER);
            function
        }

        fn statuses(report: &serde_json::Value) -> Vec<String> {
            report["deletes"]
                .as_array()
                .expect("deletes")
                .iter()
                .map(|d| {
                    format!(
                        "{} {}",
                        d["region"].as_str().unwrap_or(""),
                        d["status"].as_str().unwrap_or("")
                    )
                })
                .collect()
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_deleted_tag_goes_where_it_names_the_same_image_and_a_repeat_finds_it_gone() {
            let function = function_for("tags");
            let before_ap = function.replicator.replicas.listing("ap-south-1", REPO);
            let report = function
                .invoke(sample("image-delete.json"))
                .await
                .expect("handled");
            assert_eq!(report["outcome"], "delete-replicated", "{report}");
            assert_eq!(
                statuses(&report),
                ["eu-west-1 tag-removed", "ap-south-1 kept-last-tag"]
            );
            assert_eq!(
                function
                    .replicator
                    .replicas
                    .listing("eu-west-1", REPO)
                    .keys()
                    .collect::<Vec<_>>(),
                ["1.4.2-rc.1", "latest"]
            );
            assert_eq!(
                function.replicator.replicas.listing("ap-south-1", REPO),
                before_ap
            );
            let inbox = function.notifier.received();
            assert_eq!(inbox.len(), 1);
            assert_eq!(inbox[0].outcome, "delete-replicated");
            assert_eq!(inbox[0].event_type.as_str(), "replicator.delete");
            assert!(inbox[0]
                .description
                .contains("kept: it is the image's last tag there"));

            // Delivered again: gone in eu-west-1, still the last tag in ap-south-1.
            let writes = function
                .replicator
                .replicas
                .writes
                .lock()
                .expect("lock")
                .len();
            let repeat = function
                .invoke(sample("image-delete.json"))
                .await
                .expect("handled");
            assert_eq!(
                statuses(&repeat),
                ["eu-west-1 already-gone", "ap-south-1 kept-last-tag"]
            );
            assert_eq!(repeat["outcome"], "delete-kept");
            assert_eq!(
                function
                    .replicator
                    .replicas
                    .writes
                    .lock()
                    .expect("lock")
                    .len(),
                writes,
                "a repeat writes nothing"
            );
        }

        #[tokio::test(flavor = "current_thread")]
        async fn images_deletes_the_image_with_its_last_tag_and_never_another_digest() {
            let function = function_for("images");
            function
                .replicator
                .replicas
                .tag("eu-west-1", REPO, "1.4.2", NEWER);
            let report = function
                .invoke(sample("image-delete.json"))
                .await
                .expect("handled");
            assert_eq!(
                statuses(&report),
                ["eu-west-1 kept-digest-differs", "ap-south-1 image-deleted"]
            );
            assert_eq!(
                function.replicator.replicas.listing("ap-south-1", REPO),
                std::collections::BTreeMap::from([("0.9.0".to_string(), NEWER.to_string())])
            );
            assert_eq!(
                function.replicator.replicas.listing("eu-west-1", REPO)["1.4.2"],
                NEWER
            );
            assert_eq!(
                *function.replicator.replicas.writes.lock().expect("lock"),
                ["remove ap-south-1//team-a/api 1.4.2"],
                "by tag, never by digest"
            );
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_tag_pushed_again_at_the_source_is_left_everywhere_and_quiet() {
            let function = function_for("images");
            function
                .replicator
                .replicas
                .tag("us-east-1", REPO, "1.4.2", NEWER);
            let report = function
                .invoke(sample("image-delete.json"))
                .await
                .expect("handled");
            assert_eq!(
                statuses(&report),
                ["eu-west-1 kept-re-pushed", "ap-south-1 kept-re-pushed"]
            );
            assert!(function
                .replicator
                .replicas
                .writes
                .lock()
                .expect("lock")
                .is_empty());
            assert!(function.notifier.received().is_empty());
        }

        #[tokio::test(flavor = "current_thread")]
        async fn off_by_default_and_never_for_a_tag_the_rule_does_not_replicate() {
            let off = function_with(POLICY, Copies::default(), None);
            off.replicator
                .replicas
                .tag("eu-west-1", REPO, "1.4.2", DIGEST);
            let report = off
                .invoke(sample("image-delete.json"))
                .await
                .expect("handled");
            assert!(report["outcome"] == "skipped", "{report}");
            let function = function_for("images");
            let mut pre = sample("image-delete.json");
            pre["detail"]["image-tag"] = "1.4.2-rc.1".into();
            let report = function.invoke(pre).await.expect("handled");
            assert!(report["outcome"] == "skipped", "{report}");
            assert!(function
                .replicator
                .replicas
                .writes
                .lock()
                .expect("lock")
                .is_empty());
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_failing_destination_is_retried_and_the_other_done() {
            let copies = Copies {
                failing: vec!["ap-south-1"],
                ..Copies::default()
            };
            let function = function_with(&policy("images"), copies, None);
            function
                .replicator
                .replicas
                .tag("eu-west-1", REPO, "1.4.2", DIGEST);
            function
                .replicator
                .replicas
                .tag("ap-south-1", REPO, "1.4.2", DIGEST);
            let error = function
                .invoke(sample("image-delete.json"))
                .await
                .expect_err("ap-south-1 failed");
            assert!(error.is_retryable());
            assert!(function
                .replicator
                .replicas
                .listing("eu-west-1", REPO)
                .is_empty());
            assert_eq!(
                function.notifier.received()[0].outcome,
                "delete-replication-failed"
            );
        }

        #[tokio::test(flavor = "current_thread")]
        async fn an_image_deleted_by_digest_takes_the_tags_the_source_lost() {
            let function = function_for("images");
            let mut untagged = sample("image-delete.json");
            if let Some(detail) = untagged["detail"].as_object_mut() {
                detail.remove("image-tag");
            }
            // The image is gone at the source; `latest` names another image there, so
            // eu-west-1's `latest` stays.
            let replicas = &function.replicator.replicas;
            replicas
                .remove_tag_in("us-east-1", None, REPO, "latest")
                .await
                .expect("removed");
            replicas.tag("us-east-1", REPO, "latest", NEWER);
            let report = function.invoke(untagged.clone()).await.expect("handled");
            assert_eq!(
                statuses(&report),
                ["eu-west-1 tag-removed", "ap-south-1 image-deleted"]
            );
            assert_eq!(
                function
                    .replicator
                    .replicas
                    .listing("eu-west-1", REPO)
                    .keys()
                    .collect::<Vec<_>>(),
                ["1.4.2-rc.1", "latest"],
                "a pre-release is not replicated; `latest` is at the source"
            );
            // The image is at the source again: nothing happens.
            function
                .replicator
                .replicas
                .untagged("us-east-1", REPO, DIGEST);
            let report = function.invoke(untagged).await.expect("handled");
            assert_eq!(
                statuses(&report),
                ["eu-west-1 kept-re-pushed", "ap-south-1 kept-re-pushed"]
            );
        }
    }

    mod metrics {
        use steward::metrics::{Dimension, Metric};

        use super::*;

        #[tokio::test(flavor = "current_thread")]
        async fn copies_count_per_destination_with_bytes_and_latency() {
            let answered = function(vec![])
                .answer(sample("image-push-semver.json"), Invocation::unlimited())
                .await;
            let m = &answered.metrics;
            assert!(answered.result.is_ok());
            assert_eq!(
                m.total(Metric::Events, &[(Dimension::Outcome, "replicated")]),
                1
            );
            assert_eq!(m.total(Metric::Copies, &[(Dimension::Status, "copied")]), 2);
            assert_eq!(
                m.total(Metric::BytesCopied, &[]),
                20,
                "10 bytes to each of two"
            );
            let timed = m
                .samples()
                .iter()
                .filter(|s| s.metric == Metric::CopyLatency)
                .count();
            assert_eq!(timed, 2);
            assert_eq!(m.total(Metric::Failures, &[]), 0);
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_failed_destination_counts_its_copy_and_the_failure_and_keeps_the_rest() {
            let answered = function(vec!["ap-south-1"])
                .answer(sample("image-push-semver.json"), Invocation::unlimited())
                .await;
            let error = answered.result.expect_err("partly failed");
            assert!(error.is_retryable());
            let m = &answered.metrics;
            let outcome = [(Dimension::Outcome, "replication-failed")];
            assert_eq!(m.total(Metric::Events, &outcome), 1);
            assert_eq!(m.total(Metric::Copies, &[(Dimension::Status, "failed")]), 1);
            assert_eq!(m.total(Metric::Copies, &[(Dimension::Status, "copied")]), 1);
            assert_eq!(
                m.total(Metric::BytesCopied, &[]),
                10,
                "eu-west-1's copy counts"
            );
            let class = [(Dimension::ErrorClass, "Retryable.Unavailable")];
            assert_eq!(m.total(Metric::Failures, &class), 1);
        }

        #[tokio::test(flavor = "current_thread")]
        async fn native_replication_events_count_as_events() {
            let answered = function(vec![])
                .answer(sample("replication-failed.json"), Invocation::unlimited())
                .await;
            let m = &answered.metrics;
            let outcome = [(Dimension::Outcome, "replication-failed")];
            assert_eq!(m.total(Metric::Events, &outcome), 1);
            assert_eq!(m.total(Metric::Copies, &[]), 0);
        }
    }
}
