//! Waits until an image is present and complete in other regions: for a deploy pipeline that
//! must not roll out a region before its replica (with its signatures) is there.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde::Serialize;

use crate::aws::Registries;
use crate::error::StewardError;
use crate::oci::copy::{replica_gaps, CopyOptions, Endpoint, ReplicaGaps};
use crate::policy::Target;

/// The longest pause between two looks.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(15);

/// What to wait for.
#[derive(Debug, Clone)]
pub struct WaitRequest {
    /// The source region.
    pub region: String,
    /// The source repository.
    pub repository: String,
    /// The tag.
    pub tag: String,
    /// The digest the tag must name; what it names at the source when `None`.
    pub digest: Option<String>,
    /// Where the replicas must be.
    pub destinations: Vec<Target>,
    /// How long to wait at most; one look when zero.
    pub timeout: Duration,
}

/// How one destination stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaStatus {
    /// The destination region.
    pub region: String,
    /// The destination account; `None` for the caller's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The destination repository.
    pub repository: String,
    /// True when it holds the image, its referrers and every tag.
    pub complete: bool,
    /// What it lacked at the last look.
    pub gaps: ReplicaGaps,
    /// Why the last look failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was first seen complete, in milliseconds after the wait began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete_after_ms: Option<u64>,
}

/// The wait's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitReport {
    /// The source repository.
    pub repository: String,
    /// The tag.
    pub tag: String,
    /// The digest waited for.
    pub digest: String,
    /// True when every destination is complete.
    pub complete: bool,
    /// How long it waited, in milliseconds.
    pub waited_ms: u64,
    /// One per destination.
    pub replicas: Vec<ReplicaStatus>,
}

/// Why there is nothing to wait for.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The tag names nothing at the source.
    #[error("{repository}:{tag} is not in {region}; hint: wait after the push, in the region pushed to (--region)")]
    NotAtSource {
        /// The source region.
        region: String,
        /// The repository.
        repository: String,
        /// The tag.
        tag: String,
    },
    /// No destination was given or found.
    #[error("no destination for {repository}:{tag}: pass --to REGION, or a --policy whose replication rules copy it")]
    NoDestination {
        /// The repository.
        repository: String,
        /// The tag.
        tag: String,
    },
    /// The source could not be read.
    #[error(transparent)]
    Service(#[from] StewardError),
}

/// Looks at every destination until all are complete or `timeout` runs out, pausing with
/// backoff (1 s doubling, at most [`MAX_POLL_INTERVAL`]). A destination that cannot be read
/// counts as not complete yet; its error is in the report.
pub async fn wait_for_replicas(
    registries: &Registries,
    request: &WaitRequest,
) -> Result<WaitReport, WaitError> {
    if request.destinations.is_empty() {
        return Err(WaitError::NoDestination {
            repository: request.repository.clone(),
            tag: request.tag.clone(),
        });
    }
    let started = Instant::now();
    let deadline = started + request.timeout;
    let source = registries.client(&request.region).await?;
    let digest = match &request.digest {
        Some(digest) => digest.clone(),
        None => source
            .head_manifest(&request.repository, &request.tag)
            .await?
            .ok_or_else(|| WaitError::NotAtSource {
                region: request.region.clone(),
                repository: request.repository.clone(),
                tag: request.tag.clone(),
            })?,
    };
    let mut replicas: Vec<ReplicaStatus> = request
        .destinations
        .iter()
        .map(|target| ReplicaStatus {
            region: target.region.clone(),
            account: target.account.clone(),
            repository: target.repository.clone(),
            complete: false,
            gaps: ReplicaGaps::default(),
            error: None,
            complete_after_ms: None,
        })
        .collect();
    let tags = [request.tag.clone()];
    let options = CopyOptions::default();
    let mut interval = Duration::from_secs(1);
    loop {
        let looks = join_all(replicas.iter().filter(|r| !r.complete).map(|replica| {
            let (source, tags, digest, options) = (&source, &tags, &digest, &options);
            async move {
                let destination = registries
                    .client_for(&replica.region, replica.account.as_deref())
                    .await?;
                replica_gaps(
                    Endpoint {
                        registry: source,
                        repository: &request.repository,
                    },
                    Endpoint {
                        registry: &destination,
                        repository: &replica.repository,
                    },
                    digest,
                    tags,
                    options,
                )
                .await
            }
        }))
        .await;
        let elapsed = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        for (replica, look) in replicas.iter_mut().filter(|r| !r.complete).zip(looks) {
            match look {
                Ok(gaps) => {
                    replica.complete = gaps.is_empty();
                    replica.gaps = gaps;
                    replica.error = None;
                    if replica.complete {
                        replica.complete_after_ms = Some(elapsed);
                    }
                }
                Err(error) => replica.error = Some(error.to_string()),
            }
        }
        let now = Instant::now();
        let complete = replicas.iter().all(|r| r.complete);
        if complete || now >= deadline {
            return Ok(WaitReport {
                repository: request.repository.clone(),
                tag: request.tag.clone(),
                digest,
                complete,
                waited_ms: elapsed,
                replicas,
            });
        }
        tokio::time::sleep(interval.min(deadline - now)).await;
        interval = (interval * 2).min(MAX_POLL_INTERVAL);
    }
}
