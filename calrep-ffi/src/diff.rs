//! Comparing two versions of a calendar without an engine.

use calrep_core::calendar::{CalendarDiff, CalendarItem};

use crate::boundary::{guard, non_null, put, text};
use crate::engine::instant;
use crate::error::{Failure, calrep_error};
use crate::status::calrep_status;
use crate::string::calrep_string;

/// The difference between two versions of a calendar, each a JSON array of
/// calendar items (as the replica and `calrep_engine_occurrences` show
/// them), with occurrence changes in [`from`, `to`): a JSON object with
/// `added`, `removed`, `modified` (with the fields that differ) and
/// `occurrences` (added, removed, moved, modified).
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
    json_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        non_null(json_out, "json_out")?;
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
        let items = |name: &str, json: &str| -> Result<Vec<CalendarItem>, Failure> {
            serde_json::from_str(json).map_err(|e| {
                Failure::new(
                    calrep_status::InvalidArgument,
                    format!("{name} is not a JSON array of calendar items: {e}"),
                )
            })
        };
        let (before, after) = (items("before", before)?, items("after", after)?);
        let (from, to) = (instant("from", from)?, instant("to", to)?);
        let diff = CalendarDiff::between(&before, &after, from, to)
            .map_err(|e| Failure::new(calrep_status::ExpansionFailed, e.to_string()))?;
        let json = crate::string::json(&diff)?;
        // SAFETY: checked non-NULL above.
        unsafe { put(json_out, json) };
        Ok(())
    })
}
