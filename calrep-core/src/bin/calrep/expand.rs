//! `calrep expand`: the occurrences of a rule, or of every series in an
//! iCalendar file, in a window — one start per line, sorted.

use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use calrep_core::calendar::ItemTime;
use calrep_core::ews::read_calendar_items;
use calrep_core::ical::read_series;
use calrep_core::recur::{Instance, MAX_OCCURRENCES, set_from_text};

use crate::Outcome;

/// What to expand.
pub(crate) enum Source<'a> {
    /// `--rrule` and friends.
    Rule {
        rrules: &'a [String],
        dtstart: &'a str,
        tz: Option<&'a str>,
        exdates: &'a [String],
        rdates: &'a [String],
    },
    /// `--ics FILE`.
    Ics(&'a Path),
    /// `--ews FILE`.
    Ews(&'a Path),
}

pub(crate) fn run(
    source: Source<'_>,
    from: &str,
    to: &str,
    out: &mut impl Write,
) -> io::Result<Outcome> {
    let window = match (instant("--from", from), instant("--to", to)) {
        (Ok(f), Ok(t)) if f < t => (f, t),
        (Ok(_), Ok(_)) => return Ok(invalid("--from must be before --to".into())),
        (Err(e), _) | (_, Err(e)) => return Ok(invalid(e)),
    };
    let starts = match source {
        Source::Rule {
            rrules,
            dtstart,
            tz,
            exdates,
            rdates,
        } => {
            match set_from_text(rrules, dtstart, tz, exdates, rdates).map_err(|e| format!("--{e}"))
            {
                Ok(set) => match set.between(window.0, window.1) {
                    Ok(found) => found,
                    Err(e) => return Ok(invalid(format!("cannot expand: {e}"))),
                },
                Err(e) => return Ok(invalid(e)),
            }
        }
        Source::Ics(path) => match ics_starts(path, window) {
            Ok(found) => found,
            Err(outcome) => return Ok(outcome),
        },
        Source::Ews(path) => match ews_starts(path, window) {
            Ok(found) => found,
            Err(outcome) => return Ok(outcome),
        },
    };
    for start in starts {
        writeln!(out, "{}", start.to_utc_text())?;
    }
    Ok(Outcome::Ok)
}

fn invalid(message: String) -> Outcome {
    Outcome::Invalid(vec![format!("calrep expand: {message}")])
}

fn instant(flag: &str, text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("{flag} {text:?} is not an RFC 3339 instant (e.g. 2026-03-01T00:00:00Z): {e}")
        })
}

/// Every occurrence of every series in the file, overrides at their new
/// starts.
fn ics_starts(
    path: &Path,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<Instance>, Outcome> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Outcome::Failed(format!("cannot read {}: {e}", path.display())))?;
    let series = read_series(&text).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for s in &series {
        let expanded = s
            .set
            .between(from, to)
            .map_err(|e| invalid(format!("{}: event {:?}: {e}", path.display(), s.uid)))?;
        let moved: std::collections::HashSet<&Instance> =
            s.overrides.iter().map(|o| &o.recurrence_id).collect();
        out.extend(expanded.iter().filter(|i| !moved.contains(i)));
        out.extend(s.overrides.iter().map(|o| o.start).filter(|i| {
            let t = i.instant(chrono_tz::UTC);
            t >= from && t < to
        }));
        // One budget for the whole file: sixty endless series must not
        // print sixty million lines.
        if out.len() > MAX_OCCURRENCES {
            return Err(invalid(format!(
                "{}: more than {MAX_OCCURRENCES} occurrences in the window (event {:?} passed the limit); narrow --from/--to",
                path.display(),
                s.uid
            )));
        }
    }
    out.sort_by_key(|i| i.instant(chrono_tz::UTC));
    Ok(out)
}

/// Every occurrence of every `CalendarItem` in an EWS XML file (a GetItem
/// response or the element alone): deleted ones left out, modified ones at
/// their new times; all-day items as their dates.
fn ews_starts(
    path: &Path,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
) -> Result<Vec<Instance>, Outcome> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Outcome::Failed(format!("cannot read {}: {e}", path.display())))?;
    let items =
        read_calendar_items(&text).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for item in &items {
        let all_day = matches!(item.time, ItemTime::AllDay { .. });
        let zone: Tz = item.zone.iana.parse().unwrap_or(chrono_tz::UTC);
        let found = item
            .occurrences(from, to)
            .map_err(|e| invalid(format!("{}: item {}: {e}", path.display(), item.id)))?;
        out.extend(
            found
                .iter()
                .filter(|o| o.start >= from)
                .map(|o| match all_day {
                    true => Instance::Date(o.start.with_timezone(&zone).date_naive()),
                    false => Instance::At(o.start),
                }),
        );
    }
    out.sort_by_key(|i| i.instant(chrono_tz::UTC));
    Ok(out)
}
