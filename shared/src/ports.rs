//! The narrow interfaces the functions need from the outside world. Adapters implement them
//! for AWS and OCI registries; unit tests implement them in memory.

use std::future::Future;

use crate::error::StewardError;
use crate::image::{ImageRef, ImageSelector, PlatformLabels, TaggedImage};
use crate::notify::Notification;
use crate::scan::{ScanState, VulnFinding, VulnSeverity};

/// Reads images through the OCI Distribution API.
pub trait ImageReader: Send + Sync {
    /// The labels of every platform image of `digest` (one entry for a single-platform image).
    fn platform_labels(
        &self,
        region: &str,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<Vec<PlatformLabels>, StewardError>> + Send;

    /// The digest `tag` names now; `None` when the tag does not exist.
    fn tag_digest(
        &self,
        region: &str,
        repository: &str,
        tag: &str,
    ) -> impl Future<Output = Result<Option<String>, StewardError>> + Send;
}

/// Reads and changes the tags of ECR images. Removing the last tag of an image deletes the
/// image (ECR's rule), so callers look at [`TaggedImage::tags`] first.
pub trait TagStore: Send + Sync {
    /// The image `tag` names now; `None` when the tag (or the repository) does not exist.
    fn tagged_image(
        &self,
        repository: &str,
        tag: &str,
    ) -> impl Future<Output = Result<Option<TaggedImage>, StewardError>> + Send;

    /// The image `digest` with all its tags, and when it was pushed (for a grace period);
    /// `None` when there is no such image.
    fn image_by_digest(
        &self,
        repository: &str,
        digest: &str,
    ) -> impl Future<
        Output = Result<Option<(TaggedImage, Option<crate::timestamp::Timestamp>)>, StewardError>,
    > + Send;

    /// Points `tag` at the image `digest`, with the image's exact manifest, so the digest is
    /// unchanged. Succeeds when the tag already names it. A tag that ECR refuses to move
    /// (immutable tags) is a [`StewardError::Conflict`].
    fn put_tag(
        &self,
        repository: &str,
        tag: &str,
        digest: &str,
    ) -> impl Future<Output = Result<(), StewardError>> + Send;

    /// Removes `tag` (BatchDeleteImage by tag, never by digest) and returns the digest it was
    /// removed from, as ECR's answer names it; `None` when the tag was not there.
    fn remove_tag(
        &self,
        repository: &str,
        tag: &str,
    ) -> impl Future<Output = Result<Option<String>, StewardError>> + Send;
}

/// Publishes notifications (to SNS in production).
pub trait Notifier: Send + Sync {
    /// Publishes one notification: its message, subject and attributes.
    fn publish(
        &self,
        notification: &Notification,
    ) -> impl Future<Output = Result<(), StewardError>> + Send;
}

/// A scan's status and findings, as DescribeImageScanFindings reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanFindings {
    /// Whether the scan completed.
    pub state: ScanState,
    /// Findings per severity, as ECR counts them.
    pub counts: std::collections::BTreeMap<VulnSeverity, u64>,
    /// Each finding, where ECR lists them.
    pub findings: Vec<VulnFinding>,
}

/// Reads what an image carries for its provenance: the artifacts that refer to it (in its
/// registry) and ECR managed signing's statuses.
pub trait ProvenanceReader: Send + Sync {
    /// The image the artifact `digest` (a signature, an SBOM) names as its `subject`; `None`
    /// when it names none.
    fn subject_of(
        &self,
        region: &str,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<Option<String>, StewardError>> + Send;

    /// The evidence for `digest` in `repository` of `region`'s registry: the image's, and each
    /// platform image's for an index; ECR managed signing's statuses only when `managed`.
    fn provenance(
        &self,
        region: &str,
        repository: &str,
        digest: &str,
        managed: bool,
    ) -> impl Future<Output = Result<crate::provenance::ImageEvidence, StewardError>> + Send;
}

/// push-guard's re-check queue: pushes whose provenance is awaited, judged again later.
pub trait Rechecks: Send + Sync {
    /// Sends `recheck`, to be delivered after `delay_seconds` (at most 900).
    fn later(
        &self,
        recheck: &crate::push::Recheck,
        delay_seconds: u32,
    ) -> impl Future<Output = Result<(), StewardError>> + Send;
}

/// Reads ECR managed signing's status of an image (`DescribeImageSigningStatus`).
pub trait SigningStatusReader: Send + Sync {
    /// Every signing profile's status for `digest`; empty when ECR signs nothing there.
    fn signing_statuses(
        &self,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<Vec<crate::provenance::ManagedSigning>, StewardError>> + Send;
}

/// Reads scan results from ECR (basic findings, and enhanced ones where ECR returns them).
pub trait ScanReader: Send + Sync {
    /// The scan results of the image `digest` in `repository`.
    fn scan_findings(
        &self,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<ScanFindings, StewardError>> + Send;
}

/// Copies an image to one replication target.
pub trait Replicator: Send + Sync {
    /// Copies the image `source` and its `tags` to `target`; the stats say what was written.
    fn replicate(
        &self,
        source: &ImageRef,
        tags: &[String],
        target: &crate::policy::Target,
    ) -> impl Future<Output = Result<crate::replication::CopyStats, StewardError>> + Send;
}

/// ECR's API in any region and account where images are replicated: what a tag or a digest
/// names in a repository there, with all its tags, and removing tags there. Delete
/// replication (`replicate_deletes`) reads the source and the destinations through it.
pub trait ReplicaStore: Send + Sync {
    /// The image `selector` names in `repository` of `account`'s registry (the caller's when
    /// `None`) in `region`, with all its tags; `None` when there is none, or no repository.
    fn image_in(
        &self,
        region: &str,
        account: Option<&str>,
        repository: &str,
        selector: &ImageSelector,
    ) -> impl Future<Output = Result<Option<TaggedImage>, StewardError>> + Send;

    /// Removes `tag` there (BatchDeleteImage by tag, never by digest; ECR deletes the image
    /// with its last tag) and returns the digest it was removed from; `None` when the tag was
    /// not there.
    fn remove_tag_in(
        &self,
        region: &str,
        account: Option<&str>,
        repository: &str,
        tag: &str,
    ) -> impl Future<Output = Result<Option<String>, StewardError>> + Send;

    /// Deletes the image `digest` there by digest (with every tag it has: callers make sure
    /// it has none); false when it was not there.
    fn delete_image_in(
        &self,
        region: &str,
        account: Option<&str>,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<bool, StewardError>> + Send;
}

/// What ECR knows of repositories and their images (the read side the CLI's operations use).
pub trait ImageCatalog: Send + Sync {
    /// The image `selector` names, with all its tags; `None` when there is no such image.
    fn find_image(
        &self,
        repository: &str,
        selector: &ImageSelector,
    ) -> impl Future<Output = Result<Option<TaggedImage>, StewardError>> + Send;

    /// Every repository of the registry, by name, sorted (all pages).
    fn repositories(&self) -> impl Future<Output = Result<Vec<String>, StewardError>> + Send;

    /// Every tagged image of a repository, sorted by digest (all pages); untagged ones are left
    /// out.
    fn tagged_images(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<Vec<TaggedImage>, StewardError>> + Send;

    /// True when a pushed image of the repository is scanned without being asked: its own
    /// scan-on-push flag, or a registry rule (basic on push, enhanced on push or continuous).
    fn scans_on_push(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<bool, StewardError>> + Send;
}

/// The reads `ecr-steward audit` needs beyond the catalog: a repository's set-up, and what the
/// tags of a replica's destination name.
pub trait RepositoryInspector: Send + Sync {
    /// The set-up of `repository`, as far as `rules` checks it: the lifecycle policy, the
    /// repository policy and the scanning configuration are read only when a rule asks.
    fn repository_settings(
        &self,
        repository: &str,
        rules: &crate::policy::RepositoryRules,
    ) -> impl Future<Output = Result<crate::policy::RepositorySettings, StewardError>> + Send;

    /// Tag → digest for every tagged image of `repository` in `account`'s registry (the
    /// caller's own when `None`), all pages; `None` when the repository does not exist.
    fn tag_digests(
        &self,
        account: Option<&str>,
        repository: &str,
    ) -> impl Future<Output = Result<Option<std::collections::BTreeMap<String, String>>, StewardError>>
           + Send;
}

/// What retention needs from ECR: a repository's images with their times and references,
/// deletion by digest, and a mark of when retention last ran on a repository.
pub trait RetentionStore: Send + Sync {
    /// Every image of the repository (all pages), with push and pull times, and the children
    /// of its indexes and the `subject` of its referrers.
    fn retention_images(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<Vec<crate::retention::ImageRecord>, StewardError>> + Send;

    /// Deletes at most [`MAX_DELETE_BATCH`] images by digest, in one request. Images that
    /// could not be deleted are in the answer, not an error; an image that is not there any
    /// more is [`DeleteAnswer::gone`].
    fn delete_images(
        &self,
        repository: &str,
        digests: &[String],
    ) -> impl Future<Output = Result<DeleteAnswer, StewardError>> + Send;

    /// Every repository of the registry, by name (all pages).
    fn repository_names(&self) -> impl Future<Output = Result<Vec<String>, StewardError>> + Send;

    /// Moves images to the archive storage class, one request each (UpdateImageStorageClass
    /// takes one image). An image refused is in the answer, not an error.
    fn archive_images(
        &self,
        repository: &str,
        digests: &[String],
    ) -> impl Future<Output = Result<ArchiveAnswer, StewardError>> + Send;
}

/// Where the scheduled retention run starts: the first repository the last run left for the
/// next, kept where the stack owns it (never on the user's repositories).
pub trait RunCursor: Send + Sync {
    /// The repository to start with; `None`: from the first.
    fn next_start(&self) -> impl Future<Output = Result<Option<String>, StewardError>> + Send;

    /// Records where the next run starts; `None`: from the first (this run finished).
    fn set_next_start(
        &self,
        repository: Option<&str>,
    ) -> impl Future<Output = Result<(), StewardError>> + Send;
}

/// What runs images: retention's `in_use` sources.
pub trait Workloads: Send + Sync {
    /// Every image `source` reports running in this account and region (all pages). An
    /// error means the source could not be read: retention then keeps what it governs.
    fn running_images(
        &self,
        source: crate::retention::UsageSource,
    ) -> impl Future<Output = Result<Vec<crate::retention::RunningImage>, StewardError>> + Send;
}

/// The most digests one BatchDeleteImage takes.
pub const MAX_DELETE_BATCH: usize = 100;

/// What one deletion request did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteAnswer {
    /// Deleted now.
    pub deleted: Vec<String>,
    /// Not there any more (deleted by someone else): nothing to do.
    pub gone: Vec<String>,
    /// Refused, with ECR's code and reason.
    pub failed: Vec<crate::retention::DeleteFailure>,
}

/// What one archive request did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchiveAnswer {
    /// Moved to the archive now.
    pub archived: Vec<String>,
    /// Not there any more.
    pub gone: Vec<String>,
    /// Refused, with ECR's code and reason.
    pub failed: Vec<crate::retention::DeleteFailure>,
}

/// The replicator's copy job queue, as `replicate --fan-out` fills it.
pub trait JobQueue: Send + Sync {
    /// Sends up to [`MAX_JOB_BATCH`] jobs at once; for each, in order, the message ID it was
    /// queued under or why the queue refused it. An `Err` sent none of them.
    fn send_batch(
        &self,
        jobs: &[crate::copy_job::CopyJob],
    ) -> impl Future<Output = Result<Vec<JobSent>, StewardError>> + Send;
}

/// Puts events on an EventBridge bus for pipelines to follow (source `ecr-steward`).
pub trait EventPublisher: Send + Sync {
    /// Puts one `Image Replicated` event.
    fn image_replicated(
        &self,
        event: &crate::replication::ImageReplicated,
    ) -> impl Future<Output = Result<(), StewardError>> + Send;

    /// Puts one event per verdict (`Push Verdict`, …; `steward_core::verdict`), in batches of
    /// at most [`MAX_EVENTS_PER_PUT`] entries and [`MAX_PUT_BYTES`]. An entry the bus refuses
    /// is an error (retryable when the bus says the fault is its own).
    fn verdicts(
        &self,
        verdicts: &[crate::verdict::Verdict],
    ) -> impl Future<Output = Result<(), StewardError>> + Send;
}

/// The most entries one PutEvents takes.
pub const MAX_EVENTS_PER_PUT: usize = 10;

/// The most bytes of entries (detail, detail type and source, in UTF-8) one PutEvents takes.
pub const MAX_PUT_BYTES: usize = 256 * 1024;

/// Splits entries of `sizes` bytes into consecutive PutEvents batches: at most
/// [`MAX_EVENTS_PER_PUT`] entries and [`MAX_PUT_BYTES`] each (an entry larger than that goes
/// alone, for the bus to refuse).
pub fn event_batches(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, size) in sizes.iter().enumerate() {
        if i > start && (i - start == MAX_EVENTS_PER_PUT || bytes + size > MAX_PUT_BYTES) {
            batches.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < sizes.len() {
        batches.push(start..sizes.len());
    }
    batches
}

/// Where a copy job that can never succeed goes at once, with why: the job queue's
/// dead-letter queue.
pub trait DeadLetters: Send + Sync {
    /// Sends `body` (the job's message, as received) with `reason`.
    fn bury(
        &self,
        body: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), StewardError>> + Send;
}

/// The most messages one SendMessageBatch takes.
pub const MAX_JOB_BATCH: usize = 10;

/// How the queue took one job of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobSent {
    /// Queued, under this message ID.
    Queued(String),
    /// Refused; `retryable` when SQS says the fault is not the sender's.
    Refused {
        /// SQS's code and message.
        reason: String,
        /// Whether sending it again may work.
        retryable: bool,
    },
}
/// What a policy store answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyFetch {
    /// The store has the version the caller knows.
    Unchanged,
    /// Another version (or the first read): its text and version (S3: the ETag, SSM: the
    /// parameter version).
    Changed {
        /// The policy document, as kept.
        text: String,
        /// Its version.
        version: String,
    },
}

/// Reads a policy kept in S3 or SSM Parameter Store.
pub trait PolicyStore: Send + Sync {
    /// The policy at `location`, unless its version is `known` (then
    /// [`PolicyFetch::Unchanged`]).
    fn fetch(
        &self,
        location: &crate::policy_source::PolicyLocation,
        known: Option<&str>,
    ) -> impl Future<Output = Result<PolicyFetch, StewardError>> + Send;
}
