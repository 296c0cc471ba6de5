//! Progress events: to Python's `logging` (logger `calrep`), to an optional
//! callback, and into a bounded queue that `Engine.events()` reads.

use std::sync::Arc;
use std::time::Duration;

use calrep_core::engine::{Event, EventQueue, EventSink, MailboxOutcome};
use pyo3::prelude::*;

/// How many events the queue keeps; the oldest go first.
const QUEUE_LIMIT: usize = 10_000;

// The levels of Python's `logging`.
const DEBUG: u8 = 10;
const INFO: u8 = 20;
const WARNING: u8 = 30;
const ERROR: u8 = 40;

/// The events of one engine.
#[derive(Debug)]
pub(crate) struct Events {
    queue: EventQueue<String>,
    callback: Option<Py<PyAny>>,
    /// `logging.getLogger("calrep")`, looked up once.
    logger: Py<PyAny>,
}

impl Events {
    /// Events that also go to `callback` (called with each event's JSON).
    pub(crate) fn new(py: Python<'_>, callback: Option<Py<PyAny>>) -> PyResult<Self> {
        let logger = py
            .import("logging")?
            .call_method1("getLogger", ("calrep",))?
            .unbind();
        Ok(Self {
            queue: EventQueue::new(QUEUE_LIMIT),
            callback,
            logger,
        })
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
        // Logged and called back unless the interpreter is closing.
        crate::runtime::attach_from_worker(|py| {
            self.log(py, level(event), || line(event));
            if let Some(callback) = &self.callback
                && let Err(e) = callback.call1(py, (json.as_str(),))
            {
                // The package's wrapper catches and logs; this is the last
                // line of defence, so nothing unwinds into the run.
                self.log(py, ERROR, || format!("the on_event callback raised: {e}"));
            }
        });
        self.queue.push(json);
    }

    /// The oldest event not yet taken, waiting up to `timeout` for one.
    pub(crate) fn next(&self, timeout: Duration) -> Option<String> {
        self.queue.next(timeout)
    }

    /// Logs `message()` at `level` to the `calrep` logger, if that level is
    /// on (the message is only written then).
    fn log(&self, py: Python<'_>, level: u8, message: impl FnOnce() -> String) {
        let logger = self.logger.bind(py);
        let logged = logger
            .call_method1("isEnabledFor", (level,))
            .and_then(|on| on.is_truthy())
            .and_then(|on| {
                if on {
                    logger.call_method1("log", (level, "%s", message()))?;
                }
                Ok(())
            });
        if let Err(e) = logged {
            // A broken logging setup must not break a run.
            e.write_unraisable(py, None);
        }
    }
}

/// The level an event logs at.
fn level(event: &Event) -> u8 {
    match event {
        Event::RunStarted { .. } | Event::RunFinished { .. } => INFO,
        Event::Warning { .. } => WARNING,
        Event::MailboxFinished { outcome, .. } => match outcome {
            MailboxOutcome::Healthy => INFO,
            MailboxOutcome::Failed { .. } => ERROR,
            _ => WARNING,
        },
        _ => DEBUG,
    }
}

/// The line an event logs as.
fn line(event: &Event) -> String {
    match event {
        Event::RunStarted { task, mailboxes } => format!("task {task}: {mailboxes} mailboxes"),
        Event::MailboxStarted { address } => format!("{address}: started"),
        Event::BatchApplied {
            address, calendar, ..
        } => format!("{address}: batch applied to {calendar}"),
        Event::Warning { address, message } => match address {
            Some(a) => format!("{a}: {message}"),
            None => message.clone(),
        },
        Event::MailboxFinished { address, outcome } => format!("{address}: {outcome}"),
        Event::RunFinished { task, status } => format!("task {task}: {status}"),
        other => format!("{other:?}"),
    }
}
