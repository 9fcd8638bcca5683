//! What the Lambda entry points share.

use crate::error::StewardError;

/// The Lambda error for a failed invocation: its type says whether a retry can help
/// (`Retryable.*`) or not (`NonRetryable.*`), for alarms and on-failure destinations.
pub fn diagnostic(error: StewardError) -> lambda_runtime::Diagnostic {
    tracing::error!(error_type = error.error_type(), %error, "invocation failed");
    lambda_runtime::Diagnostic {
        error_type: error.error_type().into(),
        error_message: error.to_string(),
    }
}
