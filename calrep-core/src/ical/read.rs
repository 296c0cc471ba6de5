//! Reading the recurring series out of an iCalendar file: enough of RFC 5545
//! to expand and compare calendars written by Exchange, Outlook, Google and
//! calrep itself (line unfolding, parameters, DTSTART/DTEND/DURATION, RRULE,
//! EXDATE, RDATE and RECURRENCE-ID overrides). Other components and
//! properties are skipped. `EXRULE`, deprecated but still written by old
//! clients, is honoured.

use chrono::TimeDelta;
use chrono_tz::Tz;

use crate::recur::{Instance, RecurrenceSet, Rule, SeriesStart, SetDate, Until, parse_ical_time};
use crate::tz::resolve_zone;

/// One event of an iCalendar file, with its overrides.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IcsSeries {
    /// `UID`.
    pub uid: String,
    /// `SUMMARY`, when given.
    pub summary: String,
    /// Start, rules, `RDATE`s and `EXDATE`s.
    pub set: RecurrenceSet,
    /// How long each occurrence lasts (`DTEND − DTSTART` or `DURATION`).
    pub duration: TimeDelta,
    /// Occurrences moved or edited on their own (`RECURRENCE-ID`).
    pub overrides: Vec<IcsOverride>,
}

/// An occurrence moved or edited on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IcsOverride {
    /// Which occurrence (`RECURRENCE-ID`).
    pub recurrence_id: Instance,
    /// Its start now.
    pub start: Instance,
    /// Its length now.
    pub duration: TimeDelta,
}

/// A file that cannot be read, with the (unfolded) line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("iCalendar line {line}: {message}")]
pub struct IcsError {
    /// 1-based line number of the property in the file.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A content line: name, parameters, value.
struct Property {
    line: usize,
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

impl Property {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn error(&self, message: impl Into<String>) -> IcsError {
        IcsError {
            line: self.line,
            message: format!("{}: {}", self.name, message.into()),
        }
    }
}

/// Every VEVENT of `text` as a series; events sharing a UID with a
/// `RECURRENCE-ID` become overrides of their master.
///
/// ```
/// let ics = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\n\
///            DTSTART;TZID=Europe/Berlin:20260302T090000\r\nDTEND;TZID=Europe/Berlin:20260302T100000\r\n\
///            RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=Europe/Berlin:20260309T090000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
/// let series = calrep_core::ical::read_series(ics)?;
/// assert_eq!(series[0].set.all(100)?.len(), 3);
/// assert_eq!(series[0].duration, chrono::TimeDelta::hours(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_series(text: &str) -> Result<Vec<IcsSeries>, IcsError> {
    let mut masters: Vec<IcsSeries> = Vec::new();
    let mut overrides: Vec<(String, IcsOverride)> = Vec::new();
    let mut event: Option<Vec<Property>> = None;
    let mut depth_in_event = 0usize;
    for property in content_lines(text)? {
        let upper = property.value.to_ascii_uppercase();
        match (property.name.as_str(), event.as_mut()) {
            ("BEGIN", None) if upper == "VEVENT" => event = Some(Vec::new()),
            ("BEGIN", Some(_)) => depth_in_event += 1,
            ("END", Some(_)) if depth_in_event > 0 => depth_in_event -= 1,
            ("END", Some(props)) if upper == "VEVENT" => {
                let props = std::mem::take(props);
                event = None;
                match read_event(&props, property.line)? {
                    Read::Master(s) => masters.push(s),
                    Read::Override(uid, o) => overrides.push((uid, o)),
                }
            }
            (_, Some(props)) if depth_in_event == 0 => props.push(property),
            _ => {}
        }
    }
    // Each override to its master through an index: linear in the file.
    let index: std::collections::HashMap<String, usize> = masters
        .iter()
        .enumerate()
        .map(|(i, m)| (m.uid.clone(), i))
        .rev()
        .collect();
    for (uid, o) in overrides {
        if let Some(&i) = index.get(&uid) {
            masters[i].overrides.push(o);
        }
    }
    Ok(masters)
}

enum Read {
    Master(IcsSeries),
    Override(String, IcsOverride),
}

fn read_event(props: &[Property], end_line: usize) -> Result<Read, IcsError> {
    let find = |name: &str| props.iter().find(|p| p.name == name);
    let missing = |name: &str| IcsError {
        line: end_line,
        message: format!("the event ending here has no {name}"),
    };
    let uid = find("UID").map(|p| p.value.clone()).unwrap_or_default();
    let dtstart = find("DTSTART").ok_or_else(|| missing("DTSTART"))?;
    let start = read_start(dtstart)?;
    let duration = match (find("DTEND"), find("DURATION")) {
        (Some(end), _) => {
            let end = read_start(end)?;
            end.wall_clock() - start.wall_clock()
        }
        (None, Some(d)) => parse_duration(&d.value).ok_or_else(|| d.error("not a duration"))?,
        (None, None) if matches!(start, SeriesStart::Date(_)) => TimeDelta::days(1),
        (None, None) => TimeDelta::zero(),
    };
    if let Some(rid) = find("RECURRENCE-ID") {
        let set = RecurrenceSet::new(start);
        let recurrence_id = set
            .normalise(read_value(rid, &rid.value)?)
            .ok_or_else(|| rid.error("not a time in the series"))?;
        let start = set
            .start_instance()
            .ok_or_else(|| dtstart.error("no such time"))?;
        return Ok(Read::Override(
            uid,
            IcsOverride {
                recurrence_id,
                start,
                duration,
            },
        ));
    }
    let mut set = RecurrenceSet::new(start);
    for p in props {
        match p.name.as_str() {
            "RRULE" => {
                let rule: Rule = p.value.parse().map_err(|e| p.error(format!("{e}")))?;
                set = set.rule(rule);
            }
            "EXRULE" => {
                let rule: Rule = p.value.parse().map_err(|e| p.error(format!("{e}")))?;
                set = set.exrule(rule);
            }
            "EXDATE" => {
                for value in p.value.split(',') {
                    set = set.exdate(read_value(p, value)?);
                }
            }
            "RDATE" => {
                for value in p.value.split(',') {
                    // A PERIOD's start is the occurrence's start.
                    let value = value.split('/').next().unwrap_or(value);
                    set = set.rdate(read_value(p, value)?);
                }
            }
            _ => {}
        }
    }
    Ok(Read::Master(IcsSeries {
        uid,
        summary: find("SUMMARY").map(|p| p.value.clone()).unwrap_or_default(),
        set,
        duration,
        overrides: Vec::new(),
    }))
}

fn read_start(p: &Property) -> Result<SeriesStart, IcsError> {
    let zone = p.param("TZID").map(|id| zone(p, id)).transpose()?;
    Ok(
        match parse_ical_time(&p.value).ok_or_else(|| p.error("not a date or date-time"))? {
            Until::Date(d) => SeriesStart::Date(d),
            Until::Utc(t) => SeriesStart::Zoned(t.naive_utc(), chrono_tz::UTC),
            Until::Floating(t) => match zone {
                Some(z) => SeriesStart::Zoned(t, z),
                None => SeriesStart::Floating(t),
            },
        },
    )
}

fn read_value(p: &Property, value: &str) -> Result<SetDate, IcsError> {
    let zone = p.param("TZID").map(|id| zone(p, id)).transpose()?;
    Ok(
        match parse_ical_time(value)
            .ok_or_else(|| p.error(format!("{value:?} is not a date or date-time")))?
        {
            Until::Date(d) => SetDate::Date(d),
            Until::Utc(t) => SetDate::Utc(t),
            Until::Floating(t) => match zone {
                Some(z) => SetDate::Zoned(t, z),
                None => SetDate::Floating(t),
            },
        },
    )
}

/// A TZID: an IANA or Windows id, quoted or not, or a vendor path ending in
/// one (`/mozilla.org/20050126_1/Europe/London`).
fn zone(p: &Property, id: &str) -> Result<Tz, IcsError> {
    let id = id.trim_matches('"');
    if let Ok(z) = resolve_zone(id) {
        return Ok(z.tz());
    }
    let parts: Vec<&str> = id.split('/').collect();
    (1..parts.len())
        .find_map(|i| resolve_zone(&parts[i..].join("/")).ok())
        .map(|z| z.tz())
        .ok_or_else(|| p.error(format!("unknown time zone {id:?}")))
}

/// An RFC 5545 duration (`P1D`, `PT1H30M`, `-PT15M`, `P2W`).
///
/// ```
/// use calrep_core::ical::parse_duration;
/// assert_eq!(parse_duration("PT1H30M"), Some(chrono::TimeDelta::minutes(90)));
/// assert_eq!(parse_duration("1 hour"), None);
/// ```
pub fn parse_duration(text: &str) -> Option<TimeDelta> {
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let body = body.strip_prefix('P')?;
    let mut total = TimeDelta::zero();
    let mut number = String::new();
    let mut in_time = false;
    for c in body.chars() {
        match c {
            'T' => in_time = true,
            '0'..='9' => number.push(c),
            _ => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                total += match (c, in_time) {
                    ('W', false) => TimeDelta::try_weeks(n)?,
                    ('D', false) => TimeDelta::try_days(n)?,
                    ('H', true) => TimeDelta::try_hours(n)?,
                    ('M', true) => TimeDelta::try_minutes(n)?,
                    ('S', true) => TimeDelta::try_seconds(n)?,
                    _ => return None,
                };
            }
        }
    }
    number.is_empty().then_some(total * sign)
}

/// Unfolded content lines with their first line number.
fn content_lines(text: &str) -> Result<Vec<Property>, IcsError> {
    let mut unfolded: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (
            raw.strip_prefix(' ').or_else(|| raw.strip_prefix('\t')),
            unfolded.last_mut(),
        ) {
            (Some(rest), Some((_, last))) => last.push_str(rest),
            _ if raw.trim().is_empty() => {}
            _ => unfolded.push((i + 1, raw.to_owned())),
        }
    }
    unfolded
        .into_iter()
        .map(|(line, text)| parse_line(line, &text))
        .collect()
}

fn parse_line(line: usize, text: &str) -> Result<Property, IcsError> {
    let error = |m: &str| IcsError {
        line,
        message: m.to_owned(),
    };
    // The value starts at the first ':' outside a quoted parameter value.
    let mut quoted = false;
    let colon = text
        .char_indices()
        .find(|(_, c)| {
            if *c == '"' {
                quoted = !quoted;
            }
            *c == ':' && !quoted
        })
        .map(|(i, _)| i)
        .ok_or_else(|| error("not NAME:VALUE"))?;
    let (head, value) = text.split_at(colon);
    let mut parts = split_params(head).into_iter();
    let name = parts
        .next()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| error("no property name"))?
        .to_ascii_uppercase();
    let params = parts
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Ok((k.to_ascii_uppercase(), v.trim_matches('"').to_owned())),
            None => Err(error(&format!("parameter {p:?} has no '='"))),
        })
        .collect::<Result<_, _>>()?;
    Ok(Property {
        line,
        name,
        params,
        value: value[1..].to_owned(),
    })
}

/// `NAME;A=1;B="x;y"` split on the semicolons outside quotes.
fn split_params(head: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in head.chars() {
        if c == ';' && !quoted {
            out.push(std::mem::take(&mut current));
            continue;
        }
        if c == '"' {
            quoted = !quoted;
        }
        current.push(c);
    }
    out.push(current);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_attach_to_their_master_and_bad_lines_are_named() {
        let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\nDTSTART;TZID=\"W. Europe Standard Time\":20260302T090000\n\
                   DURATION:PT30M\nRRULE:FREQ=DAILY;COUNT=3\nBEGIN:VALARM\nTRIGGER:-PT5M\nEND:VALARM\nEND:VEVENT\n\
                   BEGIN:VEVENT\nUID:x\nRECURRENCE-ID;TZID=Europe/Berlin:20260303T090000\n\
                   DTSTART;TZID=Europe/Berlin:20260303T150000\nDTEND;TZID=Europe/Berlin:20260303T160000\nEND:VEVENT\nEND:VCALENDAR\n";
        let series = read_series(ics).unwrap();
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].duration, TimeDelta::minutes(30));
        assert_eq!(series[0].overrides.len(), 1);
        assert_eq!(
            series[0].overrides[0].start.to_string(),
            "2026-03-03T14:00:00Z"
        );
        let bad = ics.replace("RRULE:FREQ=DAILY;COUNT=3", "RRULE:FREQ=DAILY;BYHOUR=25");
        let err = read_series(&bad).unwrap_err();
        assert_eq!(err.line, 6, "{err}");
        assert!(err.to_string().contains("BYHOUR"), "{err}");
        let bad = ics.replace("W. Europe Standard Time", "Mars/Olympus");
        assert!(
            read_series(&bad)
                .unwrap_err()
                .to_string()
                .contains("Mars/Olympus")
        );
    }
}
