//! Progress events: to Python's `logging` (logger `calrep`), to an optional
//! callback, and into a bounded queue that `Engine.events()` reads.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use calrep_core::engine::MailboxOutcome;
use calrep_core::engine::{Event, EventSink};
use pyo3::prelude::*;

/// How many events the queue keeps; the oldest go first.
const QUEUE_LIMIT: usize = 10_000;

// The levels of Python's `logging`.
const DEBUG: u8 = 10;
const INFO: u8 = 20;
const WARNING: u8 = 30;
const ERROR: u8 = 40;

/// The events of one engine.
#[derive(Debug, Default)]
pub(crate) struct Events {
    queue: Mutex<VecDeque<String>>,
    arrived: Condvar,
    callback: Option<Py<PyAny>>,
}

impl Events {
    /// Events that also go to `callback` (called with each event's JSON).
    pub(crate) fn new(callback: Option<Py<PyAny>>) -> Self {
        Self {
            callback,
            ..Self::default()
        }
    }

    /// The sink the engine emits into.
    pub(crate) fn sink(events: &Arc<Self>) -> EventSink {
        let events = Arc::clone(events);
        EventSink::new(move |event| events.push(event))
    }

    fn push(&self, event: &Event) {
        let Ok(json) = serde_json::to_string(event) else {
            return;
        };
        let (level, message) = log_line(event);
        Python::attach(|py| {
            log(py, level, &message);
            if let Some(callback) = &self.callback
                && let Err(e) = callback.call1(py, (json.as_str(),))
            {
                // The package's wrapper catches and logs; this is the last
                // line of defence, so nothing unwinds into the run.
                log(py, ERROR, &format!("the on_event callback raised: {e}"));
            }
        });
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if queue.len() == QUEUE_LIMIT {
            queue.pop_front();
        }
        queue.push_back(json);
        self.arrived.notify_one();
    }

    /// The oldest event not yet taken, waiting up to `timeout` for one.
    pub(crate) fn next(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(event) = queue.pop_front() {
                return Some(event);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            queue = self
                .arrived
                .wait_timeout(queue, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// The level and the line an event logs as.
fn log_line(event: &Event) -> (u8, String) {
    match event {
        Event::RunStarted { task, mailboxes } => {
            (INFO, format!("task {task}: {mailboxes} mailboxes"))
        }
        Event::MailboxStarted { address } => (DEBUG, format!("{address}: started")),
        Event::BatchApplied {
            address, calendar, ..
        } => (DEBUG, format!("{address}: batch applied to {calendar}")),
        Event::Warning { address, message } => (
            WARNING,
            match address {
                Some(a) => format!("{a}: {message}"),
                None => message.clone(),
            },
        ),
        Event::MailboxFinished { address, outcome } => {
            let level = match outcome {
                MailboxOutcome::Healthy => INFO,
                MailboxOutcome::Failed { .. } => ERROR,
                _ => WARNING,
            };
            (level, format!("{address}: {outcome}"))
        }
        Event::RunFinished { task, status } => (INFO, format!("task {task}: {status}")),
        other => (DEBUG, format!("{other:?}")),
    }
}

/// `logging.getLogger("calrep").log(level, message)`, if that level is on.
pub(crate) fn log(py: Python<'_>, level: u8, message: &str) {
    let logged = py
        .import("logging")
        .and_then(|logging| logging.call_method1("getLogger", ("calrep",)))
        .and_then(|logger| {
            if logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
                logger.call_method1("log", (level, "%s", message))?;
            }
            Ok(())
        });
    if let Err(e) = logged {
        // A broken logging setup must not break a run.
        e.write_unraisable(py, None);
    }
}
