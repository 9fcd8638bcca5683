//! The EventBridge bus the replicator announces replicas on (PutEvents).

use aws_config::SdkConfig;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::classify::classify;
use crate::error::{Service, StewardError};
use crate::ports::EventPublisher;
use crate::replication::{ImageReplicated, EVENT_SOURCE, IMAGE_REPLICATED};

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
}

impl EventPublisher for EventBus {
    async fn image_replicated(&self, event: &ImageReplicated) -> Result<(), StewardError> {
        let detail = serde_json::to_string(event)
            .map_err(|e| StewardError::Internal(format!("the event's detail: {e}")))?;
        let entry = PutEventsRequestEntry::builder()
            .source(EVENT_SOURCE)
            .detail_type(IMAGE_REPLICATED)
            .detail(detail)
            .event_bus_name(&self.bus)
            .build();
        let answer = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| classify(Service::EventBridge, e))?;
        // PutEvents answers with the entries it could not put, not with an error.
        let Some(failed) = answer.entries().iter().find(|e| e.error_code().is_some()) else {
            return Ok(());
        };
        let code = failed.error_code().unwrap_or_default();
        let message = format!(
            "{} on bus {}: {code}: {}",
            IMAGE_REPLICATED,
            self.bus,
            failed.error_message().unwrap_or_default()
        );
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
