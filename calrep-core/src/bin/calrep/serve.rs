//! `calrep serve`: run tasks by their schedules until Ctrl-C.

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use calrep_core::engine::{Engine, Event, EventSink, Service, Shutdown};
use calrep_core::replica::{Replica, SqliteReplica};
use calrep_core::{Config, SystemClock};

use crate::{Outcome, load_config, runtime, try_outcome};

pub(crate) fn run(path: &Path, out: &mut impl Write) -> io::Result<Outcome> {
    let config = try_outcome!(load_config(path));
    let replica_path = config.resolve_path(&config.replica.path);
    let replica: Arc<dyn Replica> = match SqliteReplica::open(&replica_path) {
        Ok(r) => Arc::new(r),
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    let enabled = config.tasks.iter().filter(|t| t.enabled).count();
    writeln!(
        out,
        "calrep serve: {enabled} enabled task(s) from {}; replica {}; Ctrl-C stops after the current batch",
        path.display(),
        replica_path.display()
    )?;
    out.flush()?;
    let shutdown = Shutdown::new();
    let config_path = path.to_path_buf();
    let load = Box::new(move || Config::load(&config_path));
    let sink = EventSink::new(|event| match event {
        Event::RunFinished { task, status } => {
            println!("{} task {task}: {status}", chrono::Utc::now().to_rfc3339())
        }
        Event::Warning { address, message } => {
            eprintln!(
                "warning: {}{message}",
                address
                    .as_ref()
                    .map(|a| format!("{a}: "))
                    .unwrap_or_default()
            );
        }
        Event::MailboxFinished { address, outcome }
            if !matches!(outcome, calrep_core::engine::MailboxOutcome::Healthy) =>
        {
            eprintln!("{address}: {outcome}");
        }
        _ => {}
    });
    let build = Box::new(move |config: Config| {
        Engine::from_config(config, Arc::clone(&replica), Arc::new(SystemClock))
            .with_events(sink.clone())
    });
    let service = Service::new(load, build, Arc::new(SystemClock), shutdown.clone());
    let rt = try_outcome!(runtime());
    let result = rt.block_on(async {
        let stopper = shutdown.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("stopping: finishing the current batch");
                stopper.request();
            }
        });
        service.run().await
    });
    match result {
        Ok(runs) => {
            writeln!(out, "calrep serve: stopped after {} run(s)", runs.len())?;
            Ok(Outcome::Ok)
        }
        Err(e) => Ok(Outcome::Invalid(e.problems().map_or_else(
            || vec![e.to_string()],
            |p| p.iter().map(ToString::to_string).collect(),
        ))),
    }
}
