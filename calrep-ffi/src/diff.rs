//! Comparing two versions of a calendar without an engine.

use calrep_core::ical::{CalendarText, diff_texts};

use crate::boundary::{Out, guard, non_null, text};
use crate::engine::instant;
use crate::error::{Failure, calrep_error};
use crate::status::calrep_status;
use crate::string::calrep_string;

/// How `calrep_diff` reads its two calendars.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum calrep_calendar_format {
    /// A JSON array of calendar items, as the replica keeps them.
    Json = 0,
    /// RFC 5545 iCalendar text (`BEGIN:VCALENDAR`…), as
    /// `calrep_engine_export` writes it.
    Icalendar = 1,
}

/// The difference between two versions of a calendar given in `format` (a
/// `calrep_calendar_format`), with occurrence changes in [`from`, `to`)
/// (RFC 3339 instants): a JSON object with `added`, `removed`, `modified`
/// and `occurrences` (`added`, `removed`, `moved`, `modified`, each with
/// `uid` and `original_start`). From JSON items, `added`/`removed` hold the
/// items and `modified` their fields that differ; from iCalendar,
/// `added`/`removed` hold UIDs and `modified` the UID with the fields
/// (`summary`, `start`, `duration`, `recurrence`, `overrides`).
///
/// Thread safety: may be called from any thread at any time.
///
/// # Safety
///
/// Each text pointer points to its length of bytes; `json_out` is
/// writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_diff(
    before: *const u8,
    before_len: usize,
    after: *const u8,
    after_len: usize,
    from: *const u8,
    from_len: usize,
    to: *const u8,
    to_len: usize,
    format: u32,
    json_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let json_out = unsafe { Out::new(json_out, "json_out")? };
        non_null(before, "before")?;
        non_null(after, "after")?;
        // SAFETY: lengths as documented.
        let (before, after, from, to) = unsafe {
            (
                text(before, before_len, "before")?,
                text(after, after_len, "after")?,
                text(from, from_len, "from")?,
                text(to, to_len, "to")?,
            )
        };
        let (from, to) = (instant("from", from)?, instant("to", to)?);
        let format = match format {
            f if f == calrep_calendar_format::Json as u32 => CalendarText::Json,
            f if f == calrep_calendar_format::Icalendar as u32 => CalendarText::Icalendar,
            other => {
                return Err(Failure::new(
                    calrep_status::InvalidArgument,
                    format!("format {other} is neither CALREP_CALENDAR_FORMAT_JSON nor _ICALENDAR"),
                ));
            }
        };
        let json = diff_texts(before, after, format, from, to).map_err(Failure::from)?;
        let json = calrep_string::boxed(json);
        json_out.put(json);
        Ok(())
    })
}
