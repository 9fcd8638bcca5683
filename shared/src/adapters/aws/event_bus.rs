//! The EventBridge bus ecr-steward puts its events on (PutEvents): the replicator's
//! `Image Replicated`, and every function's verdicts (`Push Verdict`, …).

use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::classify::classify;
use crate::error::{Service, StewardError};
use crate::ports::{event_batches, EventPublisher};
use crate::replication::{ImageReplicated, EVENT_SOURCE, IMAGE_REPLICATED};
use crate::verdict::Verdict;

/// Puts events on one bus.
#[derive(Clone, Debug)]
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBus {
    /// A publisher to `bus` (a name, such as `default`, or an ARN) on `config`.
    pub fn new(config: &SdkConfig, bus: &str) -> Self {
        Self {
            client: aws_sdk_eventbridge::Client::new(config),
            bus: bus.into(),
        }
    }

    /// Puts `(detail-type, detail)` entries with source `ecr-steward`, in PutEvents batches;
    /// every batch is tried, and the first failure (a call's, or an entry's) is the error.
    async fn put(&self, entries: &[(&str, String)]) -> Result<(), StewardError> {
        let sizes: Vec<usize> = entries
            .iter()
            .map(|(detail_type, detail)| EVENT_SOURCE.len() + detail_type.len() + detail.len())
            .collect();
        let mut first_error = None;
        for batch in event_batches(&sizes) {
            let batch = &entries[batch];
            if let Err(error) = self.put_batch(batch).await {
                tracing::warn!(bus = %self.bus, %error, entries = batch.len(), "events not put");
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn put_batch(&self, batch: &[(&str, String)]) -> Result<(), StewardError> {
        let answer = self
            .client
            .put_events()
            .set_entries(Some(
                batch
                    .iter()
                    .map(|(detail_type, detail)| {
                        PutEventsRequestEntry::builder()
                            .source(EVENT_SOURCE)
                            .detail_type(*detail_type)
                            .detail(detail)
                            .event_bus_name(&self.bus)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| classify(Service::EventBridge, e))?;
        // PutEvents answers with the entries it could not put, not with an error.
        let failed: Vec<(usize, &aws_sdk_eventbridge::types::PutEventsResultEntry)> = answer
            .entries()
            .iter()
            .enumerate()
            .filter(|(_, e)| e.error_code().is_some())
            .collect();
        let Some((index, first)) = failed.first() else {
            return Ok(());
        };
        let code = first.error_code().unwrap_or_default();
        let mut message = format!(
            "{} on bus {}: {code}: {}",
            batch
                .get(*index)
                .map_or("an event", |(detail_type, _)| detail_type),
            self.bus,
            first.error_message().unwrap_or_default()
        );
        if batch.len() > 1 {
            message.push_str(&format!(
                " ({} of {} entries refused)",
                failed.len(),
                batch.len()
            ));
        }
        Err(if code.contains("Throttl") || code == "InternalFailure" {
            StewardError::Unavailable {
                service: Service::EventBridge,
                message,
            }
        } else {
            StewardError::Rejected {
                service: Service::EventBridge,
                code: None,
                message,
            }
        })
    }
}

impl EventPublisher for EventBus {
    async fn image_replicated(&self, event: &ImageReplicated) -> Result<(), StewardError> {
        let detail = serde_json::to_string(event)
            .map_err(|e| StewardError::Internal(format!("the event's detail: {e}")))?;
        self.put(&[(IMAGE_REPLICATED, detail)]).await
    }

    async fn verdicts(&self, verdicts: &[Verdict]) -> Result<(), StewardError> {
        let entries: Vec<(&str, String)> = verdicts
            .iter()
            .map(|verdict| (verdict.detail_type.as_str(), verdict.detail().to_string()))
            .collect();
        self.put(&entries).await
    }
}

#[cfg(test)]
mod tests {
    use crate::ports::{event_batches, MAX_EVENTS_PER_PUT, MAX_PUT_BYTES};

    #[test]
    fn batches_hold_ten_entries_and_fit_a_put() {
        assert!(event_batches(&[]).is_empty());
        assert_eq!(event_batches(&[100; 25]), [0..10, 10..20, 20..25]);
        assert_eq!(MAX_EVENTS_PER_PUT, 10);
        let big = MAX_PUT_BYTES / 2;
        assert_eq!(event_batches(&[big, big, 10, 10]), [0..2, 2..4]);
        assert_eq!(
            event_batches(&[big, big + 1, 10]),
            [0..1, 1..3],
            "over the limit: another batch"
        );
        assert_eq!(
            event_batches(&[MAX_PUT_BYTES + 1, 10]),
            [0..1, 1..2],
            "too large alone: alone, for the bus to refuse"
        );
    }
}
