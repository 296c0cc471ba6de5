//! Stopping: one signal type for the two things that stop work — a
//! service's shutdown and a single run's cancel — so that every wait in
//! calrep (throttling, back-off, the scheduler's sleep) ends the moment
//! either is requested.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// A stop request, shared by whoever may request it and whatever must stop:
/// an engine's shutdown (every run), or one run's cancel
/// ([`RunOptions::cancel`](crate::engine::RunOptions::cancel)). Runs finish
/// the batch they are writing, release their leases and stop.
///
/// ```
/// let shutdown = calrep_core::engine::StopSignal::new();
/// assert!(!shutdown.is_requested());
/// shutdown.request();
/// assert!(shutdown.is_requested());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<(AtomicBool, Notify)>);

impl StopSignal {
    /// A signal not yet requested.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks everything watching to stop.
    pub fn request(&self) {
        self.0.0.store(true, Ordering::SeqCst);
        self.0.1.notify_waiters();
    }

    /// Whether a stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.0.0.load(Ordering::SeqCst)
    }

    /// Waits up to `timeout` for a request; returns whether one came.
    pub async fn wait(&self, timeout: Duration) -> bool {
        let notified = self.0.1.notified();
        if self.is_requested() {
            return true;
        }
        let _ = tokio::time::timeout(timeout, notified).await;
        self.is_requested()
    }
}
