//! In-memory stand-ins for the ports, for unit tests of the functions.

use std::sync::Mutex;

pub use crate::events::samples::{patched_sample, sample_event};

use crate::error::StewardError;
use crate::notify::Notification;
use crate::ports::Notifier;

/// Keeps every notification published.
#[derive(Debug, Default)]
pub struct Inbox(Mutex<Vec<Notification>>);

impl Inbox {
    /// The notifications published so far, in order.
    pub fn received(&self) -> Vec<Notification> {
        self.0.lock().map(|inbox| inbox.clone()).unwrap_or_default()
    }
}

impl Notifier for Inbox {
    async fn publish(&self, notification: &Notification) -> Result<(), StewardError> {
        if let Ok(mut inbox) = self.0.lock() {
            inbox.push(notification.clone());
        }
        Ok(())
    }
}

/// An event bus in memory: the `Image Replicated` events and the verdicts put on it.
#[derive(Debug, Default)]
pub struct EventLog(
    Mutex<Vec<crate::replication::ImageReplicated>>,
    Mutex<Vec<crate::verdict::Verdict>>,
);

impl EventLog {
    /// The `Image Replicated` events put so far, in order.
    pub fn events(&self) -> Vec<crate::replication::ImageReplicated> {
        self.0.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// The verdicts put so far, in order.
    pub fn verdicts(&self) -> Vec<crate::verdict::Verdict> {
        self.1.lock().map(|log| log.clone()).unwrap_or_default()
    }
}

impl crate::ports::EventPublisher for EventLog {
    async fn image_replicated(
        &self,
        event: &crate::replication::ImageReplicated,
    ) -> Result<(), StewardError> {
        if let Ok(mut log) = self.0.lock() {
            log.push(event.clone());
        }
        Ok(())
    }

    async fn verdicts(&self, verdicts: &[crate::verdict::Verdict]) -> Result<(), StewardError> {
        if let Ok(mut log) = self.1.lock() {
            log.extend(verdicts.iter().cloned());
        }
        Ok(())
    }
}

/// A dead-letter queue in memory: the bodies and reasons it was sent.
#[derive(Debug, Default)]
pub struct Graveyard(Mutex<Vec<(String, String)>>);

impl Graveyard {
    /// `(body, reason)` of every message sent, in order.
    pub fn buried(&self) -> Vec<(String, String)> {
        self.0.lock().map(|g| g.clone()).unwrap_or_default()
    }
}

impl crate::ports::DeadLetters for Graveyard {
    async fn bury(&self, body: &str, reason: &str) -> Result<(), StewardError> {
        if let Ok(mut graveyard) = self.0.lock() {
            graveyard.push((body.into(), reason.into()));
        }
        Ok(())
    }
}

/// A job queue in memory: keeps what it queued and the size of every batch sent; can drop
/// the first few jobs it is sent, as SQS does when an entry fails on its side.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    queued: Mutex<Vec<crate::copy_job::CopyJob>>,
    batches: Mutex<Vec<usize>>,
    drop_first: Mutex<usize>,
}

impl MemoryQueue {
    /// Refuses the first `count` jobs it is sent, with a retryable fault.
    pub fn dropping_first(self, count: usize) -> Self {
        if let Ok(mut drop) = self.drop_first.lock() {
            *drop = count;
        }
        self
    }

    /// The jobs queued, in order.
    pub fn jobs(&self) -> Vec<crate::copy_job::CopyJob> {
        self.queued.lock().map(|q| q.clone()).unwrap_or_default()
    }

    /// How many jobs each batch carried.
    pub fn batch_sizes(&self) -> Vec<usize> {
        self.batches.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

impl crate::ports::JobQueue for MemoryQueue {
    async fn send_batch(
        &self,
        jobs: &[crate::copy_job::CopyJob],
    ) -> Result<Vec<crate::ports::JobSent>, StewardError> {
        use crate::ports::JobSent;
        if let Ok(mut batches) = self.batches.lock() {
            batches.push(jobs.len());
        }
        let (Ok(mut queued), Ok(mut drop)) = (self.queued.lock(), self.drop_first.lock()) else {
            return Err(StewardError::Internal("a lock is poisoned".into()));
        };
        Ok(jobs
            .iter()
            .map(|job| {
                if *drop > 0 {
                    *drop -= 1;
                    return JobSent::Refused {
                        reason: "InternalError: try again".into(),
                        retryable: true,
                    };
                }
                queued.push(job.clone());
                JobSent::Queued(format!("message-{}", queued.len()))
            })
            .collect())
    }
}

/// ECR's tags in memory, for one repository, with ECR's rules: removing an image's last tag
/// deletes the image; a tag moves when it is put on another image.
#[derive(Debug, Default)]
pub struct MemoryTags {
    /// Digest → tags of the image.
    images: Mutex<std::collections::BTreeMap<String, Vec<String>>>,
    /// Tag → digest to re-push the tag to just before the next removal (a racing push).
    race: Mutex<Option<(String, String)>>,
    /// Tags that cannot be moved once set.
    immutable: bool,
}

impl MemoryTags {
    /// A repository whose tags cannot move once set.
    pub fn immutable() -> Self {
        Self {
            immutable: true,
            ..Self::default()
        }
    }

    /// An image with these tags.
    pub fn with_image(self, digest: &str, tags: &[&str]) -> Self {
        if let Ok(mut images) = self.images.lock() {
            images.insert(digest.into(), tags.iter().map(|t| t.to_string()).collect());
        }
        self
    }

    /// Makes the next `remove_tag` of `tag` find it pushed again on `digest` first.
    pub fn race_next_removal(&self, tag: &str, digest: &str) {
        if let Ok(mut race) = self.race.lock() {
            *race = Some((tag.into(), digest.into()));
        }
    }

    /// The tags of `digest`; `None` once the image is deleted.
    pub fn tags_of(&self, digest: &str) -> Option<Vec<String>> {
        self.images.lock().ok()?.get(digest).cloned()
    }

    fn digest_of(
        images: &std::collections::BTreeMap<String, Vec<String>>,
        tag: &str,
    ) -> Option<String> {
        images
            .iter()
            .find(|(_, tags)| tags.iter().any(|t| t == tag))
            .map(|(digest, _)| digest.clone())
    }

    fn put(images: &mut std::collections::BTreeMap<String, Vec<String>>, tag: &str, digest: &str) {
        for tags in images.values_mut() {
            tags.retain(|t| t != tag);
        }
        images.entry(digest.into()).or_default().push(tag.into());
    }
}

fn poisoned() -> StewardError {
    StewardError::InvalidResponse {
        service: crate::error::Service::Ecr,
        message: "poisoned lock".into(),
    }
}

impl crate::ports::TagStore for MemoryTags {
    async fn image_by_digest(
        &self,
        _: &str,
        digest: &str,
    ) -> Result<
        Option<(
            crate::image::TaggedImage,
            Option<crate::timestamp::Timestamp>,
        )>,
        StewardError,
    > {
        let images = self.images.lock().map_err(|_| poisoned())?;
        Ok(images.get(digest).map(|tags| {
            (
                crate::image::TaggedImage {
                    digest: digest.into(),
                    tags: tags.clone(),
                    archived: false,
                },
                None,
            )
        }))
    }

    async fn tagged_image(
        &self,
        _: &str,
        tag: &str,
    ) -> Result<Option<crate::image::TaggedImage>, StewardError> {
        let images = self.images.lock().map_err(|_| poisoned())?;
        Ok(
            Self::digest_of(&images, tag).map(|digest| crate::image::TaggedImage {
                tags: images.get(&digest).cloned().unwrap_or_default(),
                archived: false,
                digest,
            }),
        )
    }

    async fn put_tag(&self, repository: &str, tag: &str, digest: &str) -> Result<(), StewardError> {
        let mut images = self.images.lock().map_err(|_| poisoned())?;
        if !images.contains_key(digest) {
            return Err(StewardError::NotFound {
                service: crate::error::Service::Ecr,
                what: format!("image {digest} in {repository}"),
            });
        }
        match Self::digest_of(&images, tag) {
            Some(current) if current == digest => Ok(()),
            Some(current) if self.immutable => Err(StewardError::Conflict {
                service: crate::error::Service::Ecr,
                message: format!("tag {tag} of {repository} is immutable and names {current}"),
            }),
            _ => {
                Self::put(&mut images, tag, digest);
                Ok(())
            }
        }
    }

    async fn remove_tag(&self, _: &str, tag: &str) -> Result<Option<String>, StewardError> {
        let mut images = self.images.lock().map_err(|_| poisoned())?;
        if let Some((raced, digest)) = self.race.lock().map_err(|_| poisoned())?.take() {
            if raced == tag {
                Self::put(&mut images, tag, &digest);
            }
        }
        let Some(digest) = Self::digest_of(&images, tag) else {
            return Ok(None);
        };
        let now_untagged = images.get_mut(&digest).is_some_and(|tags| {
            tags.retain(|t| t != tag);
            tags.is_empty()
        });
        if now_untagged {
            images.remove(&digest);
        }
        Ok(Some(digest))
    }
}

/// ECR in every region and account, in memory ([`crate::ports::ReplicaStore`]): images by
/// place (`region/account/repository`, the account empty for the caller's own) with their
/// tags. Removing an image's last tag deletes the image, as ECR does.
#[derive(Debug, Default)]
pub struct MemoryReplicas {
    images: Mutex<std::collections::BTreeMap<String, Vec<crate::image::TaggedImage>>>,
    /// Every removal and deletion, in order: `remove PLACE TAG` or `delete PLACE DIGEST`.
    pub writes: Mutex<Vec<String>>,
}

fn replica_place(region: &str, account: Option<&str>, repository: &str) -> String {
    format!("{region}/{}/{repository}", account.unwrap_or_default())
}

impl MemoryReplicas {
    /// `tag` names `digest` at the place (moved from any image it named before).
    pub fn tag(&self, region: &str, repository: &str, tag: &str, digest: &str) {
        let Ok(mut images) = self.images.lock() else {
            return;
        };
        let place = images
            .entry(replica_place(region, None, repository))
            .or_default();
        for image in place.iter_mut() {
            image.tags.retain(|t| t != tag);
        }
        match place.iter_mut().find(|image| image.digest == digest) {
            Some(image) => image.tags.push(tag.into()),
            None => place.push(crate::image::TaggedImage {
                digest: digest.into(),
                tags: vec![tag.into()],
                archived: false,
            }),
        }
    }

    /// The untagged image `digest` is at the place.
    pub fn untagged(&self, region: &str, repository: &str, digest: &str) {
        if let Ok(mut images) = self.images.lock() {
            images
                .entry(replica_place(region, None, repository))
                .or_default()
                .push(crate::image::TaggedImage {
                    digest: digest.into(),
                    tags: Vec::new(),
                    archived: false,
                });
        }
    }

    /// Tag → digest at the place (untagged images as `@DIGEST` → DIGEST).
    pub fn listing(
        &self,
        region: &str,
        repository: &str,
    ) -> std::collections::BTreeMap<String, String> {
        let images = self.images.lock().map(|i| i.clone()).unwrap_or_default();
        images
            .get(&replica_place(region, None, repository))
            .into_iter()
            .flatten()
            .flat_map(|image| {
                let untagged = image
                    .tags
                    .is_empty()
                    .then(|| (format!("@{}", image.digest), image.digest.clone()));
                image
                    .tags
                    .iter()
                    .map(|t| (t.clone(), image.digest.clone()))
                    .chain(untagged)
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

impl crate::ports::ReplicaStore for MemoryReplicas {
    async fn image_in(
        &self,
        region: &str,
        account: Option<&str>,
        repository: &str,
        selector: &crate::image::ImageSelector,
    ) -> Result<Option<crate::image::TaggedImage>, StewardError> {
        let images = self.images.lock().map_err(|_| poisoned())?;
        Ok(images
            .get(&replica_place(region, account, repository))
            .into_iter()
            .flatten()
            .find(|image| match selector {
                crate::image::ImageSelector::Tag(tag) => image.tags.contains(tag),
                crate::image::ImageSelector::Digest(digest) => image.digest == *digest,
            })
            .cloned())
    }

    async fn remove_tag_in(
        &self,
        region: &str,
        account: Option<&str>,
        repository: &str,
        tag: &str,
    ) -> Result<Option<String>, StewardError> {
        let place = replica_place(region, account, repository);
        let mut images = self.images.lock().map_err(|_| poisoned())?;
        let Some(list) = images.get_mut(&place) else {
            return Ok(None);
        };
        let Some(index) = list
            .iter()
            .position(|image| image.tags.contains(&tag.to_string()))
        else {
            return Ok(None);
        };
        let digest = list[index].digest.clone();
        list[index].tags.retain(|t| t != tag);
        if list[index].tags.is_empty() {
            list.remove(index);
        }
        self.writes
            .lock()
            .map_err(|_| poisoned())?
            .push(format!("remove {place} {tag}"));
        Ok(Some(digest))
    }

    async fn delete_image_in(
        &self,
        region: &str,
        account: Option<&str>,
        repository: &str,
        digest: &str,
    ) -> Result<bool, StewardError> {
        let place = replica_place(region, account, repository);
        let mut images = self.images.lock().map_err(|_| poisoned())?;
        let Some(list) = images.get_mut(&place) else {
            return Ok(false);
        };
        let before = list.len();
        list.retain(|image| image.digest != digest);
        let deleted = list.len() < before;
        if deleted {
            self.writes
                .lock()
                .map_err(|_| poisoned())?
                .push(format!("delete {place} {digest}"));
        }
        Ok(deleted)
    }
}

/// A registry in memory: what each tag names, and each image's labels (one platform).
#[derive(Debug, Default)]
pub struct MemoryImages {
    tags: Mutex<std::collections::BTreeMap<String, String>>,
    labels: std::collections::BTreeMap<String, crate::labels::Labels>,
    evidence: std::collections::BTreeMap<String, crate::provenance::ImageEvidence>,
    subjects: std::collections::BTreeMap<String, String>,
}

impl MemoryImages {
    /// `tag` names `digest`; the image has `labels`.
    pub fn with(mut self, tag: &str, digest: &str, labels: crate::labels::Labels) -> Self {
        self.labels.insert(digest.into(), labels);
        self.retag(tag, digest);
        self
    }

    /// Points `tag` at another image, as a newer push does.
    pub fn retag(&self, tag: &str, digest: &str) {
        if let Ok(mut tags) = self.tags.lock() {
            tags.insert(tag.into(), digest.into());
        }
    }

    /// Deletes `tag`.
    pub fn untag(&self, tag: &str) {
        if let Ok(mut tags) = self.tags.lock() {
            tags.remove(tag);
        }
    }
}

impl MemoryImages {
    /// What the image `digest` carries for its provenance (none by default).
    pub fn with_evidence(mut self, evidence: crate::provenance::ImageEvidence) -> Self {
        self.evidence
            .insert(evidence.image.digest.clone(), evidence);
        self
    }

    /// The artifact `referrer` names `subject` as its subject.
    pub fn with_referrer(mut self, referrer: &str, subject: &str) -> Self {
        self.subjects.insert(referrer.into(), subject.into());
        self
    }
}

impl crate::ports::ProvenanceReader for MemoryImages {
    async fn subject_of(
        &self,
        _region: &str,
        _repository: &str,
        digest: &str,
    ) -> Result<Option<String>, StewardError> {
        Ok(self.subjects.get(digest).cloned())
    }

    async fn provenance(
        &self,
        _region: &str,
        _repository: &str,
        digest: &str,
        _managed: bool,
    ) -> Result<crate::provenance::ImageEvidence, StewardError> {
        Ok(self
            .evidence
            .get(digest)
            .cloned()
            .unwrap_or_else(|| crate::provenance::ImageEvidence {
                image: crate::provenance::Evidence {
                    digest: digest.into(),
                    ..Default::default()
                },
                platforms: Vec::new(),
            }))
    }
}

impl crate::ports::ImageReader for MemoryImages {
    async fn platform_labels(
        &self,
        _: &str,
        _: &str,
        digest: &str,
    ) -> Result<Vec<crate::image::PlatformLabels>, StewardError> {
        let labels = self
            .labels
            .get(digest)
            .cloned()
            .ok_or_else(|| StewardError::NotFound {
                service: crate::error::Service::Registry,
                what: digest.into(),
            })?;
        Ok(vec![crate::image::PlatformLabels {
            platform: None,
            digest: digest.into(),
            labels,
        }])
    }

    async fn tag_digest(
        &self,
        _: &str,
        _: &str,
        tag: &str,
    ) -> Result<Option<String>, StewardError> {
        Ok(self.tags.lock().map_err(|_| poisoned())?.get(tag).cloned())
    }
}

/// ECR's catalog and scans in memory: repositories with their tagged images, the scan
/// findings of some digests, and whether each repository scans on push.
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    images: std::collections::BTreeMap<String, Vec<crate::image::TaggedImage>>,
    scans: std::collections::BTreeMap<String, crate::ports::ScanFindings>,
    scanning: std::collections::BTreeSet<String>,
}

impl MemoryCatalog {
    /// A repository holding `digest` under `tags`; `scans_on_push` for the repository.
    pub fn with_image(mut self, repository: &str, digest: &str, tags: &[&str]) -> Self {
        self.images
            .entry(repository.into())
            .or_default()
            .push(crate::image::TaggedImage {
                digest: digest.into(),
                tags: tags.iter().map(|t| t.to_string()).collect(),
                archived: false,
            });
        self
    }

    /// A repository holding `digest` under `tags`, in the archive storage class.
    pub fn with_archived_image(mut self, repository: &str, digest: &str, tags: &[&str]) -> Self {
        self = self.with_image(repository, digest, tags);
        if let Some(image) = self
            .images
            .get_mut(repository)
            .and_then(|list| list.last_mut())
        {
            image.archived = true;
        }
        self
    }

    /// The repository scans on push.
    pub fn scanning(mut self, repository: &str) -> Self {
        self.scanning.insert(repository.into());
        self
    }

    /// The scan of `digest` has these findings.
    pub fn with_scan(mut self, digest: &str, findings: crate::ports::ScanFindings) -> Self {
        self.scans.insert(digest.into(), findings);
        self
    }
}

impl crate::ports::ImageCatalog for MemoryCatalog {
    async fn find_image(
        &self,
        repository: &str,
        selector: &crate::image::ImageSelector,
    ) -> Result<Option<crate::image::TaggedImage>, StewardError> {
        use crate::image::ImageSelector;
        Ok(self.images.get(repository).and_then(|images| {
            images
                .iter()
                .find(|image| match selector {
                    ImageSelector::Tag(tag) => image.tags.contains(tag),
                    ImageSelector::Digest(digest) => &image.digest == digest,
                })
                .cloned()
        }))
    }

    async fn repositories(&self) -> Result<Vec<String>, StewardError> {
        Ok(self.images.keys().cloned().collect())
    }

    async fn tagged_images(
        &self,
        repository: &str,
    ) -> Result<Vec<crate::image::TaggedImage>, StewardError> {
        let mut images = self.images.get(repository).cloned().unwrap_or_default();
        images.retain(|image| !image.tags.is_empty());
        images.sort_by(|a, b| a.digest.cmp(&b.digest));
        Ok(images)
    }

    async fn scans_on_push(&self, repository: &str) -> Result<bool, StewardError> {
        Ok(self.scanning.contains(repository))
    }
}

impl crate::ports::ScanReader for MemoryCatalog {
    async fn scan_findings(
        &self,
        _: &str,
        digest: &str,
    ) -> Result<crate::ports::ScanFindings, StewardError> {
        self.scans
            .get(digest)
            .cloned()
            .ok_or_else(|| StewardError::NotFound {
                service: crate::error::Service::Ecr,
                what: format!("the scan of {digest}"),
            })
    }
}

/// A registry for `audit`'s unit tests: a [`MemoryCatalog`] with repository settings, and
/// repositories whose reads ECR denies (`AccessDeniedException`).
#[derive(Debug, Default)]
pub struct MemoryInspector {
    /// The repositories and their images.
    pub catalog: MemoryCatalog,
    settings: std::collections::BTreeMap<String, crate::policy::RepositorySettings>,
    denied: std::collections::BTreeSet<String>,
    reads: std::sync::atomic::AtomicUsize,
    throttled: std::sync::atomic::AtomicUsize,
}

impl MemoryInspector {
    /// Over these repositories and images.
    pub fn new(catalog: MemoryCatalog) -> Self {
        Self {
            catalog,
            ..Self::default()
        }
    }

    /// The repository is set up so.
    pub fn with_settings(
        mut self,
        repository: &str,
        settings: crate::policy::RepositorySettings,
    ) -> Self {
        self.settings.insert(repository.into(), settings);
        self
    }

    /// Every read naming the repository is denied.
    pub fn denied(mut self, repository: &str) -> Self {
        self.denied.insert(repository.into());
        self
    }

    /// The next `reads` reads naming a repository are throttled (`ThrottlingException`).
    pub fn throttle_next(self, reads: usize) -> Self {
        self.throttled
            .store(reads, std::sync::atomic::Ordering::Relaxed);
        self
    }

    /// How many reads named a repository so far.
    pub fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn check(&self, repository: &str) -> Result<(), StewardError> {
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let throttled = self.throttled.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |left| left.checked_sub(1),
        );
        if throttled.is_ok() {
            return Err(StewardError::Throttled {
                service: crate::error::Service::Ecr,
                message: "Rate exceeded".into(),
            });
        }
        if self.denied.contains(repository) {
            return Err(StewardError::Rejected {
                service: crate::error::Service::Ecr,
                code: Some(crate::error::AwsErrorCode::AccessDenied),
                message: format!("AccessDeniedException: not authorized on {repository}"),
            });
        }
        Ok(())
    }
}

impl crate::ports::ImageCatalog for MemoryInspector {
    async fn find_image(
        &self,
        repository: &str,
        selector: &crate::image::ImageSelector,
    ) -> Result<Option<crate::image::TaggedImage>, StewardError> {
        self.check(repository)?;
        self.catalog.find_image(repository, selector).await
    }

    async fn repositories(&self) -> Result<Vec<String>, StewardError> {
        let mut names = self.catalog.repositories().await?;
        names.extend(self.settings.keys().cloned());
        names.extend(self.denied.iter().cloned());
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn tagged_images(
        &self,
        repository: &str,
    ) -> Result<Vec<crate::image::TaggedImage>, StewardError> {
        self.check(repository)?;
        self.catalog.tagged_images(repository).await
    }

    async fn scans_on_push(&self, repository: &str) -> Result<bool, StewardError> {
        self.check(repository)?;
        self.catalog.scans_on_push(repository).await
    }
}

impl crate::ports::ScanReader for MemoryInspector {
    async fn scan_findings(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<crate::ports::ScanFindings, StewardError> {
        self.check(repository)?;
        crate::ports::ScanReader::scan_findings(&self.catalog, repository, digest).await
    }
}

impl crate::ports::RepositoryInspector for MemoryInspector {
    async fn repository_settings(
        &self,
        repository: &str,
        _: &crate::policy::RepositoryRules,
    ) -> Result<crate::policy::RepositorySettings, StewardError> {
        self.check(repository)?;
        Ok(self.settings.get(repository).cloned().unwrap_or_default())
    }

    async fn tag_digests(
        &self,
        _: Option<&str>,
        repository: &str,
    ) -> Result<Option<std::collections::BTreeMap<String, String>>, StewardError> {
        self.check(repository)?;
        let Some(images) = self.catalog.images.get(repository) else {
            return Ok(None);
        };
        Ok(Some(
            images
                .iter()
                .flat_map(|image| {
                    image
                        .tags
                        .iter()
                        .map(|tag| (tag.clone(), image.digest.clone()))
                })
                .collect(),
        ))
    }
}

/// ECR's images for retention, in memory: repositories of [`ImageRecord`]s, deletion by
/// digest (ECR's rules: at most 100 a request; an unknown digest is `ImageNotFound`),
/// and changes injected between the plan and the deletion.
#[derive(Debug, Default)]
pub struct MemoryRetention {
    images: Mutex<std::collections::BTreeMap<String, Vec<crate::retention::ImageRecord>>>,
    /// (repository, digest, tag) to add at the second listing: a push after the plan.
    late_tag: Mutex<Option<(String, String, String)>>,
    /// Digest → the failure code ECR answers when asked to delete it.
    refusals: std::collections::BTreeMap<String, String>,
    /// The size of each deletion request, in order.
    requests: Mutex<Vec<usize>>,
    listings: Mutex<usize>,
    /// The time an archiving is stamped with; the clock when unset.
    archive_clock: Option<crate::timestamp::Timestamp>,
}

impl MemoryRetention {
    /// `repository` holds `image`.
    pub fn with(self, repository: &str, image: crate::retention::ImageRecord) -> Self {
        if let Ok(mut images) = self.images.lock() {
            images.entry(repository.into()).or_default().push(image);
        }
        self
    }

    /// Images archived from now on are stamped `at` (their `lastArchivedAt`).
    pub fn archiving_at(mut self, at: crate::timestamp::Timestamp) -> Self {
        self.archive_clock = Some(at);
        self
    }

    /// ECR refuses to delete `digest` with `code`.
    pub fn refusing(mut self, digest: &str, code: &str) -> Self {
        self.refusals.insert(digest.into(), code.into());
        self
    }

    /// At the second listing (the recheck before the first batch), `tag` is on `digest`.
    pub fn tag_after_the_plan(&self, repository: &str, digest: &str, tag: &str) {
        if let Ok(mut late) = self.late_tag.lock() {
            *late = Some((repository.into(), digest.into(), tag.into()));
        }
    }

    /// The digests `repository` holds now, sorted.
    pub fn digests(&self, repository: &str) -> Vec<String> {
        let mut digests: Vec<String> = self
            .images
            .lock()
            .map(|images| {
                images
                    .get(repository)
                    .map(|list| list.iter().map(|i| i.digest.clone()).collect())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        digests.sort();
        digests
    }

    /// The number of digests of each deletion request so far.
    pub fn delete_requests(&self) -> Vec<usize> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl crate::ports::RetentionStore for MemoryRetention {
    async fn retention_images(
        &self,
        repository: &str,
    ) -> Result<Vec<crate::retention::ImageRecord>, StewardError> {
        let mut images = self.images.lock().map_err(|_| poisoned())?;
        let mut listings = self.listings.lock().map_err(|_| poisoned())?;
        *listings += 1;
        if *listings >= 2 {
            if let Some((repo, digest, tag)) = self.late_tag.lock().map_err(|_| poisoned())?.take()
            {
                for image in images.get_mut(&repo).into_iter().flatten() {
                    if image.digest == digest {
                        image.tags.push(tag.clone());
                    }
                }
            }
        }
        Ok(images.get(repository).cloned().unwrap_or_default())
    }

    async fn delete_images(
        &self,
        repository: &str,
        digests: &[String],
    ) -> Result<crate::ports::DeleteAnswer, StewardError> {
        if digests.len() > crate::ports::MAX_DELETE_BATCH {
            return Err(StewardError::Rejected {
                service: crate::error::Service::Ecr,
                code: None,
                message: "more than 100 image ids".into(),
            });
        }
        self.requests
            .lock()
            .map_err(|_| poisoned())?
            .push(digests.len());
        let mut images = self.images.lock().map_err(|_| poisoned())?;
        let list = images.entry(repository.into()).or_default();
        let mut answer = crate::ports::DeleteAnswer::default();
        for digest in digests {
            if let Some(code) = self.refusals.get(digest) {
                answer.failed.push(crate::retention::DeleteFailure {
                    digest: digest.clone(),
                    code: code.clone(),
                    message: "refused".into(),
                });
            } else if list.iter().any(|i| &i.digest == digest) {
                list.retain(|i| &i.digest != digest);
                answer.deleted.push(digest.clone());
            } else {
                answer.gone.push(digest.clone());
            }
        }
        Ok(answer)
    }

    async fn repository_names(&self) -> Result<Vec<String>, StewardError> {
        Ok(self
            .images
            .lock()
            .map_err(|_| poisoned())?
            .keys()
            .cloned()
            .collect())
    }

    /// The archive tier as ECR documents it (moto has none): the image becomes ARCHIVED
    /// with `lastArchivedAt` set to the moment of the request.
    async fn archive_images(
        &self,
        repository: &str,
        digests: &[String],
    ) -> Result<crate::ports::ArchiveAnswer, StewardError> {
        let mut images = self.images.lock().map_err(|_| poisoned())?;
        let list = images.entry(repository.into()).or_default();
        let mut answer = crate::ports::ArchiveAnswer::default();
        let now = self.archive_clock.map_or_else(
            || {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64)
            },
            |at| at.0,
        );
        for digest in digests {
            match list.iter_mut().find(|i| &i.digest == digest) {
                Some(image) => {
                    image.status = crate::retention::ImageStatus::Archived;
                    image.archived_at = Some(crate::timestamp::Timestamp(now));
                    answer.archived.push(digest.clone());
                }
                None => answer.gone.push(digest.clone()),
            }
        }
        Ok(answer)
    }
}

/// A policy kept in memory, as S3 or SSM keep it: each [`MemoryPolicyStore::put`] is a new
/// version, and a read that names the current version is answered `Unchanged`.
#[derive(Debug, Default)]
pub struct MemoryPolicyStore(Mutex<StoredPolicy>);

#[derive(Debug, Default)]
struct StoredPolicy {
    text: String,
    version: u64,
    reads: usize,
    unreachable: bool,
}

impl MemoryPolicyStore {
    /// A store holding `text` at version 1.
    pub fn with(text: &str) -> Self {
        let store = Self::default();
        store.put(text);
        store
    }

    /// Replaces the policy: a new version.
    pub fn put(&self, text: &str) {
        if let Ok(mut stored) = self.0.lock() {
            stored.text = text.into();
            stored.version += 1;
        }
    }

    /// Makes reads fail as an unreachable store does (`Retryable.Unavailable`), or succeed again.
    pub fn set_unreachable(&self, unreachable: bool) {
        if let Ok(mut stored) = self.0.lock() {
            stored.unreachable = unreachable;
        }
    }

    /// How many reads were made.
    pub fn reads(&self) -> usize {
        self.0.lock().map(|stored| stored.reads).unwrap_or_default()
    }
}

impl crate::ports::PolicyStore for MemoryPolicyStore {
    async fn fetch(
        &self,
        location: &crate::policy_source::PolicyLocation,
        known: Option<&str>,
    ) -> Result<crate::ports::PolicyFetch, StewardError> {
        let mut stored = self
            .0
            .lock()
            .map_err(|_| StewardError::Internal("poisoned".into()))?;
        stored.reads += 1;
        if stored.unreachable {
            return Err(StewardError::Unavailable {
                service: crate::error::Service::S3,
                message: format!("{location} is out of reach"),
            });
        }
        let version = stored.version.to_string();
        if known == Some(version.as_str()) {
            return Ok(crate::ports::PolicyFetch::Unchanged);
        }
        Ok(crate::ports::PolicyFetch::Changed {
            text: stored.text.clone(),
            version,
        })
    }
}

/// What runs, per `in_use` source (Workloads): the images each reports, or a source that
/// cannot be read (its error). A source not set reports nothing running. Counts the reads.
#[derive(Debug, Default)]
pub struct MemoryWorkloads {
    running: Mutex<Vec<crate::retention::RunningImage>>,
    denied: Mutex<Vec<crate::retention::UsageSource>>,
    reads: std::sync::atomic::AtomicUsize,
}

impl MemoryWorkloads {
    /// `reference` runs, as `what` of `source` reports it.
    pub fn run(&self, source: crate::retention::UsageSource, reference: &str, what: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.push(crate::retention::RunningImage {
                reference: reference.into(),
                digest: None,
                usage: crate::retention::Usage {
                    source,
                    what: what.into(),
                    last_seen: None,
                },
            });
        }
    }

    /// `source` answers AccessDenied from now on.
    pub fn deny(&self, source: crate::retention::UsageSource) {
        if let Ok(mut denied) = self.denied.lock() {
            denied.push(source);
        }
    }

    /// How many times a source was read.
    pub fn reads(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl crate::ports::Workloads for MemoryWorkloads {
    async fn running_images(
        &self,
        source: crate::retention::UsageSource,
    ) -> Result<Vec<crate::retention::RunningImage>, StewardError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.denied.lock().is_ok_and(|d| d.contains(&source)) {
            return Err(StewardError::Rejected {
                service: crate::error::Service::Lambda,
                code: Some(crate::error::AwsErrorCode::AccessDenied),
                message: "AccessDeniedException: not authorized".into(),
            });
        }
        Ok(self
            .running
            .lock()
            .map(|r| {
                r.iter()
                    .filter(|i| i.usage.source == source)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
}

/// The run cursor in memory (RunCursor): where the next scheduled run starts.
#[derive(Debug, Default)]
pub struct MemoryCursor(Mutex<Option<String>>);

impl MemoryCursor {
    /// A cursor that says the next run starts at `repository`.
    pub fn at(repository: &str) -> Self {
        Self(Mutex::new(Some(repository.into())))
    }

    /// Where the next run starts; `None`: from the first repository.
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok()?.clone()
    }
}

impl crate::ports::RunCursor for MemoryCursor {
    async fn next_start(&self) -> Result<Option<String>, StewardError> {
        Ok(self.get())
    }

    async fn set_next_start(&self, repository: Option<&str>) -> Result<(), StewardError> {
        *self.0.lock().map_err(|_| poisoned())? = repository.map(Into::into);
        Ok(())
    }
}

/// A local HTTP server that answers the next `answers.len()` requests in order, each with
/// its status and JSON body, and hands back what it was sent: (request line and headers,
/// body) each. For adapters of APIs moto does not serve: their requests are checked against
/// what the API model says, and their parsing against answers shaped as the model says.
pub struct AnsweringServer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    seen: std::thread::JoinHandle<Vec<(String, String)>>,
}

impl AnsweringServer {
    /// Starts it, answering `answers` in order, each with status 200.
    pub fn start(answers: Vec<serde_json::Value>) -> Self {
        Self::start_with(answers.into_iter().map(|a| (200, a)).collect())
    }

    /// Starts it, answering `answers` (status, JSON body) in order.
    ///
    /// # Panics
    /// When no local port can be bound.
    #[allow(clippy::expect_used)]
    pub fn start_with(answers: Vec<(u16, serde_json::Value)>) -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let seen = std::thread::spawn(move || {
            let mut seen = Vec::new();
            for (status, answer) in answers {
                let Ok((stream, _)) = listener.accept() else {
                    break;
                };
                let mut reader = BufReader::new(stream);
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    head.push_str(&line);
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                seen.push((head, String::from_utf8_lossy(&body).into_owned()));
                let text = answer.to_string();
                let mut stream = reader.into_inner();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
            seen
        });
        Self { url, seen }
    }

    /// An SDK configuration that sends every request to this server (test credentials,
    /// us-east-1, the functions' HTTP client).
    ///
    /// # Panics
    /// When the HTTP client cannot be built.
    #[allow(clippy::expect_used)]
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        let http = crate::http::client(crate::http::TrustRoots::Bundled).expect("a client");
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .http_client(crate::http::SdkHttpClient::shared(http))
            .endpoint_url(&self.url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "testing", "testing", None, None, "test",
                    ),
                ),
            )
            .build()
    }

    /// What it was sent, once every answer was given.
    ///
    /// # Panics
    /// When the server thread panicked.
    #[allow(clippy::expect_used)]
    pub fn requests(self) -> Vec<(String, String)> {
        self.seen.join().expect("the answering server")
    }
}

/// push-guard's re-check queue in memory: what was sent, with its delay.
#[derive(Debug, Default)]
pub struct MemoryRechecks(Mutex<Vec<(crate::push::Recheck, u32)>>);

impl MemoryRechecks {
    /// The re-checks sent so far, with their delays.
    pub fn sent(&self) -> Vec<(crate::push::Recheck, u32)> {
        self.0.lock().map(|sent| sent.clone()).unwrap_or_default()
    }
}

impl crate::ports::Rechecks for MemoryRechecks {
    async fn later(
        &self,
        recheck: &crate::push::Recheck,
        delay_seconds: u32,
    ) -> Result<(), StewardError> {
        self.0
            .lock()
            .map_err(|_| poisoned())?
            .push((recheck.clone(), delay_seconds));
        Ok(())
    }
}
