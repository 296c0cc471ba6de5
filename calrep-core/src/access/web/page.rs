//! The web page's HTML, written by hand: what a calendar holds in a day, a
//! week or a month, each time in the viewer's zone (and the event's own
//! when it differs), with no script needed.
//!
//! Everything shown comes from the replica's items expanded in the range
//! (`CalendarItem::occurrences`), as CalDAV's `expand` serves them:
//! moved and retitled occurrences with their own time and text, deleted
//! ones gone, private items masked for delegates.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

use crate::access::caldav::{Collection, shown};
use crate::access::dav::escape;
use crate::access::resources::Resources;
use crate::calendar::{FreeBusy, ItemTime};
use crate::encoding::{form_encode, path_segment};

/// The years a page may show (a date outside is refused, not computed).
pub(crate) const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// How much of a calendar a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    Day,
    Week,
    Month,
}

impl Span {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// The days shown for `date`: the day, its week (Monday first) or its
    /// month's weeks.
    pub(crate) fn days(self, date: NaiveDate) -> Vec<NaiveDate> {
        let monday =
            |d: NaiveDate| d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday()));
        let (first, count) = match self {
            Self::Day => (date, 1),
            Self::Week => (monday(date), 7),
            Self::Month => {
                let first = date.with_day(1).unwrap_or(date);
                let last = first
                    .checked_add_months(Months::new(1))
                    .map_or(first, |next| next - TimeDelta::days(1));
                let start = monday(first);
                let weeks = (last - start).num_days() / 7 + 1;
                (start, weeks * 7)
            }
        };
        (0..count)
            .filter_map(|i| first.checked_add_signed(TimeDelta::days(i)))
            .collect()
    }

    /// The date `steps` spans away (negative: back).
    fn step(self, date: NaiveDate, steps: i32) -> Option<NaiveDate> {
        match self {
            Self::Day => date.checked_add_signed(TimeDelta::days(i64::from(steps))),
            Self::Week => date.checked_add_signed(TimeDelta::days(7 * i64::from(steps))),
            Self::Month => {
                let first = date.with_day(1)?;
                let months = Months::new(steps.unsigned_abs());
                if steps < 0 {
                    first.checked_sub_months(months)
                } else {
                    first.checked_add_months(months)
                }
            }
        }
    }
}

/// The instant a day begins in `zone` (after a gap, when midnight is
/// skipped).
pub(crate) fn day_start(zone: Tz, day: NaiveDate) -> DateTime<Utc> {
    let wall = day.and_time(NaiveTime::MIN);
    crate::tz::wall_clock::rfc5545_instant(zone, wall)
        .map_or_else(|| wall.and_utc(), |t| t.with_timezone(&Utc))
}

/// One occurrence as the page shows it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    uid: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    /// An all-day event's first and last-but-one dates, in its own zone.
    days: Option<(NaiveDate, NaiveDate)>,
    subject: String,
    location: String,
    zone: Tz,
    repeats: bool,
    moved: bool,
    cancelled: bool,
    free_busy: FreeBusy,
}

/// The occurrences of `c`'s resources around `from..to` (a day more each
/// side, so that all-day events in any zone are found), masked as `c`'s
/// reader may see them, and how many items could not be expanded.
pub(crate) fn entries(
    c: &Collection,
    resources: &Resources,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> (Vec<Entry>, usize) {
    let mut out = Vec::new();
    let mut broken = 0;
    let margin = TimeDelta::days(2);
    let nearby = resources
        .list
        .iter()
        .filter(|r| r.may_overlap(from - margin, to + margin));
    for r in nearby {
        let item = shown(c, &r.item);
        let Ok(occurrences) = item.occurrences(from - margin, to + margin) else {
            broken += 1;
            continue;
        };
        let zone: Tz = item.zone.iana.parse().unwrap_or(Tz::UTC);
        let all_day = matches!(item.time, ItemTime::AllDay { .. });
        for o in occurrences {
            let modified = item.modified_occurrence(o.original_start);
            let date = |t: DateTime<Utc>| t.with_timezone(&zone).date_naive();
            out.push(Entry {
                uid: item.uid.clone(),
                start: o.start,
                end: o.end,
                days: all_day.then(|| (date(o.start), date(o.end))),
                subject: modified
                    .and_then(|m| m.subject.clone())
                    .unwrap_or_else(|| item.subject.clone()),
                location: modified
                    .and_then(|m| m.location.clone())
                    .unwrap_or_else(|| item.location.clone()),
                zone,
                repeats: item.recurrence.is_some(),
                moved: o.is_exception,
                cancelled: item.is_cancelled,
                free_busy: item.free_busy,
            });
        }
    }
    out.sort_by(|a, b| {
        (a.days.is_none(), a.start, &a.subject).cmp(&(b.days.is_none(), b.start, &b.subject))
    });
    (out, broken)
}

impl Entry {
    /// Whether it shows on `day` in `zone`: an all-day event on its own
    /// dates, a timed one on every day it overlaps there.
    fn on(&self, day: NaiveDate, zone: Tz) -> bool {
        if let Some((first, end)) = self.days {
            return first <= day && (day < end || first == end && day == first);
        }
        let (from, to) = (
            day_start(zone, day),
            day_start(zone, day + TimeDelta::days(1)),
        );
        self.start < to && self.end > from
            || self.start == self.end && self.start >= from && self.start < to
    }
}

/// Who is looking, and how.
#[derive(Debug)]
pub(crate) struct Viewer<'a> {
    pub(crate) account: &'a str,
    /// The session's CSRF token, for the sign-out form.
    pub(crate) csrf: &'a str,
    pub(crate) zone: Tz,
    /// Whether the zone was chosen (else zone.js offers the browser's).
    pub(crate) zone_chosen: bool,
    pub(crate) now: DateTime<Utc>,
}

/// A whole page around `main`.
pub(crate) fn layout(title: &str, viewer: Option<&Viewer<'_>>, main: &str) -> String {
    let mut out = String::with_capacity(main.len() + 2048);
    let chosen = viewer.is_none_or(|v| v.zone_chosen);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · calrep</title>\n<link rel=\"stylesheet\" href=\"/web/style.css\">\n\
         <script src=\"/web/zone.js\" defer></script>\n</head>\n\
         <body data-zone-chosen=\"{}\">\n<header>\n\
         <p class=\"brand\"><a href=\"/web/\">calrep</a> <span>read-only calendar replica</span></p>\n",
        escape(title),
        u8::from(chosen)
    );
    if let Some(v) = viewer {
        let _ = writeln!(
            out,
            "<form method=\"post\" action=\"/web/signout\" class=\"signout\">\
             <span>Signed in as <strong>{}</strong></span>\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\">Sign out</button></form>",
            escape(v.account),
            escape(v.csrf)
        );
    }
    let _ = write!(
        out,
        "</header>\n<main id=\"main\">\n{main}</main>\n</body>\n</html>\n"
    );
    out
}

/// The sign-in form, with `message` above it when the last try failed.
pub(crate) fn sign_in(csrf: &str, name: &str, message: Option<&str>) -> String {
    let mut main = String::from("<h1>Sign in</h1>\n");
    if let Some(message) = message {
        let _ = writeln!(
            main,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(message)
        );
    }
    let _ = write!(
        main,
        "<p>Use the account name and app password your administrator gave you. \
         This shows a read-only copy of your calendars, kept while Exchange is unreachable.</p>\n\
         <form method=\"post\" action=\"/web/signin\" class=\"signin\">\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\n\
         <label for=\"name\">Account name</label>\n\
         <input id=\"name\" name=\"name\" autocomplete=\"username\" autocapitalize=\"none\" \
         spellcheck=\"false\" required value=\"{}\">\n\
         <label for=\"password\">App password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\n\
         <button type=\"submit\">Sign in</button>\n</form>\n",
        escape(csrf),
        escape(name)
    );
    layout("Sign in", None, &main)
}

/// A page that only says something (not found, refused, unavailable).
pub(crate) fn message(title: &str, text: &str, viewer: Option<&Viewer<'_>>) -> String {
    layout(
        title,
        viewer,
        &format!(
            "<h1>{}</h1>\n<p>{}</p>\n<p><a href=\"/web/\">Your calendars</a></p>\n",
            escape(title),
            escape(text)
        ),
    )
}

/// The link to a calendar's page.
fn link(c: &Collection, span: Span, date: NaiveDate, viewer: &Viewer<'_>) -> String {
    let mut url = format!(
        "/web/c/{}?view={}&date={}",
        path_segment(&c.segment),
        span.name(),
        date.format("%Y-%m-%d")
    );
    if viewer.zone_chosen {
        let _ = write!(url, "&tz={}", form_encode(viewer.zone.name()));
    }
    escape(&url)
}

/// How current the replica is, in words.
fn banner(c: &Collection, viewer: &Viewer<'_>) -> String {
    let Some(at) = c.replicated_at else {
        return "<p class=\"banner stale\" role=\"status\">Read-only replica: \
                not replicated yet, so nothing can be shown.</p>\n"
            .to_owned();
    };
    let ago = viewer.now - at;
    let age = if ago < TimeDelta::minutes(2) {
        "just now".to_owned()
    } else if ago < TimeDelta::hours(2) {
        format!("{} minutes ago", ago.num_minutes())
    } else if ago < TimeDelta::days(2) {
        format!("{} hours ago", ago.num_hours())
    } else {
        format!("{} days ago", ago.num_days())
    };
    let local = at.with_timezone(&viewer.zone);
    format!(
        "<p class=\"banner{}\" role=\"status\">Read-only replica, as of \
         <time datetime=\"{}\">{} ({})</time>, {age}. Changes made since then are not shown.</p>\n",
        if ago > TimeDelta::hours(1) {
            " stale"
        } else {
            ""
        },
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        local.format("%A %-d %B %Y %H:%M"),
        escape(viewer.zone.name()),
    )
}

fn stamp(t: DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A time on `day`'s line: the hour, or the date too when it is on
/// another day.
fn clock(t: DateTime<Utc>, zone: Tz, day: NaiveDate) -> String {
    let local = t.with_timezone(&zone);
    let text = if local.date_naive() == day {
        local.format("%H:%M").to_string()
    } else {
        local.format("%a %-d %b %H:%M").to_string()
    };
    format!("<time datetime=\"{}\">{text}</time>", stamp(t, zone))
}

/// One event on `day`'s list; `compact` in a month's cell.
fn event(e: &Entry, day: NaiveDate, viewer: &Viewer<'_>, compact: bool, out: &mut String) {
    let zone = viewer.zone;
    let mut classes = String::from("event");
    if e.cancelled {
        classes.push_str(" cancelled");
    }
    let _ = write!(
        out,
        "<li class=\"{classes}\" data-uid=\"{}\" data-start=\"{}\" data-end=\"{}\">",
        escape(&e.uid),
        e.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        e.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    );
    let when = if e.days.is_some() {
        "All day".to_owned()
    } else if compact {
        clock(e.start, zone, day)
    } else {
        format!("{}–{}", clock(e.start, zone, day), clock(e.end, zone, day))
    };
    let subject = if e.subject.is_empty() {
        "(no title)"
    } else {
        &e.subject
    };
    let _ = write!(
        out,
        "<span class=\"when\">{when}</span> <span class=\"what\">{}</span>",
        escape(subject)
    );
    if !compact {
        if !e.location.is_empty() {
            let _ = write!(out, " <span class=\"where\">{}</span>", escape(&e.location));
        }
        if e.days.is_none() && e.zone != zone {
            // Its own date is shown where it differs from the viewer's day.
            let own = e.start.with_timezone(&e.zone).date_naive();
            let _ = write!(
                out,
                " <span class=\"own\">{}–{} {}</span>",
                clock(e.start, e.zone, day),
                clock(e.end, e.zone, own),
                escape(e.zone.name())
            );
        }
        let mut tags = Vec::new();
        if e.cancelled {
            tags.push("cancelled");
        }
        if e.moved {
            tags.push("moved or changed");
        } else if e.repeats {
            tags.push("repeats");
        }
        tags.push(match e.free_busy {
            FreeBusy::Free => "free",
            FreeBusy::Tentative => "tentative",
            FreeBusy::Oof => "out of office",
            FreeBusy::WorkingElsewhere => "working elsewhere",
            FreeBusy::Busy | FreeBusy::NoData => "busy",
        });
        let _ = write!(out, " <span class=\"tags\">{}</span>", tags.join(" · "));
    }
    out.push_str("</li>\n");
}

/// The events of `day`, or a line saying there are none.
fn day_list(
    entries: &[Entry],
    day: NaiveDate,
    viewer: &Viewer<'_>,
    compact: bool,
    out: &mut String,
) {
    let mut any = false;
    for e in entries.iter().filter(|e| e.on(day, viewer.zone)) {
        if !any {
            out.push_str(if compact {
                "<ul class=\"events compact\">\n"
            } else {
                "<ul class=\"events\">\n"
            });
            any = true;
        }
        event(e, day, viewer, compact, out);
    }
    if any {
        out.push_str("</ul>\n");
    } else if !compact {
        out.push_str("<p class=\"empty\">Nothing.</p>\n");
    }
}

/// The form that chooses the viewer's zone, sent to `action` with `keep`'s
/// fields.
fn zone_form(action: &str, keep: &[(&str, String)], viewer: &Viewer<'_>) -> String {
    let mut out = format!(
        "<form method=\"get\" action=\"{}\" class=\"zone\" id=\"zone\">\n",
        escape(action)
    );
    for (name, value) in keep {
        let _ = writeln!(
            out,
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(value)
        );
    }
    out.push_str("<label for=\"tz\">Show times in</label>\n<select id=\"tz\" name=\"tz\">\n");
    let mut zones: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect();
    zones.sort_unstable();
    for name in zones {
        let selected = if name == viewer.zone.name() {
            " selected"
        } else {
            ""
        };
        let _ = writeln!(out, "<option{selected}>{}</option>", escape(name));
    }
    out.push_str("</select>\n<button type=\"submit\">Show</button>\n</form>\n");
    out
}

/// Messages for items that could not be shown.
fn broken_note(broken: usize) -> String {
    if broken == 0 {
        return String::new();
    }
    format!(
        "<p class=\"error\">{broken} item{} could not be expanded and {} not shown; \
         CalDAV clients and the export receive them as stored.</p>\n",
        if broken == 1 { "" } else { "s" },
        if broken == 1 { "is" } else { "are" }
    )
}

/// A calendar and what it shows, if it was read: its entries and how many
/// items could not be expanded.
pub(crate) type Shown = (Collection, Option<(Vec<Entry>, usize)>);

/// Today, for each calendar (`None` where a calendar could not be read;
/// `today` is the viewer's date).
pub(crate) fn overview(calendars: &[Shown], today: NaiveDate, viewer: &Viewer<'_>) -> String {
    let mut main = format!(
        "<h1>Today, <time datetime=\"{}\">{}</time></h1>\n",
        today.format("%Y-%m-%d"),
        today.format("%A %-d %B %Y")
    );
    let _ = writeln!(
        main,
        "<p class=\"zone-now\">Times in {}. <a href=\"#zone\">Change</a></p>",
        escape(viewer.zone.name())
    );
    if calendars.is_empty() {
        main.push_str("<p class=\"empty\">No calendar has been shared with this account.</p>\n");
    }
    for (i, (c, shown)) in calendars.iter().enumerate() {
        let _ = write!(
            main,
            "<section class=\"calendar\" aria-labelledby=\"c{i}\">\n\
             <h2 id=\"c{i}\"><a href=\"{}\">{}</a> <span class=\"owner\">{}</span></h2>\n",
            link(c, Span::Week, today, viewer),
            escape(&c.calendar.name),
            escape(&c.mailbox)
        );
        main.push_str(&banner(c, viewer));
        match shown {
            Some((entries, broken)) => {
                main.push_str(&broken_note(*broken));
                day_list(entries, today, viewer, false, &mut main);
            }
            None => main.push_str("<p class=\"empty\">Open the calendar to see its events.</p>\n"),
        }
        let _ = write!(
            main,
            "<p class=\"spans\"><a href=\"{}\">Day</a> <a href=\"{}\">Week</a> <a href=\"{}\">Month</a></p>\n</section>\n",
            link(c, Span::Day, today, viewer),
            link(c, Span::Week, today, viewer),
            link(c, Span::Month, today, viewer),
        );
    }
    main.push_str(&zone_form("/web/", &[], viewer));
    layout("Today", Some(viewer), &main)
}

/// One calendar's day, week or month around `date`.
pub(crate) fn calendar(
    c: &Collection,
    (entries, broken): &(Vec<Entry>, usize),
    span: Span,
    date: NaiveDate,
    viewer: &Viewer<'_>,
) -> String {
    let days = span.days(date);
    let today = viewer.now.with_timezone(&viewer.zone).date_naive();
    let title = match span {
        Span::Day => date.format("%A %-d %B %Y").to_string(),
        Span::Week => match (days.first(), days.last()) {
            (Some(a), Some(b)) => format!("{} – {}", a.format("%-d %B"), b.format("%-d %B %Y")),
            _ => String::new(),
        },
        Span::Month => date.format("%B %Y").to_string(),
    };
    let mut main = format!(
        "<p class=\"back\"><a href=\"/web/\">All calendars</a></p>\n\
         <h1>{} <span class=\"owner\">{}</span></h1>\n",
        escape(&c.calendar.name),
        escape(&c.mailbox)
    );
    main.push_str(&banner(c, viewer));
    main.push_str("<nav aria-label=\"Views\" class=\"views\">\n<ul>\n");
    for s in [Span::Day, Span::Week, Span::Month] {
        let current = if s == span {
            " aria-current=\"page\""
        } else {
            ""
        };
        let label = match s {
            Span::Day => "Day",
            Span::Week => "Week",
            Span::Month => "Month",
        };
        let _ = writeln!(
            main,
            "<li><a href=\"{}\"{current}>{label}</a></li>",
            link(c, s, date, viewer)
        );
    }
    main.push_str("</ul>\n<ul>\n");
    for (steps, label) in [(-1, "← Previous"), (0, "Today"), (1, "Next →")] {
        let target = if steps == 0 {
            Some(today)
        } else {
            span.step(date, steps)
        };
        if let Some(target) = target.filter(|d| YEARS.contains(&d.year())) {
            let _ = writeln!(
                main,
                "<li><a href=\"{}\">{label}</a></li>",
                link(c, span, target, viewer)
            );
        }
    }
    main.push_str("</ul>\n</nav>\n");
    let _ = writeln!(
        main,
        "<h2>{}</h2>\n<p class=\"zone-now\">Times in {}. <a href=\"#zone\">Change</a></p>",
        escape(&title),
        escape(viewer.zone.name())
    );
    main.push_str(&broken_note(*broken));
    if span == Span::Month {
        let _ = write!(
            main,
            "<table class=\"month\">\n<caption>{}</caption>\n<thead><tr>",
            escape(&title)
        );
        for name in [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ] {
            let _ = write!(
                main,
                "<th scope=\"col\"><abbr title=\"{name}\">{}</abbr></th>",
                name.get(..3).unwrap_or(name)
            );
        }
        main.push_str("</tr></thead>\n<tbody>\n");
        for week in days.chunks(7) {
            main.push_str("<tr>\n");
            for &day in week {
                let mut classes = String::from("day");
                if day.month() != date.month() {
                    classes.push_str(" other");
                }
                if day == today {
                    classes.push_str(" today");
                }
                let _ = writeln!(
                    main,
                    "<td class=\"{classes}\" data-date=\"{0}\"><a class=\"date\" href=\"{1}\">\
                     <time datetime=\"{0}\">{2}</time></a>",
                    day.format("%Y-%m-%d"),
                    link(c, Span::Day, day, viewer),
                    day.format("%a %-d %b")
                );
                day_list(entries, day, viewer, true, &mut main);
                main.push_str("</td>\n");
            }
            main.push_str("</tr>\n");
        }
        main.push_str("</tbody>\n</table>\n");
    } else {
        for &day in &days {
            let _ = write!(
                main,
                "<section class=\"day{}\" data-date=\"{1}\">\n<h3><time datetime=\"{1}\">{2}</time></h3>\n",
                if day == today { " today" } else { "" },
                day.format("%Y-%m-%d"),
                day.format("%A %-d %B")
            );
            day_list(entries, day, viewer, false, &mut main);
            main.push_str("</section>\n");
        }
    }
    let action = format!("/web/c/{}", path_segment(&c.segment));
    main.push_str(&zone_form(
        &action,
        &[
            ("view", span.name().to_owned()),
            ("date", date.format("%Y-%m-%d").to_string()),
        ],
        viewer,
    ));
    layout(
        &format!("{} — {}", c.calendar.name, title),
        Some(viewer),
        &main,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    #[test]
    fn a_week_starts_on_monday_and_a_month_covers_whole_weeks() {
        let week = Span::Week.days(date("2026-11-29"));
        assert_eq!(week.first(), Some(&date("2026-11-23")));
        assert_eq!(week.len(), 7);
        // November 2026: Sunday the 1st to Monday the 30th, six rows.
        let month = Span::Month.days(date("2026-11-15"));
        assert_eq!(month.first(), Some(&date("2026-10-26")));
        assert_eq!(month.last(), Some(&date("2026-12-06")));
        assert_eq!(
            Span::Month.step(date("2026-01-31"), 1),
            Some(date("2026-02-01"))
        );
        assert_eq!(
            Span::Month.step(date("2026-01-31"), -1),
            Some(date("2025-12-01"))
        );
    }

    #[test]
    fn a_timed_event_shows_on_each_day_it_overlaps_in_the_viewers_zone() {
        let zone: Tz = "America/New_York".parse().unwrap();
        let e = Entry {
            uid: "u".into(),
            // 23:00–01:00 in New York: two days there, one in UTC.
            start: "2026-11-30T04:00:00Z".parse().unwrap(),
            end: "2026-11-30T06:00:00Z".parse().unwrap(),
            days: None,
            subject: "Night".into(),
            location: String::new(),
            zone: Tz::UTC,
            repeats: false,
            moved: false,
            cancelled: false,
            free_busy: FreeBusy::Busy,
        };
        assert!(e.on(date("2026-11-29"), zone));
        assert!(e.on(date("2026-11-30"), zone));
        assert!(!e.on(date("2026-11-29"), Tz::UTC));
        let all_day = Entry {
            days: Some((date("2026-11-30"), date("2026-12-01"))),
            ..e
        };
        assert!(all_day.on(date("2026-11-30"), zone));
        assert!(!all_day.on(date("2026-12-01"), zone));
    }
}
