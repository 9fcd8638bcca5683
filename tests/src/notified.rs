//! The fixture of every function test that reads what was notified: a stack, an SNS topic and
//! an SQS queue subscribed to it.

use std::time::Duration;

use serde_json::Value;

use crate::Stack;

/// How long to wait to be sure that no notification comes.
pub const QUIET: Duration = Duration::from_secs(1);
/// How long a notification may take to arrive.
pub const ARRIVAL: Duration = Duration::from_secs(10);

/// A stack with a topic for the notifications and a queue that receives them.
pub struct NotifiedStack {
    pub stack: Stack,
    /// The topic's ARN.
    pub topic: String,
    /// The queue's URL.
    pub queue: String,
}

impl NotifiedStack {
    /// A new stack, and the topic and queue in `region`.
    pub async fn start(region: &str) -> Self {
        let stack = Stack::start();
        let (topic, queue) = stack.topic_with_queue(region).await;
        Self {
            stack,
            topic,
            queue,
        }
    }

    /// The SNS envelopes that arrived on the queue: waits for `expected` of them, or for
    /// [`QUIET`] when none is expected.
    pub async fn notifications(&self, expected: usize) -> Vec<Value> {
        let timeout = if expected == 0 { QUIET } else { ARRIVAL };
        self.stack
            .receive_notifications(&self.queue, expected, timeout)
            .await
    }
}
