//! The calendar data calrep replicates: calendars, items (single appointments
//! and recurring series with their exceptions), attachments, and the
//! occurrences a series expands to, and the difference between two versions
//! of a calendar.

mod diff;
mod graph;
mod item;
mod recurrence;

pub(crate) use diff::occurrence_delta;
pub use diff::{CalendarDiff, DiffError, Field, ItemChange, OccurrenceChange, changed_fields};
pub use item::{
    Attachment, Attendee, AttendeeRole, CalendarId, CalendarInfo, CalendarItem, FreeBusy, ItemId,
    ItemTime, Sensitivity, ZoneInfo,
};
pub use recurrence::{
    DayOfWeekIndex, DaysOfWeek, ModifiedOccurrence, Occurrence, Pattern, Range, Recurrence,
    RecurrenceError,
};
