//! A recurrence set from text, the way people and hosts write one: RRULE
//! values, a start (`2026-03-01`, `2026-03-01T09:00:00`, `…Z`), a zone by
//! IANA or Windows name, and EXDATE/RDATE values in the start's forms. The
//! command line, the C ABI and the Python package all read sets this way.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;

use super::{RecurrenceSet, Rule, SeriesStart, SetDate};
use crate::tz::resolve_zone;

/// Which piece of text is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{part} {text:?}: {message}")]
pub struct SetTextError {
    /// `rrule`, `dtstart`, `tz`, `exdate` or `rdate`.
    pub part: &'static str,
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub message: String,
}

/// Builds the set of `rrules` from `dtstart` in zone `tz` (none: local
/// times float), without the `exdates` and with the `rdates`.
///
/// ```
/// use calrep_core::recur::set_from_text;
/// let set = set_from_text(&["FREQ=DAILY;COUNT=3"], "2026-03-28T09:00:00", Some("Europe/Berlin"), &["2026-03-29T09:00:00"], &[] as &[&str])?;
/// let all: Vec<String> = set.all(10)?.iter().map(|i| i.instant(chrono_tz::UTC).to_rfc3339()).collect();
/// assert_eq!(all, ["2026-03-28T08:00:00+00:00", "2026-03-30T07:00:00+00:00"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn set_from_text(
    rrules: &[impl AsRef<str>],
    dtstart: &str,
    tz: Option<&str>,
    exdates: &[impl AsRef<str>],
    rdates: &[impl AsRef<str>],
) -> Result<RecurrenceSet, SetTextError> {
    let error = |part, text: &str, message: String| SetTextError {
        part,
        text: text.to_owned(),
        message,
    };
    let zone: Option<Tz> = tz
        .map(|id| {
            resolve_zone(id)
                .map(|z| z.tz())
                .map_err(|e| error("tz", id, e.to_string()))
        })
        .transpose()?;
    let start = match (value("dtstart", dtstart)?, zone) {
        (SetDate::Date(d), _) => SeriesStart::Date(d),
        (SetDate::Floating(t), Some(z)) => SeriesStart::Zoned(t, z),
        (SetDate::Floating(t), None) => SeriesStart::Floating(t),
        (SetDate::Utc(t), Some(z)) => SeriesStart::Zoned(t.with_timezone(&z).naive_local(), z),
        (SetDate::Utc(t), None) => SeriesStart::Zoned(t.naive_utc(), chrono_tz::UTC),
        (SetDate::Zoned(t, z), _) => SeriesStart::Zoned(t, z),
    };
    let mut set = RecurrenceSet::new(start);
    for text in rrules {
        let text = text.as_ref();
        let rule: Rule = text
            .parse()
            .map_err(|e: super::RuleError| error("rrule", text, e.to_string()))?;
        set = set.rule(rule);
    }
    for text in exdates {
        set = set.exdate(value("exdate", text.as_ref())?);
    }
    for text in rdates {
        set = set.rdate(value("rdate", text.as_ref())?);
    }
    Ok(set)
}

/// A date (`2026-03-01`), a local time (`2026-03-01T09:00:00`), or an
/// instant (`…Z` or with an offset); iCalendar's basic forms work too.
fn value(part: &'static str, text: &str) -> Result<SetDate, SetTextError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(SetDate::Utc(t.with_timezone(&Utc)));
    }
    for format in ["%Y-%m-%dT%H:%M:%S", "%Y%m%dT%H%M%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(SetDate::Floating(t));
        }
    }
    if let Some(t) = text.strip_suffix('Z')
        && let Ok(t) = NaiveDateTime::parse_from_str(t, "%Y%m%dT%H%M%S")
    {
        return Ok(SetDate::Utc(t.and_utc()));
    }
    for format in ["%Y-%m-%d", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(text, format) {
            return Ok(SetDate::Date(d));
        }
    }
    Err(SetTextError {
        part,
        text: text.to_owned(),
        message: "not a date (2026-03-01), local time (2026-03-01T09:00:00) or instant (2026-03-01T08:00:00Z)".into(),
    })
}
