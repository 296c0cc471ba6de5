//! The calendar data calrep replicates: calendars, items (single appointments
//! and recurring series with their exceptions), attachments, and the
//! occurrences a series expands to.

mod item;
mod recurrence;

pub use item::{
    Attachment, Attendee, AttendeeRole, CalendarId, CalendarInfo, CalendarItem, FreeBusy, ItemId,
    ItemTime, Sensitivity, ZoneInfo,
};
pub use recurrence::{
    DayOfWeekIndex, DaysOfWeek, ModifiedOccurrence, Occurrence, Pattern, Range, Recurrence,
    RecurrenceError,
};
