//! `calrep run` and `calrep plan`.

use std::io::{self, Write};

use calrep_core::TaskId;
use calrep_core::engine::{MailboxOutcome, RunOptions, RunReport, TaskStatus};

use crate::{Outcome, TaskArgs, known_task, load_config, one_job_engine, progress, try_outcome};

/// What `run` does with the task.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// Replicate (`calrep run`), applying what the mass-delete guard
    /// would stop if `force`.
    Run { force: bool },
    /// Read the sources and report what a run would change (`calrep plan`).
    Plan,
}

pub(crate) fn run(args: &TaskArgs, mode: Mode, out: &mut impl Write) -> io::Result<Outcome> {
    let (task, json) = (args.task.as_str(), args.json);
    let dry_run = matches!(mode, Mode::Plan);
    let config = try_outcome!(load_config(&args.config.path));
    try_outcome!(known_task(&config, task));
    let (rt, engine, _store) = try_outcome!(one_job_engine(config));
    let engine = engine.with_events(progress::sink(if dry_run {
        "planning"
    } else {
        "replicating"
    }));
    let mut options = RunOptions::default();
    options.force = matches!(mode, Mode::Run { force: true });
    options.dry_run = dry_run;
    let report = match rt.block_on(engine.run_task(&TaskId::new(task), options)) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Invalid(vec![e.to_string()])),
    };
    if json {
        writeln!(out, "{}", report.to_json())?;
    } else {
        summary(&report, out)?;
    }
    Ok(match report.status {
        TaskStatus::Enabled | TaskStatus::EnabledWithWarning => Outcome::Ok,
        TaskStatus::EnabledWithErrors => Outcome::Exit(3),
        _ => Outcome::Exit(4),
    })
}

/// A readable summary: the status, the totals, and a table of every mailbox
/// that was not simply healthy.
pub(crate) fn summary(report: &RunReport, out: &mut impl Write) -> io::Result<()> {
    let verb = if report.dry_run {
        "would change"
    } else {
        "changed"
    };
    writeln!(
        out,
        "task {} ({}): {}",
        report.task, report.site, report.status
    )?;
    if let Some(error) = &report.error {
        writeln!(out, "  {error}")?;
    }
    let healthy = report
        .mailboxes
        .iter()
        .filter(|m| m.outcome == MailboxOutcome::Healthy)
        .count();
    let not_mailboxes = usize::try_from(report.not_mailboxes).unwrap_or(0);
    write!(
        out,
        "  mailboxes: {} ({healthy} healthy)",
        report.mailboxes.len().saturating_sub(not_mailboxes)
    )?;
    if not_mailboxes > 0 {
        write!(
            out,
            "; {not_mailboxes} group entr{} skipped that {} not mailboxes (contacts, cycles, groups not found)",
            if not_mailboxes == 1 { "y" } else { "ies" },
            if not_mailboxes == 1 { "is" } else { "are" }
        )?;
    }
    writeln!(out)?;
    let t = &report.totals;
    writeln!(
        out,
        "  {verb}: items +{} ~{} -{}, occurrences +{} ~{} -{}, attachment bytes {}",
        t.items_created,
        t.items_updated,
        t.items_deleted,
        t.occurrences_created,
        t.occurrences_updated,
        t.occurrences_deleted,
        t.attachment_bytes
    )?;
    writeln!(
        out,
        "  HTTP requests {}, retries {}, throttled {} ms of the run's {} ms (mailboxes' waits summed: {} ms)",
        report.requests,
        report.retries,
        report.throttled_wall_ms,
        report.duration_ms,
        report.throttled_ms
    )?;
    if !report.frozen.is_empty() {
        writeln!(
            out,
            "  frozen (kept, no longer updated): {}",
            report.frozen.join(", ")
        )?;
    }
    let notable: Vec<_> = report
        .mailboxes
        .iter()
        .filter(|m| m.outcome != MailboxOutcome::Healthy || !m.warnings.is_empty())
        .collect();
    if !notable.is_empty() {
        let width = notable.iter().map(|m| m.address.len()).max().unwrap_or(0);
        writeln!(out, "  {:width$}  {:9}  detail", "mailbox", "outcome")?;
        for m in notable {
            let detail = match &m.outcome {
                MailboxOutcome::Healthy => m.warnings.join("; "),
                other => other.to_string(),
            };
            writeln!(
                out,
                "  {:width$}  {:9}  {detail}",
                m.address,
                m.outcome.label()
            )?;
        }
    }
    Ok(())
}
