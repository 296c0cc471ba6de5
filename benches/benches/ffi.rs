//! `calrep_expand` through the C ABI (UTF-8 pointers in, a JSON string
//! out, freed) against the same expansion through the Rust API, producing
//! the same strings. Windows of 100 and 1,000 occurrences.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use calrep_core::recur::{Instance, set_from_text};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const RRULE: &str = "FREQ=DAILY;BYHOUR=9,17";
const DTSTART: &str = "2026-01-05T09:00:00";
const TZ: &str = "W. Europe Standard Time";
const FROM: &str = "2026-01-01T00:00:00Z";

/// The instants as the C ABI writes them.
fn rust(to: &str) -> String {
    let set = set_from_text(&[RRULE], DTSTART, Some(TZ), &[] as &[&str], &[] as &[&str]).unwrap();
    let found = set
        .between(FROM.parse().unwrap(), to.parse().unwrap())
        .unwrap();
    let strings: Vec<String> = found.into_iter().map(Instance::to_utc_text).collect();
    serde_json::to_string(&strings).unwrap()
}

fn ffi(to: &str) -> usize {
    let mut json = std::ptr::null_mut();
    let b = |s: &str| (s.as_ptr(), s.len());
    let (r, rl) = b(RRULE);
    let (d, dl) = b(DTSTART);
    let (z, zl) = b(TZ);
    let (f, fl) = b(FROM);
    let (t, tl) = b(to);
    // SAFETY: every pointer and length comes from a live &str; the string
    // out is freed below.
    unsafe {
        let status = calrep::expand::calrep_expand(
            r,
            rl,
            d,
            dl,
            z,
            zl,
            std::ptr::null(),
            0,
            f,
            fl,
            t,
            tl,
            &mut json,
            std::ptr::null_mut(),
        );
        assert_eq!(status, calrep::calrep_status::Ok);
        let len = calrep::string::calrep_string_len(json);
        calrep::string::calrep_string_free(json);
        len
    }
}

fn expand(c: &mut Criterion) {
    for (occurrences, to) in [
        (100, "2026-02-24T00:00:00Z"),
        (1000, "2027-05-20T00:00:00Z"),
    ] {
        assert_eq!(rust(to).matches('Z').count(), occurrences, "window to {to}");
        assert_eq!(ffi(to), rust(to).len());
        let mut group = c.benchmark_group(format!("expand_{occurrences}_occurrences"));
        group.throughput(Throughput::Elements(occurrences as u64));
        group.bench_function("rust API", |b| b.iter(|| rust(std::hint::black_box(to))));
        group.bench_function("C ABI", |b| b.iter(|| ffi(std::hint::black_box(to))));
        group.finish();
    }
}

/// Writing 1,000 instants as `YYYY-MM-DDTHH:MM:SSZ`: chrono's general
/// formatter (what every binding used before) against the hand-written one,
/// the same text asserted.
fn format_instants(c: &mut Criterion) {
    let start: chrono::DateTime<chrono::Utc> = "2026-01-05T08:00:00Z".parse().unwrap();
    let instants: Vec<_> = (0..1000)
        .map(|i| start + chrono::TimeDelta::minutes(i * 757))
        .collect();
    let chrono_text = |ts: &[chrono::DateTime<chrono::Utc>]| -> Vec<String> {
        ts.iter()
            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .collect()
    };
    let ours = |ts: &[chrono::DateTime<chrono::Utc>]| -> Vec<String> {
        ts.iter().map(|t| calrep_core::rfc3339::utc(*t)).collect()
    };
    assert_eq!(chrono_text(&instants), ours(&instants));
    let mut group = c.benchmark_group("format_1000_instants");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("chrono format", |b| {
        b.iter(|| chrono_text(std::hint::black_box(&instants)))
    });
    group.bench_function("calrep_core::rfc3339", |b| {
        b.iter(|| ours(std::hint::black_box(&instants)))
    });
    group.finish();
}

criterion_group!(benches, expand, format_instants);
criterion_main!(benches);
