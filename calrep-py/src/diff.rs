//! `calrep.diff`: two versions of a calendar compared.

use calrep_core::ical::{CalendarText, TextDiffError, diff_texts};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::args::instant;
use crate::errors::{Kind, error};

/// The difference between two calendars given as iCalendar text
/// (`ical=True`) or JSON arrays of calendar items, with occurrence changes
/// in [`start`, `end`) (RFC 3339); the result as JSON.
#[pyfunction]
#[pyo3(signature = (before, after, start, end, *, ical))]
pub(crate) fn diff(
    py: Python<'_>,
    before: &str,
    after: &str,
    start: &str,
    end: &str,
    ical: bool,
) -> PyResult<String> {
    let (from, to) = (instant("start", start)?, instant("end", end)?);
    let format = if ical {
        CalendarText::Icalendar
    } else {
        CalendarText::Json
    };
    py.detach(|| diff_texts(before, after, format, from, to))
        .map_err(|e| match e {
            // Items that are not items are a plain ValueError; calendar text
            // calrep cannot read, or cannot expand, a RecurrenceError.
            TextDiffError::Unreadable(_) if !ical => PyValueError::new_err(e.to_string()),
            _ => error(Kind::Recurrence, e.to_string()),
        })
}
