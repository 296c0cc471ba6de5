//! `calrep`: the operator's command.
//!
//! Exit codes: 0 success; 1 a runtime failure (e.g. a directory or replica
//! that could not be read); 2 bad usage or an invalid configuration; `run`:
//! 3 Enabled With Errors, 4 Failed; `verify`: 5 the replica differs;
//! `move-to-graph`: 3 some mailboxes were not moved.

mod access;
mod check;
mod demo;
mod expand;
mod export;
mod groups;
mod move_to_graph;
mod next_runs;
mod progress;
mod run;
mod serve;
mod sim;
mod status;
mod store;
mod verify;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use calrep_core::engine::Engine;
use calrep_core::replica::ConfiguredStore;
use calrep_core::sources::Sources;
use calrep_core::{Config, SystemClock};
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "calrep",
    version,
    about = "Calendar replication for Exchange and Microsoft 365"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The configuration file every command but `demo`, `sim` and `expand` reads.
#[derive(Debug, clap::Args)]
pub(crate) struct ConfigArg {
    /// The configuration file (TOML, or JSON if it ends in .json).
    #[arg(long = "config", value_name = "CONFIG")]
    pub(crate) path: PathBuf,
}

/// A task of a configuration, and how to print what comes of it.
#[derive(Debug, clap::Args)]
pub(crate) struct TaskArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The task's id.
    #[arg(long)]
    pub(crate) task: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a demo organisation, replicate it, change it, replicate again, verify.
    Demo {
        /// Where to put the demo's files.
        #[arg(long, default_value = "calrep-demo")]
        dir: PathBuf,
        /// How many mailboxes.
        #[arg(long, default_value_t = 200)]
        mailboxes: usize,
        /// The generator's seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Read the simulator over EWS or over Microsoft Graph.
        #[arg(long, value_enum, default_value_t = demo::Backend::Ews)]
        backend: demo::Backend,
        /// Afterwards, serve the replica read-only on this address (a web
        /// page, CalDAV, feeds) to a demo account, until Ctrl-C.
        #[arg(long, num_args = 0..=1, default_missing_value = "127.0.0.1:8008", value_name = "ADDRESS")]
        serve: Option<String>,
    },
    /// Serve a demo organisation over EWS and Microsoft Graph on 127.0.0.1 until Ctrl-C.
    Sim(sim::Settings),
    /// Check a configuration file (and the directory snapshots it names).
    Check(ConfigArg),
    /// Run a task once.
    Run {
        #[command(flatten)]
        task: TaskArgs,
        /// Apply deletions the mass-delete guard would stop.
        #[arg(long)]
        force: bool,
    },
    /// Run enabled tasks by their schedules until stopped (Ctrl-C); the
    /// configuration is re-read every minute. With an [access] section,
    /// also serve the replica read-only to the people granted access.
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Only serve the replica (a host that reads a shared store): no
        /// schedules, nothing written.
        #[arg(long)]
        access_only: bool,
    },
    /// Show what a run of a task would change, writing nothing.
    Plan(TaskArgs),
    /// Compare a task's replicas with their sources; exit 5 if they differ.
    Verify(TaskArgs),
    /// Write a mailbox's replica as iCalendar (RFC 5545).
    Export {
        #[command(flatten)]
        config: ConfigArg,
        /// The mailbox's address.
        #[arg(long)]
        mailbox: String,
        /// Only this calendar (name or id); default: all of them.
        #[arg(long)]
        calendar: Option<String>,
        /// Write here instead of to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Put attachment contents inline (base64) instead of hash URIs.
        #[arg(long)]
        inline_attachments: bool,
    },
    /// Show the replica's mailboxes and their state.
    Status {
        #[command(flatten)]
        config: ConfigArg,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print a schedule's upcoming runs, with the offset of its time zone.
    NextRuns {
        #[command(flatten)]
        config: ConfigArg,
        /// The schedule's id.
        #[arg(long)]
        schedule: String,
        /// Start after this instant (RFC 3339); default: now.
        #[arg(long)]
        after: Option<String>,
        /// How many runs to print.
        #[arg(long, default_value_t = 10)]
        count: usize,
    },
    /// Print the occurrences of a recurrence rule, or of every series in an
    /// iCalendar or EWS XML file, starting in [--from, --to): one per line,
    /// sorted, as UTC instants (`…Z`) or, for all-day series, dates.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["rrule", "ics", "ews"])))]
    Expand {
        /// An RRULE value, e.g. 'FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10' (repeatable).
        #[arg(long, requires = "dtstart")]
        rrule: Vec<String>,
        /// The series' start: 2026-03-01T09:00:00 (local), 2026-03-01 (all-day) or …Z.
        #[arg(long)]
        dtstart: Option<String>,
        /// The series' zone (IANA or Windows id); without it local times float (read as UTC).
        #[arg(long)]
        tz: Option<String>,
        /// An excluded occurrence (repeatable), in the same forms as --dtstart.
        #[arg(long)]
        exdate: Vec<String>,
        /// An extra occurrence (repeatable), in the same forms as --dtstart.
        #[arg(long)]
        rdate: Vec<String>,
        /// Expand every series of this iCalendar file instead.
        #[arg(long, conflicts_with_all = ["rrule", "dtstart", "tz", "exdate", "rdate", "ews"])]
        ics: Option<PathBuf>,
        /// Expand every CalendarItem of this EWS XML file (GetItem response or fragment) instead.
        #[arg(long, conflicts_with_all = ["rrule", "dtstart", "tz", "exdate", "rdate"])]
        ews: Option<PathBuf>,
        /// Window start (RFC 3339, inclusive).
        #[arg(long)]
        from: String,
        /// Window end (RFC 3339, exclusive).
        #[arg(long)]
        to: String,
    },
    /// Resolve a task's group: its mailboxes, then what was skipped and why.
    Groups(TaskArgs),
    /// Accounts that may read the replica in an outage: grant, revoke, list.
    #[command(subcommand)]
    Access(access::Action),
    /// The replica's store: copy it into another (SQLite to PostgreSQL, or back).
    #[command(subcommand)]
    Store(store::Action),
    /// Move a site's replica from EWS ids to the Graph ids of its [graph]
    /// app, in place: the first Graph run then rewrites nothing unchanged.
    /// Exit 3 if some mailboxes could not be moved (they stay as they were).
    MoveToGraph {
        #[command(flatten)]
        config: ConfigArg,
        /// The site's id.
        #[arg(long)]
        site: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// How a command ended.
pub(crate) enum Outcome {
    Ok,
    /// Bad usage or configuration: exit 2, each line on stderr.
    Invalid(Vec<String>),
    /// Something failed at run time: exit 1.
    Failed(String),
    /// The command ran and chose this exit code.
    Exit(u8),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let outcome = match cli.command {
        Command::Demo {
            dir,
            mailboxes,
            seed,
            backend,
            serve,
        } => demo::run(
            &dir,
            &demo::Settings {
                mailboxes,
                seed,
                backend,
                serve,
            },
            &mut out,
        ),
        Command::Sim(settings) => sim::run(&settings, &mut out),
        Command::Store(action) => store::run(&action, &mut out),
        Command::Check(config) => check::run(&config.path, &mut out),
        Command::Run { task, force } => run::run(&task, run::Mode::Run { force }, &mut out),
        Command::Serve {
            config,
            access_only,
        } => serve::run(&config.path, access_only, &mut out),
        Command::Plan(task) => run::run(&task, run::Mode::Plan, &mut out),
        Command::Verify(task) => verify::run(&task, &mut out),
        Command::Status { config, json } => status::run(&config.path, json, &mut out),
        Command::Export {
            config,
            mailbox,
            calendar,
            out: file,
            inline_attachments,
        } => export::run(
            &config.path,
            &mailbox,
            calendar.as_deref(),
            file.as_deref(),
            inline_attachments,
            &mut out,
        ),
        Command::NextRuns {
            config,
            schedule,
            after,
            count,
        } => next_runs::run(&config.path, &schedule, after.as_deref(), count, &mut out),
        Command::Groups(task) => groups::run(&task, &mut out),
        Command::Access(action) => access::run(&action, &mut out),
        Command::MoveToGraph { config, site, json } => {
            move_to_graph::run(&config.path, &site, json, &mut out)
        }
        Command::Expand {
            rrule,
            dtstart,
            tz,
            exdate,
            rdate,
            ics,
            ews,
            from,
            to,
        } => {
            let source = match (&ics, &ews) {
                (Some(path), _) => expand::Source::Ics(path),
                (None, Some(path)) => expand::Source::Ews(path),
                (None, None) => expand::Source::Rule {
                    rrules: &rrule,
                    dtstart: dtstart.as_deref().unwrap_or_default(),
                    tz: tz.as_deref(),
                    exdates: &exdate,
                    rdates: &rdate,
                },
            };
            expand::run(source, &from, &to, &mut out)
        }
    };
    let _ = out.flush();
    match outcome {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Exit(code)) => ExitCode::from(code),
        Ok(Outcome::Invalid(lines)) => {
            for line in lines {
                eprintln!("{line}");
            }
            ExitCode::from(2)
        }
        Ok(Outcome::Failed(message)) => {
            eprintln!("calrep: {message}");
            ExitCode::from(1)
        }
        // A reader that stopped early (`calrep status | head`) is not a
        // failure of calrep's.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("calrep: cannot write output: {e}");
            ExitCode::from(1)
        }
    }
}

/// Loads the configuration, or the problem lines to print.
pub(crate) fn load_config(path: &Path) -> Result<Config, Outcome> {
    Config::load(path).map_err(|e| match e.problems() {
        Some(problems) => Outcome::Invalid(problems.iter().map(ToString::to_string).collect()),
        None => Outcome::Invalid(vec![e.to_string()]),
    })
}

/// The task the configuration defines under `task`, or the refusal that
/// lists those it does; checked before anything is opened, so a mistyped
/// task leaves no empty replica behind.
pub(crate) fn known_task<'a>(
    config: &'a Config,
    task: &str,
) -> Result<&'a calrep_core::Task, Outcome> {
    if let Some(found) = config.task(&calrep_core::TaskId::new(task)) {
        return Ok(found);
    }
    let known: Vec<_> = config.tasks.iter().map(|t| t.id.as_str()).collect();
    Err(Outcome::Invalid(vec![format!(
        "no task named {task:?}; the configuration has: {}",
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )]))
}

/// Opens the configured replica (in `rt`, which a shared store's
/// connections live in) and an engine over it.
pub(crate) fn open_engine(
    config: Config,
    rt: &tokio::runtime::Runtime,
) -> Result<(Engine, ConfiguredStore), Outcome> {
    let store = open_store(&config, rt)?;
    Ok(engine_over(config, store))
}

/// A one-job command's (`run`, `plan`, `verify`) runtime and engine: a
/// single-thread runtime, with the replica's calls on its thread. Its
/// requests, their responses and the replica's writes all run there, so no
/// call is handed to another thread and back (two wake-ups each); that
/// took a quarter off a replication run's CPU (BENCHMARKS.md, CPU per
/// item). A command that also serves people keeps [`runtime`].
pub(crate) fn one_job_engine(
    config: Config,
) -> Result<(tokio::runtime::Runtime, Engine, ConfiguredStore), Outcome> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Outcome::Failed(format!("cannot start the async runtime: {e}")))?;
    let store = open_store(&config, &rt)?.on_callers_thread();
    let (engine, store) = engine_over(config, store);
    Ok((rt, engine, store))
}

fn engine_over(config: Config, store: ConfiguredStore) -> (Engine, ConfiguredStore) {
    let sources = Sources::from_config(&config);
    let engine = Engine::new(config, store.replica(), Arc::new(SystemClock)).with_sources(sources);
    (engine, store)
}

/// Opens (creating or migrating) the configured replica store in `rt`.
pub(crate) fn open_store(
    config: &Config,
    rt: &tokio::runtime::Runtime,
) -> Result<ConfiguredStore, Outcome> {
    rt.block_on(ConfiguredStore::open(config))
        .map_err(|e| Outcome::Failed(e.to_string()))
}

/// Opens the configured replica for reading only (in `rt`): it must
/// exist, and nothing in it or beside it is created or changed.
pub(crate) fn open_replica_read_only(
    config: &Config,
    rt: &tokio::runtime::Runtime,
) -> Result<ConfiguredStore, Outcome> {
    rt.block_on(ConfiguredStore::open_read_only(config))
        .map_err(|e| Outcome::Failed(e.to_string()))
}

/// A runtime for one command.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Outcome> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Outcome::Failed(format!("cannot start the async runtime: {e}")))
}

/// Unwraps a setup step or returns its outcome.
macro_rules! try_outcome {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(outcome) => return Ok(outcome),
        }
    };
}
pub(crate) use try_outcome;
