//! The one harness every function runs in: the event parsed once into a typed
//! [`StewardEvent`], the handler's decision with the invocation's deadline, skips logged, and
//! one response vocabulary: every response has an `outcome` (`skipped` with its `reason`, or
//! the handler's own report, whose `outcome` names what was done).

use std::future::Future;

use serde::Serialize;
use serde_json::{json, Value};

use crate::date::Date;
use crate::deadline::Deadline;
use crate::error::StewardError;
use crate::events::StewardEvent;

/// What the harness gives a handler besides the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invocation {
    /// When the answer is due.
    pub deadline: Deadline,
    /// Today (UTC), for what expires by date (scan ignores).
    pub today: Date,
}

impl Invocation {
    /// No deadline, today's date: for local runs and tests.
    pub fn unlimited() -> Self {
        Self::until(Deadline::unlimited())
    }

    /// Under `deadline`, today's date (UTC).
    pub fn until(deadline: Deadline) -> Self {
        Self {
            deadline,
            today: Date::today(),
        }
    }

    /// No deadline, on a given day.
    pub fn on(today: Date) -> Self {
        Self {
            deadline: Deadline::unlimited(),
            today,
        }
    }
}

/// What a handler made of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled<R> {
    /// Its report: serialized as the response, with its own `outcome`.
    Done(R),
    /// Not this function's business; the reason is logged and answered.
    Skipped(String),
}

impl<R> Handled<R> {
    /// Skips an event of a type the function does not handle.
    pub fn other_event(event: &StewardEvent) -> Self {
        Self::Skipped(format!("a {} event", event.detail_type()))
    }

    /// Skips an event, for `reason`.
    pub fn skipped(reason: &str) -> Self {
        Self::Skipped(reason.into())
    }
}

/// A function's decision logic, on the ports it is generic over.
pub trait Handler: Sync {
    /// The report of what was done; it names its `outcome`.
    type Report: Serialize;

    /// Handles one event; an `Err` is the invocation's error, classified for Lambda's retries.
    fn handle(
        &self,
        event: StewardEvent,
        invocation: Invocation,
    ) -> impl Future<Output = Result<Handled<Self::Report>, StewardError>> + Send;
}

/// Runs `handler` on one raw event, as Lambda gives it: parsed, handled (the handler keeps to
/// `invocation.deadline`), answered as JSON.
pub async fn invoke<H: Handler>(
    handler: &H,
    event: Value,
    invocation: Invocation,
) -> Result<Value, StewardError> {
    let event = StewardEvent::from_value(event)
        .map_err(|error| StewardError::MalformedEvent(error.to_string()))?;
    // The handler applies the deadline itself: reads may be cut off, a change it has started
    // must run to its end and its notification.
    match Box::pin(handler.handle(event, invocation)).await? {
        Handled::Skipped(reason) => {
            tracing::info!(%reason, "skipped");
            Ok(json!({ "outcome": "skipped", "reason": reason }))
        }
        Handled::Done(report) => serde_json::to_value(&report).map_err(|error| {
            StewardError::Internal(format!("the report could not be serialized: {error}"))
        }),
    }
}

/// [`invoke`] as a method of every handler.
pub trait Invoke: Handler {
    /// Handles a raw event with no deadline.
    fn invoke(&self, event: Value) -> impl Future<Output = Result<Value, StewardError>> + Send
    where
        Self: Sized,
    {
        self.invoke_with(event, Invocation::unlimited())
    }

    /// Handles a raw event within `invocation`'s deadline, on its day.
    fn invoke_with(
        &self,
        event: Value,
        invocation: Invocation,
    ) -> impl Future<Output = Result<Value, StewardError>> + Send
    where
        Self: Sized,
    {
        invoke(self, event, invocation)
    }
}

impl<H: Handler> Invoke for H {}
