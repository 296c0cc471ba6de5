//! Progress events a run emits while it works.

use std::fmt;
use std::sync::Arc;

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
