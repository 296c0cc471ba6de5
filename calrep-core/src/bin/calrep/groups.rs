//! `calrep groups`: resolve a task's group to mailboxes.

use std::io::{self, Write};
use std::sync::Arc;

use calrep_core::SystemClock;
use calrep_core::engine::{Engine, EngineError};
use calrep_core::group::DirectoryError;
use calrep_core::replica::SqliteReplica;
use calrep_core::sources::Sources;

use crate::{Outcome, TaskArgs, known_task, load_config, runtime, try_outcome};

pub(crate) fn run(args: &TaskArgs, out: &mut impl Write) -> io::Result<Outcome> {
    let (task, json) = (args.task.as_str(), args.json);
    let config = try_outcome!(load_config(&args.config.path));
    let task = try_outcome!(known_task(&config, task)).clone();
    let runtime = try_outcome!(runtime());
    // The engine resolves groups as a run does: through a snapshot, a demo
    // organisation, or Exchange's ExpandDL. It writes nothing here.
    let replica = match SqliteReplica::open_in_memory() {
        Ok(r) => Arc::new(r),
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    let sources = Sources::from_config(&config);
    let engine = Engine::new(config, replica, Arc::new(SystemClock)).with_sources(sources);
    let resolution = match runtime.block_on(engine.resolve_group(&task.id)) {
        Ok(r) => r,
        Err(EngineError::Directory {
            source: DirectoryError::InvalidSnapshot(problems),
            ..
        }) => {
            return Ok(Outcome::Invalid(
                problems.iter().map(ToString::to_string).collect(),
            ));
        }
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    if json {
        let doc = serde_json::json!({
            "task": task.id,
            "group": task.group,
            "mailboxes": resolution.mailboxes,
            "skipped": resolution.skipped,
            "resolved_at": resolution.resolved_at,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(Outcome::Ok);
    }
    writeln!(
        out,
        "task {}: {}: {} mailbox{}, {} skipped",
        task.id,
        task.group,
        resolution.mailboxes.len(),
        if resolution.mailboxes.len() == 1 {
            ""
        } else {
            "es"
        },
        resolution.skipped.len()
    )?;
    let width = resolution
        .mailboxes
        .iter()
        .map(|m| m.address.as_str().len())
        .chain(resolution.skipped.iter().map(|s| s.entry.len()))
        .max()
        .unwrap_or(0);
    for m in &resolution.mailboxes {
        writeln!(out, "  {:width$}  {}", m.address.as_str(), m.display_name)?;
    }
    if !resolution.skipped.is_empty() {
        writeln!(out, "skipped:")?;
        for s in &resolution.skipped {
            writeln!(out, "  {:width$}  {}", s.entry, s.reason)?;
        }
    }
    Ok(Outcome::Ok)
}
