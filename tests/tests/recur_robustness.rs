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

/// `between_local` carries each occurrence's wall time out of the expander
/// instead of looking the zone up again: it must show what reading the
/// instant in the zone shows (the direction with one answer), with the same
/// occurrences as `between`, around every kind of daylight-saving change.
mod local_walls {
    use calrep_core::recur::{Instance, LocalTimePolicy, RecurrenceSet, SeriesStart, SetDate};
    use chrono::{DateTime, LocalResult, NaiveDate, TimeDelta, TimeZone, Utc};
    use chrono_tz::Tz;
    use proptest::prelude::*;

    const ZONES: &[Tz] = &[
        chrono_tz::America::New_York,
        chrono_tz::Europe::Berlin,
        chrono_tz::Australia::Lord_Howe,
        chrono_tz::America::Santiago,
        chrono_tz::Asia::Kolkata,
    ];
    const RULES: &[&str] = &[
        "FREQ=HOURLY;INTERVAL=1",
        "FREQ=MINUTELY;INTERVAL=20",
        "FREQ=DAILY",
        "FREQ=WEEKLY;BYDAY=SU,MO",
        "FREQ=MONTHLY;BYDAY=1SU,-1SU;BYHOUR=0,1,2,3",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn the_wall_time_is_the_instant_read_in_the_zone(
            zone in prop::sample::select(ZONES),
            rule in prop::sample::select(RULES),
            // A day of 2024–2027 on which the zone's offset changes (every
            // zone but Kolkata has changes both ways), or any day; times
            // close to the changes' hours.
            change in prop::option::of(0usize..16),
            any_day in 0i64..1_460,
            minute in 0u32..(4 * 60),
            skip in any::<bool>(),
            rdate_hours in prop::collection::vec(0i64..72, 0..6),
        ) {
            let base = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
            let offset_at = |d: i64| {
                let t = (base + TimeDelta::days(d)).and_hms_opt(12, 0, 0).unwrap().and_utc();
                t.with_timezone(&zone).naive_local() - t.naive_utc()
            };
            let changes: Vec<i64> = (0..1_460).filter(|&d| offset_at(d) != offset_at(d + 1)).collect();
            let day = match change {
                Some(i) if !changes.is_empty() => changes[i % changes.len()] + 1,
                _ => any_day,
            };
            let wall = (base + TimeDelta::days(day)).and_hms_opt(minute / 60, minute % 60, 0).unwrap();
            let policy = if skip { LocalTimePolicy::SkipNonexistent } else { LocalTimePolicy::Rfc5545 };
            let mut set = RecurrenceSet::new(SeriesStart::Zoned(wall, zone))
                .rule(rule.parse().unwrap())
                .policy(policy);
            for h in &rdate_hours {
                // Instants on the half hour around the day: some fall in a
                // repeated hour.
                let first = (base + TimeDelta::days(day - 1)).and_hms_opt(0, 30, 0).unwrap();
                set = set.rdate(SetDate::Utc(first.and_utc() + TimeDelta::hours(*h)));
            }
            let from: DateTime<Utc> = wall.and_utc() - TimeDelta::days(3);
            let to = from + TimeDelta::days(40);
            let plain = set.between(from, to).unwrap();
            let local = set.between_local(from, to).unwrap();
            prop_assert_eq!(local.iter().map(|l| l.instance).collect::<Vec<_>>(), plain);
            for l in &local {
                let Instance::At(t) = l.instance else {
                    return Err(TestCaseError::fail("a zoned series gave a non-instant"));
                };
                let shown = t.with_timezone(&zone);
                prop_assert_eq!(l.wall, shown.naive_local(), "{:?}", l);
                let second_reading = match zone.from_local_datetime(&l.wall) {
                    LocalResult::Ambiguous(a, b) => a.max(b) == shown,
                    _ => false,
                };
                prop_assert_eq!(l.fold, second_reading, "{:?}", l);
            }
        }
    }
}

/// Expansion budgets: rules that would take minutes and gigabytes end
/// with a typed error instead.
mod budgets {
    use calrep_core::calendar::ModifiedOccurrence;
    use calrep_core::recur::{ExpandError, RecurrenceSet, SeriesStart};
    use calrep_testkit::fixture::weekly;
    use chrono::{DateTime, TimeDelta, Utc};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn expand(rule: &str, from: &str, to: &str) -> Result<usize, ExpandError> {
        RecurrenceSet::new(SeriesStart::Zoned(
            "2000-01-01T00:00:00".parse().unwrap(),
            chrono_tz::Europe::Berlin,
        ))
        .rule(rule.parse().unwrap())
        .between(t(from), t(to))
        .map(|v| v.len())
    }

    #[test]
    fn a_huge_count_replayed_from_far_back_is_refused() {
        let result = expand(
            "FREQ=SECONDLY;COUNT=2147483648",
            "2026-01-01T00:00:00Z",
            "2026-01-02T00:00:00Z",
        );
        assert!(matches!(result, Err(ExpandError::Budget(_))), "{result:?}");
    }

    #[test]
    fn bysetpos_over_millions_of_candidates_is_refused() {
        let result = expand(
            "FREQ=YEARLY;BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;BYWEEKNO=1,2,3,4,5,6,7,8,9,10;\
             BYYEARDAY=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20;BYMONTHDAY=1,2,3,4,5,6,7,8,9,10;\
             BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;\
             BYMINUTE=0,5,10,15,20,25,30,35,40,45,50,55;BYSECOND=0,10,20,30,40,50;BYSETPOS=1,-1",
            "2000-01-01T00:00:00Z",
            "2100-01-01T00:00:00Z",
        );
        // Its days are 1–10 January (BYYEARDAY and BYMONTHDAY leave no
        // others), about 17,000 candidate times a year: within the budget,
        // so it expands — BYSETPOS=1,-1 keeps two a year, 200 in a century.
        // (It took 54 s when every part was crossed with every other.)
        assert_eq!(result, Ok(200));
        let every_second = expand(
            "FREQ=YEARLY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;\
             BYMINUTE=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59;\
             BYSECOND=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59;\
             BYYEARDAY=1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,56,57,58,59,60,61,62,63,64,65,66,67,68,69,70,71,72,73,74,75,76,77,78,79,80,81,82,83,84,85,86,87,88,89,90,91,92,93,94,95,96,97,98,99,100,101,102,103,104,105,106,107,108,109,110,111,112,113,114,115,116,117,118,119,120;BYSETPOS=1,-1",
            "2000-01-01T00:00:00Z",
            "2100-01-01T00:00:00Z",
        );
        assert!(
            matches!(every_second, Err(ExpandError::Budget(_))),
            "{every_second:?}"
        );
    }

    #[test]
    fn fifty_thousand_overrides_match_in_linear_time() {
        let mut item = weekly("w", "Standup", 60_000);
        let start: DateTime<Utc> = "2026-06-01T00:00:00Z".parse().unwrap();
        let until = start + TimeDelta::weeks(60_000);
        let originals = item.occurrences(start, until).unwrap();
        let rec = item.recurrence.as_mut().unwrap();
        for (i, o) in originals.iter().take(50_000).enumerate() {
            // Every other one moved by an hour, the rest by ten years
            // (from far outside any window near it).
            let shift = if i % 2 == 0 {
                TimeDelta::hours(1)
            } else {
                -TimeDelta::weeks(520)
            };
            rec.modified.push(ModifiedOccurrence::moved(
                o.start,
                o.start + shift,
                o.end + shift,
            ));
        }
        // Only the count is checked; quadratic matching took 31 s here, and
        // the test binary's own time limit is the harness's.
        let found = item.occurrences(start, until).unwrap();
        assert_eq!(
            found.iter().filter(|o| o.is_exception).count(),
            50_000 - 260
        );
        // A window whose exceptions all come from ten years later.
        let window = item
            .occurrences(start + TimeDelta::weeks(100), start + TimeDelta::weeks(200))
            .unwrap();
        assert_eq!(window.iter().filter(|o| o.is_exception).count(), 100);
    }
}
