//! Reading the arguments the `calrep` package passes down as text.

use calrep_core::{EmailAddress, NameError};
use chrono::{DateTime, Utc};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// An RFC 3339 instant (the package converts aware datetimes to it).
pub(crate) fn instant(name: &str, text: &str) -> PyResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| {
            PyValueError::new_err(format!("{name} {text:?} is not an RFC 3339 instant: {e}"))
        })
}

/// A mailbox address.
pub(crate) fn address(mailbox: &str) -> PyResult<EmailAddress> {
    mailbox
        .parse()
        .map_err(|e: NameError| PyValueError::new_err(e.to_string()))
}
