//! Differential test: schedule runs computed by calrep against an independent
//! Python implementation on the standard library's `zoneinfo`
//! (`tests/kit/oracle/schedule_runs.py`), over zones with spring-forward gaps,
//! fall-back overlaps, half-hour shifts and midnight transitions, for three
//! whole years.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use calrep_core::{Schedule, SchedulePlan};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

const ZONES: &[&str] = &[
    "America/New_York",
    "Europe/Berlin",
    "Europe/London",
    "Australia/Lord_Howe",
    "Australia/Sydney",
    "America/Santiago",
    "America/Havana",
    "Pacific/Chatham",
    "Asia/Kolkata",
];

/// One schedule in both forms: calrep's configuration and the oracle's input.
struct Case {
    schedule: Schedule,
    oracle: Value,
}

fn weekday_names(days: &[u8]) -> Vec<&'static str> {
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    days.iter().map(|d| NAMES[usize::from(*d)]).collect()
}

fn case(
    zone: &str,
    days: &[u8],
    start: &str,
    many: Option<(&str, u16)>,
    after: &str,
    count: usize,
) -> Case {
    let times = match many {
        None => json!({"once": {"start": start}}),
        Some((end, interval)) => {
            json!({"many": {"start": start, "end": end, "interval_minutes": interval}})
        }
    };
    let when = if days.len() == 7 {
        json!({ "daily": times })
    } else {
        json!({ "weekly": {"days": weekday_names(days), "times": times} })
    };
    let schedule =
        serde_json::from_value(json!({"id": "s", "time_zone": zone, "when": when})).unwrap();
    let oracle = json!({
        "kind": "days", "zone": zone, "days": days, "start": start,
        "end": many.map(|m| m.0), "interval": many.map(|m| m.1),
        "after": after, "count": count,
    });
    Case { schedule, oracle }
}

fn one_off(zone: &str, at: &str, after: &str) -> Case {
    let schedule = serde_json::from_value(
        json!({"id": "s", "time_zone": zone, "when": {"one_off": {"at": at}}}),
    )
    .unwrap();
    let oracle = json!({"kind": "one_off", "zone": zone, "at": at, "after": after, "count": 1});
    Case { schedule, oracle }
}

fn cases() -> Vec<Case> {
    let after = "2025-01-01T00:00:00Z";
    let every_day = [0, 1, 2, 3, 4, 5, 6];
    let mut cases = Vec::new();
    for zone in ZONES {
        // Three years of daily runs at times that fall in gaps or overlaps
        // in one zone or another (00:30 Santiago/Havana, 02:xx most, 02:15
        // Lord Howe and Chatham).
        for start in [
            "00:00", "00:30", "01:30", "02:15", "02:30", "02:45", "03:00", "23:30",
        ] {
            cases.push(case(zone, &every_day, start, None, after, 3 * 366));
        }
        // Many-runs windows across transition hours, on the wall-clock grid.
        cases.push(case(
            zone,
            &every_day,
            "00:00",
            Some(("04:00", 15)),
            after,
            3 * 366 * 17,
        ));
        cases.push(case(
            zone,
            &every_day,
            "01:10",
            Some(("03:50", 20)),
            after,
            3 * 366 * 9,
        ));
        cases.push(case(
            zone,
            &every_day,
            "22:00",
            Some(("23:59", 7)),
            after,
            2000,
        ));
        // Weekly: weekends only (most transitions are on Sundays), and a
        // single weekday.
        cases.push(case(
            zone,
            &[5, 6],
            "00:30",
            Some(("03:30", 30)),
            after,
            3 * 105 * 7,
        ));
        cases.push(case(zone, &[2], "02:30", None, after, 3 * 53));
        // One-offs inside the 2026 transitions and in the past.
        for at in [
            "2026-03-08T02:30",
            "2026-03-29T02:30",
            "2026-04-05T02:15",
            "2026-09-06T00:30",
            "2026-10-25T01:30",
            "2026-11-01T01:30",
            "2026-04-05T02:30",
            "2024-06-01T12:00",
        ] {
            cases.push(one_off(zone, at, after));
        }
    }
    cases
}

fn calrep_runs(case: &Case) -> Vec<String> {
    let plan = SchedulePlan::new(&case.schedule).unwrap();
    let after: DateTime<Utc> = case.oracle["after"].as_str().unwrap().parse().unwrap();
    let count = usize::try_from(case.oracle["count"].as_u64().unwrap()).unwrap();
    plan.upcoming(after)
        .take(count)
        .map(|t| {
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Secs, true)
        })
        .collect()
}

fn oracle_runs(cases: &[Case]) -> Vec<Vec<String>> {
    let input = Value::Array(cases.iter().map(|c| c.oracle.clone()).collect());
    serde_json::from_value(calrep_testkit::run_oracle("schedule_runs.py", &input)).unwrap()
}

#[test]
fn schedule_runs_match_python_zoneinfo() {
    let cases = cases();
    let expected = oracle_runs(&cases);
    assert_eq!(expected.len(), cases.len());
    let mut compared = 0;
    for (case, expected) in cases.iter().zip(&expected) {
        let actual = calrep_runs(case);
        if let Some(i) =
            (0..actual.len().max(expected.len())).find(|&i| actual.get(i) != expected.get(i))
        {
            panic!(
                "{}: run {i} differs: calrep {:?}, zoneinfo {:?}",
                case.oracle,
                actual.get(i),
                expected.get(i)
            );
        }
        compared += actual.len();
    }
    eprintln!(
        "{} schedules, {compared} runs agree with zoneinfo",
        cases.len()
    );
    assert!(
        compared > 300_000,
        "the comparison covered too little: {compared} runs"
    );
}
