//! Differential test: Exchange-style series expanded by calrep against
//! python-dateutil's rrule, which expands the RRULE calrep's export writes
//! for the same series (`calrep_core::ical::rrule`, the EWS → RFC 5545
//! table in the design notes) — over random patterns, ranges and DST-heavy
//! zones. A disagreement is a bug in the expander or in the mapping.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use calrep_core::calendar::{DayOfWeekIndex, DaysOfWeek, ItemTime, Pattern, Range, Recurrence};
use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, TimeDelta, TimeZone, Utc, Weekday};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};

use calrep_testkit::DST_HEAVY_ZONES as ZONES;
/// Monday to Sunday.
fn week() -> Vec<Weekday> {
    DaysOfWeek::AnyDay.weekdays()
}

fn days_of_week() -> impl Strategy<Value = DaysOfWeek> {
    prop_oneof![
        4 => prop::sample::select(week()).prop_map(DaysOfWeek::Day),
        1 => Just(DaysOfWeek::AnyDay),
        1 => Just(DaysOfWeek::Weekday),
        1 => Just(DaysOfWeek::WeekendDay),
    ]
}

fn index() -> impl Strategy<Value = DayOfWeekIndex> {
    prop::sample::select(vec![
        DayOfWeekIndex::First,
        DayOfWeekIndex::Second,
        DayOfWeekIndex::Third,
        DayOfWeekIndex::Fourth,
        DayOfWeekIndex::Last,
    ])
}

fn pattern() -> impl Strategy<Value = Pattern> {
    prop_oneof![
        (1u16..20).prop_map(|interval| serde_json::from_value(
            json!({"type": "daily", "interval": interval})
        )
        .unwrap()),
        (
            1u16..5,
            prop::sample::subsequence(week(), 1..=7),
            prop::sample::select(vec![Weekday::Mon, Weekday::Sun])
        )
            .prop_map(|(interval, days, fdow)| serde_json::from_value(json!({
                "type": "weekly", "interval": interval,
                "days": days.iter().map(|d| d.to_string().to_lowercase()).collect::<Vec<_>>(),
                "first_day_of_week": fdow.to_string().to_lowercase()}))
            .unwrap()),
        (1u16..4, 1u8..=31).prop_map(|(interval, d)| serde_json::from_value(
            json!({"type": "absolute_monthly", "interval": interval, "day_of_month": d})
        )
        .unwrap()),
        (1u16..4, days_of_week(), index()).prop_map(|(interval, days, index)| {
            serde_json::from_value(json!({
            "type": "relative_monthly", "interval": interval, "days": days, "index": index}))
            .unwrap()
        }),
        (1u8..=12, 1u8..=31, 1u16..3).prop_map(|(month, d, interval)| serde_json::from_value(
            json!({"type": "absolute_yearly", "interval": interval, "month": month, "day_of_month": d})
        )
        .unwrap()),
        (1u8..=12, days_of_week(), index(), 1u16..3).prop_map(|(month, days, index, interval)| {
            serde_json::from_value(json!({
            "type": "relative_yearly", "interval": interval, "month": month, "days": days, "index": index}))
            .unwrap()
        }),
    ]
}

#[derive(Debug)]
struct Case {
    recurrence: Recurrence,
    time: ItemTime,
    zone: chrono_tz::Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    oracle: Value,
}

fn case() -> impl Strategy<Value = Case> {
    (
        pattern(),
        0u8..3,
        0i64..(4 * 365),
        0u32..(24 * 4),
        prop::sample::select(ZONES),
        1u32..200,
        0i64..(6 * 365),
        1i64..400,
        15i64..600,
    )
        .prop_filter_map("DTSTART must exist in its zone", |(pattern, range_kind, start_off, quarter, zone_name, n, win_off, win_len, minutes)| {
            let zone: chrono_tz::Tz = zone_name.parse().unwrap();
            let start_date = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() + TimeDelta::days(start_off);
            let range: Range = match range_kind {
                0 => serde_json::from_value(json!({"type": "no_end", "start_date": start_date})).unwrap(),
                1 => serde_json::from_value(json!({"type": "numbered", "start_date": start_date, "count": n})).unwrap(),
                _ => serde_json::from_value(json!({"type": "end_date", "start_date": start_date, "end_date": start_date + TimeDelta::days(i64::from(n) * 9)})).unwrap(),
            };
            let local = start_date.and_time(NaiveTime::from_hms_opt(quarter / 4, (quarter % 4) * 15, 0).unwrap());
            // A master's start is an instant, so a series cannot start at a
            // wall-clock time that does not exist.
            let start = zone.from_local_datetime(&local).earliest()?.with_timezone(&Utc);
            // The master's time: only its local time of day and duration matter.
            let time = ItemTime::Timed { start, end: start + TimeDelta::minutes(minutes) };
            let recurrence: Recurrence = serde_json::from_value(json!({"pattern": pattern, "range": range})).unwrap();
            let from = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap() + TimeDelta::days(win_off);
            let to = from + TimeDelta::days(win_len);
            let oracle = json!({
                "rrule": format!("RRULE:{}", calrep_core::ical::rrule(&recurrence.pattern, &recurrence.range, zone, false)),
                "dtstart": local.format("%Y-%m-%dT%H:%M:%S").to_string(),
                "zone": zone_name, "duration": minutes * 60,
                "from": from.to_rfc3339_opts(SecondsFormat::Secs, true),
                "to": to.to_rfc3339_opts(SecondsFormat::Secs, true),
            });
            Some(Case { recurrence, time, zone, from, to, oracle })
        })
}

fn oracle(cases: &[Case]) -> Vec<Vec<String>> {
    let input = Value::Array(cases.iter().map(|c| c.oracle.clone()).collect());
    serde_json::from_value(calrep_testkit::run_oracle("expand_rrule.py", &input)).unwrap()
}

#[test]
fn series_expansion_matches_python_dateutil() {
    let mut runner = calrep_testkit::seeded_runner();
    let strategy = case();
    let cases: Vec<Case> = (0..2_000)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let expected = oracle(&cases);
    let mut occurrences = 0;
    let mut failures = Vec::new();
    for (case, expected) in cases.iter().zip(&expected) {
        // Graph's form of the series maps back to the same series.
        let graph = case.recurrence.to_graph();
        assert_eq!(
            Recurrence::from_graph(&graph).unwrap(),
            case.recurrence,
            "{graph}"
        );
        let got: Vec<String> = case
            .recurrence
            .occurrences(&case.time, case.zone, case.from, case.to)
            .unwrap()
            .iter()
            .map(|o| o.start.to_rfc3339_opts(SecondsFormat::Secs, true))
            .collect();
        occurrences += got.len();
        if &got != expected {
            failures.push(format!(
                "{}\n  calrep:   {:?}\n  dateutil: {:?}",
                case.oracle,
                got.iter().take(6).collect::<Vec<_>>(),
                expected.iter().take(6).collect::<Vec<_>>()
            ));
        }
    }
    eprintln!(
        "{} cases, {occurrences} occurrences; {} passed, {} failed",
        cases.len(),
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements, first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
