//! A policy kept in S3 or SSM Parameter Store (`STEWARD_POLICY_LOCATION`), for policies
//! larger than Lambda's 4 KB of environment, changed without a redeploy.
//!
//! The function reads and validates it at init (an unreadable or invalid policy fails the
//! init), then hands its handlers a [`LivePolicy`]. Before an invocation, [`PolicyRefresh`]
//! asks the store at most once per interval whether the policy changed (S3: by ETag, SSM: by
//! parameter version). A valid new version replaces the policy for the following
//! invocations; an invalid one is logged with its position and notified once, and the last
//! good policy stays; an unreachable store is logged and asked again at the next check.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::error::{Service, StewardError};
use crate::image::ImageRef;
use crate::notify::{untrusted, EventType, Notification, Outcome, Severity};
use crate::policy::{Policy, PolicyError, SourceFormat};
use crate::ports::{Notifier, PolicyFetch, PolicyStore};

/// Where a policy is kept: `s3://BUCKET/KEY` or `ssm:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyLocation {
    /// An S3 object.
    S3 {
        /// The bucket.
        bucket: String,
        /// The object's key.
        key: String,
    },
    /// An SSM parameter (String, or SecureString under the AWS managed key).
    Ssm {
        /// The parameter's name (a path starts with `/`).
        name: String,
    },
}

impl PolicyLocation {
    /// Parses `s3://BUCKET/KEY` or `ssm:NAME`; the error says what is expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("s3://") {
            return match rest.split_once('/') {
                Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(Self::S3 {
                    bucket: bucket.into(),
                    key: key.into(),
                }),
                _ => Err(format!("{text:?} names no object; use s3://BUCKET/KEY")),
            };
        }
        if let Some(name) = text.strip_prefix("ssm:") {
            if name.is_empty() || name.chars().any(char::is_whitespace) {
                return Err(format!("{text:?} names no parameter; use ssm:NAME"));
            }
            return Ok(Self::Ssm { name: name.into() });
        }
        Err(format!(
            "{text:?} is not a policy location; use s3://BUCKET/KEY or ssm:NAME"
        ))
    }

    /// True for text that is meant as a location rather than a file path.
    pub fn looks_like(text: &str) -> bool {
        text.starts_with("s3://") || text.starts_with("ssm:")
    }

    /// The service that keeps it.
    pub fn service(&self) -> Service {
        match self {
            Self::S3 { .. } => Service::S3,
            Self::Ssm { .. } => Service::Ssm,
        }
    }

    /// The object's or parameter's page in the AWS console.
    pub fn console_link(&self, region: &str) -> String {
        match self {
            Self::S3 { bucket, key } => format!(
                "https://{region}.console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={key}"
            ),
            Self::Ssm { name } => format!(
                "https://{region}.console.aws.amazon.com/systems-manager/parameters/{}/description?region={region}",
                name.trim_start_matches('/')
            ),
        }
    }

    /// Parses a policy read from here: errors are positioned as `LOCATION:LINE:COLUMN`. The
    /// format follows an S3 key's extension, else the text (JSON when it starts with `{`).
    pub fn parse_policy(&self, text: &str) -> Result<Policy, PolicyError> {
        let path = match self {
            Self::S3 { key, .. } => Path::new(key.as_str()),
            Self::Ssm { .. } => Path::new(""),
        };
        Policy::from_text(text, &self.to_string(), SourceFormat::detect(path, text))
    }
}

impl fmt::Display for PolicyLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
            Self::Ssm { name } => write!(f, "ssm:{name}"),
        }
    }
}

/// The policy a function's handlers use, replaced when a new valid version is read. Clones
/// share it; [`LivePolicy::current`] is what an invocation reads, once, at its start.
#[derive(Debug, Clone)]
pub struct LivePolicy(Arc<RwLock<Arc<Policy>>>);

impl LivePolicy {
    /// The policy in force now.
    pub fn current(&self) -> Arc<Policy> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `policy` in force for what reads it next.
    pub fn replace(&self, policy: Policy) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(policy);
    }
}

impl From<Policy> for LivePolicy {
    fn from(policy: Policy) -> Self {
        Self(Arc::new(RwLock::new(Arc::new(policy))))
    }
}

/// Why a policy location cannot be used at init.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The store could not be read.
    #[error("the policy at {location} cannot be read: {error}")]
    Unreadable {
        /// Where it was looked for.
        location: String,
        /// What the store answered.
        error: StewardError,
    },
    /// It was read and is invalid.
    #[error("the policy is invalid: {0}")]
    Invalid(PolicyError),
}

/// Reads and parses the policy at `location`: the policy and the version it was read at.
pub async fn load<S: PolicyStore>(
    store: &S,
    location: &PolicyLocation,
) -> Result<(Policy, String), LoadError> {
    let unreadable = |error| LoadError::Unreadable {
        location: location.to_string(),
        error,
    };
    let (text, version) = match store.fetch(location, None).await.map_err(unreadable)? {
        PolicyFetch::Changed { text, version } => (text, version),
        PolicyFetch::Unchanged => {
            return Err(unreadable(StewardError::InvalidResponse {
                service: location.service(),
                message: "the store answered 'unchanged' to a first read".into(),
            }))
        }
    };
    let policy = location.parse_policy(&text).map_err(LoadError::Invalid)?;
    Ok((policy, version))
}

/// The longest a check may hold up an invocation; an unanswered check counts as an
/// unreachable store.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The default interval between checks.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Keeps a [`LivePolicy`] up to date with its location.
#[derive(Debug)]
pub struct PolicyRefresh<S, N> {
    location: PolicyLocation,
    store: S,
    notifier: N,
    live: LivePolicy,
    interval: Duration,
    region: String,
    state: tokio::sync::Mutex<RefreshState>,
}

#[derive(Debug)]
struct RefreshState {
    next_check: Instant,
    /// The version last read, valid or not: the store answers `Unchanged` to it.
    version: String,
    /// The notification of a rejected version that could not be published yet.
    unsent: Option<Notification>,
}

/// What a check did; for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Not due yet: the store was not asked.
    NotDue,
    /// The store has the version in force (or the rejected one).
    Unchanged,
    /// A new valid version is in force.
    Updated {
        /// Its version.
        version: String,
    },
    /// A new version is invalid; the last good policy stays.
    Rejected {
        /// Its version.
        version: String,
        /// Why it does not load.
        error: String,
    },
    /// The store could not be read; the policy stays, and the next check asks again.
    Unreachable,
}

impl<S: PolicyStore, N: Notifier> PolicyRefresh<S, N> {
    /// A refresher for `live`, read from `location` at `version` at `loaded_at`; the first
    /// check is due an `interval` after it. Notifications name `region`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        location: PolicyLocation,
        store: S,
        notifier: N,
        live: LivePolicy,
        version: String,
        interval: Duration,
        region: &str,
        loaded_at: Instant,
    ) -> Self {
        Self {
            location,
            store,
            notifier,
            live,
            interval,
            region: region.into(),
            state: tokio::sync::Mutex::new(RefreshState {
                next_check: loaded_at + interval,
                version,
                unsent: None,
            }),
        }
    }

    /// Where the policy is kept.
    pub fn location(&self) -> &PolicyLocation {
        &self.location
    }

    /// [`PolicyRefresh::check_at`] now.
    pub async fn check(&self) -> Checked {
        self.check_at(Instant::now()).await
    }

    /// Asks the store for a new version if a check is due at `now`, and acts on the answer.
    pub async fn check_at(&self, now: Instant) -> Checked {
        let mut state = self.state.lock().await;
        if now < state.next_check {
            return Checked::NotDue;
        }
        state.next_check = now + self.interval;
        if let Some(notification) = state.unsent.take() {
            state.unsent = self.publish(notification).await;
        }
        let location = self.location.to_string();
        let fetched = tokio::time::timeout(
            CHECK_TIMEOUT,
            self.store.fetch(&self.location, Some(&state.version)),
        )
        .await;
        let (text, version) = match fetched {
            Ok(Ok(PolicyFetch::Unchanged)) => return Checked::Unchanged,
            Ok(Ok(PolicyFetch::Changed { text, version })) => (text, version),
            Ok(Err(error)) => {
                tracing::warn!(%location, %error, "the policy could not be re-read; the one in force stays");
                return Checked::Unreachable;
            }
            Err(_) => {
                tracing::warn!(%location, timeout = ?CHECK_TIMEOUT, "the policy store did not answer; the policy in force stays");
                return Checked::Unreachable;
            }
        };
        state.version = version.clone();
        match self.location.parse_policy(&text) {
            Ok(policy) => {
                self.live.replace(policy);
                tracing::info!(%location, %version, "a new version of the policy is in force");
                Checked::Updated { version }
            }
            Err(error) => {
                tracing::error!(%location, %version, %error, "the new version of the policy is invalid; the last good one stays");
                let notification = rejected(&self.location, &version, &error, &self.region);
                state.unsent = self.publish(notification).await;
                Checked::Rejected {
                    version,
                    error: error.to_string(),
                }
            }
        }
    }

    /// Publishes; gives the notification back when it could not be published.
    async fn publish(&self, notification: Notification) -> Option<Notification> {
        match self.notifier.publish(&notification).await {
            Ok(()) => None,
            Err(error) => {
                tracing::warn!(%error, "the notification of a rejected policy could not be published; the next check tries again");
                Some(notification)
            }
        }
    }
}

/// The notification of a rejected version of the policy.
pub fn rejected(
    location: &PolicyLocation,
    version: &str,
    error: &PolicyError,
    region: &str,
) -> Notification {
    let where_ = location.to_string();
    Notification {
        event_type: EventType::PolicyUpdate,
        severity: Severity::Warning,
        outcome: Outcome::PolicyRejected,
        image: ImageRef {
            account: None,
            region: region.into(),
            repository: String::new(),
            digest: String::new(),
        },
        title: "A new version of the policy is invalid; the last good one stays".into(),
        description: format!(
            "Version {} of the policy at {} does not load:\n{}",
            untrusted(version),
            untrusted(&where_),
            untrusted(&error.to_string())
        ),
        next_steps: vec![
            format!(
                "Check it with `ecr-steward policy validate {}`",
                untrusted(&where_)
            ),
            "Fix it where it is kept; the functions read it again within the refresh interval"
                .into(),
        ],
        keywords: vec!["ecr-steward".into(), "policy".into()],
        link: location.console_link(region),
        context: [
            ("location".to_string(), where_),
            ("version".to_string(), version.to_string()),
        ]
        .into(),
    }
}

#[cfg(test)]
mod tests;
