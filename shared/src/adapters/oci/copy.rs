//! The copy engine: images copied between registries over the OCI Distribution API,
//! digest-preserving and verified, with everything that refers to them.
//!
//! A copy has two phases. The first reads: from the image down, level by level and each level
//! at once, every manifest's exact bytes at the source, whether the destination has it, and
//! what refers to it — the referrers API (every page) and cosign's tag scheme
//! (`sha256-<hex>.sig`, `.att`, `.sbom`, and the OCI fallback index `sha256-<hex>`), on every
//! registry, since a registry with the API still holds tag-scheme objects it never lists. The
//! children of an index and the referrers of referrers (to [`REFERRER_DEPTH`]) are read so too.
//! The second writes only what is missing: every unique blob at once (bounded by
//! `parallelism`), then manifests in waves, each after the children and subject it names, then
//! the referrers' tags, and the image's own tags last: a destination tag never names an image
//! whose signatures are not there yet.
//!
//! - Manifests travel as the exact bytes fetched by digest.
//! - Blobs stream from source to destination, never held whole in memory; their sha256 is
//!   computed on the way, and an upload whose bytes do not match is abandoned, never committed.
//! - Non-distributable ("foreign") layers are neither fetched nor uploaded.
//! - A tag an immutable destination refuses is looked up: naming the same digest, it is in
//!   place; naming another, it is a conflict, never retried.
//! - A referrer the destination refuses for good is reported, and the image still copied.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::{try_join, try_join3, try_join_all};
use futures_util::{stream, StreamExt, TryStreamExt};
use sha2::{Digest as _, Sha256};

use super::registry::{RegistryClient, UploadStart};
use crate::error::{Service, StewardError};
use crate::image::{Digest, DigestAlgorithm, Referrer};
use crate::manifest::lower_hex;
use crate::manifest::{ManifestDoc, RawManifest};
use crate::replication::CopyStats;
use crate::retry::RetryPolicy;

/// Referrers of referrers are followed this deep: an image's signature (1), a signature of
/// its SBOM (2), and one more level.
pub const REFERRER_DEPTH: usize = 3;

/// The tags cosign and the OCI referrers tag schema put beside `sha256-<hex>`.
const TAG_SCHEMES: [&str; 4] = [".sig", ".att", ".sbom", ""];

/// One end of a copy: a registry and a repository in it.
#[derive(Clone, Copy)]
pub struct Endpoint<'a> {
    /// The registry.
    pub registry: &'a RegistryClient,
    /// The repository's name in it.
    pub repository: &'a str,
}

/// How a copy runs.
#[derive(Debug, Clone)]
pub struct CopyOptions {
    /// Blobs in flight at once, at most (each action's [`Windows`](super::window::Windows)
    /// may allow fewer).
    pub parallelism: usize,
    /// Bytes of blobs in flight at once, at most; a larger blob goes alone.
    pub bytes_in_flight: u64,
    /// Each blob sent with its commit in one request (`PUT ?digest=` with the body), else
    /// as a `PATCH` of the data and an empty `PUT`.
    pub monolithic: bool,
    /// Retries of each registry call.
    pub retry: RetryPolicy,
    /// What the copies of one run have sent or found at their destinations, shared by them
    /// (see [`BlobLedger`]).
    pub ledger: BlobLedger,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            parallelism: 32,
            bytes_in_flight: 512 << 20,
            monolithic: true,
            retry: RetryPolicy::default(),
            ledger: BlobLedger::default(),
        }
    }
}

/// How long the ledger believes what it learnt: about one run (a backfill batch).
pub const LEDGER_MEMORY: std::time::Duration = std::time::Duration::from_secs(600);

/// Registry base URL → blob digest → repository → when it was known to hold it.
type Known = BTreeMap<String, BTreeMap<String, BTreeMap<String, std::time::Instant>>>;

/// The blobs a run (a CLI backfill, a warm replicator's batches) knows to be at each
/// destination repository, because it sent them or the registry said so: a blob is checked
/// and sent to a repository once, and one another repository of the same registry holds is
/// mounted from there. Clones share it. What it knows is believed for [`LEDGER_MEMORY`], and
/// a manifest a registry refuses for a missing blob makes it forget that repository, so that
/// nothing deleted since is believed twice.
#[derive(Debug, Clone, Default)]
pub struct BlobLedger {
    known: Arc<Mutex<Known>>,
}

impl BlobLedger {
    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn fresh(at: &std::time::Instant) -> bool {
        at.elapsed() < LEDGER_MEMORY
    }

    /// True when `endpoint`'s repository is known to hold `digest`.
    pub fn holds(&self, endpoint: Endpoint<'_>, digest: &str) -> bool {
        self.lock()
            .get(endpoint.registry.base())
            .and_then(|blobs| blobs.get(digest))
            .and_then(|repositories| repositories.get(endpoint.repository))
            .is_some_and(Self::fresh)
    }

    /// Another repository of `endpoint`'s registry known to hold `digest`.
    pub fn mount_source(&self, endpoint: Endpoint<'_>, digest: &str) -> Option<String> {
        self.lock()
            .get(endpoint.registry.base())
            .and_then(|blobs| blobs.get(digest))
            .and_then(|repositories| {
                repositories
                    .iter()
                    .find(|(r, at)| r.as_str() != endpoint.repository && Self::fresh(at))
                    .map(|(r, _)| r.clone())
            })
    }

    /// Remembers that `endpoint`'s repository holds `digest`.
    pub fn record(&self, endpoint: Endpoint<'_>, digest: &str) {
        self.lock()
            .entry(endpoint.registry.base().to_string())
            .or_default()
            .entry(digest.to_string())
            .or_default()
            .insert(endpoint.repository.to_string(), std::time::Instant::now());
    }

    /// Forgets everything about `endpoint`'s repository.
    pub fn forget(&self, endpoint: Endpoint<'_>) {
        if let Some(blobs) = self.lock().get_mut(endpoint.registry.base()) {
            for repositories in blobs.values_mut() {
                repositories.remove(endpoint.repository);
            }
        }
    }
}

/// One manifest of the copy, as read at the source.
struct Node {
    manifest: RawManifest,
    doc: ManifestDoc,
    at_destination: bool,
    /// Found as a referrer (directly or inside a fallback index), not as the image or a child.
    referrer: bool,
    /// Digests that must be at the destination first: children, the subject.
    after: Vec<String>,
}

/// Everything one copy touches, read at the source before anything is written.
#[derive(Default)]
struct Plan {
    nodes: BTreeMap<String, Node>,
    /// Tag-scheme tags found at the source, and the digest each names.
    tags: Vec<(String, String)>,
}

/// Copies the image `digest` (a manifest or an index) with its signatures, SBOMs and
/// attestations, and points `tags` at it. Just before a destination tag is moved, the
/// source's tag is read again: a tag that names another image there now (a newer push, with
/// its own event) is left alone and counted in `tags_moved_on`, so a late event never moves
/// a destination tag backwards.
pub async fn copy_image(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    tags: &[String],
    options: &CopyOptions,
) -> Result<CopyStats, StewardError> {
    copy_image_when(source, destination, digest, tags, options, async { Ok(()) }).await
}

/// [`copy_image`], with `destination_ready` (say, creating the destination repository) run
/// beside the reads: nothing is written before it has succeeded.
pub async fn copy_image_when(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    tags: &[String],
    options: &CopyOptions,
    destination_ready: impl std::future::Future<Output = Result<(), StewardError>>,
) -> Result<CopyStats, StewardError> {
    let (current, plan, ()) = try_join3(
        try_join_all(tags.iter().map(|tag| resolve(destination, tag, options))),
        discover(source, destination, digest, options),
        destination_ready,
    )
    .await?;
    match write_plan(source, destination, digest, tags, options, &current, &plan).await {
        Err(error) if missing_blob(&error) => {
            // A blob the run's ledger believed in is gone (deleted since it learnt of it): the
            // registry is asked again, once.
            options.ledger.forget(destination);
            let (current, plan) = try_join(
                try_join_all(tags.iter().map(|tag| resolve(destination, tag, options))),
                discover(source, destination, digest, options),
            )
            .await?;
            write_plan(source, destination, digest, tags, options, &current, &plan).await
        }
        written => written,
    }
}

/// A registry's answer that a manifest names a blob it does not have.
fn missing_blob(error: &StewardError) -> bool {
    error.to_string().contains("BLOB_UNKNOWN")
}

/// The writes of a copy, once its plan is read: what is missing, the referrers' tags, then
/// the image's tags, each source tag read again just before.
async fn write_plan(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    tags: &[String],
    options: &CopyOptions,
    current: &[Option<String>],
    plan: &Plan,
) -> Result<CopyStats, StewardError> {
    let Some(image) = plan.nodes.get(digest) else {
        return Err(StewardError::Internal(format!(
            "{digest} is missing from its own copy plan"
        )));
    };
    let moving: Vec<&String> = tags
        .iter()
        .zip(current)
        .filter(|(_, current)| current.as_deref() != Some(digest))
        .map(|(tag, _)| tag)
        .collect();
    // A missing image is written once, by its tag, unless something of the copy (its own
    // signatures) must land after it and before the tag.
    let by_tag = !image.at_destination
        && !moving.is_empty()
        && !plan
            .nodes
            .values()
            .any(|node| node.after.iter().any(|d| d == digest));
    let mut stats =
        write_missing(source, destination, plan, options, by_tag.then_some(digest)).await?;
    stats.referrers = plan
        .nodes
        .iter()
        .filter(|(digest, node)| node.referrer && !refused(&stats, digest))
        .count() as u64;
    stats.external_blobs = plan
        .nodes
        .values()
        .flat_map(|node| node.doc.config.iter().chain(&node.doc.layers))
        .filter(|blob| blob.is_external())
        .map(|blob| blob.digest.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    // The referrers' tags, then the image's: each written only where it names something else.
    // The source's tags are read again beside the referrers' tags' lookups, after every other
    // write: a tag that names a newer push by then is left alone.
    let referrer_tags: Vec<(&str, &str)> = plan
        .tags
        .iter()
        .filter(|(_, digest)| !refused(&stats, digest))
        .map(|(tag, digest)| (tag.as_str(), digest.as_str()))
        .collect();
    let (misplaced, at_source) = try_join(
        misplaced_tags(destination, referrer_tags, options),
        try_join_all(moving.iter().map(|tag| resolve(source, tag, options))),
    )
    .await?;
    for (tag, digest, _) in misplaced {
        if let Some(node) = plan.nodes.get(digest) {
            put_tag(destination, tag, &node.manifest, options).await?;
        }
    }
    let mut keep = Vec::new();
    for (tag, at_source) in moving.into_iter().zip(at_source) {
        if at_source.as_deref() == Some(digest) {
            keep.push(tag);
        } else {
            stats.tags_moved_on += 1;
        }
    }
    if by_tag && keep.is_empty() {
        // Every tag names another image at the source now: the image still goes, by digest.
        put_manifest(destination, digest, &image.manifest, options).await?;
        stats.manifests_copied += 1;
    }
    let set = try_join_all(
        keep.iter()
            .map(|tag| put_tag(destination, tag, &image.manifest, options)),
    )
    .await;
    let set = match set {
        Err(error) if by_tag && !error.is_retryable() && !missing_blob(&error) => {
            // A tag refused for good (immutable, naming another image there): the image still
            // arrives, untagged, as ECR's own replication leaves it.
            put_manifest(destination, digest, &image.manifest, options).await?;
            return Err(error);
        }
        set => set?,
    };
    let moved = set.into_iter().filter(|moved| *moved).count() as u64;
    if by_tag && moved > 0 {
        stats.manifests_copied += 1;
    }
    stats.tags_set += moved;
    Ok(stats)
}

/// What a destination still lacks of an image: manifests (the image, its children, its
/// referrers and theirs) by digest, and tags that do not name what they name at the source.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplicaGaps {
    /// Manifests missing at the destination. A registry accepts a manifest only once its
    /// blobs and children are there, so a present manifest is a complete one.
    pub missing: Vec<String>,
    /// `(tag, what it names at the destination)` for each tag (the image's and the
    /// referrers' tag-scheme tags) that does not name its digest there yet.
    pub tags: Vec<(String, Option<String>)>,
}

impl ReplicaGaps {
    /// True when the destination holds everything, under every tag.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.tags.is_empty()
    }
}

/// What `destination` lacks of the image `digest` with its referrers and `tags`, read as a
/// copy would read it; nothing is written.
pub async fn replica_gaps(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    tags: &[String],
    options: &CopyOptions,
) -> Result<ReplicaGaps, StewardError> {
    let plan = discover(source, destination, digest, options).await?;
    let wanted = tags
        .iter()
        .map(|tag| (tag.as_str(), digest))
        .chain(plan.tags.iter().map(|(t, d)| (t.as_str(), d.as_str())))
        .collect();
    Ok(ReplicaGaps {
        missing: plan
            .nodes
            .iter()
            .filter(|(_, node)| !node.at_destination)
            .map(|(digest, _)| digest.clone())
            .collect(),
        tags: misplaced_tags(destination, wanted, options)
            .await?
            .into_iter()
            .map(|(tag, _, current)| (tag.to_string(), current))
            .collect(),
    })
}

/// Of `(tag, digest)` pairs, those whose tag does not name that digest at `destination`
/// (looked up at once), with what it names there.
async fn misplaced_tags<'a>(
    destination: Endpoint<'_>,
    wanted: Vec<(&'a str, &'a str)>,
    options: &CopyOptions,
) -> Result<Vec<(&'a str, &'a str, Option<String>)>, StewardError> {
    let current = try_join_all(
        wanted
            .iter()
            .map(|(tag, _)| resolve(destination, tag, options)),
    )
    .await?;
    Ok(wanted
        .into_iter()
        .zip(current)
        .filter(|((_, digest), current)| current.as_deref() != Some(*digest))
        .map(|((tag, digest), current)| (tag, digest, current))
        .collect())
}

fn refused(stats: &CopyStats, digest: &str) -> bool {
    stats
        .refused_referrers
        .iter()
        .any(|refusal| refusal.starts_with(digest))
}

/// Reads, level by level, every manifest the copy of `digest` involves.
async fn discover(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    options: &CopyOptions,
) -> Result<Plan, StewardError> {
    struct Pending {
        digest: String,
        /// Referrer levels above it: 0 for the image and its children.
        depth: usize,
        /// The manifest it was found as a referrer of.
        subject: Option<String>,
        referrer: bool,
    }
    let mut plan = Plan::default();
    let mut seen = BTreeSet::from([digest.to_string()]);
    let mut level = vec![Pending {
        digest: digest.to_string(),
        depth: 0,
        subject: None,
        referrer: false,
    }];
    while !level.is_empty() {
        let read = try_join_all(level.iter().map(|pending| {
            try_join3(
                fetch_manifest(source, &pending.digest, options),
                resolve(destination, &pending.digest, options),
                async {
                    if pending.depth < REFERRER_DEPTH {
                        referrers(source, &pending.digest, options).await
                    } else {
                        Ok(Vec::new())
                    }
                },
            )
        }))
        .await?;
        let mut next = Vec::new();
        for (pending, (manifest, at_destination, referrers)) in level.into_iter().zip(read) {
            let doc = manifest.parse()?;
            let mut after: Vec<String> = doc.manifests.iter().map(|c| c.digest.clone()).collect();
            after.extend(doc.subject.iter().map(|s| s.digest.clone()));
            after.extend(pending.subject.clone());
            for child in &doc.manifests {
                if seen.insert(child.digest.clone()) {
                    next.push(Pending {
                        digest: child.digest.clone(),
                        depth: pending.depth,
                        subject: None,
                        referrer: pending.referrer,
                    });
                }
            }
            for Referrer { digest, tag } in referrers {
                if let Some(tag) = tag {
                    plan.tags.push((tag, digest.clone()));
                }
                if seen.insert(digest.clone()) {
                    next.push(Pending {
                        digest,
                        depth: pending.depth + 1,
                        subject: Some(pending.digest.clone()),
                        referrer: true,
                    });
                }
            }
            plan.nodes.insert(
                pending.digest,
                Node {
                    manifest,
                    doc,
                    at_destination: at_destination.is_some(),
                    referrer: pending.referrer,
                    after,
                },
            );
        }
        level = next;
    }
    Ok(plan)
}

/// Writes what the destination lacks: blobs, then manifests in dependency order, except
/// `deferred` (the image, when the caller writes it by tag).
async fn write_missing(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    plan: &Plan,
    options: &CopyOptions,
    deferred: Option<&str>,
) -> Result<CopyStats, StewardError> {
    let mut stats = CopyStats::default();
    let missing: Vec<(&String, &Node)> = plan
        .nodes
        .iter()
        .filter(|(_, node)| !node.at_destination)
        .collect();
    stats.manifests_skipped = (plan.nodes.len() - missing.len()) as u64;
    // A manifest in place has all its blobs in place.
    for node in plan.nodes.values().filter(|node| node.at_destination) {
        for blob in node.doc.config.iter().chain(&node.doc.layers) {
            options.ledger.record(destination, &blob.digest);
        }
    }

    let mut blobs: Vec<(String, u64)> = missing
        .iter()
        .flat_map(|(_, node)| node.doc.config.iter().chain(&node.doc.layers))
        .filter(|blob| !blob.is_external())
        .map(|blob| (blob.digest.clone(), blob.size))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect();
    // The largest first: they take longest.
    blobs.sort_by_key(|(_, size)| std::cmp::Reverse(*size));
    let budget_mib = mebibytes(options.bytes_in_flight).max(1);
    let budget = Arc::new(tokio::sync::Semaphore::new(budget_mib as usize));
    let uploads = !blobs.is_empty();
    let copies = stream::iter(blobs)
        .map(|(blob, size)| {
            let budget = budget.clone();
            async move {
                let share = mebibytes(size).clamp(1, budget_mib) as u32;
                let _place = budget.acquire_many_owned(share).await.map_err(|_| {
                    StewardError::Internal("the copy's byte budget was closed".into())
                })?;
                copy_blob(source, destination, &blob, size, options).await
            }
        })
        .buffer_unordered(options.parallelism.max(1))
        .try_collect::<Vec<BlobCopy>>();
    let (copied, ()) = futures_util::future::join(copies, async {
        if uploads {
            destination.registry.warm_upload_lanes().await;
        }
    })
    .await;
    for outcome in copied? {
        match outcome {
            BlobCopy::Sent(bytes) => {
                stats.blobs_copied += 1;
                stats.bytes_copied += bytes;
            }
            BlobCopy::Mounted => stats.blobs_mounted += 1,
            BlobCopy::Present => stats.blobs_skipped += 1,
        }
    }

    // Waves: a manifest goes once everything it names that is part of the copy is there.
    let mut done: BTreeSet<&str> = plan
        .nodes
        .iter()
        .filter(|(_, node)| node.at_destination)
        .map(|(digest, _)| digest.as_str())
        .collect();
    let mut waiting: Vec<(&String, &Node)> = missing
        .into_iter()
        .filter(|(digest, _)| Some(digest.as_str()) != deferred)
        .collect();
    while !waiting.is_empty() {
        let (ready, rest): (Vec<_>, Vec<_>) = waiting.into_iter().partition(|(_, node)| {
            node.after
                .iter()
                .all(|d| done.contains(d.as_str()) || !plan.nodes.contains_key(d))
        });
        if ready.is_empty() {
            // A refused referrer's own referrers, or manifests that name each other.
            for (digest, node) in &rest {
                if node.referrer {
                    stats.refused_referrers.push(format!(
                        "{digest}: not copied, since what it refers to was refused"
                    ));
                }
            }
            if rest.iter().any(|(_, node)| !node.referrer) {
                return Err(StewardError::InvalidResponse {
                    service: Service::Registry,
                    message: "the image's manifests refer to each other in a cycle".into(),
                });
            }
            break;
        }
        let written = try_join_all(ready.iter().map(|(digest, node)| async move {
            match put_manifest(destination, digest, &node.manifest, options).await {
                Ok(()) => Ok(None),
                Err(error) if node.referrer && !error.is_retryable() && !missing_blob(&error) => {
                    Ok(Some(format!("{digest}: {error}")))
                }
                Err(error) => Err(error),
            }
        }))
        .await?;
        for ((digest, _), refusal) in ready.iter().zip(written) {
            match refusal {
                None => {
                    stats.manifests_copied += 1;
                    done.insert(digest.as_str());
                }
                Some(refusal) => stats.refused_referrers.push(refusal),
            }
        }
        waiting = rest;
    }
    Ok(stats)
}

/// `bytes` in MiB, rounded up.
fn mebibytes(bytes: u64) -> u64 {
    bytes.div_ceil(1 << 20)
}

/// Writes `manifest` under `reference` at the destination (retried).
async fn put_manifest(
    destination: Endpoint<'_>,
    reference: &str,
    manifest: &RawManifest,
    options: &CopyOptions,
) -> Result<(), StewardError> {
    options
        .retry
        .run(|| {
            destination
                .registry
                .put_manifest(destination.repository, reference, manifest)
        })
        .await
}

/// The digest `reference` (a tag or a digest) names at `endpoint`, or `None` when it names
/// nothing (HEAD, retried).
async fn resolve(
    endpoint: Endpoint<'_>,
    reference: &str,
    options: &CopyOptions,
) -> Result<Option<String>, StewardError> {
    options
        .retry
        .run(|| {
            endpoint
                .registry
                .head_manifest(endpoint.repository, reference)
        })
        .await
}

/// The exact manifest `digest` at the source.
async fn fetch_manifest(
    source: Endpoint<'_>,
    digest: &str,
    options: &CopyOptions,
) -> Result<RawManifest, StewardError> {
    options
        .retry
        .run(|| source.registry.manifest(source.repository, digest))
        .await
}

/// Points `tag` at `manifest` at the destination (PUT by tag, the same bytes); false when it
/// named it already. A refused PUT is looked up before it is believed: an immutable
/// repository refuses even the digest its tag names (aws/containers-roadmap#2179), and a tag
/// naming another digest there is a conflict no retry can solve.
async fn put_tag(
    destination: Endpoint<'_>,
    tag: &str,
    manifest: &RawManifest,
    options: &CopyOptions,
) -> Result<bool, StewardError> {
    let put = options
        .retry
        .run(|| {
            destination
                .registry
                .put_manifest(destination.repository, tag, manifest)
        })
        .await;
    let error = match put {
        Ok(()) => return Ok(true),
        Err(error) if error.is_retryable() => return Err(error),
        Err(error) => error,
    };
    match resolve(destination, tag, options).await? {
        Some(current) if current == manifest.digest => Ok(false),
        Some(current) if refuses_overwrite(&error) => Err(StewardError::Conflict {
            service: Service::Registry,
            message: format!(
                "tag {tag} in {} names {current}, not {}, and the repository's tags are immutable: \
                 retrying cannot change that (change the tag's mutability, or delete the tag there)",
                destination.repository, manifest.digest
            ),
        }),
        _ => Err(error),
    }
}

/// An answer that says the tag exists and cannot be moved: ECR's `TAG_INVALID … cannot be
/// overwritten because the repository is immutable`.
fn refuses_overwrite(error: &StewardError) -> bool {
    match error {
        StewardError::Conflict { .. } => true,
        StewardError::Rejected { message, .. } => {
            message.contains("TAG_INVALID") || message.to_ascii_lowercase().contains("immutable")
        }
        _ => false,
    }
}

/// What refers to `digest`: the referrers API's listing and the tag-scheme objects, looked
/// up at once. Both are asked on every registry: ECR has the API and still holds cosign's
/// tag-scheme signatures, which it never lists.
async fn referrers(
    source: Endpoint<'_>,
    digest: &str,
    options: &CopyOptions,
) -> Result<Vec<Referrer>, StewardError> {
    let base = digest.replacen(':', "-", 1);
    let tags: Vec<String> = TAG_SCHEMES
        .iter()
        .map(|suffix| format!("{base}{suffix}"))
        .collect();
    let (listed, tagged) = try_join(
        options
            .retry
            .run(|| source.registry.referrers(source.repository, digest)),
        try_join_all(tags.iter().map(|tag| resolve(source, tag, options))),
    )
    .await?;
    let mut found: Vec<Referrer> = tags
        .into_iter()
        .zip(tagged)
        .filter_map(|(tag, referrer)| {
            referrer.map(|digest| Referrer {
                digest,
                tag: Some(tag),
            })
        })
        .collect();
    for descriptor in listed.unwrap_or_default() {
        if !found.iter().any(|r| r.digest == descriptor.digest) {
            found.push(Referrer {
                digest: descriptor.digest,
                tag: None,
            });
        }
    }
    Ok(found)
}

/// What became of one blob.
enum BlobCopy {
    /// Uploaded: its bytes.
    Sent(u64),
    /// Mounted from another repository of the destination registry.
    Mounted,
    /// The destination had it.
    Present,
}

/// Copies one blob unless the destination has it: the run's ledger is asked first, then the
/// registry; a blob another repository there holds (by the ledger) is mounted from it.
async fn copy_blob(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    size: u64,
    options: &CopyOptions,
) -> Result<BlobCopy, StewardError> {
    if options.ledger.holds(destination, digest) {
        return Ok(BlobCopy::Present);
    }
    let present = options
        .retry
        .run(|| {
            destination
                .registry
                .has_blob(destination.repository, digest)
        })
        .await?;
    if present {
        options.ledger.record(destination, digest);
        return Ok(BlobCopy::Present);
    }
    let mount = options.ledger.mount_source(destination, digest);
    let mounted = options
        .retry
        .run(|| stream_blob(source, destination, digest, size, mount.as_deref(), options))
        .await;
    let outcome = match mounted {
        // A mount refused outright (its repository gone since, or not readable): uploaded.
        Err(error) if mount.is_some() && !error.is_retryable() => {
            tracing::debug!(%error, "mount refused; uploading");
            options
                .retry
                .run(|| stream_blob(source, destination, digest, size, None, options))
                .await?
        }
        outcome => outcome?,
    };
    options.ledger.record(destination, digest);
    Ok(outcome)
}

/// One attempt at a blob: a mount from `mount` when given and the registry allows it; else
/// a GET from the source streamed into an upload at the destination (both started at once),
/// hashed on the way and committed only when the digest and size match.
async fn stream_blob(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    size: u64,
    mount: Option<&str>,
    options: &CopyOptions,
) -> Result<BlobCopy, StewardError> {
    let expected = Digest::parse(digest)
        .ok()
        .filter(|d| d.algorithm() == DigestAlgorithm::Sha256)
        .ok_or_else(|| StewardError::InvalidResponse {
            service: Service::Registry,
            message: format!("blob {digest}: only sha256 digests are supported"),
        })?
        .hex()
        .to_string();
    let start = || {
        destination
            .registry
            .start_upload_or_mount(destination.repository, mount.map(|from| (digest, from)))
    };
    let (response, location) = if mount.is_some() {
        let location = match start().await? {
            UploadStart::Mounted => return Ok(BlobCopy::Mounted),
            UploadStart::Session(location) => location,
        };
        (
            source.registry.get_blob(source.repository, digest).await?,
            location,
        )
    } else {
        let (response, started) =
            try_join(source.registry.get_blob(source.repository, digest), start()).await?;
        match started {
            UploadStart::Session(location) => (response, location),
            UploadStart::Mounted => return Ok(BlobCopy::Mounted),
        }
    };

    let verifier = Verifier::new(&expected, size);
    // Set once the source's body has been read to its end (or to its size) and checked. With
    // the size known the check runs on the chunk that completes it: a request framed by its
    // `Content-Length` is not asked for more.
    let finished = Arc::new(AtomicBool::new(false));
    let (seen, finished_seen) = (verifier.clone(), finished.clone());
    let mismatch = |(bytes, actual): (u64, String)| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("source sent {bytes} bytes with sha256 {actual}"),
        )
    };
    let body = response.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        if seen.observe(&chunk) >= size && size > 0 {
            finished_seen.store(true, Ordering::Release);
            seen.check().map_err(mismatch)?;
        }
        Ok::<_, std::io::Error>(chunk)
    });
    // A last, empty chunk that fails the upload when the bytes were not the blob's.
    let (at_end, finished_end) = (verifier.clone(), finished.clone());
    let check = stream::once(async move {
        finished_end.store(true, Ordering::Release);
        at_end
            .check()
            .map(|_| bytes::Bytes::new())
            .map_err(mismatch)
    });
    let body = reqwest::Body::wrap_stream(body.chain(check));
    let registry = destination.registry;
    let sent = if options.monolithic {
        registry
            .put_upload(&location, digest, Some(body), size)
            .await
            .map(|()| None)
    } else {
        registry
            .send_upload_part(&location, body, size)
            .await
            .map(Some)
    };
    if !finished.load(Ordering::Acquire) {
        // The upload broke off before the source's last byte: a connection failed at one end
        // or the other. That says nothing about the content, so it is not a digest mismatch:
        // the failure goes up as classified (retryable), and a retry starts over.
        registry.cancel_upload(&location).await;
        return Err(sent.err().unwrap_or_else(|| StewardError::Unavailable {
            service: Service::Registry,
            message: format!("blob {digest}: the upload ended before the source's body did"),
        }));
    }
    let bytes = match verifier.check() {
        Ok(bytes) => bytes,
        Err((bytes, actual)) => {
            registry.cancel_upload(&location).await;
            return Err(StewardError::InvalidResponse {
                service: Service::Registry,
                message: format!(
                    "blob {digest} from {}: {bytes} bytes with sha256:{actual}, expected {size} bytes; nothing was pushed",
                    source.repository
                ),
            });
        }
    };
    match sent {
        Ok(None) => {}
        Ok(Some(commit_at)) => registry.finish_upload(&commit_at, digest).await?,
        Err(error) => {
            registry.cancel_upload(&location).await;
            return Err(error);
        }
    }
    Ok(BlobCopy::Sent(bytes))
}

/// The sha256 and byte count of a blob as it streams by, checked against what they should be.
#[derive(Clone)]
struct Verifier {
    expected: String,
    /// 0 when the size is not known.
    size: u64,
    seen: Arc<Mutex<(Sha256, u64)>>,
}

impl Verifier {
    /// `expected`: the sha256 in lowercase hex, without `sha256:`.
    fn new(expected: &str, size: u64) -> Self {
        Self {
            expected: expected.into(),
            size,
            seen: Arc::new(Mutex::new((Sha256::new(), 0))),
        }
    }

    /// Hashes `chunk`; the bytes seen so far.
    fn observe(&self, chunk: &[u8]) -> u64 {
        match self.seen.lock() {
            Ok(mut seen) => {
                seen.0.update(chunk);
                seen.1 += chunk.len() as u64;
                seen.1
            }
            Err(_) => 0,
        }
    }

    /// The bytes seen when they are the blob's; else how many, and their sha256.
    fn check(&self) -> Result<u64, (u64, String)> {
        let (actual, bytes) = self
            .seen
            .lock()
            .map(|seen| (lower_hex(&seen.0.clone().finalize()), seen.1))
            .unwrap_or_default();
        if actual == self.expected && (self.size == 0 || bytes == self.size) {
            Ok(bytes)
        } else {
            Err((bytes, actual))
        }
    }
}
