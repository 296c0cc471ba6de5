//! Expanding a recurrence without an engine.

use calrep_core::recur::{Instance, set_from_text};

use crate::boundary::{Out, guard, non_null, text};
use crate::engine::instant;
use crate::error::{Failure, calrep_error};
use crate::status::calrep_status;
use crate::string::calrep_string;

/// The occurrences of one RRULE from `dtstart` in zone `tz` that start in
/// [`from`, `to`), as a JSON array of strings: UTC instants
/// (`"2026-03-02T08:00:00Z"`), or dates (`"2026-03-02"`) for a date-only
/// start. `dtstart` is `2026-03-01`, `2026-03-01T09:00:00` (local to `tz`)
/// or an instant; `tz` is an IANA or Windows zone, or NULL/empty for
/// floating times (read as UTC). `exdates` is a comma-separated list in the
/// start's forms (NULL/empty: none).
///
/// Thread safety: may be called from any thread at any time.
///
/// # Safety
///
/// Each text pointer points to its length of bytes (or is NULL with length
/// 0 where allowed); `json_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_expand(
    rrule: *const u8,
    rrule_len: usize,
    dtstart: *const u8,
    dtstart_len: usize,
    tz: *const u8,
    tz_len: usize,
    exdates: *const u8,
    exdates_len: usize,
    from: *const u8,
    from_len: usize,
    to: *const u8,
    to_len: usize,
    json_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let json_out = unsafe { Out::new(json_out, "json_out")? };
        non_null(rrule, "rrule")?;
        non_null(dtstart, "dtstart")?;
        // SAFETY: lengths as documented.
        let (rrule, dtstart, tz, exdates, from, to) = unsafe {
            (
                text(rrule, rrule_len, "rrule")?,
                text(dtstart, dtstart_len, "dtstart")?,
                text(tz, tz_len, "tz")?,
                text(exdates, exdates_len, "exdates")?,
                text(from, from_len, "from")?,
                text(to, to_len, "to")?,
            )
        };
        let (from, to) = (instant("from", from)?, instant("to", to)?);
        // As the command line: an empty or reversed window is a mistake.
        if from >= to {
            return Err(Failure::new(
                calrep_status::InvalidArgument,
                "from must be before to",
            ));
        }
        let exdates: Vec<&str> = exdates
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let tz = (!tz.trim().is_empty()).then_some(tz);
        let set = set_from_text(&[rrule], dtstart, tz, &exdates, &[] as &[&str])
            .map_err(Failure::from)?;
        let found = set.between(from, to).map_err(Failure::from)?;
        let strings: Vec<String> = found.into_iter().map(Instance::to_utc_text).collect();
        let json = crate::string::json(&strings)?;
        json_out.put(json);
        Ok(())
    })
}
