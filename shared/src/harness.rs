//! The one harness every function runs in: the event parsed once into a typed
//! [`StewardEvent`], the handler's decision with the invocation's deadline, skips logged, and
//! one response vocabulary: every response has an `outcome` (`skipped` with its `reason`, or
//! the handler's own report, whose `outcome` names what was done). Every answer comes with
//! its metrics ([`Answered`]), derived from the same typed outcome, report or error, and
//! with the report's verdicts ([`Announced`]): every function announces what it decided, and
//! the Lambda loop (`steward::lambda::run`) puts them on the verdict bus.

use std::future::Future;

use serde::Serialize;
use serde_json::{json, Value};

use crate::date::Date;
use crate::deadline::Deadline;
use crate::error::StewardError;
use crate::events::StewardEvent;
use crate::metrics::{Function, Measured, Measurements};
use crate::verdict::{Announced, Origin, Verdict};

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
#[derive(Debug)]
pub enum Handled<R> {
    /// Its report: serialized as the response, with its own `outcome`.
    Done(R),
    /// Not this function's business; the reason is logged and answered.
    Skipped(String),
    /// Its report (notified and counted), and the error the invocation ends with all the
    /// same, so that Lambda retries it (a copy to one destination failed, say).
    Failed {
        /// What was done, as far as it went.
        report: R,
        /// Why the invocation fails.
        error: StewardError,
    },
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
    /// Which function this is: the `Function` dimension of its metrics.
    const FUNCTION: Function;

    /// The report of what was done; it names its `outcome`, says what it counts
    /// ([`Measured`], in `steward_core::metrics`) and what it announces as verdict events
    /// ([`Announced`], in `steward_core::verdict`).
    type Report: Serialize + Measured + Announced;

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
    answer(handler, event, invocation).await.result
}

/// An invocation's answer and what it counted.
#[derive(Debug)]
pub struct Answered {
    /// The response, or the invocation's error.
    pub result: Result<Value, StewardError>,
    /// The metrics of the invocation: its event by outcome, the report's own counts, the
    /// failure by class.
    pub metrics: Measurements,
    /// The verdicts the report announces (none for a skip or an error before a report);
    /// put on the verdict bus by `steward::lambda::run` after the handler acted.
    pub verdicts: Vec<Verdict>,
}

/// [`invoke`], with the invocation's metrics.
pub async fn answer<H: Handler>(handler: &H, event: Value, invocation: Invocation) -> Answered {
    let origin = Origin::of(&event);
    let event = match StewardEvent::from_value(event) {
        Ok(event) => event,
        Err(error) => return failed(H::FUNCTION, StewardError::MalformedEvent(error.to_string())),
    };
    // The handler applies the deadline itself: reads may be cut off, a change it has started
    // must run to its end and its notification.
    match Box::pin(handler.handle(event, invocation)).await {
        Err(error) => failed(H::FUNCTION, error),
        Ok(Handled::Skipped(reason)) => {
            tracing::info!(%reason, "skipped");
            Answered {
                result: Ok(json!({ "outcome": "skipped", "reason": reason })),
                metrics: Measurements::of_skip(H::FUNCTION),
                verdicts: Vec::new(),
            }
        }
        Ok(Handled::Done(report)) => {
            let mut metrics = Measurements::of_report(H::FUNCTION, &report);
            let result = serde_json::to_value(&report).map_err(|error| {
                StewardError::Internal(format!("the report could not be serialized: {error}"))
            });
            if let Err(error) = &result {
                metrics.failure(error);
            }
            Answered {
                result,
                metrics,
                verdicts: report.verdicts(&origin),
            }
        }
        Ok(Handled::Failed { report, error }) => {
            let mut metrics = Measurements::of_report(H::FUNCTION, &report);
            metrics.failure(&error);
            Answered {
                result: Err(error),
                metrics,
                verdicts: report.verdicts(&origin),
            }
        }
    }
}

fn failed(function: Function, error: StewardError) -> Answered {
    Answered {
        metrics: Measurements::of_error(function, &error),
        result: Err(error),
        verdicts: Vec::new(),
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

    /// Handles a raw event within `invocation`'s deadline, with the invocation's metrics.
    fn answer(&self, event: Value, invocation: Invocation) -> impl Future<Output = Answered> + Send
    where
        Self: Sized,
    {
        answer(self, event, invocation)
    }
}

impl<H: Handler> Invoke for H {}
