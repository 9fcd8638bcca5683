//! Errors of the functions' adapters, classified so that Lambda retries what can succeed later
//! (throttling, 5xx, network) and an on-failure destination receives what cannot.

/// Which outside service failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Ecr,
    Sns,
    Registry,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Service::Ecr => "ECR",
            Service::Sns => "SNS",
            Service::Registry => "the registry",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StewardError {
    #[error("malformed event: {0}")]
    MalformedEvent(String),
    #[error("{what} not found in {service}")]
    NotFound { service: Service, what: String },
    #[error("{service} throttled the request: {message}")]
    Throttled { service: Service, message: String },
    #[error("{service} is unavailable: {message}")]
    Unavailable { service: Service, message: String },
    #[error("{service} refused the request: {message}")]
    Rejected { service: Service, message: String },
    /// The invocation's time ran out; a retry starts again with the full timeout.
    #[error("out of time: {0}")]
    DeadlineExceeded(String),
    /// The change contradicts the resource's own rules, such as an immutable tag.
    #[error("{service} refused the change: {message}")]
    Conflict { service: Service, message: String },
    /// A bug in ecr-steward: it could not do what it means to.
    #[error("internal error: {0}")]
    Internal(String),
    #[error("{service} sent something ecr-steward cannot use: {message}")]
    InvalidResponse { service: Service, message: String },
}

impl StewardError {
    /// True when the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Throttled { .. } | Self::Unavailable { .. } | Self::DeadlineExceeded(_)
        )
    }

    /// A stable name for the class, shown as the Lambda error type: `Retryable.Throttled`,
    /// `NonRetryable.NotFound`, …
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::MalformedEvent(_) => "NonRetryable.MalformedEvent",
            Self::NotFound { .. } => "NonRetryable.NotFound",
            Self::Throttled { .. } => "Retryable.Throttled",
            Self::Unavailable { .. } => "Retryable.Unavailable",
            Self::DeadlineExceeded(_) => "Retryable.DeadlineExceeded",
            Self::Rejected { .. } => "NonRetryable.Rejected",
            Self::Conflict { .. } => "NonRetryable.Conflict",
            Self::Internal(_) => "NonRetryable.Internal",
            Self::InvalidResponse { .. } => "NonRetryable.InvalidResponse",
        }
    }

    /// Classifies an HTTP status from a service; the message names the status.
    pub fn from_status(service: Service, status: u16, what: &str, message: &str) -> Self {
        let message = format!("HTTP {status}: {message}");
        match status {
            404 => Self::NotFound {
                service,
                what: what.into(),
            },
            429 => Self::Throttled { service, message },
            500..=599 => Self::Unavailable { service, message },
            _ => Self::Rejected { service, message },
        }
    }
}

/// An error and its causes on one line (`outer: cause: root cause`): reqwest's own message
/// leaves out why a request failed.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        line.push_str(": ");
        line.push_str(&error.to_string());
        cause = error.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_follow_the_error() {
        let root = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        assert_eq!(with_causes(&Outer(root)), "bad roots: no such file");
    }

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("bad roots")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn statuses_are_classified() {
        let classify = |status| StewardError::from_status(Service::Registry, status, "blob", "x");
        assert!(matches!(classify(404), StewardError::NotFound { .. }));
        assert!(classify(429).is_retryable());
        assert!(classify(503).is_retryable());
        assert!(!classify(401).is_retryable());
        assert!(!classify(404).is_retryable());
        assert_eq!(classify(403).error_type(), "NonRetryable.Rejected");
        assert_eq!(classify(500).error_type(), "Retryable.Unavailable");
    }
}
