//! The copy engine: images copied between registries over the OCI Distribution API,
//! digest-preserving and verified.
//!
//! - Manifests travel as the exact bytes fetched by digest; an index's children go first.
//! - Blobs stream from source to destination, never held whole in memory; their sha256 is
//!   computed on the way, and an upload whose bytes do not match is abandoned, never committed.
//! - A manifest is pushed only after every blob it references is present at the destination.
//! - Whatever is already at the destination (checked with HEAD) is skipped. A repeated copy
//!   whose tags are in place costs one round trip: the destination's tags and the source's
//!   referrers are looked up at once (with a registry that lacks the referrers API, its
//!   fallback tags are looked up at once too, one more round trip).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::{try_join, try_join_all};
use futures_util::{stream, StreamExt, TryStreamExt};
use sha2::{Digest as _, Sha256};

use super::registry::RegistryClient;
use crate::error::{Service, StewardError};
use crate::image::{Digest, DigestAlgorithm, Referrer};
use crate::manifest::lower_hex;
use crate::manifest::RawManifest;
use crate::replication::CopyStats;
use crate::retry::RetryPolicy;

/// One end of a copy: a registry and a repository in it.
#[derive(Clone, Copy)]
pub struct Endpoint<'a> {
    /// The registry.
    pub registry: &'a RegistryClient,
    /// The repository's name in it.
    pub repository: &'a str,
}

/// How a copy runs.
#[derive(Debug, Clone, Copy)]
pub struct CopyOptions {
    /// Blobs copied at once.
    pub parallelism: usize,
    /// Retries of each registry call.
    pub retry: RetryPolicy,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            parallelism: 4,
            retry: RetryPolicy::default(),
        }
    }
}

/// Copies the image `digest` (a manifest or an index) and points `tags` at it, then copies the
/// signatures, SBOMs and attestations that refer to it. Just before a destination tag is
/// moved, the source's tag is read again: a tag that names another image there now (a newer
/// push, with its own event) is left alone and counted in `tags_moved_on`, so a late event
/// never moves a destination tag backwards.
pub async fn copy_image(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    tags: &[String],
    options: &CopyOptions,
) -> Result<CopyStats, StewardError> {
    // Independent lookups, sent at once: where the tags stand at the destination, and what
    // refers to the image at the source.
    let (current, referrers) = try_join(
        try_join_all(tags.iter().map(|tag| resolve(destination, tag, options))),
        referrers(source, digest, options),
    )
    .await?;
    // A tag only ever names a manifest whose blobs and children are all there.
    let in_place = !tags.is_empty() && current.iter().all(|at| at.as_deref() == Some(digest));
    let mut stats = if in_place {
        CopyStats {
            manifests_skipped: 1,
            ..CopyStats::default()
        }
    } else {
        copy_manifest(source, destination, digest, options).await?
    };
    // Read only when a tag has to move: a re-copy whose tags are in place needs no GET.
    let mut manifest = None;
    for (tag, current) in tags.iter().zip(&current) {
        if current.as_deref() != Some(digest) {
            let at_source = resolve(source, tag, options).await?;
            if at_source.as_deref() != Some(digest) {
                stats.tags_moved_on += 1;
                continue;
            }
            if manifest.is_none() {
                manifest = Some(fetch_manifest(source, digest, options).await?);
            }
            if let Some(manifest) = &manifest {
                put_tag(destination, tag, manifest, options).await?;
                stats.tags_set += 1;
            }
        }
    }
    for referrer in referrers {
        stats.add(Box::pin(copy_referrer(source, destination, &referrer, options)).await?);
    }
    Ok(stats)
}

/// A referrer is copied by digest, and so is its own tag when it has one (`sha256-<hex>.sig`).
async fn copy_referrer(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    referrer: &Referrer,
    options: &CopyOptions,
) -> Result<CopyStats, StewardError> {
    let Referrer { digest, tag } = referrer;
    let stats = copy_manifest(source, destination, digest, options).await?;
    if let Some(tag) = tag {
        if resolve(destination, tag, options).await?.as_deref() != Some(digest.as_str()) {
            let manifest = fetch_manifest(source, digest, options).await?;
            put_tag(destination, tag, &manifest, options).await?;
        }
    }
    Ok(stats)
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

/// Points `tag` at `manifest` at the destination (PUT by tag, the same bytes).
async fn put_tag(
    destination: Endpoint<'_>,
    tag: &str,
    manifest: &RawManifest,
    options: &CopyOptions,
) -> Result<(), StewardError> {
    options
        .retry
        .run(|| {
            destination
                .registry
                .put_manifest(destination.repository, tag, manifest)
        })
        .await
        .map(|_| ())
}

/// The manifests that refer to `digest`: from the referrers API, or where a registry lacks it,
/// from the tags cosign and the OCI fallback scheme use (`sha256-<hex>[.sig|.att|.sbom]`).
async fn referrers(
    source: Endpoint<'_>,
    digest: &str,
    options: &CopyOptions,
) -> Result<Vec<Referrer>, StewardError> {
    if let Some(descriptors) = options
        .retry
        .run(|| source.registry.referrers(source.repository, digest))
        .await?
    {
        return Ok(descriptors
            .into_iter()
            .map(|d| Referrer {
                digest: d.digest,
                tag: None,
            })
            .collect());
    }
    let base = digest.replacen(':', "-", 1);
    let tags: Vec<String> = [".sig", ".att", ".sbom", ""]
        .iter()
        .map(|suffix| format!("{base}{suffix}"))
        .collect();
    let found = try_join_all(tags.iter().map(|tag| resolve(source, tag, options))).await?;
    Ok(tags
        .into_iter()
        .zip(found)
        .filter_map(|(tag, referrer)| {
            referrer.map(|digest| Referrer {
                digest,
                tag: Some(tag),
            })
        })
        .collect())
}

/// Copies one manifest by digest, after everything it references.
async fn copy_manifest(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    options: &CopyOptions,
) -> Result<CopyStats, StewardError> {
    let mut stats = CopyStats::default();
    if resolve(destination, digest, options).await?.is_some() {
        // A manifest is only ever pushed after its blobs and children, so all of them are there.
        stats.manifests_skipped += 1;
        return Ok(stats);
    }
    let manifest = options
        .retry
        .run(|| source.registry.manifest(source.repository, digest))
        .await?;
    let document = manifest.parse()?;
    if manifest.is_index() {
        for child in &document.manifests {
            stats.add(Box::pin(copy_manifest(source, destination, &child.digest, options)).await?);
        }
    } else {
        let blobs: Vec<(String, u64)> = document
            .config
            .iter()
            .chain(&document.layers)
            .map(|d| (d.digest.clone(), d.size))
            .collect();
        let copied: Vec<Option<u64>> = stream::iter(blobs)
            .map(|(blob, size)| async move {
                copy_blob(source, destination, &blob, size, options).await
            })
            .buffer_unordered(options.parallelism.max(1))
            .try_collect()
            .await?;
        for bytes in copied {
            match bytes {
                Some(bytes) => {
                    stats.blobs_copied += 1;
                    stats.bytes_copied += bytes;
                }
                None => stats.blobs_skipped += 1,
            }
        }
    }
    options
        .retry
        .run(|| {
            destination
                .registry
                .put_manifest(destination.repository, digest, &manifest)
        })
        .await?;
    stats.manifests_copied += 1;
    Ok(stats)
}

/// Copies one blob unless the destination has it; the bytes copied, or `None` when skipped.
async fn copy_blob(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    size: u64,
    options: &CopyOptions,
) -> Result<Option<u64>, StewardError> {
    let present = options
        .retry
        .run(|| {
            destination
                .registry
                .has_blob(destination.repository, digest)
        })
        .await?;
    if present {
        return Ok(None);
    }
    options
        .retry
        .run(|| stream_blob(source, destination, digest, size))
        .await
        .map(Some)
}

/// One attempt at streaming a blob: GET from the source into an upload at the destination,
/// hashing on the way; committed only when the digest and size match.
async fn stream_blob(
    source: Endpoint<'_>,
    destination: Endpoint<'_>,
    digest: &str,
    size: u64,
) -> Result<u64, StewardError> {
    let expected = Digest::parse(digest)
        .ok()
        .filter(|d| d.algorithm() == DigestAlgorithm::Sha256)
        .ok_or_else(|| StewardError::InvalidResponse {
            service: Service::Registry,
            message: format!("blob {digest}: only sha256 digests are supported"),
        })?
        .hex()
        .to_string();
    let response = source.registry.get_blob(source.repository, digest).await?;
    let location = destination
        .registry
        .start_upload(destination.repository)
        .await?;

    let verifier = Verifier::new(&expected, size);
    // Set once the source's body has been read to its end, when `check` runs.
    let finished = Arc::new(AtomicBool::new(false));
    let seen = verifier.clone();
    let body = response.bytes_stream().map(move |chunk| {
        let chunk = chunk.map_err(std::io::Error::other)?;
        seen.observe(&chunk);
        Ok::<_, std::io::Error>(chunk)
    });
    // A last, empty chunk that fails the upload when the bytes were not the blob's.
    let (at_end, finished_end) = (verifier.clone(), finished.clone());
    let check = stream::once(async move {
        finished_end.store(true, Ordering::Release);
        at_end
            .check()
            .map(|_| bytes::Bytes::new())
            .map_err(|(bytes, actual)| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("source sent {bytes} bytes with sha256 {actual}"),
                )
            })
    });
    let sent = destination
        .registry
        .send_upload_data(&location, reqwest::Body::wrap_stream(body.chain(check)))
        .await;
    if !finished.load(Ordering::Acquire) {
        // The upload broke off before the source's last byte: a connection failed at one end
        // or the other. That says nothing about the content, so it is not a digest mismatch:
        // the failure goes up as classified (retryable), and a retry starts over.
        destination.registry.cancel_upload(&location).await;
        return Err(sent.err().unwrap_or_else(|| StewardError::Unavailable {
            service: Service::Registry,
            message: format!("blob {digest}: the upload ended before the source's body did"),
        }));
    }
    let bytes = match verifier.check() {
        Ok(bytes) => bytes,
        Err((bytes, actual)) => {
            destination.registry.cancel_upload(&location).await;
            return Err(StewardError::InvalidResponse {
                service: Service::Registry,
                message: format!(
                    "blob {digest} from {}: {bytes} bytes with sha256:{actual}, expected {size} bytes; nothing was pushed",
                    source.repository
                ),
            });
        }
    };
    let commit_at = match sent {
        Ok(location) => location,
        Err(error) => {
            destination.registry.cancel_upload(&location).await;
            return Err(error);
        }
    };
    destination
        .registry
        .finish_upload(&commit_at, digest)
        .await?;
    Ok(bytes)
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

    fn observe(&self, chunk: &[u8]) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.0.update(chunk);
            seen.1 += chunk.len() as u64;
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
