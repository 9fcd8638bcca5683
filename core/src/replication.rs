//! The replicator's domain: per-region outcomes of a copy, and the notifications about them
//! and about ECR's own replication events.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::events::{
    ActionResult, BatchItemFailure, EventBridgeEvent, ReplicationAction, SqsBatchResponse,
};
use crate::notify::{untrusted, EventType, ImageRef, Notification, Outcome, Severity};
use crate::policy::{EncryptionType, Policy, ReplicaEncryption, Target};
use crate::timestamp::Timestamp;

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CopyStats {
    /// Bytes of blobs uploaded to the destination.
    pub bytes_copied: u64,
    /// Blobs (layers and configs) uploaded.
    pub blobs_copied: u64,
    /// Blobs the destination had already.
    pub blobs_skipped: u64,
    /// Blobs mounted from another repository of the destination registry, not uploaded.
    #[serde(skip_serializing_if = "is_zero")]
    pub blobs_mounted: u64,
    /// Manifests (and indexes) written.
    pub manifests_copied: u64,
    /// Manifests the destination had already.
    pub manifests_skipped: u64,
    /// Destination tags pointed at the image.
    pub tags_set: u64,
    /// Tags left alone because the source's tag names another image now.
    pub tags_moved_on: u64,
    /// Signatures, SBOMs and attestations of the image (and of its platform images and of
    /// each other) that are at the destination after the copy.
    pub referrers: u64,
    /// Non-distributable ("foreign") layers, left where their `urls` say: never fetched or
    /// uploaded, named by the copied manifest as they were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external_blobs: Vec<String>,
    /// Referrers the destination refused for good (ECR answers 405 to some whose subject is
    /// an index), each with the destination's words; the image itself was copied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_referrers: Vec<String>,
}

fn is_zero(count: &u64) -> bool {
    *count == 0
}

impl CopyStats {
    /// Adds another copy's counts.
    pub fn add(&mut self, other: CopyStats) {
        self.bytes_copied += other.bytes_copied;
        self.blobs_copied += other.blobs_copied;
        self.blobs_skipped += other.blobs_skipped;
        self.blobs_mounted += other.blobs_mounted;
        self.manifests_copied += other.manifests_copied;
        self.manifests_skipped += other.manifests_skipped;
        self.tags_set += other.tags_set;
        self.tags_moved_on += other.tags_moved_on;
        self.referrers += other.referrers;
        self.external_blobs.extend(other.external_blobs);
        self.refused_referrers.extend(other.refused_referrers);
    }

    /// True when the copy wrote anything to the destination.
    pub fn changed_destination(&self) -> bool {
        self.blobs_copied + self.manifests_copied + self.tags_set > 0
    }
}

/// Where a pushed tag is to be copied: the policy's targets for it, without the place the
/// image already is (a stack deployed in the destination region too receives the PUSH that
/// its own copy caused; a two-way rule set names the source among the destinations).
pub fn replication_targets(policy: &Policy, source: &ImageRef, tag: &str) -> Vec<Target> {
    policy
        .replication_targets(&source.repository, tag)
        .into_iter()
        .filter(|target| !is_source(target, source))
        .collect()
}

/// True when `target` is the image's own region, account and repository.
pub fn is_source(target: &Target, source: &ImageRef) -> bool {
    let same_account = match (&target.account, &source.account) {
        (None, _) => true,
        (Some(target), Some(source)) => target == source,
        (Some(_), None) => false,
    };
    target.region == source.region && target.repository == source.repository && same_account
}

/// How the copy to one destination went. The names are the contract of the function's
/// response and the CLI's JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RegionStatus {
    /// Something was written: blobs, manifests or the tag.
    Copied,
    /// The image and its tags were all there already; nothing was written.
    AlreadyReplicated,
    /// The source's tag names another image now, so the destination's was left alone.
    TagMovedOn,
    /// The copy failed; the error says why.
    Failed,
}

impl RegionStatus {
    /// The status's name, such as `already-replicated`; the same as its serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Copied => "copied",
            Self::AlreadyReplicated => "already-replicated",
            Self::TagMovedOn => "tag-moved-on",
            Self::Failed => "failed",
        }
    }
}

/// How one copy went: the same for the replicator's destinations and the CLI's backfill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyRun {
    /// False only when the copy failed.
    pub ok: bool,
    /// How it went.
    pub status: RegionStatus,
    /// What was written; all zero for a failed copy.
    pub stats: CopyStats,
    /// How long the copy took, in milliseconds.
    pub duration_ms: u64,
    /// Why the copy failed; `None` unless it did.
    pub error: Option<String>,
    /// For a failed copy: whether trying again may succeed (a 5xx, a throttle, a timeout),
    /// or not until something is changed (access denied, an immutable tag naming another
    /// image, a missing repository the rule does not create).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

impl CopyRun {
    /// From a copy's result (the stats, or the error as text) and its duration in
    /// milliseconds: what it wrote decides between copied, already there and moved on.
    pub fn new(result: Result<CopyStats, String>, duration_ms: u64) -> Self {
        let (status, stats, error) = match result {
            Ok(stats) if stats.changed_destination() => (RegionStatus::Copied, stats, None),
            Ok(stats) if stats.tags_moved_on > 0 => (RegionStatus::TagMovedOn, stats, None),
            Ok(stats) => (RegionStatus::AlreadyReplicated, stats, None),
            Err(error) => (RegionStatus::Failed, CopyStats::default(), Some(error)),
        };
        Self {
            ok: status != RegionStatus::Failed,
            retryable: error.as_ref().map(|_| true),
            status,
            stats,
            duration_ms,
            error,
        }
    }

    /// From a copy's result, keeping the class of its error.
    pub fn of(result: Result<CopyStats, &crate::error::StewardError>, duration_ms: u64) -> Self {
        let retryable = result.as_ref().err().map(|e| e.is_retryable());
        let mut run = Self::new(result.map_err(|e| e.to_string()), duration_ms);
        run.retryable = retryable;
        run
    }

    /// True for a failed copy that may succeed when tried again.
    pub fn may_succeed_later(&self) -> bool {
        self.retryable == Some(true)
    }
}

/// How the copy to one destination went; part of the function's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegionOutcome {
    /// The destination region.
    pub region: String,
    /// The destination account; `None` for the function's own.
    pub account: Option<String>,
    /// The destination repository.
    pub repository: String,
    /// The replication rule that asked for the copy.
    pub rule: String,
    /// How the copy went.
    #[serde(flatten)]
    pub run: CopyRun,
}

impl RegionOutcome {
    /// The outcome of a copy to `target` from its result (the stats, or the error as text)
    /// and its duration in milliseconds.
    pub fn new(target: &Target, result: Result<CopyStats, String>, duration_ms: u64) -> Self {
        Self {
            region: target.region.clone(),
            account: target.account.clone(),
            repository: target.repository.clone(),
            rule: target.rule.clone(),
            run: CopyRun::new(result, duration_ms),
        }
    }

    /// The outcome of a copy to `target`, keeping the class of its error.
    pub fn of(
        target: &Target,
        result: Result<CopyStats, &crate::error::StewardError>,
        duration_ms: u64,
    ) -> Self {
        let mut outcome = Self::new(target, Ok(CopyStats::default()), 0);
        outcome.run = CopyRun::of(result, duration_ms);
        outcome
    }

    /// Nothing was copied: the source's tag named another image before the copy started.
    pub fn moved_on(target: &Target) -> Self {
        let mut outcome = Self::new(target, Ok(CopyStats::default()), 0);
        outcome.run.status = RegionStatus::TagMovedOn;
        outcome
    }

    fn place(&self) -> String {
        match &self.account {
            Some(account) => format!("{}/{} ({account})", self.region, self.repository),
            None => format!("{}/{}", self.region, self.repository),
        }
    }
}

/// How a destination repository the replicator creates is encrypted, from the source's
/// encryption type (as ECR names it; `None` when it reports none, which means AES256) and the
/// destination's `encryption` in the rule. A KMS-encrypted source needs the rule to say, since
/// its key belongs to its own region: an AES256 replica of it is made only when the rule asks
/// for one (fail closed); the error says what to write.
pub fn replica_encryption(
    source: Option<&str>,
    rule: Option<&ReplicaEncryption>,
    region: &str,
) -> Result<ReplicaEncryption, String> {
    if let Some(rule) = rule {
        return Ok(rule.clone());
    }
    match source.map(EncryptionType::from_name) {
        None | Some(Some(EncryptionType::Aes256)) => Ok(ReplicaEncryption {
            kind: EncryptionType::Aes256,
            key: None,
        }),
        Some(kind) => {
            Err(format!(
            "the source repository is encrypted with {}, and the rule names no key for {region}; \
             hint: give the destination `encryption: {{ type: KMS, key: <key ARN in {region}> }}`, \
             or `encryption: {{ type: AES256 }}` to accept Amazon S3-managed keys there",
            kind.map_or_else(|| source.unwrap_or_default().to_string(), |k| k.as_str().into())
        ))
        }
    }
}

/// The source of the events ecr-steward puts on an EventBridge bus.
pub const EVENT_SOURCE: &str = "ecr-steward";
/// The detail type of [`ImageReplicated`].
pub const IMAGE_REPLICATED: &str = "Image Replicated";

/// The detail of an `Image Replicated` event (`schema/image-replicated.v1.schema.json`): every
/// destination of a pushed image holds it, verified, with its referrers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImageReplicated {
    /// The source repository.
    pub repository_name: String,
    /// The image's digest, the same everywhere.
    pub image_digest: String,
    /// The tags copied.
    pub image_tags: Vec<String>,
    /// The region it was pushed to.
    pub source_region: String,
    /// The source account, when the event named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_account: Option<String>,
    /// Where it is now.
    pub destinations: Vec<ReplicaPlace>,
    /// When the last copy was verified (RFC 3339).
    pub replicated_at: String,
    /// Seconds from the push; absent when the push time is not known (a backfill job) or
    /// nothing was copied by this delivery.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<u64>,
}

/// One destination of an [`ImageReplicated`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ReplicaPlace {
    /// The region.
    pub region: String,
    /// The account; absent for the replicator's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The repository there.
    pub repository_name: String,
    /// `copied` by this delivery, or `already-replicated`.
    pub status: RegionStatus,
    /// Signatures, SBOMs and attestations there with it.
    pub referrers: u64,
}

/// What a copy left undone on purpose: external layers, refused referrers.
fn copy_remarks(stats: &CopyStats) -> String {
    let mut remarks = String::new();
    if !stats.external_blobs.is_empty() {
        let _ = write!(
            remarks,
            "; {} non-distributable layer(s) stay external: {}",
            stats.external_blobs.len(),
            stats.external_blobs.join(", ")
        );
    }
    for refused in &stats.refused_referrers {
        let _ = write!(remarks, "; REFERRER REFUSED: {}", untrusted(refused));
    }
    remarks
}

/// What one replication did, over all its destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplicationOutcome {
    /// At least one destination got something; none failed.
    Replicated,
    /// At least one destination failed.
    ReplicationFailed,
    /// Every destination had the image and its tag already.
    AlreadyReplicated,
    /// The source's tag names another image now; nothing was copied for it.
    TagMovedOn,
}

impl ReplicationOutcome {
    /// The same name, as a notification outcome.
    pub fn notified_as(self) -> Outcome {
        match self {
            Self::Replicated => Outcome::Replicated,
            Self::ReplicationFailed => Outcome::ReplicationFailed,
            Self::AlreadyReplicated => Outcome::AlreadyReplicated,
            Self::TagMovedOn => Outcome::TagMovedOn,
        }
    }

    /// The outcome's name, such as `replicated`.
    pub fn as_str(self) -> &'static str {
        self.notified_as().as_str()
    }
}

/// What one copy of a pushed tag did, over all its destinations; the replicator's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicationReport {
    /// The source repository.
    pub repository: String,
    /// The image's manifest digest.
    pub digest: String,
    /// The tags copied: the pushed tag, or a copy job's tags.
    pub tags: Vec<String>,
    /// `replicated`, `replication-failed`, `already-replicated` or `tag-moved-on`.
    pub outcome: ReplicationOutcome,
    /// One outcome per destination.
    pub outcomes: Vec<RegionOutcome>,
    /// Seconds from the push to the last destination's verified copy; only when this
    /// replication copied something and every destination holds the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_seconds: Option<u64>,
    /// The source's region, for the verdict event (not in the response).
    #[serde(skip)]
    pub source_region: String,
    /// The source's account, when known, for the verdict event (not in the response).
    #[serde(skip)]
    pub source_account: Option<String>,
}

impl ReplicationReport {
    /// The report on `image` and `tag` from the outcomes of its destinations: failed if any failed,
    /// else replicated if any got something, else tag-moved-on or already-replicated.
    pub fn new(image: &ImageRef, tags: &[String], outcomes: Vec<RegionOutcome>) -> Self {
        let has = |status| outcomes.iter().any(|o| o.run.status == status);
        let outcome = if has(RegionStatus::Failed) {
            ReplicationOutcome::ReplicationFailed
        } else if has(RegionStatus::Copied) {
            ReplicationOutcome::Replicated
        } else if has(RegionStatus::TagMovedOn) {
            ReplicationOutcome::TagMovedOn
        } else {
            ReplicationOutcome::AlreadyReplicated
        };
        Self {
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            tags: tags.to_vec(),
            outcome,
            outcomes,
            lag_seconds: None,
            source_region: image.region.clone(),
            source_account: image.account.clone(),
        }
    }

    /// True when every destination holds the image, verified: it was copied or found there.
    pub fn everywhere(&self) -> bool {
        !self.outcomes.is_empty()
            && self.outcomes.iter().all(|o| {
                matches!(
                    o.run.status,
                    RegionStatus::Copied | RegionStatus::AlreadyReplicated
                )
            })
    }

    /// Notes the lag from `pushed_at` to `now` when this replication copied something and the
    /// image is now everywhere.
    pub fn with_lag(mut self, pushed_at: Option<Timestamp>, now: Timestamp) -> Self {
        if self.outcome == ReplicationOutcome::Replicated && self.everywhere() {
            self.lag_seconds = pushed_at.map(|pushed| u64::try_from(now.0 - pushed.0).unwrap_or(0));
        }
        self
    }

    /// The `Image Replicated` event for pipelines, when every destination holds the image;
    /// `None` otherwise. A repeated delivery that finds everything in place says so again:
    /// consumers are idempotent, as for any EventBridge event.
    pub fn replicated_event(&self, image: &ImageRef, now: Timestamp) -> Option<ImageReplicated> {
        self.everywhere().then(|| ImageReplicated {
            repository_name: self.repository.clone(),
            image_digest: self.digest.clone(),
            image_tags: self.tags.clone(),
            source_region: image.region.clone(),
            source_account: image.account.clone(),
            destinations: self
                .outcomes
                .iter()
                .map(|o| ReplicaPlace {
                    region: o.region.clone(),
                    account: o.account.clone(),
                    repository_name: o.repository.clone(),
                    status: o.run.status,
                    referrers: o.run.stats.referrers,
                })
                .collect(),
            replicated_at: now.to_string(),
            lag_seconds: self.lag_seconds,
        })
    }

    /// True when a failed destination may succeed if the copy is tried again; false when
    /// none failed or every failure needs a change first (retrying would only repeat it).
    pub fn worth_retrying(&self) -> bool {
        self.outcomes.iter().any(|o| o.run.may_succeed_later())
    }

    /// The regions whose copy failed.
    pub fn failed_regions(&self) -> Vec<&str> {
        self.outcomes
            .iter()
            .filter(|o| !o.run.ok)
            .map(|o| o.region.as_str())
            .collect()
    }

    /// Whether this report is worth a notification: a copy, a failure, or (only when asked
    /// for) a replication that found everything in place. A moved-on tag is never notified:
    /// the newer push has its own event.
    pub fn should_notify(&self, notify_already_replicated: bool) -> bool {
        match self.outcome {
            ReplicationOutcome::Replicated | ReplicationOutcome::ReplicationFailed => true,
            ReplicationOutcome::AlreadyReplicated => notify_already_replicated,
            ReplicationOutcome::TagMovedOn => false,
        }
    }

    /// One notification for the image, with a line per destination.
    pub fn notification(&self, image: &ImageRef) -> Notification {
        let (severity, title) = match self.outcome {
            ReplicationOutcome::ReplicationFailed => (
                Severity::Critical,
                format!(
                    "Replication of {}:{} failed for {}",
                    self.repository,
                    self.tag_list(),
                    self.failed_regions().join(", ")
                ),
            ),
            ReplicationOutcome::Replicated => (
                Severity::Info,
                format!(
                    "Replicated {}:{} to {}",
                    self.repository,
                    self.tag_list(),
                    self.regions()
                ),
            ),
            ReplicationOutcome::AlreadyReplicated => (
                Severity::Info,
                format!(
                    "Already replicated {}:{} to {}",
                    self.repository,
                    self.tag_list(),
                    self.regions()
                ),
            ),
            ReplicationOutcome::TagMovedOn => (
                Severity::Info,
                format!("Tag moved on in {}: {}", self.repository, self.tag_list()),
            ),
        };
        let mut description = format!("`{}` (`{}`)\n", untrusted(&self.tag_list()), self.digest);
        for outcome in &self.outcomes {
            let place = outcome.place();
            let stats = &outcome.run.stats;
            let _ = match outcome.run.status {
                RegionStatus::Copied | RegionStatus::AlreadyReplicated => writeln!(
                    description,
                    "• {place}: copied {} bytes in {} blobs, {} blobs already there{}, {} ms{}",
                    stats.bytes_copied,
                    stats.blobs_copied,
                    stats.blobs_skipped,
                    match stats.referrers {
                        0 => String::new(),
                        1 => ", with 1 signature or attestation".into(),
                        n => format!(", with {n} signatures and attestations"),
                    },
                    outcome.run.duration_ms,
                    copy_remarks(stats)
                ),
                RegionStatus::TagMovedOn => writeln!(
                    description,
                    "• {place}: nothing copied: the source's tag names another image now"
                ),
                RegionStatus::Failed => writeln!(
                    description,
                    "• {place}: FAILED: {}",
                    untrusted(outcome.run.error.as_deref().unwrap_or("unknown error"))
                ),
            };
        }
        let next_steps = if self.outcome == ReplicationOutcome::ReplicationFailed {
            let retry = if self.worth_retrying() {
                "Lambda retries the event; the copy resumes where it stopped."
            } else {
                "Not retried: no retry can succeed until the cause above is fixed."
            };
            vec![
                retry.to_string(),
                "To copy by hand: ecr-steward replicate --repository <name> --to <region>".into(),
            ]
        } else {
            Vec::new()
        };
        let context = self
            .outcomes
            .iter()
            .map(|o| {
                (
                    o.region.clone(),
                    if o.run.ok {
                        "ok".to_string()
                    } else {
                        "failed".to_string()
                    },
                )
            })
            .chain([("tag".to_string(), untrusted(&self.tag_list()))])
            .collect();
        Notification {
            event_type: EventType::ReplicatorCopy,
            severity,
            outcome: self.outcome.notified_as(),
            link: image.console_link("details"),
            image: image.clone(),
            title,
            description,
            next_steps,
            keywords: vec!["ecr-steward".into(), "replicator".into()],
            context,
        }
    }

    /// The tags as one text: `1.4.2` or `1.4.2,latest`.
    pub fn tag_list(&self) -> String {
        self.tags.join(",")
    }

    fn regions(&self) -> String {
        self.outcomes
            .iter()
            .map(|o| o.region.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The replicator's response: a copy's report, a native replication event reported, or a
/// batch of copy jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ReplicatorReport {
    /// A copy of a pushed tag.
    Copy(ReplicationReport),
    /// ECR's own replication event.
    Native(NativeReport),
    /// Copy jobs from the job queue.
    Batch(BatchReport),
    /// A deletion at the source, followed to the destinations (`replicate_deletes`).
    Delete(crate::replica_deletes::DeleteReport),
}

/// What a batch of copy jobs did. Its response is Lambda's partial batch response and only
/// that (`{"batchItemFailures": [{"itemIdentifier": …}]}`): the failed jobs return to the
/// queue, the others are deleted from it. Each job's report is logged and notified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// One per message, in the batch's order.
    pub jobs: Vec<JobReport>,
}

/// How one copy job went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobReport {
    /// The message's SQS ID.
    pub message_id: String,
    /// The copies' report; `None` when the job did not get as far as copying.
    pub report: Option<ReplicationReport>,
    /// Why the job failed; `None` when it is done.
    pub failure: Option<JobFailure>,
    /// True when the job can never succeed and was sent to the dead-letter queue at once,
    /// with its reason, instead of returning to the queue.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dead_lettered: bool,
}

/// A failed job: the class of its error (`Retryable.Unavailable`, …) and the error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobFailure {
    /// The error's class, as a Lambda error type.
    pub error_type: &'static str,
    /// The error.
    pub message: String,
}

impl JobFailure {
    /// The failure of `error`.
    pub fn of(error: &crate::error::StewardError) -> Self {
        Self {
            error_type: error.error_type(),
            message: error.to_string(),
        }
    }
}

impl BatchReport {
    /// The IDs of the messages whose job failed and returns to the queue.
    pub fn failed_messages(&self) -> impl Iterator<Item = &str> {
        self.jobs
            .iter()
            .filter(|job| job.failure.is_some() && !job.dead_lettered)
            .map(|job| job.message_id.as_str())
    }

    /// The batch's outcome: failed if a job failed, else replicated if a job copied
    /// something, else already-replicated or tag-moved-on as every job found.
    pub fn outcome(&self) -> ReplicationOutcome {
        let reports: Vec<&ReplicationReport> =
            self.jobs.iter().filter_map(|j| j.report.as_ref()).collect();
        let has = |outcome| reports.iter().any(|r| r.outcome == outcome);
        if self.failed_messages().next().is_some() {
            ReplicationOutcome::ReplicationFailed
        } else if has(ReplicationOutcome::Replicated) {
            ReplicationOutcome::Replicated
        } else if !reports.is_empty()
            && reports
                .iter()
                .all(|r| r.outcome == ReplicationOutcome::TagMovedOn)
        {
            ReplicationOutcome::TagMovedOn
        } else {
            ReplicationOutcome::AlreadyReplicated
        }
    }
}

impl BatchReport {
    /// Lambda's partial batch response: the failed jobs return to the queue, the others are
    /// deleted from it.
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = self
            .failed_messages()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.to_string();
                failure
            })
            .collect();
        response
    }
}

impl Serialize for BatchReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.response().serialize(serializer)
    }
}

/// ECR's own replication event, turned into a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NativeReport {
    /// `replicated` or `replication-failed`, as notified.
    pub outcome: Outcome,
    /// Always true: tells this response from a copy's.
    pub native: bool,
    /// The repository replicated.
    pub repository: String,
    /// The image's digest.
    pub digest: String,
    /// The tag replicated; `None` for an untagged image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The region it was replicated from, when the event says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_region: Option<String>,
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
            Outcome::Replicated,
            format!(
                "ECR replicated {}:{tag} to {region}",
                detail.repository_name
            ),
        )
    } else {
        (
            Severity::Critical,
            Outcome::ReplicationFailed,
            format!(
                "ECR replication of {}:{tag} to {region} failed",
                detail.repository_name
            ),
        )
    };
    Notification {
        event_type: EventType::ReplicatorNative,
        severity,
        outcome,
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

    #[test]
    fn a_replica_keeps_aes256_and_takes_the_rules_key_and_a_kms_source_without_one_is_refused() {
        let aes = ReplicaEncryption {
            kind: EncryptionType::Aes256,
            key: None,
        };
        let kms = ReplicaEncryption {
            kind: EncryptionType::Kms,
            key: Some("arn:aws:kms:eu-west-1:123456789012:key/abc".into()),
        };
        assert_eq!(replica_encryption(None, None, "eu-west-1"), Ok(aes.clone()));
        assert_eq!(
            replica_encryption(Some("AES256"), None, "eu-west-1"),
            Ok(aes.clone())
        );
        assert_eq!(
            replica_encryption(Some("KMS"), Some(&kms), "eu-west-1"),
            Ok(kms.clone())
        );
        assert_eq!(
            replica_encryption(Some("KMS_DSSE"), Some(&aes), "eu-west-1"),
            Ok(aes)
        );
        let refused = replica_encryption(Some("KMS"), None, "eu-west-1").unwrap_err();
        assert!(refused.contains("encrypted with KMS"), "{refused}");
        assert!(refused.contains("key ARN in eu-west-1"), "{refused}");
        assert!(replica_encryption(Some("SOMETHING_NEW"), None, "eu-west-1").is_err());
    }

    fn target(region: &str) -> Target {
        Target {
            rule: "releases".into(),
            region: region.into(),
            account: None,
            repository: "team/app".into(),
            create_repository: false,
            encryption: None,
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
        let image = ImageRef {
            account: Some("1".into()),
            region: "us-east-1".into(),
            repository: "team/app".into(),
            digest: "sha256:d".into(),
        };
        let report = ReplicationReport::new(
            &image,
            &["1.2.3".to_string()],
            vec![
                RegionOutcome::new(&target("eu-west-1"), Ok(stats), 120),
                RegionOutcome::new(
                    &target("ap-south-1"),
                    Err("the registry is unavailable: 503".into()),
                    80,
                ),
            ],
        );
        assert_eq!(report.failed_regions(), ["ap-south-1"]);
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
    fn the_image_s_own_place_is_never_a_target() {
        let policy = Policy::from_text(
            "version: 1\nrules:\n  - tags: { semver: {} }\nreplication:\n  - repositories: [\"rep/*\"]\n    destinations: [{ region: eu-west-1 }, { region: us-east-1 }, { region: us-east-1, repository: \"mirror/{repository}\" }, { region: eu-west-1, account: \"210987654321\" }]\n",
            "test",
            crate::policy::SourceFormat::Yaml,
        )
        .expect("policy");
        let image = |region: &str| ImageRef {
            account: Some("123456789012".into()),
            region: region.into(),
            repository: "rep/app".into(),
            digest: "sha256:d".into(),
        };
        let places = |region| -> Vec<String> {
            replication_targets(&policy, &image(region), "1.0.0")
                .iter()
                .map(|t| {
                    format!(
                        "{}/{}/{}",
                        t.region,
                        t.account.as_deref().unwrap_or("-"),
                        t.repository
                    )
                })
                .collect()
        };
        assert_eq!(
            places("us-east-1"),
            [
                "eu-west-1/-/rep/app",
                "us-east-1/-/mirror/rep/app",
                "eu-west-1/210987654321/rep/app"
            ]
        );
        assert_eq!(
            places("eu-west-1"),
            [
                "us-east-1/-/rep/app",
                "us-east-1/-/mirror/rep/app",
                "eu-west-1/210987654321/rep/app"
            ]
        );
    }

    #[test]
    fn a_replication_that_wrote_nothing_is_already_replicated_and_quiet_by_default() {
        let image = ImageRef {
            account: None,
            region: "us-east-1".into(),
            repository: "team/app".into(),
            digest: "sha256:d".into(),
        };
        let nothing = CopyStats {
            blobs_skipped: 3,
            manifests_skipped: 1,
            ..CopyStats::default()
        };
        let copied = CopyStats {
            tags_set: 1,
            ..nothing.clone()
        };
        let moved = CopyStats {
            tags_moved_on: 1,
            ..nothing.clone()
        };
        let report = |results: Vec<Result<CopyStats, String>>| {
            let outcomes = results
                .into_iter()
                .map(|result| RegionOutcome::new(&target("eu-west-1"), result, 1))
                .collect();
            ReplicationReport::new(&image, &["1.2.3".to_string()], outcomes)
        };
        let quiet = report(vec![Ok(nothing.clone()), Ok(nothing.clone())]);
        assert_eq!(quiet.outcome, ReplicationOutcome::AlreadyReplicated);
        assert!(!quiet.should_notify(false));
        assert!(quiet.should_notify(true));
        assert_eq!(quiet.notification(&image).outcome, "already-replicated");
        let mixed = report(vec![Ok(nothing), Ok(copied.clone())]);
        assert_eq!(mixed.outcome, ReplicationOutcome::Replicated);
        assert!(mixed.should_notify(false));
        let late = report(vec![Ok(moved)]);
        assert_eq!(late.outcome, ReplicationOutcome::TagMovedOn);
        assert_eq!(late.outcomes[0].run.status, RegionStatus::TagMovedOn);
        assert!(!late.should_notify(true));
        let failed = report(vec![Ok(copied), Err("down".into())]);
        assert_eq!(failed.outcome, ReplicationOutcome::ReplicationFailed);
        assert_eq!(
            serde_json::to_value(&failed).expect("json")["outcomes"][1]["status"],
            "failed"
        );
    }

    #[test]
    fn native_replication_events_become_notifications() {
        for (file, outcome) in [
            ("replication-success.json", "replicated"),
            ("replication-failed.json", "replication-failed"),
        ] {
            let value = crate::events::samples::sample_event(file);
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
