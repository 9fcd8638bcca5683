//! SQS: copy jobs sent to the replicator's job queue, ten to a request; jobs that can never
//! succeed sent to its dead-letter queue.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use super::classify::classify;
use crate::copy_job::CopyJob;
use crate::error::{Service, StewardError};
use crate::ports::{DeadLetters, JobQueue, JobSent, Rechecks};

/// Sends copy jobs to one queue.
#[derive(Clone, Debug)]
pub struct Sqs {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Sqs {
    /// A sender to `queue_url`, on `config`.
    pub fn new(config: &SdkConfig, queue_url: &str) -> Self {
        Self {
            client: aws_sdk_sqs::Client::new(config),
            queue_url: queue_url.into(),
        }
    }
}

impl JobQueue for Sqs {
    async fn send_batch(&self, jobs: &[CopyJob]) -> Result<Vec<JobSent>, StewardError> {
        let entries = jobs
            .iter()
            .enumerate()
            .map(|(index, job)| {
                SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(job.to_message())
                    .build()
                    .map_err(|e| StewardError::Internal(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let answer = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify(Service::Sqs, e))?;
        let mut sent: Vec<Option<JobSent>> = vec![None; jobs.len()];
        for ok in answer.successful() {
            if let Some(slot) = ok.id().parse::<usize>().ok().and_then(|i| sent.get_mut(i)) {
                *slot = Some(JobSent::Queued(ok.message_id().to_string()));
            }
        }
        for failed in answer.failed() {
            if let Some(slot) = failed
                .id()
                .parse::<usize>()
                .ok()
                .and_then(|i| sent.get_mut(i))
            {
                *slot = Some(JobSent::Refused {
                    reason: format!(
                        "{}: {}",
                        failed.code(),
                        failed.message().unwrap_or_default()
                    ),
                    retryable: !failed.sender_fault(),
                });
            }
        }
        Ok(sent
            .into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| JobSent::Refused {
                    reason: "SQS did not answer for this message".into(),
                    retryable: true,
                })
            })
            .collect())
    }
}

impl DeadLetters for Sqs {
    async fn bury(&self, body: &str, reason: &str) -> Result<(), StewardError> {
        let reason = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(reason)
            .build()
            .map_err(|e| StewardError::Internal(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("reason", reason)
            .send()
            .await
            .map_err(|e| classify(Service::Sqs, e))
            .map(drop)
    }
}

impl Rechecks for Sqs {
    async fn later(
        &self,
        recheck: &crate::push::Recheck,
        delay_seconds: u32,
    ) -> Result<(), StewardError> {
        let body = serde_json::to_string(recheck)
            .map_err(|e| StewardError::Internal(format!("the re-check message: {e}")))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(i32::try_from(delay_seconds.min(900)).unwrap_or(900))
            .send()
            .await
            .map_err(|e| classify(Service::Sqs, e))?;
        Ok(())
    }
}
