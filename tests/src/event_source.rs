//! An SQS event source mapping, as Lambda runs one: it receives a batch from the queue, hands
//! it to the function as an SQS event, then deletes the messages the function did not name in
//! `batchItemFailures`; the named ones become visible again (here at once, instead of when the
//! queue's visibility timeout runs out).

use std::collections::BTreeMap;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{json, Value};

use crate::Stack;

/// One queue, polled as Lambda polls it.
pub struct EventSource {
    sqs: aws_sdk_sqs::Client,
    region: String,
    /// The queue's URL.
    pub url: String,
    /// The queue's ARN.
    pub arn: String,
}

/// A batch received: the event the function gets, and each message's receipt handle.
pub struct Batch {
    /// The SQS event, with a record per message.
    pub event: Value,
    /// Message ID → receipt handle.
    pub handles: BTreeMap<String, String>,
}

impl Batch {
    /// The message IDs, in the event's order.
    pub fn message_ids(&self) -> Vec<String> {
        self.event["Records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .filter_map(|r| r["messageId"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl EventSource {
    /// A new queue named `name` in `region`.
    pub async fn create(stack: &Stack, region: &str, name: &str) -> Self {
        let sqs = aws_sdk_sqs::Client::new(&stack.sdk_config(region));
        let (url, arn) = crate::stack::create_queue(&sqs, name).await;
        Self {
            sqs,
            region: region.into(),
            url,
            arn,
        }
    }

    /// Up to ten messages, as the SQS event Lambda would invoke the function with.
    pub async fn receive(&self) -> Batch {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .expect("ReceiveMessage");
        let mut handles = BTreeMap::new();
        let records: Vec<Value> = output
            .messages()
            .iter()
            .map(|message| {
                let id = message.message_id().unwrap_or_default().to_string();
                let handle = message.receipt_handle().unwrap_or_default().to_string();
                handles.insert(id.clone(), handle.clone());
                let attributes: BTreeMap<String, String> = message
                    .attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                let message_attributes: BTreeMap<String, Value> = message
                    .message_attributes()
                    .map(|a| {
                        a.iter()
                            .map(|(k, v)| {
                                let value = json!({
                                    "stringValue": v.string_value(),
                                    "dataType": v.data_type(),
                                });
                                (k.clone(), value)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                json!({
                    "messageId": id,
                    "receiptHandle": handle,
                    "body": message.body().unwrap_or_default(),
                    "attributes": attributes,
                    "messageAttributes": message_attributes,
                    "md5OfBody": message.md5_of_body().unwrap_or_default(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": self.region,
                })
            })
            .collect();
        Batch {
            event: json!({ "Records": records }),
            handles,
        }
    }

    /// What Lambda does with the function's answer: deletes every message of the batch but
    /// those in `batchItemFailures`, which are made visible again. Returns the failed IDs.
    pub async fn settle(&self, batch: &Batch, response: &Value) -> Vec<String> {
        let failed: Vec<String> = response["batchItemFailures"]
            .as_array()
            .expect("a partial batch response")
            .iter()
            .map(|f| {
                f["itemIdentifier"]
                    .as_str()
                    .expect("an itemIdentifier")
                    .to_string()
            })
            .collect();
        for (id, handle) in &batch.handles {
            if failed.contains(id) {
                self.sqs
                    .change_message_visibility()
                    .queue_url(&self.url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .expect("ChangeMessageVisibility");
            } else {
                self.sqs
                    .delete_message()
                    .queue_url(&self.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
        }
        failed
    }
}
