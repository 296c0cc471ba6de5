//! `calrep verify`: compare replicas with their sources.

use std::io::{self, Write};

use calrep_core::TaskId;
use calrep_core::engine::{VerifyReport, VerifyResult};

use crate::{Outcome, TaskArgs, known_task, load_config, one_job_engine, progress, try_outcome};

pub(crate) fn run(args: &TaskArgs, out: &mut impl Write) -> io::Result<Outcome> {
    let (task, json) = (args.task.as_str(), args.json);
    let config = try_outcome!(load_config(&args.config.path));
    try_outcome!(known_task(&config, task));
    let (rt, engine, _store) = try_outcome!(one_job_engine(config));
    let engine = engine.with_events(progress::sink("verifying"));
    let verified = rt.block_on(engine.verify(&TaskId::new(task)));
    progress::clear();
    let report = match verified {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Invalid(vec![e.to_string()])),
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        print(&report, out)?;
    }
    Ok(match report.result {
        VerifyResult::Equal => Outcome::Ok,
        other => Outcome::Exit(other.exit_code()),
    })
}

pub(crate) fn print(report: &VerifyReport, out: &mut impl Write) -> io::Result<()> {
    if report.is_equal() {
        writeln!(
            out,
            "task {}: the replica equals the source for all {} mailboxes",
            report.task,
            report.mailboxes.len()
        )?;
        return Ok(());
    }
    let differences = report.difference_count();
    writeln!(
        out,
        "task {}: {differences} difference{}{}",
        report.task,
        if differences == 1 { "" } else { "s" },
        match report.unverified {
            0 => String::new(),
            n => format!(
                "; {n} mailbox{} could not be verified",
                if n == 1 { "" } else { "es" }
            ),
        }
    )?;
    for m in &report.mailboxes {
        if let Some(error) = &m.error {
            writeln!(out, "  {}: could not be read: {error}", m.address)?;
        }
        for d in &m.differences {
            writeln!(out, "  {}: {d}", m.address)?;
        }
    }
    Ok(())
}
