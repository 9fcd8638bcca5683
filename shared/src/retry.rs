//! Retries with exponential backoff and full jitter, for the registry calls (the SDK has its
//! own, configured in `aws::retry_config`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::StewardError;

/// Exponential backoff with full jitter, on throttling, 5xx and connection errors.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The backoff before the first retry, doubling each attempt (before jitter).
    pub base: Duration,
    /// The longest backoff (before jitter).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// Runs `operation` until it succeeds, fails for good, or runs out of attempts.
    pub async fn run<T, F, Fut>(&self, mut operation: F) -> Result<T, StewardError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, StewardError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match operation().await {
                Err(error) if error.is_retryable() && attempt < self.attempts => {
                    let ceiling = self.base.saturating_mul(1 << attempt.min(16)).min(self.cap);
                    tracing::debug!(%error, attempt, "retrying");
                    tokio::time::sleep(ceiling.mul_f64(jitter())).await;
                }
                outcome => return outcome,
            }
        }
    }
}

/// A number in [0, 1), different on every call; good enough to spread retries.
fn jitter() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed) ^ seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Service;

    #[tokio::test(flavor = "current_thread")]
    async fn retries_what_may_succeed_and_stops_on_what_cannot() {
        let policy = RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        };
        let mut calls = 0;
        let outcome = policy
            .run(|| {
                calls += 1;
                let attempt = calls;
                async move {
                    if attempt < 3 {
                        Err(StewardError::Unavailable {
                            service: Service::Registry,
                            message: "503".into(),
                        })
                    } else {
                        Ok(attempt)
                    }
                }
            })
            .await;
        assert_eq!(outcome.ok(), Some(3));

        let mut calls = 0;
        let outcome: Result<(), _> = policy
            .run(|| {
                calls += 1;
                async {
                    Err(StewardError::Rejected {
                        code: None,
                        service: Service::Registry,
                        message: "401".into(),
                    })
                }
            })
            .await;
        assert!(outcome.is_err());
        assert_eq!(calls, 1);

        let mut calls = 0;
        let outcome: Result<(), _> = policy
            .run(|| {
                calls += 1;
                async {
                    Err(StewardError::Throttled {
                        service: Service::Registry,
                        message: "429".into(),
                    })
                }
            })
            .await;
        assert!(outcome.is_err());
        assert_eq!(calls, 4);
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..1000 {
            let value = jitter();
            assert!((0.0..1.0).contains(&value));
        }
    }
}
