//! retention: on its schedule's `Scheduled Event`, plans every repository whose rule has a
//! `retention` section and, with `STEWARD_RETENTION_APPLY=true`, deletes what the plan
//! expires (`steward::ops::retention`: batches of at most 100, each checked again just before it
//! is deleted). One notification per repository with something expired.
//!
//! A large registry does not fit in one invocation: repositories are taken in name order,
//! starting where the last run stopped, and when the time left is short the rest wait for the
//! next run, which starts with them. Where to start is kept in the stack's own SSM parameter
//! (`STEWARD_RETENTION_CURSOR`), never on the user's repositories.

#![warn(missing_docs)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use steward::config::ConfigError;
use steward::error::StewardError;
use steward::events::{sent_at, StewardEvent};
use steward::glob::Glob;
use steward::harness::{Handled, Handler, Invocation};
use steward::notify::Outcome;
use steward::ops::retention::{run_retention, select, sources_for, RetentionSettings, Running};
use steward::policy_source::LivePolicy;
use steward::ports::{Notifier, RetentionStore, RunCursor, Workloads};
use steward::retention::RetentionResult;
use steward::timestamp::Timestamp;
use tracing::{error, info};

/// `true`: delete what the plans expire; `false` or unset: a dry run that only notifies.
pub const RETENTION_APPLY: &str = "STEWARD_RETENTION_APPLY";

/// The SSM parameter that says where the next run starts; unset: every run starts from the
/// first repository.
pub const RETENTION_CURSOR: &str = "STEWARD_RETENTION_CURSOR";

/// The time a repository needs before it is started: its listing, its plan, a batch.
pub const REPOSITORY_RESERVE: Duration = Duration::from_secs(20);

/// Reads [`RETENTION_APPLY`] from `(name, value)` pairs.
pub fn apply_from(vars: impl IntoIterator<Item = (String, String)>) -> Result<bool, ConfigError> {
    let value = vars
        .into_iter()
        .find(|(name, _)| name == RETENTION_APPLY)
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_default();
    match value.as_str() {
        "" | "false" => Ok(false),
        "true" => Ok(true),
        other => Err(ConfigError::Invalid {
            variable: RETENTION_APPLY.into(),
            message: format!("{other:?}; use true or false"),
        }),
    }
}

/// The retention function on its ports: `S` lists and deletes images, `N` notifies, `W` says
/// what runs (Lambda, ECS, Inspector), `C` keeps where the next run starts.
pub struct Retention<S, N, W, C> {
    /// The policy whose retention sections apply; read once an invocation.
    pub policy: LivePolicy,
    /// Delete (true) or only plan and notify (false).
    pub apply: bool,
    /// The region, for notifications, when the event does not name it.
    pub region: String,
    /// ECR.
    pub store: S,
    /// SNS.
    pub notifier: N,
    /// Lambda, ECS and Inspector: the images that run.
    pub workloads: W,
    /// Where the next run starts (the stack's SSM parameter).
    pub cursor: C,
}

/// A repository that could not be pruned this run; the next run starts with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepositoryError {
    /// The repository.
    pub repository: String,
    /// `Retryable.*` or `NonRetryable.*`.
    pub error_type: String,
    /// What went wrong.
    pub message: String,
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// `pruned`, `prune-planned` (a dry run) or `prune-failed` (a deletion or a repository
    /// failed).
    pub outcome: Outcome,
    /// True when deletions were made.
    pub applied: bool,
    /// The moment ages were measured at.
    pub now: Timestamp,
    /// Each repository handled, in the order taken.
    pub repositories: Vec<RetentionResult>,
    /// Repositories that could not be read or deleted from.
    pub errors: Vec<RepositoryError>,
    /// Repositories left for the next run: the time ran short.
    pub carried_over: Vec<String>,
}

fn clock() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

/// A run is counted in `Events` by its outcome (`prune-planned`, `pruned`, `prune-failed`).
impl steward::metrics::Measured for RetentionReport {
    fn outcome(&self) -> steward::metrics::EventOutcome {
        steward::metrics::EventOutcome::Done(self.outcome)
    }

    fn measure(&self, _into: &mut steward::metrics::Measurements) {}
}

/// One `Retention Verdict` per repository the run handled (also when nothing expires), and
/// one `prune-failed` per repository it could not prune; all of a run share its time (`run`).
impl steward::verdict::Announced for RetentionReport {
    fn verdicts(&self, origin: &steward::verdict::Origin) -> Vec<steward::verdict::Verdict> {
        let run = self.now.to_string();
        let handled = |name: &str| self.repositories.iter().any(|r| r.repository == name);
        self.repositories
            .iter()
            .map(|result| steward::verdict::retention_verdict(result, origin, &run))
            .chain(
                self.errors
                    .iter()
                    .filter(|error| !handled(&error.repository))
                    .map(|error| {
                        steward::verdict::retention_error_verdict(
                            &error.repository,
                            &error.error_type,
                            &error.message,
                            origin,
                            &run,
                        )
                    }),
            )
            .collect()
    }
}

/// `names` (sorted) from the first one at or after `start`, then the ones before it.
pub fn from_cursor(names: Vec<String>, start: Option<&str>) -> Vec<String> {
    let at = start.map_or(0, |start| {
        names.partition_point(|name| name.as_str() < start)
    });
    let (before, after) = names.split_at(at);
    after.iter().chain(before).cloned().collect()
}

impl<S: RetentionStore, N: Notifier, W: Workloads, C: RunCursor> Handler for Retention<S, N, W, C> {
    const FUNCTION: steward::metrics::Function = steward::metrics::Function::Retention;
    type Report = RetentionReport;

    async fn handle(
        &self,
        event: StewardEvent,
        invocation: Invocation,
    ) -> Result<Handled<RetentionReport>, StewardError> {
        let StewardEvent::Scheduled(event) = event else {
            return Ok(Handled::other_event(&event));
        };
        // Ages are measured at the schedule's time, never later than the clock: a late or
        // replayed event never expires more than its run would have.
        let clock = clock();
        let now = sent_at(&event).map_or(clock, |at| at.min(clock));
        let region = event.region.clone().unwrap_or_else(|| self.region.clone());
        let globs = event
            .detail
            .repositories
            .iter()
            .map(|g| Glob::new(g).map_err(|e| StewardError::MalformedEvent(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let names = invocation
            .deadline
            .run(self.store.repository_names())
            .await?;
        let policy = self.policy.current();
        // An unreadable cursor starts from the first repository: every one is still taken
        // in turn, only the rotation restarts.
        let start = invocation
            .deadline
            .run(self.cursor.next_start())
            .await
            .unwrap_or_else(|failure| {
                error!(%failure, "where the last run stopped could not be read");
                None
            });
        let order = from_cursor(select(&policy, &names, &globs), start.as_deref());
        let sources = sources_for(&policy, &order);
        let running = Running::gather(&self.workloads, &sources, &invocation.deadline).await;
        let settings = RetentionSettings {
            now,
            apply: self.apply,
            deadline: invocation.deadline,
        };
        let mut report = RetentionReport {
            outcome: Outcome::PrunePlanned,
            applied: self.apply,
            now,
            repositories: Vec::new(),
            errors: Vec::new(),
            carried_over: Vec::new(),
        };
        for repository in order {
            if !report.carried_over.is_empty()
                || invocation
                    .deadline
                    .ensure(REPOSITORY_RESERVE, "a repository")
                    .is_err()
            {
                report.carried_over.push(repository);
                continue;
            }
            let pruned = run_retention(
                &self.store,
                &self.workloads,
                &policy,
                &repository,
                &settings,
                &running,
                &mut |_| {},
            )
            .await;
            let pruning = match pruned {
                Ok(Some(result)) => result.pruning,
                Ok(None) => continue,
                Err(failure) => {
                    error!(%repository, error_type = failure.error_type(), %failure, "repository not pruned");
                    report.errors.push(RepositoryError {
                        repository,
                        error_type: failure.error_type().into(),
                        message: failure.to_string(),
                    });
                    continue;
                }
            };
            if pruning.is_news() {
                let sent = self
                    .notifier
                    .publish(&pruning.notification(&region, event.account.as_deref()))
                    .await;
                // The run goes on (and records where the next starts); the report says it.
                if let Err(failure) = sent {
                    error!(%repository, %failure, "the notification was not sent");
                    report.errors.push(RepositoryError {
                        repository: repository.clone(),
                        error_type: failure.error_type().into(),
                        message: format!("the notification was not sent: {failure}"),
                    });
                }
            }
            info!(
                %repository,
                outcome = %pruning.outcome(),
                expired = pruning.expired.len(),
                deleted = pruning.deleted.len(),
                kept_on_recheck = pruning.kept_on_recheck.len(),
                failed = pruning.failed.len(),
                "retention"
            );
            if pruning.unfinished {
                report.carried_over.push(repository);
            }
            report.repositories.push(pruning);
        }
        if let Err(failure) = self
            .cursor
            .set_next_start(report.carried_over.first().map(String::as_str))
            .await
        {
            // The next run then starts from the first repository again.
            error!(%failure, "where the next run starts could not be recorded");
        }
        report.outcome = if !report.errors.is_empty()
            || report.repositories.iter().any(|r| !r.failed.is_empty())
        {
            Outcome::PruneFailed
        } else if self.apply {
            Outcome::Pruned
        } else {
            Outcome::PrunePlanned
        };
        info!(
            outcome = %report.outcome,
            repositories = report.repositories.len(),
            carried_over = report.carried_over.len(),
            "retention run"
        );
        Ok(Handled::Done(report))
    }
}

#[cfg(test)]
mod tests;
