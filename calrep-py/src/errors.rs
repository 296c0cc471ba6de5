//! Errors as the exception classes of `calrep.errors`.

use calrep_core::engine::EngineError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// Which exception class of `calrep.errors`.
#[derive(Debug, Clone, Copy)]
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

/// Why a run, plan or verify could not start.
pub(crate) fn engine_error(e: EngineError) -> PyErr {
    let kind = match &e {
        EngineError::Disabled(_) => Kind::TaskDisabled,
        EngineError::NoSource(_) | EngineError::SourceSetup(_) | EngineError::Directory { .. } => {
            Kind::Source
        }
        _ => Kind::Task,
    };
    error(kind, e.to_string())
}
