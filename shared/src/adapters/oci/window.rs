//! Throttling-aware windows: how many requests of one kind a registry is sent at once, and how
//! far apart they start, learned from its answers (additive increase, multiplicative decrease).
//!
//! ECR limits each API action per second (PutImage 10, InitiateLayerUpload and
//! CompleteLayerUpload 100, UploadLayerPart 500) and its registry endpoint answers
//! `429 TOOMANYREQUESTS` over them. A window starts wide; each throttled answer halves it, at
//! most once per flight (answers to requests sent before the last decrease do not count again),
//! and every success widens it by one request per window's worth of successes. At one request
//! in flight a still-throttled action is paced instead: its requests start at least `spacing`
//! apart, doubled on a throttle and shortened by a twentieth on each success, so a backfill
//! settles near the quota instead of retrying above it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// The kinds of registry request that have quotas of their own (ECR's API action for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// GET or HEAD of a manifest (`BatchGetImage`).
    ReadManifest,
    /// PUT of a manifest, by digest or by tag (`PutImage`).
    PutManifest,
    /// HEAD of a blob (`BatchCheckLayerAvailability`).
    CheckBlob,
    /// GET of a blob (`GetDownloadUrlForLayer`).
    ReadBlob,
    /// POST of an upload, or of a mount (`InitiateLayerUpload`).
    StartUpload,
    /// PATCH of upload data (`UploadLayerPart`).
    SendUpload,
    /// PUT that commits an upload (`CompleteLayerUpload`).
    CommitUpload,
    /// GET of the referrers listing.
    Referrers,
}

/// The widest a window grows, and where it starts.
pub const MAX_WINDOW: f64 = 64.0;
/// The longest spacing a paced action is given.
const MAX_SPACING: Duration = Duration::from_secs(2);
/// The spacing a window at one request starts pacing with.
const FIRST_SPACING: Duration = Duration::from_millis(20);

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    spacing: Duration,
    next_start: Instant,
    /// Requests started before this instant were in flight at the last decrease.
    decreased_at: Option<Instant>,
    throttles: u64,
    decreases: u64,
}

#[derive(Debug)]
struct Window {
    state: Mutex<State>,
    freed: Notify,
}

/// What a window looks like now (for tests and metrics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowState {
    /// Requests allowed in flight.
    pub limit: f64,
    /// Least time between two starts.
    pub spacing: Duration,
    /// Throttled answers seen.
    pub throttles: u64,
    /// Times the window narrowed.
    pub decreases: u64,
}

/// One registry's windows, one per [`Action`]; clones share them.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    windows: Arc<Mutex<BTreeMap<Action, Arc<Window>>>>,
}

/// A request's place in its window; given back with how its answer went.
#[derive(Debug)]
pub struct Permit {
    window: Arc<Window>,
    started: Instant,
    settled: bool,
}

impl Windows {
    fn window(&self, action: Action) -> Arc<Window> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows
            .entry(action)
            .or_insert_with(|| {
                Arc::new(Window {
                    state: Mutex::new(State {
                        limit: MAX_WINDOW,
                        in_flight: 0,
                        spacing: Duration::ZERO,
                        next_start: Instant::now(),
                        decreased_at: None,
                        throttles: 0,
                        decreases: 0,
                    }),
                    freed: Notify::new(),
                })
            })
            .clone()
    }

    /// Waits for room in `action`'s window (and for its spacing), then takes it.
    pub async fn acquire(&self, action: Action) -> Permit {
        let window = self.window(action);
        loop {
            let freed = window.freed.notified();
            let wait = {
                let mut state = window.lock();
                let now = Instant::now();
                if (state.in_flight as f64) < state.limit.floor().max(1.0) {
                    if state.next_start <= now {
                        state.in_flight += 1;
                        state.next_start = now + state.spacing;
                        break Permit {
                            window: window.clone(),
                            started: now,
                            settled: false,
                        };
                    }
                    Some(state.next_start)
                } else {
                    None
                }
            };
            match wait {
                Some(at) => tokio::time::sleep_until(at).await,
                None => freed.await,
            }
        }
    }

    /// The window of `action` as it is now.
    pub fn state(&self, action: Action) -> WindowState {
        let window = self.window(action);
        let state = window.lock();
        WindowState {
            limit: state.limit,
            spacing: state.spacing,
            throttles: state.throttles,
            decreases: state.decreases,
        }
    }
}

impl Window {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Permit {
    /// Gives the place back: `throttled` when the registry said to slow down.
    pub fn settle(mut self, throttled: bool) {
        self.release(Some(throttled));
    }

    fn release(&mut self, throttled: Option<bool>) {
        if self.settled {
            return;
        }
        self.settled = true;
        {
            let mut state = self.window.lock();
            state.in_flight = state.in_flight.saturating_sub(1);
            match throttled {
                Some(true) => {
                    state.throttles += 1;
                    let counted = state.decreased_at.is_none_or(|at| self.started > at);
                    if counted {
                        state.decreases += 1;
                        state.decreased_at = Some(Instant::now());
                        if state.limit >= 2.0 {
                            state.limit = (state.limit / 2.0).max(1.0);
                        } else {
                            state.limit = 1.0;
                            state.spacing = (state.spacing * 2).clamp(FIRST_SPACING, MAX_SPACING);
                        }
                    }
                }
                Some(false) => {
                    if state.spacing > Duration::ZERO {
                        state.spacing = state.spacing.mul_f64(0.95);
                        if state.spacing < Duration::from_millis(1) {
                            state.spacing = Duration::ZERO;
                        }
                    } else {
                        state.limit = (state.limit + 1.0 / state.limit).min(MAX_WINDOW);
                    }
                }
                None => {}
            }
        }
        self.window.freed.notify_waiters();
    }
}

impl Drop for Permit {
    /// A request dropped before its answer (cancelled) frees its place and teaches nothing.
    fn drop(&mut self) {
        self.release(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_throttle_halves_the_window_once_per_flight_and_successes_widen_it() {
        let windows = Windows::default();
        let permits: Vec<Permit> =
            futures_util::future::join_all((0..8).map(|_| windows.acquire(Action::PutManifest)))
                .await;
        // Eight answers throttled from one flight: one decrease.
        for permit in permits {
            permit.settle(true);
        }
        let state = windows.state(Action::PutManifest);
        assert_eq!(
            (state.limit, state.throttles, state.decreases),
            (MAX_WINDOW / 2.0, 8, 1)
        );
        // A throttle from a request sent after it narrows it again.
        tokio::time::advance(Duration::from_millis(1)).await;
        windows.acquire(Action::PutManifest).await.settle(true);
        assert_eq!(windows.state(Action::PutManifest).limit, MAX_WINDOW / 4.0);
        for _ in 0..16 {
            windows.acquire(Action::PutManifest).await.settle(false);
        }
        let widened = windows.state(Action::PutManifest).limit;
        assert!((16.9..17.1).contains(&widened), "{widened}");
        // Other actions have windows of their own.
        assert_eq!(windows.state(Action::CommitUpload).limit, MAX_WINDOW);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn at_one_request_a_throttled_action_is_paced() {
        let windows = Windows::default();
        for _ in 0..7 {
            tokio::time::advance(Duration::from_millis(1)).await;
            windows.acquire(Action::PutManifest).await.settle(true);
        }
        let state = windows.state(Action::PutManifest);
        assert_eq!((state.limit, state.spacing), (1.0, FIRST_SPACING));
        tokio::time::advance(Duration::from_millis(1)).await;
        windows.acquire(Action::PutManifest).await.settle(true);
        assert_eq!(
            windows.state(Action::PutManifest).spacing,
            FIRST_SPACING * 2
        );
        let first = Instant::now();
        windows.acquire(Action::PutManifest).await.settle(false);
        windows.acquire(Action::PutManifest).await.settle(false);
        assert!(first.elapsed() >= FIRST_SPACING * 2 * 95 / 100);
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_full_window_waits_for_a_place() {
        let windows = Windows::default();
        for _ in 0..6 {
            tokio::time::advance(Duration::from_millis(1)).await;
            windows.acquire(Action::StartUpload).await.settle(true);
        }
        let state = windows.state(Action::StartUpload);
        assert_eq!((state.limit, state.spacing), (1.0, Duration::ZERO));
        let held = windows.acquire(Action::StartUpload).await;
        let mut second = Box::pin(windows.acquire(Action::StartUpload));
        let waited = tokio::time::timeout(Duration::from_secs(60), second.as_mut()).await;
        assert!(waited.is_err(), "a second request started beside the first");
        drop(held);
        let _second = second.await;
    }
}
