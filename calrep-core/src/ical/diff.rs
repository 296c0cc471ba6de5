//! Comparing two iCalendar versions of a calendar, event by event (by UID)
//! and occurrence by occurrence in a window: the iCalendar counterpart of
//! [`CalendarDiff`](crate::calendar::CalendarDiff), for calendars that
//! exist only as `.ics` text (an export, another system's feed).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::read::{IcsError, IcsSeries, read_series};
use crate::calendar::{CalendarDiff, CalendarItem, OccurrenceChange};
use crate::recur::ExpandError;

/// How two iCalendar versions differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IcsDiff {
    /// UIDs of events only in the second version.
    pub added: Vec<String>,
    /// UIDs of events only in the first version.
    pub removed: Vec<String>,
    /// Events in both that differ.
    pub modified: Vec<IcsChange>,
    /// Occurrence changes in the window, by UID and original start.
    pub occurrences: Vec<OccurrenceChange>,
}

/// An event in both versions that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct IcsChange {
    /// The event's UID.
    pub uid: String,
    /// What differs: `summary`, `start`, `duration`, `recurrence`
    /// (rules, `RDATE`, `EXDATE`) or `overrides`.
    pub fields: Vec<&'static str>,
}

/// Why two iCalendar texts could not be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IcsDiffError {
    /// One of the texts is not iCalendar calrep can read.
    #[error("{which}: {source}")]
    Read {
        /// `before` or `after`.
        which: &'static str,
        /// What is wrong, with the line.
        source: IcsError,
    },
    /// An event's recurrence cannot be expanded.
    #[error("{which}: event {uid:?}: {source}")]
    Expand {
        /// `before` or `after`.
        which: &'static str,
        /// The event.
        uid: String,
        /// Why.
        source: ExpandError,
    },
}

/// Compares two iCalendar texts, expanding their events over `from..to`.
///
/// ```
/// use calrep_core::calendar::OccurrenceChange;
/// let before = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:standup\r\nDTSTART:20260302T090000Z\r\n\
///               DURATION:PT15M\r\nRRULE:FREQ=DAILY;COUNT=5\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
/// let after = before.replace("COUNT=5", "COUNT=4");
/// let diff = calrep_core::ical::diff_ics(before, &after, "2026-03-01T00:00:00Z".parse()?, "2026-04-01T00:00:00Z".parse()?)?;
/// assert_eq!(diff.modified[0].fields, ["recurrence"]);
/// assert!(matches!(&diff.occurrences[..], [OccurrenceChange::Removed { .. }]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn diff_ics(
    before: &str,
    after: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<IcsDiff, IcsDiffError> {
    let read = |which, text| {
        read_series(text)
            .map(|series| {
                series
                    .into_iter()
                    .map(|s| (s.uid.clone(), s))
                    .collect::<BTreeMap<_, _>>()
            })
            .map_err(|source| IcsDiffError::Read { which, source })
    };
    let (old, new) = (read("before", before)?, read("after", after)?);
    let mut diff = IcsDiff {
        added: new
            .keys()
            .filter(|uid| !old.contains_key(*uid))
            .cloned()
            .collect(),
        removed: old
            .keys()
            .filter(|uid| !new.contains_key(*uid))
            .cloned()
            .collect(),
        modified: Vec::new(),
        occurrences: Vec::new(),
    };
    for (uid, a) in &old {
        if let Some(b) = new.get(uid) {
            let fields = changed_fields(a, b);
            if !fields.is_empty() {
                diff.modified.push(IcsChange {
                    uid: uid.clone(),
                    fields,
                });
            }
        }
    }
    let (a, b) = (
        occurrences("before", &old, from, to)?,
        occurrences("after", &new, from, to)?,
    );
    for (key, &(start, end)) in &a {
        let (uid, original_start) = key.clone();
        match b.get(key) {
            None => diff.occurrences.push(OccurrenceChange::Removed {
                uid,
                original_start,
                start,
                end,
            }),
            Some(&now) if now != (start, end) => diff.occurrences.push(OccurrenceChange::Moved {
                uid,
                original_start,
                from: (start, end),
                to: now,
            }),
            Some(_) => {}
        }
    }
    for (key, &(start, end)) in &b {
        if !a.contains_key(key) {
            let (uid, original_start) = key.clone();
            diff.occurrences.push(OccurrenceChange::Added {
                uid,
                original_start,
                start,
                end,
            });
        }
    }
    diff.occurrences.sort();
    Ok(diff)
}

/// How a calendar is written when two are compared as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CalendarText {
    /// A JSON array of calendar items, as the replica keeps them
    /// ([`CalendarDiff`](crate::calendar::CalendarDiff)).
    Json,
    /// RFC 5545 iCalendar text ([`diff_ics`]).
    Icalendar,
}

/// Why two calendar texts could not be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextDiffError {
    /// A text is not what its format says.
    #[error("{0}")]
    Unreadable(String),
    /// A series cannot be expanded.
    #[error("{0}")]
    Expansion(String),
}

/// Compares two calendars given as text in `format`, with occurrence
/// changes in `from..to`; the difference as JSON — what the C and Python
/// bindings hand out.
///
/// ```
/// use calrep_core::ical::{CalendarText, diff_texts};
/// let json = diff_texts("[]", "[]", CalendarText::Json, "2026-01-01T00:00:00Z".parse()?, "2027-01-01T00:00:00Z".parse()?)?;
/// assert_eq!(json, r#"{"added":[],"removed":[],"modified":[],"occurrences":[]}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn diff_texts(
    before: &str,
    after: &str,
    format: CalendarText,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<String, TextDiffError> {
    let json = match format {
        CalendarText::Json => {
            let items = |which: &str, json: &str| -> Result<Vec<CalendarItem>, TextDiffError> {
                serde_json::from_str(json).map_err(|e| {
                    TextDiffError::Unreadable(format!(
                        "{which} is not a JSON array of calendar items: {e}"
                    ))
                })
            };
            let (before, after) = (items("before", before)?, items("after", after)?);
            let diff = CalendarDiff::between(&before, &after, from, to)
                .map_err(|e| TextDiffError::Expansion(e.to_string()))?;
            serde_json::to_string(&diff)
        }
        CalendarText::Icalendar => {
            let diff = diff_ics(before, after, from, to).map_err(|e| match e {
                IcsDiffError::Read { .. } => TextDiffError::Unreadable(e.to_string()),
                IcsDiffError::Expand { .. } => TextDiffError::Expansion(e.to_string()),
            })?;
            serde_json::to_string(&diff)
        }
    };
    // Serialising these plain structures cannot fail; say so if it ever does.
    json.map_err(|e| TextDiffError::Expansion(format!("cannot write the difference: {e}")))
}

fn changed_fields(a: &IcsSeries, b: &IcsSeries) -> Vec<&'static str> {
    let mut a_overrides = a.overrides.clone();
    let mut b_overrides = b.overrides.clone();
    a_overrides.sort_by_key(|o| o.recurrence_id);
    b_overrides.sort_by_key(|o| o.recurrence_id);
    [
        ("summary", a.summary != b.summary),
        ("start", a.set.start() != b.set.start()),
        ("duration", a.duration != b.duration),
        ("recurrence", !a.set.same_recurrence(&b.set)),
        ("overrides", a_overrides != b_overrides),
    ]
    .into_iter()
    .filter(|(_, differs)| *differs)
    .map(|(f, _)| f)
    .collect()
}

type Key = (String, Option<DateTime<Utc>>);
type Span = (DateTime<Utc>, DateTime<Utc>);

/// Every occurrence overlapping the window, keyed by UID and original
/// start (`None` for a single event), with its start and end; overrides at
/// their new times.
fn occurrences(
    which: &'static str,
    series: &BTreeMap<String, IcsSeries>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeMap<Key, Span>, IcsDiffError> {
    let utc = chrono_tz::UTC;
    let mut out = BTreeMap::new();
    for (uid, s) in series {
        let single = s.set.is_single();
        // Occurrences that start before the window but still run into it
        // count, as in the replica.
        let early = from - s.duration.max(chrono::TimeDelta::zero());
        let expanded = s
            .set
            .between(early, to)
            .map_err(|source| IcsDiffError::Expand {
                which,
                uid: uid.clone(),
                source,
            })?;
        for original in expanded {
            let (start, duration) = match s.overrides.iter().find(|o| o.recurrence_id == original) {
                Some(o) => (o.start, o.duration),
                None => (original, s.duration),
            };
            let start = start.instant(utc);
            let end = start + duration;
            if end > from && start < to || start == from {
                let original = (!single).then(|| original.instant(utc));
                out.insert((uid.clone(), original), (start, end));
            }
        }
        // Overrides moved into the window from outside it.
        for o in &s.overrides {
            let key = (uid.clone(), Some(o.recurrence_id.instant(utc)));
            let start = o.start.instant(utc);
            let end = start + o.duration;
            if !out.contains_key(&key) && end > from && start < to {
                out.insert(key, (start, end));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEKLY: &str = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:weekly\r\nSUMMARY:Review\r\n\
        DTSTART;TZID=Europe/Berlin:20260302T100000\r\nDTEND;TZID=Europe/Berlin:20260302T110000\r\n\
        RRULE:FREQ=WEEKLY;COUNT=4\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    fn window() -> (DateTime<Utc>, DateTime<Utc>) {
        (
            "2026-03-01T00:00:00Z".parse().unwrap_or_default(),
            "2026-04-01T00:00:00Z".parse().unwrap_or_default(),
        )
    }

    fn diff(a: &str, b: &str) -> IcsDiff {
        let (from, to) = window();
        match diff_ics(a, b, from, to) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_calendar_equals_itself() {
        let d = diff(WEEKLY, WEEKLY);
        assert!(d.added.is_empty() && d.removed.is_empty() && d.modified.is_empty());
        assert!(d.occurrences.is_empty());
    }

    #[test]
    fn an_exdate_removes_one_occurrence_in_utc() {
        let after = WEEKLY.replace(
            "RRULE",
            "EXDATE;TZID=Europe/Berlin:20260316T100000\r\nRRULE",
        );
        let d = diff(WEEKLY, &after);
        assert_eq!(d.modified[0].fields, ["recurrence"]);
        let [OccurrenceChange::Removed { start, .. }] = &d.occurrences[..] else {
            panic!("{:?}", d.occurrences)
        };
        // 10:00 in Berlin before the change to summer time is 09:00 UTC.
        assert_eq!(start.to_rfc3339(), "2026-03-16T09:00:00+00:00");
    }

    #[test]
    fn an_override_moves_its_occurrence_only() {
        let after = WEEKLY.replace(
            "END:VCALENDAR",
            "BEGIN:VEVENT\r\nUID:weekly\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260309T100000\r\n\
             DTSTART;TZID=Europe/Berlin:20260310T140000\r\nDTEND;TZID=Europe/Berlin:20260310T150000\r\n\
             END:VEVENT\r\nEND:VCALENDAR",
        );
        let d = diff(WEEKLY, &after);
        assert_eq!(d.modified[0].fields, ["overrides"]);
        let [OccurrenceChange::Moved { from, to, .. }] = &d.occurrences[..] else {
            panic!("{:?}", d.occurrences)
        };
        assert_eq!(from.0.to_rfc3339(), "2026-03-09T09:00:00+00:00");
        assert_eq!(to.0.to_rfc3339(), "2026-03-10T13:00:00+00:00");
    }

    #[test]
    fn a_new_summary_changes_no_occurrence_and_a_new_event_adds_its_own() {
        let renamed = WEEKLY.replace("Review", "Design review");
        let d = diff(WEEKLY, &renamed);
        assert_eq!(d.modified[0].fields, ["summary"]);
        assert!(d.occurrences.is_empty());
        let two = WEEKLY.replace(
            "END:VCALENDAR",
            "BEGIN:VEVENT\r\nUID:once\r\nDTSTART:20260320T120000Z\r\nDURATION:PT30M\r\n\
             END:VEVENT\r\nEND:VCALENDAR",
        );
        let d = diff(WEEKLY, &two);
        assert_eq!(d.added, ["once"]);
        let [
            OccurrenceChange::Added {
                uid,
                original_start,
                ..
            },
        ] = &d.occurrences[..]
        else {
            panic!("{:?}", d.occurrences)
        };
        assert_eq!((uid.as_str(), *original_start), ("once", None));
    }

    #[test]
    fn unreadable_text_names_the_side_and_the_line() {
        let (from, to) = window();
        let broken = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n";
        let e = diff_ics(WEEKLY, broken, from, to).map(|_| ()).unwrap_err();
        assert!(e.to_string().starts_with("after: iCalendar line"), "{e}");
    }
}
