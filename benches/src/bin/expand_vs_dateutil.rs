//! Expansion throughput, calrep against python-dateutil (and the `rrule`
//! crate 0.14) on the same rules in one run: each rule of
//! `calrep_benches::recurrence::RULES` is expanded over its window by each
//! (best of several runs), and the occurrences per second and calrep's ratio
//! to dateutil are printed. The counts must agree.
//!
//! Usage: `expand-vs-dateutil` (needs `python3` with python-dateutil;
//! `CALREP_PYTHON` picks another interpreter). Build it with `--release`.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use chrono::TimeZone;

use calrep_benches::recurrence::RULES;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let python = std::env::var("CALREP_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/dateutil_expand.py");
    let mut child = Command::new(&python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let input = serde_json::to_vec(&RULES.iter().map(|r| r.json()).collect::<Vec<_>>())?;
    child.stdin.take().ok_or("no stdin")?.write_all(&input)?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err("the dateutil script failed".into());
    }
    let theirs: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout)?;
    println!("| rule | occurrences | calrep | rrule 0.14 | python-dateutil | calrep ÷ dateutil |");
    println!("|---|---|---|---|---|---|");
    let (mut ours_total, mut theirs_total, mut crate_total, mut occ_total) =
        (0.0, 0.0, 0.0, 0usize);
    for (rule, them) in RULES.iter().zip(&theirs) {
        let (set, from, to) = rule.set()?;
        let mut best = f64::INFINITY;
        let mut count = 0;
        for _ in 0..50 {
            let t0 = Instant::now();
            count = set.between(from, to)?.len();
            best = best.min(t0.elapsed().as_secs_f64());
        }
        let their_count = them["count"].as_u64().ok_or("count")? as usize;
        let their_secs = them["seconds"].as_f64().ok_or("seconds")?;
        if count != their_count {
            return Err(format!("{}: calrep {count} vs dateutil {their_count}", rule.name).into());
        }
        let crate_secs = rrule_crate(rule, count)?;
        crate_total += crate_secs;
        ours_total += best;
        theirs_total += their_secs;
        occ_total += count;
        println!(
            "| {} | {count} | {:.2} M/s | {:.2} M/s | {:.3} M/s | {:.0}× |",
            rule.name,
            count as f64 / best / 1e6,
            count as f64 / crate_secs / 1e6,
            count as f64 / their_secs / 1e6,
            their_secs / best
        );
    }
    println!(
        "| all | {occ_total} | {:.2} M/s | {:.2} M/s | {:.3} M/s | {:.0}× |",
        occ_total as f64 / ours_total / 1e6,
        occ_total as f64 / crate_total / 1e6,
        occ_total as f64 / theirs_total / 1e6,
        theirs_total / ours_total
    );
    Ok(())
}

/// The `rrule` crate's best time on the same rule and window (parsing
/// included, as for the others); its duplicates (a gap hour named twice)
/// are removed before counting, as RFC 5545 asks.
fn rrule_crate(
    rule: &calrep_benches::recurrence::BenchRule,
    expected: usize,
) -> Result<f64, Box<dyn std::error::Error>> {
    let text = format!(
        "DTSTART;TZID={}:{}\nRRULE:{}",
        rule.zone,
        rule.dtstart.replace(['-', ':'], ""),
        rule.rrule
    );
    let tz: chrono_tz::Tz = rule.zone.parse()?;
    let from = rrule::Tz::Tz(tz).from_utc_datetime(
        &rule
            .from
            .parse::<chrono::DateTime<chrono::Utc>>()?
            .naive_utc(),
    );
    let to = rrule::Tz::Tz(tz).from_utc_datetime(
        &rule
            .to
            .parse::<chrono::DateTime<chrono::Utc>>()?
            .naive_utc(),
    );
    let mut best = f64::INFINITY;
    let mut count = 0;
    for _ in 0..20 {
        let t0 = Instant::now();
        let set: rrule::RRuleSet = text.parse()?;
        let mut found: Vec<_> = set
            .after(from)
            .before(to)
            .all(u16::MAX)
            .dates
            .into_iter()
            .filter(|t| *t < to)
            .map(|t| t.timestamp())
            .collect();
        found.dedup();
        count = found.len();
        best = best.min(t0.elapsed().as_secs_f64());
    }
    if count != expected {
        return Err(format!("{}: rrule crate {count} vs calrep {expected}", rule.name).into());
    }
    Ok(best)
}
