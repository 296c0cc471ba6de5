//! RFC 5545 iCalendar export of replicated calendars: recurring masters with
//! RRULE and EXDATE, RECURRENCE-ID overrides for moved or edited
//! occurrences, TZID with the resolved IANA zone and a VTIMEZONE for it,
//! all-day events as dates, and attachments as content-hash URIs or inline;
//! and reading series back out of iCalendar files ([`read_series`]).

mod diff;
mod mailbox;
mod read;

pub use diff::{
    CalendarText, IcsChange, IcsDiff, IcsDiffError, TextDiffError, diff_ics, diff_texts,
};
pub use mailbox::{ExportError, MailboxExport, export_mailbox};
pub use read::{IcsError, IcsOverride, IcsSeries, parse_duration, read_series};

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use crate::calendar::{
    AttendeeRole, CalendarItem, FreeBusy, ItemTime, Pattern, Range, Recurrence, Sensitivity,
};

/// How attachments appear in the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AttachmentStyle {
    /// `ATTACH:urn:sha256:<hex>`: a reference into the replica's store.
    #[default]
    HashUri,
    /// The content itself, base64 (`ENCODING=BASE64;VALUE=BINARY`).
    Inline,
}

/// An attachment's stored form, as the exporter needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredAttachment {
    /// SHA-256 of the content (lower-case hex), if it was downloaded.
    pub sha256: Option<String>,
    /// The content, when inline export needs it.
    pub content: Option<Vec<u8>>,
}

impl StoredAttachment {
    /// An attachment as stored.
    pub fn new(sha256: Option<String>, content: Option<Vec<u8>>) -> Self {
        Self { sha256, content }
    }
}

/// Writes items as one VCALENDAR. `attachment` looks up an item's
/// attachment by (item id, attachment id). `now` stamps DTSTAMP.
///
/// ```
/// use calrep_core::calendar::{CalendarItem, ItemTime};
/// use calrep_core::ical::{export, AttachmentStyle};
/// let item = CalendarItem::new("1", "uid-1", "Planning, part 2", ItemTime::Timed {
///     start: "2026-01-05T09:00:00Z".parse()?, end: "2026-01-05T10:00:00Z".parse()? });
/// let text = export("Calendar", &[item], |_, _| None, AttachmentStyle::HashUri, "2026-01-01T00:00:00Z".parse()?);
/// assert!(text.contains("SUMMARY:Planning\\, part 2\r\n"));
/// assert!(text.starts_with("BEGIN:VCALENDAR\r\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn export(
    name: &str,
    items: &[CalendarItem],
    attachment: impl Fn(&str, &str) -> Option<StoredAttachment>,
    style: AttachmentStyle,
    now: DateTime<Utc>,
) -> String {
    let mut out = Lines::calendar(name);
    // One VTIMEZONE per zone, covering the years the items need.
    let mut zones: BTreeMap<String, (i32, i32)> = BTreeMap::new();
    for item in items {
        let Some(tz) = zone_of(item) else { continue };
        if tz == Tz::UTC {
            continue;
        }
        let year = start_instant(item).with_timezone(&tz).year();
        let entry = zones.entry(tz.name().to_owned()).or_insert((year, year));
        entry.0 = entry.0.min(year);
        entry.1 = entry.1.max(year.max(now.year()) + 2);
    }
    for (name, (from, to)) in &zones {
        if let Ok(tz) = name.parse::<Tz>() {
            vtimezone(&mut out, tz, *from - 1, *to);
        }
    }
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    for item in items {
        vevent(&mut out, item, &stamp, &attachment, style);
    }
    out.line("END:VCALENDAR");
    out.0
}

/// A VCALENDAR holding only `zone`'s VTIMEZONE, for the years around
/// `now` (a year back, two ahead), as CalDAV's `calendar-timezone`
/// property carries a calendar's zone (RFC 4791 §5.2.2).
///
/// ```
/// let text = calrep_core::ical::zone_calendar(chrono_tz::Europe::Berlin, "2026-11-29T00:00:00Z".parse()?);
/// assert!(text.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"));
/// assert!(!text.contains("BEGIN:VEVENT"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn zone_calendar(zone: Tz, now: DateTime<Utc>) -> String {
    let mut out = Lines::begin();
    vtimezone(&mut out, zone, now.year() - 1, now.year() + 2);
    out.line("END:VCALENDAR");
    out.0
}

/// `items` as RFC 4791 §9.6.5 `expand` asks: every instance starting in
/// `from..to` as its own VEVENT in UTC, a series' with its RECURRENCE-ID
/// and no RRULE, a moved or retitled occurrence with its own time and
/// text. All-day instances keep their dates.
///
/// ```
/// use calrep_core::calendar::{CalendarItem, ItemTime};
/// let item = CalendarItem::new("1", "u1", "Standup", ItemTime::Timed {
///     start: "2026-11-02T09:00:00Z".parse()?, end: "2026-11-02T09:15:00Z".parse()? });
/// let ics = calrep_core::ical::export_expanded(
///     "Work", &[item], "2026-11-01T00:00:00Z".parse()?, "2026-12-01T00:00:00Z".parse()?,
///     "2026-11-29T00:00:00Z".parse()?);
/// assert!(ics.contains("DTSTART:20261102T090000Z\r\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn export_expanded(
    name: &str,
    items: &[CalendarItem],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> String {
    let mut out = Lines::calendar(name);
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let utc = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    for item in items {
        let tz = zone_of(item).unwrap_or(Tz::UTC);
        let all_day = matches!(item.time, ItemTime::AllDay { .. });
        let Ok(instances) = item.occurrences(from, to) else {
            continue;
        };
        for o in instances {
            let modified = item.modified_occurrence(o.original_start);
            out.line("BEGIN:VEVENT");
            out.line(&format!("UID:{}", text(&item.uid)));
            out.line(&format!("DTSTAMP:{stamp}"));
            let day = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y%m%d").to_string();
            if item.recurrence.is_some() {
                out.line(&if all_day {
                    format!("RECURRENCE-ID;VALUE=DATE:{}", day(o.original_start))
                } else {
                    format!("RECURRENCE-ID:{}", utc(o.original_start))
                });
            }
            if all_day {
                out.line(&format!("DTSTART;VALUE=DATE:{}", day(o.start)));
                out.line(&format!("DTEND;VALUE=DATE:{}", day(o.end)));
            } else {
                out.line(&format!("DTSTART:{}", utc(o.start)));
                out.line(&format!("DTEND:{}", utc(o.end)));
            }
            let subject = modified
                .and_then(|m| m.subject.as_deref())
                .unwrap_or(&item.subject);
            out.line(&format!("SUMMARY:{}", text(subject)));
            let location = modified
                .and_then(|m| m.location.as_deref())
                .unwrap_or(&item.location);
            if !location.is_empty() {
                out.line(&format!("LOCATION:{}", text(location)));
            }
            let body = modified
                .and_then(|m| m.body.as_deref())
                .unwrap_or(&item.body);
            if !body.is_empty() {
                out.line(&format!("DESCRIPTION:{}", text(body)));
            }
            out.line(match item.free_busy {
                FreeBusy::Free => "TRANSP:TRANSPARENT",
                _ => "TRANSP:OPAQUE",
            });
            out.line("END:VEVENT");
        }
    }
    out.line("END:VCALENDAR");
    out.0
}

fn zone_of(item: &CalendarItem) -> Option<Tz> {
    item.zone.iana.parse().ok()
}

fn start_instant(item: &CalendarItem) -> DateTime<Utc> {
    match item.time {
        ItemTime::Timed { start, .. } => start,
        ItemTime::AllDay { start, .. } => start.and_time(chrono::NaiveTime::MIN).and_utc(),
    }
}

/// Lines with RFC 5545 folding (75 octets) and CRLF endings.
#[derive(Default)]
struct Lines(String);

impl Lines {
    /// A VCALENDAR's first lines: who wrote it, in which version.
    fn begin() -> Self {
        let mut out = Self::default();
        out.line("BEGIN:VCALENDAR");
        out.line("VERSION:2.0");
        out.line(&format!(
            "PRODID:-//calrep//calrep {}//EN",
            env!("CARGO_PKG_VERSION")
        ));
        out
    }

    /// A VCALENDAR's opening lines, for a calendar called `name`.
    fn calendar(name: &str) -> Self {
        let mut out = Self::begin();
        out.line("CALSCALE:GREGORIAN");
        out.line(&format!("X-WR-CALNAME:{}", text(name)));
        out
    }

    fn line(&mut self, line: &str) {
        let mut width = 0;
        for c in line.chars() {
            let n = c.len_utf8();
            if width + n > 75 {
                self.0.push_str("\r\n ");
                width = 1;
            }
            self.0.push(c);
            width += n;
        }
        self.0.push_str("\r\n");
    }
}

/// Escapes TEXT values.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value, quoted when it must be.
fn param(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    if clean.contains([':', ';', ',']) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .naive_local()
        .format("%Y%m%dT%H%M%S")
        .to_string()
}

/// A date-time property in the item's zone (or UTC).
fn when(name: &str, t: DateTime<Utc>, tz: Tz) -> String {
    if tz == Tz::UTC {
        format!("{name}:{}", t.format("%Y%m%dT%H%M%SZ"))
    } else {
        format!("{name};TZID={}:{}", tz.name(), local(t, tz))
    }
}

fn vevent(
    out: &mut Lines,
    item: &CalendarItem,
    stamp: &str,
    attachment: &impl Fn(&str, &str) -> Option<StoredAttachment>,
    style: AttachmentStyle,
) {
    let tz = zone_of(item).unwrap_or(Tz::UTC);
    out.line("BEGIN:VEVENT");
    out.line(&format!("UID:{}", text(&item.uid)));
    out.line(&format!("DTSTAMP:{stamp}"));
    let all_day = matches!(item.time, ItemTime::AllDay { .. });
    // A series starts at its first occurrence: RFC 5545 counts DTSTART as an
    // instance even where the rule would skip it.
    let first = item
        .recurrence
        .as_ref()
        .and_then(|r| r.first_occurrence(&item.time, tz));
    let time = match (first, item.time) {
        (Some(o), ItemTime::Timed { .. }) => ItemTime::Timed {
            start: o.start,
            end: o.end,
        },
        (Some(o), ItemTime::AllDay { start, end }) => {
            let day = o.start.with_timezone(&tz).date_naive();
            ItemTime::AllDay {
                start: day,
                end: day + (end - start),
            }
        }
        (None, time) => time,
    };
    match time {
        ItemTime::Timed { start, end } => {
            out.line(&when("DTSTART", start, tz));
            out.line(&when("DTEND", end, tz));
        }
        ItemTime::AllDay { start, end } => {
            out.line(&format!("DTSTART;VALUE=DATE:{}", start.format("%Y%m%d")));
            out.line(&format!("DTEND;VALUE=DATE:{}", end.format("%Y%m%d")));
        }
    }
    out.line(&format!("SUMMARY:{}", text(&item.subject)));
    if !item.location.is_empty() {
        out.line(&format!("LOCATION:{}", text(&item.location)));
    }
    if !item.body.is_empty() {
        out.line(&format!("DESCRIPTION:{}", text(&item.body)));
    }
    out.line(match item.sensitivity {
        Sensitivity::Private | Sensitivity::Personal => "CLASS:PRIVATE",
        Sensitivity::Confidential => "CLASS:CONFIDENTIAL",
        _ => "CLASS:PUBLIC",
    });
    out.line(match item.free_busy {
        FreeBusy::Free => "TRANSP:TRANSPARENT",
        _ => "TRANSP:OPAQUE",
    });
    if item.is_cancelled {
        out.line("STATUS:CANCELLED");
    }
    if !item.categories.is_empty() {
        out.line(&format!(
            "CATEGORIES:{}",
            item.categories
                .iter()
                .map(|c| text(c))
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    if let Some(organizer) = &item.organizer {
        out.line(&format!(
            "ORGANIZER;CN={}:mailto:{}",
            param(&organizer.name),
            organizer.address
        ));
    }
    for attendee in &item.attendees {
        let role = match attendee.role {
            AttendeeRole::Required => "ROLE=REQ-PARTICIPANT",
            AttendeeRole::Optional => "ROLE=OPT-PARTICIPANT",
            _ => "CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT",
        };
        out.line(&format!(
            "ATTENDEE;CN={};{role}:mailto:{}",
            param(&attendee.name),
            attendee.address
        ));
    }
    for a in &item.attachments {
        let stored = attachment(item.id.as_str(), &a.id);
        let kind = format!(
            "FMTTYPE={};X-FILENAME={}",
            param(&a.content_type),
            param(&a.name)
        );
        match (style, stored) {
            (
                AttachmentStyle::Inline,
                Some(StoredAttachment {
                    content: Some(bytes),
                    ..
                }),
            ) => {
                out.line(&format!(
                    "ATTACH;{kind};ENCODING=BASE64;VALUE=BINARY:{}",
                    crate::base64::encode(&bytes)
                ));
            }
            (
                _,
                Some(StoredAttachment {
                    sha256: Some(sha), ..
                }),
            ) => out.line(&format!("ATTACH;{kind}:urn:sha256:{sha}")),
            // Not downloaded (over the definition's cap): listed, not linked.
            _ => out.line(&format!(
                "X-CALREP-ATTACHMENT-NOT-STORED;{kind}:{}",
                text(&a.name)
            )),
        }
    }
    let Some(recurrence) = &item.recurrence else {
        out.line("END:VEVENT");
        return;
    };
    out.line(&format!(
        "RRULE:{}",
        rrule(&recurrence.pattern, &recurrence.range, tz, all_day)
    ));
    let deleted: BTreeSet<DateTime<Utc>> = recurrence.deleted.iter().copied().collect();
    for t in &deleted {
        out.line(&if all_day {
            format!(
                "EXDATE;VALUE=DATE:{}",
                t.with_timezone(&tz).format("%Y%m%d")
            )
        } else {
            when("EXDATE", *t, tz)
        });
    }
    out.line("END:VEVENT");
    for m in &recurrence.modified {
        out.line("BEGIN:VEVENT");
        out.line(&format!("UID:{}", text(&item.uid)));
        out.line(&format!("DTSTAMP:{stamp}"));
        out.line(&when("RECURRENCE-ID", m.original_start, tz));
        out.line(&when("DTSTART", m.start, tz));
        out.line(&when("DTEND", m.end, tz));
        out.line(&format!(
            "SUMMARY:{}",
            text(m.subject.as_deref().unwrap_or(&item.subject))
        ));
        if let Some(location) = m
            .location
            .as_deref()
            .or(Some(item.location.as_str()).filter(|l| !l.is_empty()))
        {
            out.line(&format!("LOCATION:{}", text(location)));
        }
        if let Some(body) = &m.body {
            out.line(&format!("DESCRIPTION:{}", text(body)));
        }
        out.line("END:VEVENT");
    }
}

/// The RRULE (without the `RRULE:` name) for an Exchange pattern and range:
/// [`Recurrence::rule`] written out.
///
/// ```
/// let rec: calrep_core::calendar::Recurrence = serde_json::from_value(serde_json::json!({
///     "pattern": {"type": "relative_monthly", "interval": 2, "days": "weekday", "index": "last"},
///     "range": {"type": "numbered", "start_date": "2026-01-31", "count": 6}}))?;
/// let rule = calrep_core::ical::rrule(&rec.pattern, &rec.range, chrono_tz::UTC, false);
/// assert_eq!(rule, "FREQ=MONTHLY;INTERVAL=2;COUNT=6;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rrule(pattern: &Pattern, range: &Range, tz: Tz, all_day: bool) -> String {
    Recurrence::new(pattern.clone(), *range)
        .rule(tz, all_day)
        .to_string()
}

/// A VTIMEZONE listing the zone's transitions from `from` to `to` (years),
/// written once per zone and years and then copied.
fn vtimezone(out: &mut Lines, tz: Tz, from: i32, to: i32) {
    use std::sync::{Mutex, PoisonError};
    /// Zones written recently, as text: finding a zone's transitions scans
    /// its years in steps (about a millisecond for a few years), and a
    /// calendar's items mostly share a zone and years. A short list (a
    /// `Vec`, so that leak checkers see its blocks as reachable).
    /// A zone and its first and last years.
    type Key = (Tz, i32, i32);
    static WRITTEN: Mutex<Vec<(Key, String)>> = Mutex::new(Vec::new());
    const KEEP: usize = 64;
    let key = (tz, from, to);
    let known = WRITTEN
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, text)| text.clone());
    let text = known.unwrap_or_else(|| {
        let mut fresh = Lines::default();
        write_vtimezone(&mut fresh, tz, from, to);
        let mut kept = WRITTEN.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() >= KEEP {
            kept.remove(0);
        }
        kept.push((key, fresh.0.clone()));
        fresh.0
    });
    out.0.push_str(&text);
}

/// Writes the VTIMEZONE of `tz` for the years `from..=to`.
fn write_vtimezone(out: &mut Lines, tz: Tz, from: i32, to: i32) {
    out.line("BEGIN:VTIMEZONE");
    out.line(&format!("TZID:{}", tz.name()));
    let offset_at = |t: i64| {
        tz.offset_from_utc_datetime(
            &DateTime::from_timestamp(t, 0)
                .unwrap_or_default()
                .naive_utc(),
        )
    };
    let start = NaiveDate::from_ymd_opt(from, 1, 1)
        .unwrap_or_default()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp();
    let end = NaiveDate::from_ymd_opt(to, 12, 31)
        .unwrap_or_default()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc()
        .timestamp();
    let first = offset_at(start);
    let mut transitions = Vec::new();
    let mut t = start;
    let step = TimeDelta::hours(6).num_seconds();
    while t < end {
        let next = t + step;
        if offset_at(next).fix() != offset_at(t).fix() {
            let (mut lo, mut hi) = (t, next);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(mid).fix() == offset_at(t).fix() {
                    lo = mid
                } else {
                    hi = mid
                }
            }
            transitions.push(hi);
        }
        t = next;
    }
    let fmt_offset = |secs: i32| {
        let sign = if secs < 0 { '-' } else { '+' };
        let s = secs.abs();
        if s % 60 == 0 {
            format!("{sign}{:02}{:02}", s / 3600, s % 3600 / 60)
        } else {
            format!("{sign}{:02}{:02}{:02}", s / 3600, s % 3600 / 60, s % 60)
        }
    };
    if transitions.is_empty() {
        let o = first.fix().local_minus_utc();
        out.line("BEGIN:STANDARD");
        out.line("DTSTART:19700101T000000");
        out.line(&format!("TZOFFSETFROM:{}", fmt_offset(o)));
        out.line(&format!("TZOFFSETTO:{}", fmt_offset(o)));
        out.line(&format!("TZNAME:{first}"));
        out.line("END:STANDARD");
    }
    for at in transitions {
        let before = offset_at(at - 1);
        let after = offset_at(at);
        let (from_s, to_s) = (
            before.fix().local_minus_utc(),
            after.fix().local_minus_utc(),
        );
        let kind = if to_s > from_s {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        let wall: NaiveDateTime = DateTime::from_timestamp(at + i64::from(from_s), 0)
            .unwrap_or_default()
            .naive_utc();
        out.line(&format!("BEGIN:{kind}"));
        out.line(&format!("DTSTART:{}", wall.format("%Y%m%dT%H%M%S")));
        out.line(&format!("TZOFFSETFROM:{}", fmt_offset(from_s)));
        out.line(&format!("TZOFFSETTO:{}", fmt_offset(to_s)));
        out.line(&format!("TZNAME:{after}"));
        out.line(&format!("END:{kind}"));
    }
    out.line("END:VTIMEZONE");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets() {
        let mut lines = Lines::default();
        lines.line(&"x".repeat(160));
        for physical in lines.0.split("\r\n") {
            assert!(physical.len() <= 75, "{physical}");
        }
        assert_eq!(
            lines.0.replace("\r\n ", ""),
            format!("{}\r\n", "x".repeat(160))
        );
    }
}
