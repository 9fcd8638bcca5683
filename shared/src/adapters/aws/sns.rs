//! SNS: notifications published with their message attributes.

use aws_config::SdkConfig;
use aws_sdk_sns::types::MessageAttributeValue;

use super::classify::classify;
use crate::error::{Service, StewardError};
use crate::notify::Notification;
use crate::ports::Notifier;

/// Publishes notifications to one SNS topic.
#[derive(Clone, Debug)]
pub struct Sns {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl Sns {
    /// A publisher to `topic_arn`, on `config`.
    pub fn new(config: &SdkConfig, topic_arn: &str) -> Self {
        Self {
            client: aws_sdk_sns::Client::new(config),
            topic_arn: topic_arn.into(),
        }
    }
}

impl Notifier for Sns {
    async fn publish(&self, notification: &Notification) -> Result<(), StewardError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(notification.subject())
            .message(notification.chat_message().to_string());
        for (name, value) in notification.attributes() {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| StewardError::Rejected {
                    code: None,
                    service: Service::Sns,
                    message: e.to_string(),
                })?;
            request = request.message_attributes(name, attribute);
        }
        request
            .send()
            .await
            .map_err(|e| classify(Service::Sns, e))?;
        Ok(())
    }
}
