//! The EventBridge bus the replicator announces replicas on: one PutEvents (the JSON
//! protocol), signed on the one HTTP client, as the functions carry no EventBridge SDK crate.

use aws_config::SdkConfig;
use serde_json::json;

use super::signed::SignedClient;
use crate::error::{Service, StewardError};
use crate::ports::EventPublisher;
use crate::replication::{ImageReplicated, EVENT_SOURCE, IMAGE_REPLICATED};
use crate::retry::RetryPolicy;

/// Puts events on one bus of the function's own region.
#[derive(Clone, Debug)]
pub struct EventBus {
    events: SignedClient,
    bus: String,
    retry: RetryPolicy,
}

impl EventBus {
    /// A publisher to `bus` (a name, such as `default`, or an ARN) on `sdk`'s credentials,
    /// region and endpoint, over `http`.
    pub fn new(sdk: &SdkConfig, http: reqwest::Client, bus: &str) -> Self {
        Self {
            events: SignedClient::new(sdk, http, Service::EventBridge, "events"),
            bus: bus.into(),
            retry: RetryPolicy {
                attempts: 3,
                ..RetryPolicy::default()
            },
        }
    }
}

impl EventPublisher for EventBus {
    async fn image_replicated(&self, event: &ImageReplicated) -> Result<(), StewardError> {
        let detail = serde_json::to_string(event)
            .map_err(|e| StewardError::Internal(format!("the event's detail: {e}")))?;
        let request = json!({
            "Entries": [{
                "Source": EVENT_SOURCE,
                "DetailType": IMAGE_REPLICATED,
                "Detail": detail,
                "EventBusName": self.bus,
            }]
        })
        .to_string();
        let answer = self
            .events
            .call_json(
                "events",
                "application/x-amz-json-1.1",
                "AWSEvents.PutEvents",
                &request,
                &self.bus,
                &self.retry,
            )
            .await?;
        // PutEvents answers 200 with the entries it could not put.
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if body["FailedEntryCount"].as_u64().unwrap_or(0) == 0 {
            return Ok(());
        }
        let entry = &body["Entries"][0];
        let code = entry["ErrorCode"].as_str().unwrap_or_default();
        let message = format!(
            "{code}: {}",
            entry["ErrorMessage"].as_str().unwrap_or_default()
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
