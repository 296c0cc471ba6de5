//! Recurrence and diff benchmarks:
//! - expansion throughput (occurrences/s) on the fixed rule set (the
//!   python-dateutil side of the comparison is `expand-vs-dateutil`);
//! - a one-week window of a 20-year daily series near its start and near its
//!   end: the cost must not grow with the series' age;
//! - the diff of two 100,000-item calendars (10 % recurring, 1 % changed)
//!   against merely hashing the same items.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hash::{DefaultHasher, Hash, Hasher};

use calrep_benches::engine::item;
use calrep_benches::recurrence::RULES;
use calrep_core::calendar::{CalendarDiff, CalendarItem};
use calrep_core::recur::{RecurrenceSet, SeriesStart};
use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn expand(c: &mut Criterion) {
    let mut group = c.benchmark_group("expand");
    for rule in RULES {
        let (set, from, to) = rule.set().unwrap();
        let count = set.between(from, to).unwrap().len();
        group.throughput(Throughput::Elements(count as u64));
        group.bench_function(rule.name, |b| b.iter(|| set.between(from, to).unwrap()));
    }
    group.finish();
}

fn window(c: &mut Criterion) {
    let start = "2006-01-02T09:00:00".parse().unwrap();
    let set = RecurrenceSet::new(SeriesStart::Zoned(start, chrono_tz::Europe::Berlin))
        .rule("FREQ=DAILY;UNTIL=20251231T230000Z".parse().unwrap());
    let week = |from: &str| {
        let from: DateTime<Utc> = from.parse().unwrap();
        (from, from + TimeDelta::days(7))
    };
    let mut group = c.benchmark_group("window_of_a_20_year_daily_series");
    for (name, (from, to)) in [
        ("first_year", week("2006-03-06T00:00:00Z")),
        ("last_year", week("2025-11-03T00:00:00Z")),
    ] {
        assert_eq!(set.between(from, to).unwrap().len(), 7);
        group.bench_function(name, |b| b.iter(|| set.between(from, to).unwrap()));
    }
    group.finish();
}

/// Two versions of a 100,000-item calendar: every tenth item a weekly
/// series; 1 % of the items changed (subjects of single items, deleted
/// occurrences of series).
fn calendars() -> (Vec<CalendarItem>, Vec<CalendarItem>) {
    let before: Vec<CalendarItem> = (0..100_000).map(item).collect();
    let mut after = before.clone();
    let (from, to) = horizon();
    for (n, changed) in after.iter_mut().step_by(100).enumerate() {
        let first = changed.occurrences(from, to).unwrap().first().copied();
        match (&mut changed.recurrence, first) {
            (Some(rec), Some(o)) if n % 2 == 0 => rec.deleted.push(o.original_start),
            _ => changed.subject.push_str(" (moved to Friday)"),
        }
    }
    (before, after)
}

fn horizon() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        "2026-01-01T00:00:00Z".parse().unwrap(),
        "2027-06-01T00:00:00Z".parse().unwrap(),
    )
}

/// What a hash-based comparison costs at least: every item of both
/// calendars serialised and hashed.
fn hash_all(items: &[CalendarItem]) -> u64 {
    let mut total = 0u64;
    for i in items {
        let mut h = DefaultHasher::new();
        serde_json::to_vec(i).unwrap().hash(&mut h);
        total = total.wrapping_add(h.finish());
    }
    total
}

fn diff(c: &mut Criterion) {
    let (before, after) = calendars();
    let (from, to) = horizon();
    let d = CalendarDiff::between(&before, &after, from, to).unwrap();
    assert_eq!(d.modified.len(), 1_000);
    let mut group = c.benchmark_group("diff_100k_items_1pc_changed");
    group.sample_size(10);
    group.bench_function("diff", |b| {
        b.iter(|| CalendarDiff::between(&before, &after, from, to).unwrap())
    });
    group.bench_function("hash_both_calendars", |b| {
        b.iter(|| hash_all(&before) ^ hash_all(&after))
    });
    group.finish();
}

criterion_group!(benches, expand, window, diff);
criterion_main!(benches);
