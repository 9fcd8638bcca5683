//! The time an invocation has left. Lambda gives a deadline with every event; the handlers
//! start a change only while there is time to finish it and say so, and the harness answers
//! with a retryable error before the deadline, never after it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::StewardError;

/// When an invocation must have answered by; `unlimited` outside Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Option<Instant>);

impl Deadline {
    /// No deadline: there is always time left.
    pub fn unlimited() -> Self {
        Self(None)
    }

    /// A deadline `duration` from now; unlimited if that instant cannot be represented.
    pub fn after(duration: Duration) -> Self {
        Self(Instant::now().checked_add(duration))
    }

    /// From Lambda's deadline, in milliseconds since the Unix epoch.
    pub fn from_epoch_millis(deadline_ms: u64) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let left = Duration::from_millis(deadline_ms).saturating_sub(now);
        Self::after(left)
    }

    /// The time left; `None` when unlimited.
    pub fn remaining(&self) -> Option<Duration> {
        self.0
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// The same deadline, `margin` earlier.
    pub fn earlier_by(&self, margin: Duration) -> Self {
        Self(
            self.0
                .map(|at| at.checked_sub(margin).unwrap_or_else(Instant::now)),
        )
    }

    /// A retryable error, before anything is done, when less than `reserve` is left for
    /// `what` (a change and the notification that reports it).
    pub fn ensure(&self, reserve: Duration, what: &str) -> Result<(), StewardError> {
        match self.remaining() {
            Some(left) if left < reserve => Err(StewardError::DeadlineExceeded(format!(
                "{} ms left, {} ms needed before {what}; nothing was changed",
                left.as_millis(),
                reserve.as_millis()
            ))),
            _ => Ok(()),
        }
    }

    /// Runs `work` until it finishes or the deadline passes; then a retryable error.
    pub async fn run<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, StewardError>>,
    ) -> Result<T, StewardError> {
        let Some(left) = self.remaining() else {
            return work.await;
        };
        tokio::time::timeout(left, work).await.unwrap_or_else(|_| {
            Err(StewardError::DeadlineExceeded(format!(
                "the invocation's time ran out after {} ms while ECR, SNS or a registry was still answering slowly or throttling",
                left.as_millis()
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_starts_only_with_time_to_spare() {
        assert!(Deadline::unlimited()
            .ensure(Duration::from_secs(3600), "x")
            .is_ok());
        assert!(Deadline::after(Duration::from_secs(60))
            .ensure(Duration::from_secs(2), "x")
            .is_ok());
        let error = Deadline::after(Duration::from_millis(500))
            .ensure(Duration::from_secs(2), "removing the tag")
            .expect_err("too late");
        assert!(error.is_retryable());
        assert_eq!(error.error_type(), "Retryable.DeadlineExceeded");
        assert!(
            error.to_string().contains("before removing the tag"),
            "{error}"
        );
        let past = Deadline::from_epoch_millis(1_000);
        assert_eq!(past.remaining(), Some(Duration::ZERO));
        assert_eq!(
            Deadline::after(Duration::from_secs(1))
                .earlier_by(Duration::from_secs(5))
                .remaining(),
            Some(Duration::ZERO)
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn work_past_the_deadline_ends_in_a_retryable_error() {
        let deadline = Deadline::after(Duration::from_millis(50));
        let started = Instant::now();
        let result: Result<(), _> = deadline
            .run(async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                Ok(())
            })
            .await;
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(
            result.expect_err("timed out").error_type(),
            "Retryable.DeadlineExceeded"
        );
    }
}
