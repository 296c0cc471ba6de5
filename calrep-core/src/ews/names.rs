//! The English names EWS uses for months and days, for reading and writing.

use chrono::Weekday;

/// `January` … `December`.
pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `Monday` … `Sunday` with their days.
pub(super) const DAYS: [(&str, Weekday); 7] = [
    ("Monday", Weekday::Mon),
    ("Tuesday", Weekday::Tue),
    ("Wednesday", Weekday::Wed),
    ("Thursday", Weekday::Thu),
    ("Friday", Weekday::Fri),
    ("Saturday", Weekday::Sat),
    ("Sunday", Weekday::Sun),
];

/// The day an EWS day name names.
pub(super) fn weekday(name: &str) -> Option<Weekday> {
    DAYS.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
}

/// A day's EWS name.
#[cfg(feature = "sim")]
pub(super) fn day_name(day: Weekday) -> &'static str {
    DAYS.iter()
        .find(|(_, d)| *d == day)
        .map_or("Monday", |(n, _)| n)
}
