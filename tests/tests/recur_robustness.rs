//! Bad input never panics the recurrence parsers and readers: random text
//! and mangled real input for RRULEs, iCalendar files and EWS XML, and
//! random (valid) rules expanded over random windows with typed errors at
//! worst.

#![allow(clippy::unwrap_used)]

use calrep_core::recur::{RecurrenceSet, Rule, SeriesStart};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use proptest::prelude::*;

const PARTS: &[&str] = &[
    "FREQ=YEARLY",
    "FREQ=MONTHLY",
    "FREQ=WEEKLY",
    "FREQ=DAILY",
    "FREQ=HOURLY",
    "FREQ=MINUTELY",
    "FREQ=SECONDLY",
    "INTERVAL=3",
    "INTERVAL=0",
    "INTERVAL=4294967295",
    "COUNT=5",
    "COUNT=0",
    "UNTIL=20270101",
    "UNTIL=20270101T000000Z",
    "BYDAY=MO,-1FR,53SU",
    "BYDAY=0MO",
    "BYMONTHDAY=31,-31",
    "BYYEARDAY=366,-366",
    "BYWEEKNO=53,-53",
    "BYMONTH=2",
    "BYHOUR=23",
    "BYMINUTE=59",
    "BYSECOND=60",
    "BYSETPOS=-366,366",
    "WKST=SU",
    "BYDAY=",
    "=",
    "X-FOO=1",
];

fn mangled_rule() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PARTS), 0..7).prop_map(|p| p.join(";"))
}

const ICS: &str = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Europe/Berlin:20260302T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=Europe/Berlin:20260309T090000\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:a\r\nRECURRENCE-ID;TZID=Europe/Berlin:20260316T090000\r\nDTSTART;TZID=Europe/Berlin:20260316T120000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

const EWS: &str = r#"<t:CalendarItem><t:ItemId Id="A" ChangeKey="B"/><t:Start>2026-03-02T09:00:00Z</t:Start><t:End>2026-03-02T09:30:00Z</t:End><t:Recurrence><t:AbsoluteYearlyRecurrence><t:DayOfMonth>29</t:DayOfMonth><t:Month>February</t:Month></t:AbsoluteYearlyRecurrence><t:NoEndRecurrence><t:StartDate>2024-02-29</t:StartDate></t:NoEndRecurrence></t:Recurrence><t:DeletedOccurrences><t:DeletedOccurrence><t:Start>2028-02-29T09:00:00Z</t:Start></t:DeletedOccurrence></t:DeletedOccurrences></t:CalendarItem>"#;

/// `text` with a slice cut out and another character put in.
fn mangle(text: &'static str) -> impl Strategy<Value = String> {
    (0..text.len(), 0..40usize, any::<char>()).prop_map(move |(at, cut, c)| {
        let mut s: Vec<char> = text.chars().collect();
        let at = at.min(s.len());
        let end = (at + cut).min(s.len());
        s.splice(at..end, [c]);
        s.into_iter().collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn rule_text_never_panics(text in "\\PC{0,80}", parts in mangled_rule()) {
        let _ = text.parse::<Rule>();
        let _ = parts.parse::<Rule>();
    }

    #[test]
    fn mangled_files_never_panic(ics in mangle(ICS), ews in mangle(EWS)) {
        let _ = calrep_core::ical::read_series(&ics);
        let _ = calrep_core::ews::read_calendar_items(&ews);
    }

    #[test]
    fn valid_rules_expand_or_fail_with_a_typed_error(
        parts in mangled_rule(),
        // From 1980 on, and near the end of the calendar (year 9999).
        day in prop_oneof![0i64..20_000, 2_915_000i64..2_925_000],
        offset in -4_000i64..4_000,
        len in 1i64..400,
        all_day in any::<bool>(),
    ) {
        let Ok(rule) = parts.parse::<Rule>() else { return Ok(()) };
        let date = NaiveDate::from_ymd_opt(1980, 1, 1).unwrap() + TimeDelta::days(day);
        let start = if all_day {
            SeriesStart::Date(date)
        } else {
            SeriesStart::Zoned(date.and_hms_opt(2, 30, 0).unwrap(), chrono_tz::America::Santiago)
        };
        let set = RecurrenceSet::new(start).rule(rule);
        let from: DateTime<Utc> = date.and_hms_opt(0, 0, 0).unwrap().and_utc() + TimeDelta::days(offset);
        let found = set.between(from, from + TimeDelta::days(len));
        if let Ok(found) = found {
            prop_assert!(found.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
        }
    }
}
