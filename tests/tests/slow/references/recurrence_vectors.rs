//! Runs every block of libical's and ical.net's recurrence test files
//! (testdata/recurrence, unchanged copies) through `calrep_core::recur`.
//!
//! A block passes when calrep produces exactly its INSTANCES (from START-AT
//! on, when given), or fails to parse or expand when the block expects an
//! EXCEPTION. Blocks calrep answers differently are listed, with the reason
//! calrep is right, in `tests/recurrence/divergences.txt`; the test fails on
//! any other failure and on any listed block that now passes, so the list
//! stays honest. Counts are printed (`cargo test -- --nocapture`).

#![allow(clippy::panic, clippy::unwrap_used)]

use std::collections::BTreeMap;

use calrep_core::recur::{ExpandError, Instance, RecurrenceSet, Rule, SeriesStart};
use chrono::{NaiveDate, NaiveDateTime};

#[derive(Default, Debug)]
struct Block {
    line: usize,
    rrule: String,
    dtstart: String,
    start_at: Option<String>,
    duration: Option<String>,
    instances: Option<String>,
    exception: Option<String>,
}

fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current = Block::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            if !current.rrule.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            current = Block::default();
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            panic!("line {}: not NAME:VALUE: {line}", n + 1);
        };
        if current.rrule.is_empty() {
            current.line = n + 1;
        }
        let value = value.trim().to_owned();
        match name {
            "RRULE" => current.rrule = value,
            "DTSTART" => current.dtstart = value,
            "START-AT" => current.start_at = Some(value),
            "DURATION" => current.duration = Some(value),
            "INSTANCES" => current.instances = Some(value),
            "EXCEPTION" => current.exception = Some(value),
            "EXCEPTION-STEP" => {}
            _ => panic!("line {}: unknown field {name}", n + 1),
        }
    }
    if !current.rrule.is_empty() {
        out.push(current);
    }
    out
}

/// The block's kind of value: date, floating or UTC.
enum Kind {
    Date,
    Floating,
    Utc,
}

fn parse_value(text: &str) -> Result<(NaiveDateTime, Kind), String> {
    if let Some(t) = text.strip_suffix('Z') {
        return NaiveDateTime::parse_from_str(t, "%Y%m%dT%H%M%S")
            .map(|t| (t, Kind::Utc))
            .map_err(|e| format!("{text}: {e}"));
    }
    if text.contains('T') {
        return NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%S")
            .map(|t| (t, Kind::Floating))
            .map_err(|e| format!("{text}: {e}"));
    }
    NaiveDate::parse_from_str(text, "%Y%m%d")
        .map(|d| (d.and_hms_opt(0, 0, 0).unwrap(), Kind::Date))
        .map_err(|e| format!("{text}: {e}"))
}

fn format(instance: Instance) -> String {
    match instance {
        Instance::Date(d) => d.format("%Y%m%d").to_string(),
        Instance::Floating(t) => t.format("%Y%m%dT%H%M%S").to_string(),
        Instance::At(t) => t.format("%Y%m%dT%H%M%SZ").to_string(),
    }
}

/// calrep's answer for a block: its instances, or an error.
fn run(block: &Block) -> Result<Vec<String>, String> {
    let rule: Rule = block.rrule.parse().map_err(|e| format!("parse: {e}"))?;
    let (start, kind) = parse_value(&block.dtstart)?;
    let start = match kind {
        Kind::Date => SeriesStart::Date(start.date()),
        Kind::Floating => SeriesStart::Floating(start),
        Kind::Utc => SeriesStart::Zoned(start, chrono_tz::UTC),
    };
    // Both files test rules alone: a start out of step with its rule is not
    // an instance there (see `RecurrenceSet::start_is_instance`).
    let all = RecurrenceSet::new(start)
        .rule(rule)
        .start_is_instance(false)
        .all(100_000)
        .map_err(|e: ExpandError| format!("expand: {e}"))?;
    if let Some(d) = &block.duration {
        let duration =
            calrep_core::ical::parse_duration(d).ok_or(format!("{d}: not a duration"))?;
        let last_day = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap();
        for i in &all {
            let end = i.instant(chrono_tz::UTC).naive_utc() + duration;
            if end.date() > last_day {
                return Err("expand: an occurrence ends after 9999-12-31".into());
            }
        }
    }
    let from = match &block.start_at {
        Some(s) => Some(parse_value(s)?.0),
        None => None,
    };
    Ok(all
        .into_iter()
        .filter(|i| from.is_none_or(|f| i.instant(chrono_tz::UTC).naive_utc() >= f))
        .map(format)
        .collect())
}

/// Why a block did not pass, or `None` when it passed.
fn verdict(block: &Block) -> Option<String> {
    let got = run(block);
    match (&block.instances, &block.exception, got) {
        (Some(want), _, Ok(got)) if want.starts_with("***") => Some(format!(
            "the reference refuses ({want}); calrep gives {}",
            got.join(",")
        )),
        (Some(want), _, Ok(got)) => {
            let want: Vec<&str> = want.split(',').filter(|s| !s.is_empty()).collect();
            let want: Vec<&str> = match &block.start_at {
                // libical lists every instance and skips to START-AT itself.
                Some(s) => {
                    let from = parse_value(s).map(|v| v.0).ok();
                    want.into_iter()
                        .filter(|w| match (parse_value(w), from) {
                            (Ok((t, _)), Some(f)) => t >= f,
                            _ => true,
                        })
                        .collect()
                }
                None => want,
            };
            (got != want).then(|| {
                format!(
                    "expected {}\n      got      {}",
                    want.join(","),
                    got.join(",")
                )
            })
        }
        // The reference refuses the rule, and so does calrep.
        (Some(want), _, Err(_)) if want.starts_with("***") => None,
        (Some(_), _, Err(e)) => Some(format!("expected instances, got error {e}")),
        (None, Some(_), Err(_)) => None,
        (None, Some(ex), Ok(got)) => Some(format!("expected {ex}, got {}", got.join(","))),
        (None, None, _) => Some("block has neither INSTANCES nor EXCEPTION".into()),
    }
}

/// `file:line` → reason, from the committed divergence list.
fn divergences() -> BTreeMap<String, String> {
    let path = format!("{}/recurrence/divergences.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, reason) = l.split_once(' ').unwrap_or((l, ""));
            (key.to_owned(), reason.trim().to_owned())
        })
        .collect()
}

#[test]
fn every_reference_block_passes_or_is_a_listed_divergence() {
    let listed = divergences();
    let mut unexpected = Vec::new();
    let mut seen = Vec::new();
    let mut passed_keys = Vec::new();
    for file in [
        "libical-icalrecur_test.txt",
        "icalnet-RecurrenceTestCases.txt",
    ] {
        let path = format!(
            "{}/../testdata/recurrence/{file}",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let all = blocks(&text);
        let (mut passed, mut failed) = (0, 0);
        for block in &all {
            let key = format!("{file}:{}", block.line);
            match verdict(block) {
                None => {
                    passed += 1;
                    passed_keys.push(key.clone());
                    if listed.contains_key(&key) {
                        unexpected.push(format!("{key} is listed as a divergence but passes"));
                    }
                }
                Some(why) => {
                    failed += 1;
                    println!("  not passed {key} {}\n      {why}", block.rrule);
                    match listed.get(&key) {
                        Some(reason) => println!("      listed: {reason}"),
                        None => unexpected.push(format!("{key} {}: {why}", block.rrule)),
                    }
                    seen.push(key);
                }
            }
        }
        println!(
            "{file}: {passed} passed, {failed} failed (of {} blocks)",
            all.len()
        );
    }
    for key in listed
        .keys()
        .filter(|k| !seen.contains(k) && !passed_keys.contains(k))
    {
        unexpected.push(format!("{key} is listed but is not a block"));
    }
    assert!(
        unexpected.is_empty(),
        "unexpected results:\n{}",
        unexpected.join("\n")
    );
}
