//! `calrep groups`: resolve a task's group to mailboxes.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use calrep_core::engine::Engine;
use calrep_core::group::{DirectoryError, GroupResolver};
use calrep_core::replica::SqliteReplica;
use calrep_core::{DirectorySource, SystemClock, TaskId};

use crate::{Outcome, known_task, load_config};

pub(crate) fn run(
    path: &Path,
    task: &str,
    json: bool,
    out: &mut impl Write,
) -> io::Result<Outcome> {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(outcome) => return Ok(outcome),
    };
    if let Err(outcome) = known_task(&config, task) {
        return Ok(outcome);
    }
    let Some(task) = config.task(&TaskId::new(task)) else {
        return Ok(Outcome::Failed(format!("no task named {task:?}")));
    };
    let Some(site) = config.site(&task.site) else {
        return Ok(Outcome::Invalid(vec![format!(
            "task {}: no site {}",
            task.id, task.site
        )]));
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return Ok(Outcome::Failed(format!(
                "cannot start the async runtime: {e}"
            )));
        }
    };
    let resolved = if config.directory_for(site) == Some(&DirectorySource::Exchange) {
        // ExpandDL through the site's EWS endpoint, as a run resolves it.
        let replica = match SqliteReplica::open_in_memory() {
            Ok(r) => Arc::new(r),
            Err(e) => return Ok(Outcome::Failed(e.to_string())),
        };
        let task_id = task.id.clone();
        let engine = Engine::from_config(config.clone(), replica, Arc::new(SystemClock));
        runtime
            .block_on(engine.resolve_group(&task_id))
            .map_err(|e| e.to_string())
    } else {
        let directory = match config.open_directory(site) {
            Ok(dir) => dir,
            Err(DirectoryError::InvalidSnapshot(problems)) => {
                return Ok(Outcome::Invalid(
                    problems.iter().map(ToString::to_string).collect(),
                ));
            }
            Err(e) => return Ok(Outcome::Failed(e.to_string())),
        };
        let resolver = GroupResolver::new(directory, Arc::new(SystemClock));
        runtime
            .block_on(resolver.resolve(&task.group))
            .map_err(|e| format!("task {}: {e}", task.id))
    };
    let resolution = match resolved {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Failed(e)),
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
