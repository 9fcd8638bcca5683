//! Retention, on the ports: plan a repository's images under its rule's `retention` section,
//! and with `apply` delete the expired ones in batches of at most 100, then move those the
//! plan archives to the archive storage class, each batch checked again just before. Used by
//! `ecr-steward prune` and the retention function.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::deadline::Deadline;
use crate::error::{Service, StewardError};
use crate::glob::Glob;
use crate::policy::{Policy, Retention, Rule};
use crate::ports::{RetentionStore, Workloads, MAX_DELETE_BATCH};
use crate::retention::{self, ImageRecord, Plan, RetentionResult, RunningImage, UsageSource};
use crate::timestamp::Timestamp;

/// The time a batch needs before it starts: a fresh listing and one BatchDeleteImage.
pub const BATCH_RESERVE: Duration = Duration::from_secs(10);

/// How a prune runs.
#[derive(Debug, Clone, Copy)]
pub struct RetentionSettings {
    /// The moment ages are measured at.
    pub now: Timestamp,
    /// Delete (true), or only plan (false, a dry run).
    pub apply: bool,
    /// Stop starting batches when less than [`BATCH_RESERVE`] is left.
    pub deadline: Deadline,
}

/// What a prune reports as it goes, for a progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The plan of a repository is made.
    Planned {
        /// The repository.
        repository: String,
        /// How many images it expires.
        expired: usize,
        /// How many images it has.
        images: usize,
    },
    /// A batch was deleted.
    Batch {
        /// The repository.
        repository: String,
        /// Expired images handled so far (deleted, kept on recheck, failed or gone).
        done: usize,
        /// Expired images in all.
        total: usize,
    },
}

/// One repository's plan, and what was done with it.
#[derive(Debug, Clone)]
pub struct RepositoryRetention {
    /// Every image with keep or expire and why.
    pub plan: Plan,
    /// What was deleted (with `apply`), kept on recheck, or failed.
    pub pruning: RetentionResult,
}

/// The rule and retention section that govern `repository`; `None` when no rule governs it
/// or its rule has no retention section (then nothing of it ever expires).
pub fn governing<'p>(policy: &'p Policy, repository: &str) -> Option<(&'p Rule, &'p Retention)> {
    let rule = policy.rule_for(Some(repository))?;
    Some((rule, rule.retention.as_ref()?))
}

/// The repositories of `all` that `globs` select (every one when empty) and that a rule
/// with a retention section governs, sorted.
pub fn select(policy: &Policy, all: &[String], globs: &[Glob]) -> Vec<String> {
    let mut names: Vec<String> = all
        .iter()
        .filter(|name| globs.is_empty() || globs.iter().any(|g| g.matches(name)))
        .filter(|name| governing(policy, name).is_some())
        .cloned()
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The `in_use` sources a retention section reads.
pub fn sources_of(retention: &Retention) -> BTreeSet<UsageSource> {
    let wanted = retention.in_use;
    [
        (wanted.lambda, UsageSource::Lambda),
        (wanted.ecs, UsageSource::Ecs),
        (wanted.inspector, UsageSource::Inspector),
    ]
    .into_iter()
    .filter_map(|(on, source)| on.then_some(source))
    .collect()
}

/// The `in_use` sources the rules governing `repositories` read, together.
pub fn sources_for(policy: &Policy, repositories: &[String]) -> BTreeSet<UsageSource> {
    repositories
        .iter()
        .filter_map(|name| governing(policy, name))
        .flat_map(|(_, retention)| sources_of(retention))
        .collect()
}

/// What the `in_use` sources reported, each read once: the images they run, or why the
/// source could not be read (then every repository that reads it keeps everything).
#[derive(Debug, Default)]
pub struct Running {
    read: BTreeMap<UsageSource, Result<Vec<RunningImage>, StewardError>>,
}

impl Running {
    /// Reads each of `sources` once, within `deadline` (a source that runs out of time
    /// counts as unreadable: what it governs is kept this run).
    pub async fn gather<W: Workloads>(
        workloads: &W,
        sources: &BTreeSet<UsageSource>,
        deadline: &Deadline,
    ) -> Self {
        let mut read = BTreeMap::new();
        for source in sources {
            read.insert(
                *source,
                deadline.run(workloads.running_images(*source)).await,
            );
        }
        Self { read }
    }

    /// How many images the sources read report running.
    pub fn count(&self) -> usize {
        self.read.values().flatten().map(Vec::len).sum()
    }

    /// Marks the images of `repository` that `retention`'s sources report as in use. Fails
    /// closed: a source it reads that could not be read (or was not gathered) fails the
    /// repository's plan for this run, naming the source and why.
    pub fn attach(
        &self,
        repository: &str,
        retention: &Retention,
        images: &mut [ImageRecord],
    ) -> Result<(), StewardError> {
        for source in sources_of(retention) {
            match self.read.get(&source) {
                Some(Ok(running)) => retention::attach_usage(images, repository, running),
                Some(Err(error)) => return Err(unreadable(repository, source, error)),
                None => {
                    return Err(StewardError::Internal(format!(
                        "the {} source was not read before planning {repository}",
                        source.as_str()
                    )))
                }
            }
        }
        Ok(())
    }
}

/// A source that could not be read keeps every image of the repository this run, in the
/// error's own class (a throttled source is worth another run; a denied one is not).
fn unreadable(repository: &str, source: UsageSource, error: &StewardError) -> StewardError {
    let (service, what, grant) = match source {
        UsageSource::Lambda => (Service::Lambda, "Lambda functions", "InUseFromLambda"),
        UsageSource::Ecs => (Service::Ecs, "ECS services and tasks", "InUseFromEcs"),
        UsageSource::Inspector => (
            Service::Inspector,
            "Inspector's in-use coverage",
            "InUseFromInspector",
        ),
    };
    let message = format!(
        "what runs could not be read from {what} ({error}), so nothing in {repository} expires this run; hint: grant the read (the stack's {grant} parameter), or set `retention.in_use.{}: false` if nothing there runs images of this registry",
        source.as_str()
    );
    if error.is_retryable() {
        StewardError::Unavailable { service, message }
    } else {
        StewardError::Rejected {
            service,
            code: None,
            message,
        }
    }
}

/// What planning one repository again needs.
struct Planning<'a> {
    repository: &'a str,
    rule: &'a Rule,
    retention: &'a Retention,
    now: Timestamp,
}

/// The repository as it is now (what runs attached), and its plan on the view that adds
/// back what this run deleted already (`retention::recheck_view`).
async fn recheck<S: RetentionStore>(
    store: &S,
    running: &Running,
    planning: &Planning<'_>,
    images: &[ImageRecord],
    deleted: &BTreeSet<String>,
) -> Result<(Vec<ImageRecord>, Plan), StewardError> {
    let Planning {
        repository,
        rule,
        retention,
        now,
    } = *planning;
    let mut fresh = store.retention_images(repository).await?;
    running.attach(repository, retention, &mut fresh)?;
    let view = retention::recheck_view(images, deleted, &fresh);
    let plan = retention::plan(repository, rule, retention, &view, now);
    Ok((fresh, plan))
}

/// Plans `repository` and, with `settings.apply`, deletes what the plan expires. `None` when
/// no retention section governs it. `running` is what the `in_use` sources reported at the
/// start of the run; before the first deletion they are read again from `workloads`.
pub async fn run_retention<S: RetentionStore, W: Workloads>(
    store: &S,
    workloads: &W,
    policy: &Policy,
    repository: &str,
    settings: &RetentionSettings,
    running: &Running,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Option<RepositoryRetention>, StewardError> {
    let Some((rule, retention)) = governing(policy, repository) else {
        return Ok(None);
    };
    let mut images = store.retention_images(repository).await?;
    running.attach(repository, retention, &mut images)?;
    let plan = retention::plan(repository, rule, retention, &images, settings.now);
    let expired = plan.expired_digests();
    progress(Progress::Planned {
        repository: repository.into(),
        expired: expired.len(),
        images: images.len(),
    });
    let mut pruning = RetentionResult {
        repository: repository.into(),
        rule: rule.name.clone(),
        applied: settings.apply,
        kept: plan.kept_count(),
        expired: plan.expired().cloned().collect(),
        expired_bytes: plan.expired_bytes(),
        deleted: Vec::new(),
        kept_on_recheck: Vec::new(),
        failed: Vec::new(),
        already_gone: Vec::new(),
        unfinished: false,
        to_archive: plan.to_archive().cloned().collect(),
        archived: Vec::new(),
    };
    let to_archive = plan.archive_digests();
    if !settings.apply || (expired.is_empty() && to_archive.is_empty()) {
        return Ok(Some(RepositoryRetention { plan, pruning }));
    }
    // What runs, read again just before the first deletion: a function or service deployed
    // since the run started keeps its image.
    let running = Running::gather(workloads, &sources_of(retention), &settings.deadline).await;
    let planning = Planning {
        repository,
        rule,
        retention,
        now: settings.now,
    };
    let mut deleted: BTreeSet<String> = BTreeSet::new();
    let mut done = 0;
    for batch in retention::deletion_batches(&images, &expired, MAX_DELETE_BATCH) {
        if settings.deadline.ensure(BATCH_RESERVE, "a batch").is_err() {
            pruning.unfinished = true;
            break;
        }
        // Just before deleting: the repository as it is now, planned again. A tag pushed, an
        // index or a referrer added since the plan keeps its image.
        let (fresh, again) = recheck(store, &running, &planning, &images, &deleted).await?;
        let present: BTreeSet<&str> = fresh.iter().map(|i| i.digest.as_str()).collect();
        let still = again.expired_digests();
        let mut now_delete = Vec::new();
        for digest in &batch {
            // An index or referrer that an earlier batch failed to delete still references
            // it: deleting it would break that manifest.
            let referenced_by = fresh.iter().find(|image| {
                (image.children.contains(digest) || image.subject.as_ref() == Some(digest))
                    && !batch.contains(&image.digest)
            });
            if !present.contains(digest.as_str()) {
                pruning.already_gone.push(digest.clone());
            } else if !still.contains(digest) {
                pruning.kept_on_recheck.push(digest.clone());
            } else if let Some(holder) = referenced_by {
                pruning.failed.push(retention::DeleteFailure {
                    digest: digest.clone(),
                    code: "StillReferenced".into(),
                    message: format!(
                        "{} still references it (it was not deleted)",
                        retention::short(&holder.digest)
                    ),
                });
            } else {
                now_delete.push(digest.clone());
            }
        }
        let answer = store.delete_images(repository, &now_delete).await?;
        deleted.extend(answer.deleted.iter().cloned());
        deleted.extend(answer.gone.iter().cloned());
        pruning.deleted.extend(answer.deleted);
        pruning.already_gone.extend(answer.gone);
        pruning.failed.extend(answer.failed);
        done += batch.len();
        progress(Progress::Batch {
            repository: repository.into(),
            done,
            total: expired.len(),
        });
    }
    let digests: Vec<String> = to_archive.into_iter().collect();
    for batch in digests.chunks(MAX_DELETE_BATCH) {
        if pruning.unfinished || settings.deadline.ensure(BATCH_RESERVE, "a batch").is_err() {
            pruning.unfinished = true;
            break;
        }
        // As for deletions: the repository as it is now, planned again, just before.
        let (fresh, again) = recheck(store, &running, &planning, &images, &deleted).await?;
        let present: BTreeSet<&str> = fresh.iter().map(|i| i.digest.as_str()).collect();
        let still = again.archive_digests();
        let mut now_archive = Vec::new();
        for digest in batch {
            if !present.contains(digest.as_str()) {
                pruning.already_gone.push(digest.clone());
            } else if !still.contains(digest) {
                pruning.kept_on_recheck.push(digest.clone());
            } else {
                now_archive.push(digest.clone());
            }
        }
        let answer = store.archive_images(repository, &now_archive).await?;
        pruning.archived.extend(answer.archived);
        pruning.already_gone.extend(answer.gone);
        pruning.failed.extend(answer.failed);
    }
    Ok(Some(RepositoryRetention { plan, pruning }))
}

#[cfg(test)]
mod tests;
