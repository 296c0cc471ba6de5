//! Differential test: random RFC 5545 rules expanded by `calrep_core::recur`
//! against python-dateutil (tests/kit/oracle/expand_general.py) in DST-heavy and
//! midnight-switch zones, timed and all-day, over random windows.
//!
//! The seed is printed; `CALREP_SEED=N` replays a run. Where dateutil and
//! RFC 5545 part ways, the generator or the oracle steers around it, and
//! each such class is written down, with why calrep is right, in
//! tests/recurrence/dateutil-disagreements.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use calrep_core::recur::{RecurrenceSet, Rule, SeriesStart};
use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, TimeDelta, Utc};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};

use calrep_testkit::DST_HEAVY_ZONES as ZONES;

const DAYS: [&str; 7] = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

#[derive(Debug, Clone)]
struct Case {
    rule: String,
    all_day: bool,
    start: chrono::NaiveDateTime,
    zone: &'static str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
}

fn values(range: std::ops::RangeInclusive<i32>, signed: bool) -> impl Strategy<Value = String> {
    prop::collection::vec((range, any::<bool>()), 1..=3).prop_map(move |v| {
        v.into_iter()
            .map(|(n, neg)| if signed && neg { -n } else { n }.to_string())
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// A BYDAY list, all numbered or all plain: dateutil intersects numbered
/// and plain days given together, where RFC 5545 (and ical.net's block
/// icalnet-RecurrenceTestCases.txt:350, which calrep passes) unites them.
fn by_day(numbered: bool) -> impl Strategy<Value = String> {
    prop::collection::vec((0usize..7, 1i32..=4, any::<bool>()), 1..=3).prop_map(move |v| {
        v.into_iter()
            .map(|(d, n, from_end)| {
                if numbered {
                    format!("{}{}", if from_end { -n } else { n }, DAYS[d])
                } else {
                    DAYS[d].to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// A rule (without its end) valid under RFC 5545 for the frequency.
fn rule_body(all_day: bool) -> impl Strategy<Value = (String, &'static str)> {
    let freqs: Vec<&'static str> = if all_day {
        vec!["YEARLY", "MONTHLY", "WEEKLY", "DAILY"]
    } else {
        vec![
            "YEARLY", "YEARLY", "MONTHLY", "MONTHLY", "WEEKLY", "WEEKLY", "DAILY", "DAILY",
            "HOURLY", "MINUTELY",
        ]
    };
    (
        prop::sample::select(freqs),
        prop_oneof![3 => Just(1u32), 1 => 2u32..5],
        prop::option::weighted(0.25, values(1..=12, false)),
        prop::option::weighted(0.25, values(1..=31, true)),
        prop::option::weighted(0.15, values(1..=366, true)),
        prop::option::weighted(0.35, any::<bool>()),
        prop::option::weighted(0.2, values(0..=23, false)),
        prop::option::weighted(0.15, prop::sample::select(vec!["0", "15,45", "0,30", "10"])),
        prop::option::weighted(0.15, values(1..=4, true)),
        prop::sample::select(vec!["", "", "", ";WKST=SU"]),
        (by_day(true), by_day(false)),
    )
        .prop_map(
            move |(
                freq,
                interval,
                month,
                month_day,
                year_day,
                day,
                hour,
                minute,
                setpos,
                wkst,
                days,
            )| {
                // dateutil only looks at UNTIL once a candidate matches, so a
                // rule whose day filters almost never meet keeps it busy for
                // seconds: at most two day-level parts (one below daily).
                let sub_daily = matches!(freq, "HOURLY" | "MINUTELY");
                let mut budget = if sub_daily { 1 } else { 2 };
                let mut take = |present: bool| {
                    let ok = present && budget > 0;
                    budget -= usize::from(ok);
                    ok
                };
                let month = month.filter(|_| take(true));
                let month_day = month_day.filter(|_| take(freq != "WEEKLY"));
                let year_day =
                    year_day.filter(|_| take(matches!(freq, "YEARLY" | "HOURLY" | "MINUTELY")));
                let day = day.filter(|_| take(true));
                let month_from_start = freq == "YEARLY" && month.is_none() && month_day.is_some();
                let mut r = format!("FREQ={freq}");
                if interval > 1 {
                    r += &format!(";INTERVAL={interval}");
                }
                if let Some(m) = month {
                    r += &format!(";BYMONTH={m}");
                }
                if let Some(d) = month_day.filter(|_| freq != "WEEKLY") {
                    r += &format!(";BYMONTHDAY={d}");
                }
                if let Some(d) =
                    year_day.filter(|_| matches!(freq, "YEARLY" | "HOURLY" | "MINUTELY"))
                {
                    r += &format!(";BYYEARDAY={d}");
                }
                let mut plain_days = false;
                // The oracle reads a yearly BYMONTHDAY's month from DTSTART by
                // adding BYMONTH, which would make dateutil count numbered
                // days within the month instead of the year (ical.net's block
                // icalnet-RecurrenceTestCases.txt:249 counts in the year).
                if let Some(numbered) = day {
                    let numbered =
                        numbered && matches!(freq, "YEARLY" | "MONTHLY") && !month_from_start;
                    plain_days = !numbered;
                    r += &format!(";BYDAY={}", if numbered { &days.0 } else { &days.1 });
                }
                if !all_day {
                    if let Some(h) = hour {
                        r += &format!(";BYHOUR={h}");
                    }
                    if let Some(m) = minute {
                        r += &format!(";BYMINUTE={m}");
                    }
                }
                // Positions past the end of every period make a rule that
                // never matches, which dateutil searches until the year 9999:
                // beyond ±1 only where each period surely has four or more.
                // dateutil cuts a weekly rule's first week at DTSTART before
                // counting positions (tests/recurrence/dateutil-disagreements.md).
                let setpos = setpos.filter(|_| freq != "WEEKLY");
                let roomy = matches!(freq, "YEARLY" | "MONTHLY")
                    && plain_days
                    && !r.contains("BYMONTHDAY")
                    && !r.contains("BYYEARDAY");
                if let Some(p) = setpos.filter(|_| r.contains(";BY")) {
                    let p = if roomy {
                        p
                    } else if p.starts_with('-') {
                        "-1".to_owned()
                    } else {
                        "1".to_owned()
                    };
                    r += &format!(";BYSETPOS={p}");
                }
                r += wkst;
                (r, freq)
            },
        )
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::bool::weighted(0.15),
        prop::sample::select(ZONES),
        0i64..(10 * 365),
        // Quarter hours, with the small hours (gaps, midnight switches) often.
        prop_oneof![1 => 0u32..96, 1 => 0u32..16],
        0u8..3,
        1u32..60,
        0i64..(3 * 365),
        1i64..400,
    )
        .prop_flat_map(|(all_day, zone, day, quarter, end, n, offset, len)| {
            rule_body(all_day).prop_map(move |(body, freq)| {
                let date = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap() + TimeDelta::days(day);
                let time = if all_day {
                    NaiveTime::MIN
                } else {
                    NaiveTime::from_hms_opt(quarter / 4, (quarter % 4) * 15, 0).unwrap()
                };
                let start = date.and_time(time);
                let sub_daily = matches!(freq, "HOURLY" | "MINUTELY");
                let until_days = if sub_daily {
                    i64::from(n % 5) + 1
                } else {
                    i64::from(n) * 25
                };
                let until = start + TimeDelta::days(until_days);
                let mut rule = body;
                match (end, sub_daily) {
                    (0, false) => {}
                    (1, _) | (0, true) => {
                        rule += &format!(";COUNT={}", n * if sub_daily { 5 } else { 1 })
                    }
                    _ if all_day => rule += &format!(";UNTIL={}", until.format("%Y%m%d")),
                    // UNTIL in UTC, as RFC 5545 requires with a zoned start.
                    _ => rule += &format!(";UNTIL={}", until.format("%Y%m%dT%H%M%SZ")),
                }
                let (offset, len) = if sub_daily {
                    (offset % 4, len % 4 + 1)
                } else {
                    (offset, len)
                };
                let from = (start - TimeDelta::days(20) + TimeDelta::days(offset)).and_utc();
                Case {
                    rule,
                    all_day,
                    start,
                    zone,
                    from,
                    to: from + TimeDelta::days(len),
                }
            })
        })
}

fn calrep(case: &Case) -> Result<Vec<String>, String> {
    let rule: Rule = case.rule.parse().map_err(|e| format!("{e}"))?;
    let start = if case.all_day {
        SeriesStart::Date(case.start.date())
    } else {
        SeriesStart::Zoned(case.start, case.zone.parse().unwrap())
    };
    let set = RecurrenceSet::new(start).rule(rule);
    let found = set
        .between(case.from, case.to)
        .map_err(|e| format!("{e}"))?;
    Ok(found.iter().map(ToString::to_string).collect())
}

#[test]
fn rule_expansion_matches_python_dateutil() {
    let mut runner = calrep_testkit::seeded_runner();
    let strategy = case();
    let cases: Vec<Case> = (0..2_500)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            json!({
                "rrule": c.rule,
                "all_day": c.all_day,
                "dtstart": if c.all_day {
                    c.start.date().to_string()
                } else {
                    c.start.format("%Y-%m-%dT%H:%M:%S").to_string()
                },
                "zone": c.zone,
                "from": c.from.to_rfc3339_opts(SecondsFormat::Secs, true),
                "to": c.to.to_rfc3339_opts(SecondsFormat::Secs, true),
            })
        })
        .collect();
    if let Ok(path) = std::env::var("CALREP_DUMP") {
        std::fs::write(path, serde_json::to_vec(&input).unwrap()).unwrap();
    }
    let expected: Vec<Vec<String>> = serde_json::from_value(calrep_testkit::run_oracle(
        "expand_general.py",
        &Value::Array(input.clone()),
    ))
    .unwrap();
    let zones: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.zone).collect();
    let mut occurrences = 0;
    let mut failures = Vec::new();
    for (case, expected) in cases.iter().zip(&expected) {
        match calrep(case) {
            Ok(got) if &got == expected => occurrences += got.len(),
            Ok(got) => failures.push(format!(
                "{case:?}\n  calrep:   {:?}\n  dateutil: {:?}",
                got.iter().take(8).collect::<Vec<_>>(),
                expected.iter().take(8).collect::<Vec<_>>()
            )),
            Err(e) => failures.push(format!("{case:?}\n  calrep error: {e}")),
        }
    }
    println!(
        "{} rules in {} zones, {occurrences} occurrences: {} passed, {} failed",
        cases.len(),
        zones.len(),
        cases.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements (replay with the seed printed above), first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(4)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
