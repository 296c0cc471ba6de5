//! Property tests for schedules: over random schedules in random zones, runs
//! strictly increase, fall on allowed days, and sit inside their windows
//! (or at the end of a spring-forward gap that swallowed a slot).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use calrep_core::{Schedule, SchedulePlan};
use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, Timelike, Utc};
use proptest::prelude::*;
use serde_json::json;

const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Pacific/Apia",
    "Pacific/Chatham",
    "Asia/Tehran",
    "America/St_Johns",
    "Europe/Dublin",
    "Africa/Casablanca",
    "W. Europe Standard Time",
    "Pacific Standard Time",
];

#[derive(Debug, Clone)]
struct Spec {
    zone: &'static str,
    days: Vec<u8>,
    start: u32,
    window: Option<(u32, u16)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(ZONES),
        prop::collection::btree_set(0u8..7, 1..=7),
        0u32..1440,
        prop::option::of((1u32..1440, 1u16..=240)),
    )
        .prop_map(|(zone, days, start, window)| Spec {
            zone,
            days: days.into_iter().collect(),
            start,
            window: window.map(|(len, step)| (len.min(1439 - start.min(1438)).max(1), step)),
        })
        .prop_filter("window fits the day", |s| {
            s.window.is_none_or(|(len, _)| s.start + len < 1440)
        })
}

fn hm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn schedule(spec: &Spec) -> Schedule {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let times = match spec.window {
        None => json!({"once": {"start": hm(spec.start)}}),
        Some((len, step)) => {
            json!({"many": {"start": hm(spec.start), "end": hm(spec.start + len), "interval_minutes": step}})
        }
    };
    let days: Vec<_> = spec.days.iter().map(|d| NAMES[usize::from(*d)]).collect();
    serde_json::from_value(json!({"id": "p", "time_zone": spec.zone, "when": {"weekly": {"days": days, "times": times}}}))
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn runs_increase_and_respect_days_and_windows(spec in spec(), start in 1_600_000_000i64..2_000_000_000) {
        let plan = SchedulePlan::new(&schedule(&spec)).unwrap();
        let zone = plan.zone().tz();
        let after = DateTime::<Utc>::from_timestamp(start, 0).unwrap();
        let mut previous = after;
        for run in plan.upcoming(after).take(200) {
            let utc = run.with_timezone(&Utc);
            prop_assert!(utc > previous, "{run} is not after {previous}");
            previous = utc;
            let wall = run.naive_local();
            let shifted = zone_changed_just_before(zone, utc);
            // A slot swallowed by a gap runs when the gap ends, which may be
            // the next wall-clock day only if the gap crosses midnight.
            let day = if shifted && wall.time() < NaiveTime::from_hms_opt(3, 0, 0).unwrap() {
                [wall.date(), wall.date().pred_opt().unwrap()]
            } else {
                [wall.date(), wall.date()]
            };
            let day_ok = day.iter().any(|d| spec.days.contains(&u8::try_from(d.weekday().num_days_from_monday()).unwrap()));
            prop_assert!(day_ok, "{run} falls on a day the schedule does not run");
            let minute = wall.hour() * 60 + wall.minute();
            let (first, last, step) = match spec.window {
                None => (spec.start, spec.start, 1),
                Some((len, step)) => (spec.start, spec.start + len, u32::from(step)),
            };
            let on_grid = minute >= first && minute <= last && (minute - first) % step == 0 && wall.second() == 0;
            prop_assert!(on_grid || shifted, "{run} is off the schedule's grid and not at a transition");
        }
    }

    #[test]
    fn next_after_any_instant_is_the_following_run(spec in spec(), start in 1_600_000_000i64..2_000_000_000, probe in 0i64..(14 * 86_400)) {
        let plan = SchedulePlan::new(&schedule(&spec)).unwrap();
        let after = DateTime::<Utc>::from_timestamp(start, 0).unwrap();
        let runs: Vec<DateTime<Utc>> = plan.upcoming(after).take(400).map(|t| t.with_timezone(&Utc)).collect();
        let x = after + TimeDelta::seconds(probe);
        let expected = runs.iter().find(|r| **r > x);
        if let (Some(expected), Some(last)) = (expected, runs.last())
            && expected < last
        {
            prop_assert_eq!(plan.next_after(x).map(|t| t.with_timezone(&Utc)), Some(*expected));
        }
    }
}

/// Whether the zone's offset changes at `t` (t is the first instant after a
/// transition).
fn zone_changed_just_before(zone: chrono_tz::Tz, t: DateTime<Utc>) -> bool {
    use chrono::Offset;
    use chrono::TimeZone;
    let before = zone
        .offset_from_utc_datetime(&(t - TimeDelta::seconds(1)).naive_utc())
        .fix();
    let at = zone.offset_from_utc_datetime(&t.naive_utc()).fix();
    before != at
}

#[test]
fn a_one_off_in_the_past_never_runs() {
    let s: Schedule = serde_json::from_value(
        json!({"id": "o", "time_zone": "Europe/Berlin", "when": {"one_off": {"at": "2026-05-01T09:00"}}}),
    )
    .unwrap();
    let plan = SchedulePlan::new(&s).unwrap();
    let before: DateTime<Utc> = "2026-05-01T06:59:59Z".parse().unwrap();
    let after: DateTime<Utc> = "2026-05-01T07:00:00Z".parse().unwrap();
    assert_eq!(plan.upcoming(before).count(), 1);
    assert_eq!(plan.next_after(after), None);
}
