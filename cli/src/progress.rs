//! Progress off a terminal: a line at most every so often, so a CI log shows long work is
//! alive without a line per step.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often `audit`, `prune` and `replicate` say how far they are when stderr is not a
/// terminal.
pub const OFF_TERMINAL: Duration = Duration::from_secs(5);

/// Tells when the next line is due: `period` after the last one (or after the start).
pub struct Every {
    period: Duration,
    last: Mutex<Instant>,
}

impl Every {
    pub fn new(period: Duration) -> Self {
        Self {
            period,
            last: Mutex::new(Instant::now()),
        }
    }

    /// True when a line is due, or when `now` insists (the end of a phase); the line is then
    /// counted as said.
    pub fn due(&self, now: bool) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        if now || last.elapsed() >= self.period {
            *last = Instant::now();
            return true;
        }
        false
    }
}
