//! `calrep next-runs`: a schedule's upcoming runs.

use std::io::{self, Write};
use std::path::Path;

use chrono::{DateTime, Utc};

use calrep_core::{ScheduleId, SchedulePlan};

use crate::{Outcome, load_config};

pub(crate) fn run(
    path: &Path,
    schedule: &str,
    after: Option<&str>,
    count: usize,
    out: &mut impl Write,
) -> io::Result<Outcome> {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(outcome) => return Ok(outcome),
    };
    let after = match after {
        None => Utc::now(),
        Some(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.with_timezone(&Utc),
            Err(e) => {
                return Ok(Outcome::Invalid(vec![format!(
                    "--after {text:?} is not an RFC 3339 instant (e.g. 2026-11-26T09:00:00Z): {e}"
                )]));
            }
        },
    };
    let Some(schedule) = config.schedule(&ScheduleId::new(schedule)) else {
        let known: Vec<_> = config.schedules.iter().map(|s| s.id.as_str()).collect();
        return Ok(Outcome::Invalid(vec![format!(
            "no schedule named {schedule:?}; the configuration has: {}",
            known.join(", ")
        )]));
    };
    // The configuration was validated, so this only fails on a logic error;
    // report it rather than panic.
    let plan = match SchedulePlan::new(schedule) {
        Ok(plan) => plan,
        Err(e) => return Ok(Outcome::Invalid(vec![e.to_string()])),
    };
    for run in plan.upcoming(after).take(count) {
        writeln!(out, "{}", run.to_rfc3339())?;
    }
    Ok(Outcome::Ok)
}
