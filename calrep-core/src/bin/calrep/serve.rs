//! `calrep serve`: run tasks by their schedules until Ctrl-C, and serve the
//! replica to the people granted access (or only that: `--access-only`).

use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use calrep_core::access::{AccessOptions, AccessRecord, AccessReplica, AccessServer, tls_config};
use calrep_core::engine::{Engine, Event, EventSink, Service, StopSignal};
use calrep_core::sources::Sources;
use calrep_core::{Config, SystemClock};

use crate::{Outcome, load_config, runtime, try_outcome};

/// Starts the front end of `config`'s `[access]` section over `replica`.
fn start_access(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    replica: Arc<dyn AccessReplica>,
) -> Result<Option<AccessServer>, Outcome> {
    let Some(access) = &config.access else {
        return Ok(None);
    };
    let listen = access
        .listen
        .parse()
        .map_err(|_| Outcome::Invalid(vec![format!("access.listen: {:?}", access.listen)]))?;
    let tls = match (&access.certificate_file, &access.private_key_file) {
        (Some(cert), Some(key)) => Some(
            tls_config(&config.resolve_path(cert), &config.resolve_path(key))
                .map_err(|e| Outcome::Invalid(vec![format!("access: {e}")]))?,
        ),
        _ => None,
    };
    // Every request, on standard error: who, what, when, the answer.
    let mut options = AccessOptions::new()
        .log(Arc::new(|record: &AccessRecord| {
            eprintln!("access {record}")
        }))
        .behind_tls_proxy(access.behind_tls_proxy);
    if let Some(tls) = tls {
        options = options.tls(tls);
    }
    rt.block_on(AccessServer::start(listen, replica, options))
        .map(Some)
        .map_err(|e| Outcome::Failed(format!("cannot listen on {listen}: {e}")))
}

fn access_line(config: &Config, server: &AccessServer) -> String {
    let scheme = match config
        .access
        .as_ref()
        .and_then(|a| a.certificate_file.as_ref())
    {
        Some(_) => "https",
        None => "http",
    };
    format!(
        "access: {scheme}://{0}/ (CalDAV: {scheme}://{0}/.well-known/caldav)",
        server.addr()
    )
}

/// `--access-only`: the front end over a replica opened read-only;
/// `announce` says more once it listens (given the address it listens on).
pub(crate) fn serve_access_only<W: Write>(
    path: &Path,
    config: &Config,
    out: &mut W,
    announce: impl FnOnce(std::net::SocketAddr, &mut W) -> io::Result<()>,
) -> io::Result<Outcome> {
    if config.access.is_none() {
        return Ok(Outcome::Invalid(vec![format!(
            "{}: --access-only needs an [access] section (listen = \"127.0.0.1:8008\")",
            path.display()
        )]));
    }
    let rt = try_outcome!(runtime());
    let store = try_outcome!(crate::open_replica_read_only(config, &rt));
    let mut signals = {
        let _entered = rt.enter();
        StopSignals::register()
    };
    let server = try_outcome!(start_access(&rt, config, store.reader()));
    if let Some(server) = &server {
        announce(server.addr(), out)?;
        writeln!(
            out,
            "calrep serve --access-only: {}",
            access_line(config, server)
        )?;
    }
    out.flush()?;
    let signal = rt.block_on(signals.next());
    eprintln!("stopping on {signal}");
    drop(server);
    Ok(Outcome::Ok)
}

pub(crate) fn run(path: &Path, access_only: bool, out: &mut impl Write) -> io::Result<Outcome> {
    let config = try_outcome!(load_config(path));
    if access_only {
        return serve_access_only(path, &config, out, |_, _| Ok(()));
    }
    // Signals are caught before the first line is printed: whoever reads
    // that line (systemd, a test) may stop the service at once.
    let rt = try_outcome!(runtime());
    let store = try_outcome!(crate::open_store(&config, &rt));
    let replica = store.replica();
    let mut signals = {
        let _entered = rt.enter();
        StopSignals::register()
    };
    let enabled = config.tasks.iter().filter(|t| t.enabled).count();
    writeln!(
        out,
        "calrep serve: {enabled} enabled task(s) from {}; replica {}; Ctrl-C or SIGTERM stops after the current batch",
        path.display(),
        store.describe()
    )?;
    out.flush()?;
    let shutdown = StopSignal::new();
    let config_path = path.to_path_buf();
    let load = Box::new(move || Config::load(&config_path));
    for line in next_runs(&config, None) {
        writeln!(out, "{line}")?;
    }
    let access = try_outcome!(start_access(&rt, &config, store.reader()));
    if let Some(server) = &access {
        writeln!(out, "{}", access_line(&config, server))?;
    }
    out.flush()?;
    let schedules = config.clone();
    let sink = EventSink::new(move |event| match event {
        Event::RunFinished { task, status } => {
            println!("{} task {task}: {status}", chrono::Utc::now().to_rfc3339());
            for line in next_runs(&schedules, Some(task)) {
                println!("{line}");
            }
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
        let sources = Sources::from_config(&config);
        Engine::new(config, Arc::clone(&replica), Arc::new(SystemClock))
            .with_sources(sources)
            .with_events(sink.clone())
    });
    let service = Service::new(load, build, Arc::new(SystemClock), shutdown.clone());
    let result = rt.block_on(async {
        let stopper = shutdown.clone();
        tokio::spawn(async move {
            let signal = signals.next().await;
            eprintln!("stopping on {signal}: finishing the current batch");
            stopper.request();
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

/// Ctrl-C (SIGINT) and SIGTERM — what systemd, containers and `kill`
/// send — registered at once.
struct StopSignals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn register() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Self { unix }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Waits for the first stop signal and names it.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            return tokio::select! {
                _ = int.recv() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            };
        }
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            // No signal handling at all: never stop on a signal.
            Err(_) => std::future::pending().await,
        }
    }
}

/// "next run of task T: TIME" for every enabled task (or just `only`).
fn next_runs(config: &Config, only: Option<&str>) -> Vec<String> {
    let now = chrono::Utc::now();
    config
        .tasks
        .iter()
        .filter(|t| t.enabled && only.is_none_or(|o| o == t.id.as_str()))
        .map(|task| {
            let next = config
                .schedule(&task.schedule)
                .and_then(|s| calrep_core::schedule::SchedulePlan::new(s).ok())
                .and_then(|plan| plan.next_after(now));
            match next {
                Some(t) => format!("next run of task {}: {}", task.id, t.to_rfc3339()),
                None => format!("task {}: its schedule has no further run", task.id),
            }
        })
        .collect()
}
