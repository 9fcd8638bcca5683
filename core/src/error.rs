//! Errors of the functions' adapters, classified so that Lambda retries what can succeed later
//! (throttling, 5xx, network) and an on-failure destination receives what cannot.

/// Which outside service failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Amazon ECR's API.
    Ecr,
    /// Amazon SNS, where notifications are published.
    Sns,
    /// An OCI registry's HTTP API (manifests, blobs).
    Registry,
    /// Amazon SQS: the replicator's copy job queue.
    Sqs,
    /// Amazon S3, where a policy may be kept.
    S3,
    /// AWS Systems Manager Parameter Store, where a policy may be kept.
    Ssm,
    /// Amazon EventBridge, where the replicator announces replicas.
    EventBridge,
    /// AWS Lambda: the images functions run (retention's `in_use`).
    Lambda,
    /// Amazon ECS: the images services and tasks run (retention's `in_use`).
    Ecs,
    /// Amazon Inspector: the images ECS tasks and EKS pods run (retention's `in_use`).
    Inspector,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Service::Ecr => "ECR",
            Service::Sns => "SNS",
            Service::Registry => "the registry",
            Service::Sqs => "SQS",
            Service::S3 => "S3",
            Service::Ssm => "SSM",
            Service::EventBridge => "EventBridge",
            Service::Lambda => "Lambda",
            Service::Ecs => "ECS",
            Service::Inspector => "Inspector",
        })
    }
}

/// An AWS error code that ecr-steward acts on; any other is kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsErrorCode {
    /// CreateRepository: the repository exists already (a concurrent delivery made it).
    RepositoryAlreadyExists,
    /// PutImage: the image (with that tag) is there already; nothing changed.
    ImageAlreadyExists,
    /// PutImage: an immutable tag names another image.
    ImageTagAlreadyExists,
    /// IAM or a resource policy denied the call.
    AccessDenied,
    /// Any other code.
    Other(String),
}

impl AwsErrorCode {
    /// From the code in an AWS answer (`RepositoryAlreadyExistsException`, …).
    pub fn parse(code: &str) -> Self {
        match code {
            "RepositoryAlreadyExistsException" => Self::RepositoryAlreadyExists,
            "ImageAlreadyExistsException" => Self::ImageAlreadyExists,
            "ImageTagAlreadyExistsException" => Self::ImageTagAlreadyExists,
            "AccessDeniedException" | "AccessDenied" => Self::AccessDenied,
            other => Self::Other(other.into()),
        }
    }
}

/// A failure of an invocation, classified: [`StewardError::is_retryable`] tells whether the
/// same call may succeed later, [`StewardError::error_type`] names the class.
#[derive(Debug, thiserror::Error)]
pub enum StewardError {
    /// The event could not be read as one this function handles; retrying cannot help.
    #[error("malformed event: {0}")]
    MalformedEvent(String),
    /// The service has no such thing (an image, a tag, a repository, a blob): HTTP 404 or
    /// the service's own not-found error code.
    #[error("{what} not found in {service}")]
    NotFound {
        /// The service that was asked.
        service: Service,
        /// What was looked for, as a reader would name it.
        what: String,
    },
    /// The service asked us to slow down (HTTP 429 or its own throttling code); retryable.
    #[error("{service} throttled the request: {message}")]
    Throttled {
        /// The service that throttled.
        service: Service,
        /// The service's own words.
        message: String,
    },
    /// The service failed or could not be reached (HTTP 5xx, network, timeout); retryable.
    #[error("{service} is unavailable: {message}")]
    Unavailable {
        /// The service that failed.
        service: Service,
        /// What went wrong, with its causes.
        message: String,
    },
    /// The service refused the request for good (access denied, a bad parameter: HTTP 4xx
    /// other than 404 and 429, or an error code not classed otherwise).
    #[error("{service} refused the request: {message}")]
    Rejected {
        /// The service that refused.
        service: Service,
        /// The AWS error code, when the answer had one.
        code: Option<AwsErrorCode>,
        /// The service's own words.
        message: String,
    },
    /// The invocation's time ran out; a retry starts again with the full timeout.
    #[error("out of time: {0}")]
    DeadlineExceeded(String),
    /// The change contradicts the resource's own rules, such as an immutable tag.
    #[error("{service} refused the change: {message}")]
    Conflict {
        /// The service that refused.
        service: Service,
        /// The service's own words.
        message: String,
    },
    /// A bug in ecr-steward: it could not do what it means to.
    #[error("internal error: {0}")]
    Internal(String),
    /// The service answered, but with something ecr-steward cannot read or trust (a body that
    /// does not parse, a digest that does not match).
    #[error("{service} sent something ecr-steward cannot use: {message}")]
    InvalidResponse {
        /// The service that answered.
        service: Service,
        /// What is wrong with the answer.
        message: String,
    },
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
            _ => Self::Rejected {
                service,
                code: None,
                message,
            },
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
