//! A progress line on stderr while a run works (only on a terminal), and
//! `RUST_LOG`-style control of event lines.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use calrep_core::engine::{Event, EventSink, MailboxOutcome};

/// How chatty the event log is, from `RUST_LOG` (`warn` by default; `info`
/// prints each mailbox, `debug` each batch).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Warn,
    Info,
    Debug,
}

fn level() -> Level {
    match std::env::var("RUST_LOG")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "debug" | "trace" => Level::Debug,
        "info" => Level::Info,
        _ => Level::Warn,
    }
}

/// An event sink drawing a progress bar and logging by level.
pub(crate) fn sink(label: &str) -> EventSink {
    let bar = std::io::stderr().is_terminal();
    let level = level();
    let total = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let label = label.to_owned();
    EventSink::new(move |event| {
        let mut err = std::io::stderr().lock();
        match event {
            Event::RunStarted { mailboxes, .. } => total.store(*mailboxes, Ordering::Relaxed),
            Event::MailboxFinished { address, outcome } => {
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if level >= Level::Info || matches!(outcome, MailboxOutcome::Failed { .. }) {
                    let _ = write!(err, "{}", if bar { "\r\x1b[2K" } else { "" });
                    let _ = writeln!(err, "{address}: {outcome}");
                }
                if bar {
                    let t = total.load(Ordering::Relaxed).max(1);
                    let width = 30;
                    let filled = n * width / t;
                    let _ = write!(
                        err,
                        "\r{label} [{}{}] {n}/{t} mailboxes",
                        "#".repeat(filled),
                        ".".repeat(width - filled.min(width))
                    );
                }
            }
            Event::Warning { address, message } => {
                let _ = write!(err, "{}", if bar { "\r\x1b[2K" } else { "" });
                let _ = writeln!(
                    err,
                    "warning: {}{message}",
                    address
                        .as_ref()
                        .map(|a| format!("{a}: "))
                        .unwrap_or_default()
                );
            }
            Event::BatchApplied {
                address,
                calendar,
                counts,
            } if level >= Level::Debug => {
                let _ = writeln!(err, "{address}: {calendar}: batch {counts:?}");
            }
            Event::RunFinished { .. } if bar => {
                let _ = write!(err, "\r\x1b[2K");
            }
            _ => {}
        }
    })
}

/// Clears the progress line of a job that ends without `RunFinished`
/// (`verify`).
pub(crate) fn clear() {
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K");
    }
}
