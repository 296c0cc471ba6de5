//! Progress events a run emits while it works.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::report::{MailboxOutcome, TaskStatus};
use crate::replica::Counts;

/// Something that happened during a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The group was resolved; this many mailboxes will be processed.
    RunStarted {
        /// The task.
        task: String,
        /// Mailboxes to process.
        mailboxes: usize,
    },
    /// A mailbox's processing began.
    MailboxStarted {
        /// The mailbox.
        address: String,
    },
    /// A batch of changes (and its sync state) was committed.
    BatchApplied {
        /// The mailbox.
        address: String,
        /// The calendar's name.
        calendar: String,
        /// What the batch changed.
        counts: Counts,
    },
    /// Something worth knowing that does not stop the run.
    Warning {
        /// The mailbox, if the warning is about one.
        address: Option<String>,
        /// What happened.
        message: String,
    },
    /// A mailbox is done.
    MailboxFinished {
        /// The mailbox.
        address: String,
        /// How it fared.
        outcome: MailboxOutcome,
    },
    /// The run is done.
    RunFinished {
        /// The task.
        task: String,
        /// The task's status.
        status: TaskStatus,
    },
}

/// Receives events; called from the run's task, so it should return quickly.
#[derive(Clone)]
pub struct EventSink(Arc<dyn Fn(&Event) + Send + Sync>);

impl EventSink {
    /// A sink calling `f` for each event.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = calrep_core::engine::EventSink::new({
    ///     let seen = seen.clone();
    ///     move |e| seen.lock().unwrap().push(e.clone())
    /// });
    /// # let _ = sink;
    /// ```
    pub fn new(f: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    pub(crate) fn emit(&self, event: &Event) {
        (self.0)(event);
    }
}

impl fmt::Debug for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventSink")
    }
}

/// A bounded queue of events for hosts that pull rather than get called:
/// the newest `limit` are kept (the oldest dropped first), and a reader
/// waits for the next one up to a timeout. The C and Python bindings keep
/// each event's JSON in one.
///
/// ```
/// use std::time::Duration;
/// let queue = calrep_core::engine::EventQueue::new(2);
/// for n in 1..=3 {
///     queue.push(n);
/// }
/// assert_eq!(queue.next(Duration::ZERO), Some(2));
/// assert_eq!(queue.next(Duration::ZERO), Some(3));
/// assert_eq!(queue.next(Duration::from_millis(5)), None);
/// ```
#[derive(Debug)]
pub struct EventQueue<T> {
    items: Mutex<VecDeque<T>>,
    arrived: Condvar,
    limit: usize,
}

impl<T> EventQueue<T> {
    /// An empty queue keeping at most `limit` items (at least one).
    pub fn new(limit: usize) -> Self {
        Self {
            items: Mutex::new(VecDeque::new()),
            arrived: Condvar::new(),
            limit: limit.max(1),
        }
    }

    /// Adds an item, dropping the oldest when the queue is full.
    pub fn push(&self, item: T) {
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        if items.len() == self.limit {
            items.pop_front();
        }
        items.push_back(item);
        self.arrived.notify_one();
    }

    /// The oldest item, waiting up to `timeout` for one to arrive.
    pub fn next(&self, timeout: Duration) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut items = self.items.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(item) = items.pop_front() {
                return Some(item);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            items = self
                .arrived
                .wait_timeout(items, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}
