//! SDK errors, classified into the error classes Lambda's retries act on.

use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::error::{with_causes, AwsErrorCode, Service, StewardError};

/// Maps an SDK error to the classes Lambda's retries act on.
/// An error without a code the SDK could read (a proxy's or load balancer's page, say) is
/// classified by its HTTP status, as the registry's are.
pub fn classify<E>(service: Service, error: SdkError<E, HttpResponse>) -> StewardError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StewardError::Unavailable {
                service,
                message: with_causes(&error),
            }
        }
        SdkError::ServiceError(context) => {
            let code = context.err().code().unwrap_or_default();
            if code.is_empty() {
                return StewardError::from_status(
                    service,
                    context.raw().status().as_u16(),
                    "the requested resource",
                    context
                        .err()
                        .message()
                        .unwrap_or("no error code in the answer"),
                );
            }
            let message = context.err().message().unwrap_or(code);
            from_code(service, code, message)
        }
        _ => StewardError::Rejected {
            service,
            code: None,
            message: with_causes(&error),
        },
    }
}

/// The class of an AWS error answer by its error code (`ThrottlingException`, `NoSuchKey`, …).
pub fn from_code(service: Service, code: &str, message: &str) -> StewardError {
    let message = message.to_string();
    match code {
        "ThrottlingException"
        | "Throttling"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "ThrottledException"
        | "SlowDown" => StewardError::Throttled { service, message },
        "ServiceUnavailable"
        | "ServerException"
        | "InternalError"
        | "InternalFailure"
        | "KMSThrottlingException"
        | "InternalServerError" => StewardError::Unavailable { service, message },
        code if code.ends_with("NotFoundException")
            || code.ends_with("NotFound")
            || code.starts_with("NoSuch") =>
        {
            StewardError::NotFound {
                service,
                what: message,
            }
        }
        _ => StewardError::Rejected {
            service,
            code: Some(AwsErrorCode::parse(code)),
            message: format!("{code}: {message}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecr::error::ErrorMetadata;
    use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn service_error(status: u16, code: Option<&str>) -> StewardError {
        let mut metadata = ErrorMetadata::builder();
        if let Some(code) = code {
            metadata = metadata.code(code).message("details");
        }
        let raw = HttpResponse::new(
            StatusCode::try_from(status).expect("a status"),
            SdkBody::empty(),
        );
        let error = DescribeRepositoriesError::generic(metadata.build());
        classify(Service::Ecr, SdkError::service_error(error, raw))
    }

    #[test]
    fn codes_decide_and_the_status_stands_in_when_there_is_none() {
        let cases = [
            (400, Some("ThrottlingException"), "Retryable.Throttled"),
            (
                400,
                Some("RepositoryNotFoundException"),
                "NonRetryable.NotFound",
            ),
            (400, Some("AccessDeniedException"), "NonRetryable.Rejected"),
            (500, Some("ServerException"), "Retryable.Unavailable"),
            (429, None, "Retryable.Throttled"),
            (502, None, "Retryable.Unavailable"),
            (503, None, "Retryable.Unavailable"),
            (403, None, "NonRetryable.Rejected"),
        ];
        for (status, code, class) in cases {
            assert_eq!(
                service_error(status, code).error_type(),
                class,
                "{status} {code:?}"
            );
        }
        assert!(service_error(503, None).to_string().contains("HTTP 503"));
        let StewardError::Rejected { code, .. } = service_error(400, Some("AccessDeniedException"))
        else {
            panic!("rejected");
        };
        assert_eq!(code, Some(AwsErrorCode::AccessDenied));
    }
}
