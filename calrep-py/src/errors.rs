//! Errors as the exception classes of `calrep.errors`.

use calrep_core::{Classify, ErrorKind};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Which exception class of `calrep.errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `CalrepError`, the root.
    Calrep,
    /// `ConfigError` (also a `ValueError`).
    Config,
    /// `TaskError` (also a `LookupError`).
    Task,
    /// `TaskDisabledError`.
    TaskDisabled,
    /// `SourceError`.
    Source,
    /// `MailboxError` (also a `LookupError`).
    Mailbox,
    /// `RecurrenceError` (also a `ValueError`).
    Recurrence,
    /// `ReplicaError`.
    Replica,
}

impl Kind {
    fn class_name(self) -> &'static str {
        match self {
            Self::Calrep => "CalrepError",
            Self::Config => "ConfigError",
            Self::Task => "TaskError",
            Self::TaskDisabled => "TaskDisabledError",
            Self::Source => "SourceError",
            Self::Mailbox => "MailboxError",
            Self::Recurrence => "RecurrenceError",
            Self::Replica => "ReplicaError",
        }
    }
}

/// An exception of `kind` with `message`.
pub(crate) fn error(kind: Kind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| {
        let class = py
            .import("calrep.errors")
            .and_then(|m| m.getattr(kind.class_name()))
            .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
        match class {
            Ok(class) => PyErr::from_type(class, message),
            // Only when the package is broken: still an exception, never a panic.
            Err(_) => PyRuntimeError::new_err(message),
        }
    })
}

/// The one conversion of core's errors to exceptions, by their kind.
/// Malformed input is Python's own `ValueError`; an expansion that fails
/// is a `RecurrenceError` like an invalid rule (Python users see one class
/// for "this series cannot be expanded").
pub(crate) fn core_error<E: Classify>(e: E) -> PyErr {
    core_error_about("", e)
}

/// [`core_error`] with what was being read before the message
/// (`rrule "FREQ=…"`), so the exception names the argument at fault.
pub(crate) fn core_error_about<E: Classify>(what: &str, e: E) -> PyErr {
    let message = match what {
        "" => e.to_string(),
        what => format!("{what}: {e}"),
    };
    match kind_of(e.kind()) {
        Some(kind) => error(kind, message),
        None => PyValueError::new_err(message),
    }
}

/// The exception class of a kind of core error (`None`: `ValueError`).
fn kind_of(kind: ErrorKind) -> Option<Kind> {
    Some(match kind {
        ErrorKind::InvalidArgument => return None,
        ErrorKind::Config => Kind::Config,
        ErrorKind::UnknownTask => Kind::Task,
        ErrorKind::TaskDisabled => Kind::TaskDisabled,
        ErrorKind::Source => Kind::Source,
        ErrorKind::Replica => Kind::Replica,
        ErrorKind::UnknownMailbox => Kind::Mailbox,
        ErrorKind::Recurrence | ErrorKind::Expansion => Kind::Recurrence,
        // A kind added to core after this binding was written: the root
        // class, and the test below fails until it has a class of its own.
        _ => Kind::Calrep,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_error_kind_has_a_specific_class() {
        for &kind in ErrorKind::ALL {
            assert!(
                !matches!(kind_of(kind), Some(Kind::Calrep)),
                "{kind:?} falls back to CalrepError"
            );
        }
    }
}
