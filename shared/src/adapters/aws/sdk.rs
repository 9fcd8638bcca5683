//! The SDK configuration: the environment's credentials and region, the one HTTP client,
//! explicit retries.

use std::time::Duration;

use aws_config::{BehaviorVersion, SdkConfig};

use crate::http::SdkHttpClient;

/// The SDK configuration from the environment (credentials, region, `AWS_ENDPOINT_URL`), on
/// the process's one HTTP client (see [`crate::http`]).
pub async fn sdk_config(http: &reqwest::Client) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(SdkHttpClient::shared(http.clone()))
        .retry_config(retry_config())
        .timeout_config(timeout_config())
        .load()
        .await
}

/// The SDK's retries: its standard strategy (exponential backoff with full jitter, a retry
/// quota against retry storms) on throttling, 5xx and connection errors; 3 attempts, waits
/// from 100 ms up to 2 s, so that a call that stays throttled gives up well inside a
/// function's timeout and the event is retried by Lambda instead.
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(2))
}

/// The SDK's timeouts: 5 s an attempt, 12 s a call with its retries, so that no call hangs
/// past an invocation's reserve for a change and its notification.
pub fn timeout_config() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(5))
        .operation_timeout(Duration::from_secs(12))
        .build()
}
