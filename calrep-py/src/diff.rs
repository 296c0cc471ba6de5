//! `calrep.diff`: two versions of a calendar compared.

use calrep_core::calendar::{CalendarDiff, CalendarItem};
use calrep_core::ical::diff_ics;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::errors::{Kind, error};

fn instant(name: &str, text: &str) -> PyResult<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| {
            PyValueError::new_err(format!("{name} {text:?} is not an RFC 3339 instant: {e}"))
        })
}

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
    let (before, after) = (before.to_owned(), after.to_owned());
    py.detach(move || {
        let json = if ical {
            let diff = diff_ics(&before, &after, from, to)
                .map_err(|e| error(Kind::Recurrence, e.to_string()))?;
            serde_json::to_string(&diff)
        } else {
            let items = |name: &str, json: &str| -> PyResult<Vec<CalendarItem>> {
                serde_json::from_str(json).map_err(|e| {
                    PyValueError::new_err(format!("{name} is not a list of calendar items: {e}"))
                })
            };
            let diff = CalendarDiff::between(
                &items("before", &before)?,
                &items("after", &after)?,
                from,
                to,
            )
            .map_err(|e| error(Kind::Recurrence, e.to_string()))?;
            serde_json::to_string(&diff)
        };
        json.map_err(|e| error(Kind::Calrep, e.to_string()))
    })
}
