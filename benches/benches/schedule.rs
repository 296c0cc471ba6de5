//! Next-run computations per second, for the schedule kinds and zones with
//! and without daylight-saving time.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use calrep_core::{Schedule, SchedulePlan};
use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;

fn plan(zone: &str, when: serde_json::Value) -> SchedulePlan {
    let schedule: Schedule =
        serde_json::from_value(json!({"id": "b", "time_zone": zone, "when": when})).unwrap();
    SchedulePlan::new(&schedule).unwrap()
}

fn next_after(c: &mut Criterion) {
    let cases = [
        (
            "daily_once/Europe_Berlin",
            plan(
                "Europe/Berlin",
                json!({"daily": {"once": {"start": "02:30"}}}),
            ),
        ),
        (
            "daily_many_15min/America_New_York",
            plan(
                "America/New_York",
                json!({"daily": {"many": {"start": "06:00", "end": "22:00", "interval_minutes": 15}}}),
            ),
        ),
        (
            "weekly_many/W_Europe_Standard_Time",
            plan(
                "W. Europe Standard Time",
                json!({"weekly": {"days": ["mon", "wed", "fri"], "times": {"many": {"start": "08:00", "end": "18:00", "interval_minutes": 30}}}}),
            ),
        ),
        (
            "daily_once/UTC",
            plan("UTC", json!({"daily": {"once": {"start": "02:30"}}})),
        ),
    ];
    // 1,000 instants spread over three years, seven hours and a bit apart.
    let start: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    let instants: Vec<DateTime<Utc>> = (0..1_000)
        .map(|i| start + TimeDelta::seconds(i * 94_613))
        .collect();
    let mut group = c.benchmark_group("schedule/next_after");
    group.throughput(Throughput::Elements(instants.len() as u64));
    for (name, plan) in &cases {
        // Each answer is a run after its instant.
        assert!(instants.iter().all(|t| plan.next_after(*t).unwrap() > *t));
        group.bench_function(*name, |b| {
            b.iter(|| {
                for t in &instants {
                    std::hint::black_box(plan.next_after(std::hint::black_box(*t)));
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, next_after);
criterion_main!(benches);
