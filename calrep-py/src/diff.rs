//! `calrep.diff`: two versions of a calendar compared.

use calrep_core::ical::{CalendarText, diff_texts};
use pyo3::prelude::*;

use crate::args::instant;
use crate::errors::core_error;

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
        .map_err(core_error)
}
