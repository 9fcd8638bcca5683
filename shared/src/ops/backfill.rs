//! `replicate`: a backfill, or a one-off copy. The plan (which image goes where, with which
//! tags) from the repositories and images ECR lists, then the copies, one after the other.

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::StreamExt;
use serde::Serialize;

use crate::copy_job::{CopyJob, JobDestination};
use crate::error::StewardError;
use crate::glob::Glob;
use crate::image::ImageRef;
use crate::policy::{Pattern, Policy, Target};
use crate::ports::{ImageCatalog, JobQueue, JobSent, Replicator, MAX_JOB_BATCH};
use crate::replication::{is_source, replication_targets, CopyRun};

/// Where the copies go.
#[derive(Debug, Clone)]
pub enum Destinations {
    /// The policy's replication rules decide destinations and tags.
    Policy,
    /// These regions, every tag, the same repository name.
    Regions {
        /// The destination regions.
        regions: Vec<String>,
        /// Create a missing destination repository.
        create_repository: bool,
    },
}

/// What to copy.
#[derive(Debug, Clone)]
pub struct BackfillRequest {
    /// The source region.
    pub region: String,
    /// The source repositories: names or globs.
    pub repositories: Glob,
    /// Where the copies go.
    pub destinations: Destinations,
    /// Only tags matching this (anchored) pattern.
    pub tags: Option<Pattern>,
}

/// One image to copy to one place, with the tags it gets there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedCopy {
    /// The source repository.
    pub repository: String,
    /// The image, by digest.
    pub digest: String,
    /// The tags it gets at the destination.
    pub tags: Vec<String>,
    /// Where it goes.
    pub target: Target,
}

/// A planned copy and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyResult {
    /// What was to be copied.
    #[serde(flatten)]
    pub copy: PlannedCopy,
    /// How it went.
    #[serde(flatten)]
    pub run: CopyRun,
}

/// A tagged image the backfill leaves out: it is archived (or being restored), and cannot be
/// pulled until it is restored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArchivedImage {
    /// Its repository.
    pub repository: String,
    /// Its digest.
    pub digest: String,
    /// Its tags.
    pub tags: Vec<String>,
}

/// What a backfill copies, and what it leaves out.
#[derive(Debug, Clone, Default)]
pub struct Backfill {
    /// Every copy, grouped by destination.
    pub copies: Vec<PlannedCopy>,
    /// The archived images of the matching repositories, not copied.
    pub archived: Vec<ArchivedImage>,
}

/// Every copy the request asks for: each tagged image of each matching repository, grouped by
/// destination, never to the image's own place; archived images are left out and named.
pub async fn plan<C: ImageCatalog>(
    policy: &Policy,
    ecr: &C,
    request: &BackfillRequest,
) -> Result<Backfill, StewardError> {
    let mut plan = Vec::new();
    let mut archived = Vec::new();
    for repository in ecr.repositories().await? {
        if !request.repositories.matches(&repository) {
            continue;
        }
        for image in ecr.tagged_images(&repository).await? {
            if image.archived {
                archived.push(ArchivedImage {
                    repository: repository.clone(),
                    digest: image.digest.clone(),
                    tags: image.tags.clone(),
                });
                continue;
            }
            let source = ImageRef {
                account: None,
                region: request.region.clone(),
                repository: repository.clone(),
                digest: image.digest.clone(),
            };
            let mut by_place: BTreeMap<(String, Option<String>, String), PlannedCopy> =
                BTreeMap::new();
            let tags = image
                .tags
                .iter()
                .filter(|tag| request.tags.as_ref().is_none_or(|p| p.is_match(tag)));
            for tag in tags {
                for target in targets(policy, &request.destinations, &source, tag) {
                    let place = (
                        target.region.clone(),
                        target.account.clone(),
                        target.repository.clone(),
                    );
                    by_place
                        .entry(place)
                        .or_insert_with(|| PlannedCopy {
                            repository: repository.clone(),
                            digest: image.digest.clone(),
                            tags: Vec::new(),
                            target,
                        })
                        .tags
                        .push(tag.clone());
                }
            }
            plan.extend(by_place.into_values());
        }
    }
    Ok(Backfill {
        copies: plan,
        archived,
    })
}

fn targets(
    policy: &Policy,
    destinations: &Destinations,
    source: &ImageRef,
    tag: &str,
) -> Vec<Target> {
    match destinations {
        Destinations::Policy => replication_targets(policy, source, tag),
        Destinations::Regions {
            regions,
            create_repository,
        } => regions
            .iter()
            .map(|region| Target {
                rule: "--to".into(),
                region: region.clone(),
                account: None,
                repository: source.repository.clone(),
                create_repository: *create_repository,
                encryption: None,
            })
            .filter(|target| !is_source(target, source))
            .collect(),
    }
}

/// Makes the planned copies, `jobs` at once, in the plan's order; `progress` hears of each
/// before it starts (its index and the plan's length). A failed copy does not stop the
/// others. The results come in the plan's order.
pub async fn copy_all<R: Replicator>(
    replicator: &R,
    region: &str,
    plan: Vec<PlannedCopy>,
    jobs: usize,
    mut progress: impl FnMut(usize, usize, &PlannedCopy),
) -> Vec<CopyResult> {
    let total = plan.len();
    futures_util::stream::iter(plan.into_iter().enumerate())
        .map(|(index, copy)| {
            progress(index, total, &copy);
            async move {
                let image = ImageRef {
                    account: None,
                    region: region.into(),
                    repository: copy.repository.clone(),
                    digest: copy.digest.clone(),
                };
                let started = Instant::now();
                let result = replicator.replicate(&image, &copy.tags, &copy.target).await;
                let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                CopyResult {
                    run: CopyRun::of(result.as_ref().map(Clone::clone), duration_ms),
                    copy,
                }
            }
        })
        .buffered(jobs.max(1))
        .collect()
        .await
}

/// The plan as copy jobs: one per image, with each of its destinations and their tags.
pub fn jobs(region: &str, plan: &[PlannedCopy]) -> Vec<CopyJob> {
    let mut jobs: Vec<CopyJob> = Vec::new();
    for copy in plan {
        let destination = JobDestination::new(&copy.target, copy.tags.clone());
        match jobs.last_mut() {
            Some(job)
                if job.source.repository == copy.repository && job.source.digest == copy.digest =>
            {
                job.destinations.push(destination);
            }
            _ => {
                let image = ImageRef {
                    account: None,
                    region: region.into(),
                    repository: copy.repository.clone(),
                    digest: copy.digest.clone(),
                };
                jobs.push(CopyJob::new(&image, vec![destination]));
            }
        }
    }
    jobs
}

/// One job of a fan-out and how the queue took it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SentJob {
    /// The source repository.
    pub repository: String,
    /// The image, by digest.
    pub digest: String,
    /// The destination regions.
    pub regions: Vec<String>,
    /// The tags copied (each destination's tags together).
    pub tags: Vec<String>,
    /// The queue's message ID; `None` when it was not queued.
    pub message_id: Option<String>,
    /// Why it was not queued.
    pub error: Option<String>,
}

/// How many times a job the queue refused with a fault of its own is sent again.
pub const SEND_ATTEMPTS: usize = 3;

/// SQS takes at most 256 KiB in one batch; a batch stops short of this many bytes of bodies.
pub const MAX_BATCH_BYTES: usize = 200 * 1024;

/// Sends each job to `queue`, [`MAX_JOB_BATCH`] (or [`MAX_BATCH_BYTES`]) to a request; a job
/// refused for a reason of the queue's own is sent again, up to [`SEND_ATTEMPTS`] times.
/// An error of a whole request (access denied, no such queue) stops the fan-out: what was
/// queued before it stays queued, and is reported as such.
pub async fn fan_out<Q: JobQueue>(
    queue: &Q,
    jobs: Vec<CopyJob>,
) -> Result<Vec<SentJob>, (Vec<SentJob>, StewardError)> {
    let mut sent: Vec<SentJob> = jobs.iter().map(SentJob::planned).collect();
    let mut pending: Vec<usize> = (0..jobs.len()).collect();
    for _ in 0..SEND_ATTEMPTS {
        let mut again = Vec::new();
        for batch in batches(&jobs, &pending) {
            let batch_jobs: Vec<CopyJob> = batch.iter().map(|&i| jobs[i].clone()).collect();
            let answers = match queue.send_batch(&batch_jobs).await {
                Ok(answers) => answers,
                Err(error) => return Err((sent, error)),
            };
            for (&index, answer) in batch.iter().zip(answers) {
                match answer {
                    JobSent::Queued(id) => {
                        sent[index].message_id = Some(id);
                        sent[index].error = None;
                    }
                    JobSent::Refused { reason, retryable } => {
                        sent[index].error = Some(reason);
                        if retryable {
                            again.push(index);
                        }
                    }
                }
            }
        }
        if again.is_empty() {
            break;
        }
        pending = again;
    }
    Ok(sent)
}

fn batches(jobs: &[CopyJob], pending: &[usize]) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &index in pending {
        let size = jobs[index].to_message().len();
        let full = batches
            .last()
            .is_none_or(|b| b.len() == MAX_JOB_BATCH || bytes + size > MAX_BATCH_BYTES);
        if full {
            batches.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(batch) = batches.last_mut() {
            batch.push(index);
        }
    }
    batches
}

impl SentJob {
    fn planned(job: &CopyJob) -> Self {
        Self {
            repository: job.source.repository.clone(),
            digest: job.source.digest.clone(),
            regions: job.destinations.iter().map(|d| d.region.clone()).collect(),
            tags: job.tags(),
            message_id: None,
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::SourceFormat;
    use crate::testing::MemoryCatalog;

    const A: &str = "sha256:aaaa";
    const B: &str = "sha256:bbbb";

    fn catalog() -> MemoryCatalog {
        MemoryCatalog::default()
            .with_image("team/app", A, &["1.0.0", "1.0.0-rc.1"])
            .with_image("team/app", B, &["2.0.0", "latest"])
            .with_image("other/app", A, &["1.0.0"])
            .with_image("team/untagged", "sha256:cccc", &[])
    }

    fn request(destinations: Destinations, tags: Option<&str>) -> BackfillRequest {
        BackfillRequest {
            region: "us-east-1".into(),
            repositories: Glob::new("team/*").expect("glob"),
            destinations,
            tags: tags.map(|t| Pattern::new(t).expect("pattern")),
        }
    }

    fn summary(plan: &[PlannedCopy]) -> Vec<String> {
        plan.iter()
            .map(|c| {
                format!(
                    "{}@{} {} -> {}/{}",
                    c.repository,
                    c.digest,
                    c.tags.join(","),
                    c.target.region,
                    c.target.repository
                )
            })
            .collect()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_policy_picks_tags_and_places_and_never_the_image_s_own() {
        let policy = Policy::from_text(
            "version: 1\nrules:\n  - tags: { semver: {} }\nreplication:\n  - repositories: [\"team/*\"]\n    tags: { semver: { prerelease: false } }\n    destinations: [{ region: eu-west-1 }, { region: us-east-1 }]\n",
            "test",
            SourceFormat::Yaml,
        )
        .expect("policy");
        let plan = plan(&policy, &catalog(), &request(Destinations::Policy, None))
            .await
            .expect("planned")
            .copies;
        assert_eq!(
            summary(&plan),
            [
                "team/app@sha256:aaaa 1.0.0 -> eu-west-1/team/app",
                "team/app@sha256:bbbb 2.0.0 -> eu-west-1/team/app",
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn archived_images_are_left_out_and_named() {
        let catalog = catalog().with_archived_image("team/app", "sha256:dddd", &["0.9.0"]);
        let to = Destinations::Regions {
            regions: vec!["eu-west-1".into()],
            create_repository: false,
        };
        let backfill = plan(&Policy::builtin(), &catalog, &request(to, None))
            .await
            .expect("planned");
        assert!(backfill.copies.iter().all(|c| c.digest != "sha256:dddd"));
        assert_eq!(
            backfill.archived,
            [ArchivedImage {
                repository: "team/app".into(),
                digest: "sha256:dddd".into(),
                tags: vec!["0.9.0".into()],
            }]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn explicit_regions_take_every_tag_the_pattern_admits() {
        let to = Destinations::Regions {
            regions: vec!["eu-west-1".into(), "us-east-1".into()],
            create_repository: true,
        };
        let plan = plan(
            &Policy::builtin(),
            &catalog(),
            &request(to, Some("[0-9.]+")),
        )
        .await
        .expect("planned")
        .copies;
        assert_eq!(
            summary(&plan),
            [
                "team/app@sha256:aaaa 1.0.0 -> eu-west-1/team/app",
                "team/app@sha256:bbbb 2.0.0 -> eu-west-1/team/app",
            ]
        );
        assert!(plan.iter().all(|c| c.target.create_repository));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_fan_out_sends_one_job_per_image_and_resends_what_the_queue_dropped() {
        use crate::testing::MemoryQueue;
        let to = Destinations::Regions {
            regions: vec!["eu-west-1".into(), "ap-south-1".into()],
            create_repository: false,
        };
        let plan = plan(&Policy::builtin(), &catalog(), &request(to, None))
            .await
            .expect("planned")
            .copies;
        assert_eq!(plan.len(), 4, "two images, two regions each");
        let jobs = jobs("us-east-1", &plan);
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[1].tags(), ["2.0.0", "latest"]);
        assert_eq!(jobs[1].destinations.len(), 2);

        let many: Vec<CopyJob> = (0..23)
            .map(|i| {
                let mut job = jobs[i % 2].clone();
                job.source.repository = format!("team/app-{i}");
                job
            })
            .collect();
        let queue = MemoryQueue::default().dropping_first(2);
        let sent = fan_out(&queue, many).await.expect("sent");
        assert!(
            sent.iter()
                .all(|s| s.message_id.is_some() && s.error.is_none()),
            "{sent:?}"
        );
        assert_eq!(queue.jobs().len(), 23);
        assert_eq!(
            queue.batch_sizes(),
            [10, 10, 3, 2],
            "the two dropped went again"
        );
    }
}
