//! The copy job queue's dead-letter queue: a job that can never succeed is sent there at once,
//! with why. One SQS SendMessage (the JSON protocol), signed on the one HTTP client: the
//! functions carry no SQS SDK crate (its size is in BENCHMARKS.md, "Cold start").

use aws_config::SdkConfig;
use serde_json::json;

use super::signed::SignedClient;
use crate::error::{Service, StewardError};
use crate::ports::DeadLetters;
use crate::retry::RetryPolicy;

/// Sends messages to one queue of the function's own region.
#[derive(Clone, Debug)]
pub struct DeadLetterQueue {
    sqs: SignedClient,
    queue_url: String,
    retry: RetryPolicy,
}

impl DeadLetterQueue {
    /// A sender to `queue_url` on `sdk`'s credentials, region and endpoint, over `http`.
    pub fn new(sdk: &SdkConfig, http: reqwest::Client, queue_url: &str) -> Self {
        Self {
            sqs: SignedClient::new(sdk, http, Service::Sqs, "sqs"),
            queue_url: queue_url.into(),
            retry: RetryPolicy {
                attempts: 3,
                ..RetryPolicy::default()
            },
        }
    }
}

impl DeadLetters for DeadLetterQueue {
    async fn bury(&self, body: &str, reason: &str) -> Result<(), StewardError> {
        let request = json!({
            "QueueUrl": self.queue_url,
            "MessageBody": body,
            "MessageAttributes": {
                "reason": { "DataType": "String", "StringValue": reason }
            }
        })
        .to_string();
        self.sqs
            .call_json(
                "sqs",
                "application/x-amz-json-1.0",
                "AmazonSQS.SendMessage",
                &request,
                &self.queue_url,
                &self.retry,
            )
            .await
            .map(drop)
    }
}
