//! `calrep`: the operator's command.
//!
//! Exit codes: 0 success; 1 a runtime failure (e.g. a directory that could
//! not be read); 2 bad usage or an invalid configuration.

mod check;
mod groups;
mod next_runs;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

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

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a configuration file (and the directory snapshots it names).
    Check {
        /// The configuration file (TOML, or JSON if it ends in .json).
        #[arg(long)]
        config: PathBuf,
    },
    /// Print a schedule's upcoming runs, with the offset of its time zone.
    NextRuns {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
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
    /// Resolve a task's group: its mailboxes, then what was skipped and why.
    Groups {
        /// The configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The task's id.
        #[arg(long)]
        task: String,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let outcome = match cli.command {
        Command::Check { config } => check::run(&config, &mut out),
        Command::NextRuns {
            config,
            schedule,
            after,
            count,
        } => next_runs::run(&config, &schedule, after.as_deref(), count, &mut out),
        Command::Groups { config, task, json } => groups::run(&config, &task, json, &mut out),
    };
    let _ = out.flush();
    match outcome {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
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
        Err(e) => {
            // Writing to stdout failed (e.g. a closed pipe): nothing to add.
            eprintln!("calrep: cannot write output: {e}");
            ExitCode::from(1)
        }
    }
}

/// Loads the configuration, or the problem lines to print.
pub(crate) fn load_config(path: &std::path::Path) -> Result<calrep_core::Config, Outcome> {
    calrep_core::Config::load(path).map_err(|e| match e.problems() {
        Some(problems) => Outcome::Invalid(problems.iter().map(ToString::to_string).collect()),
        None => Outcome::Invalid(vec![e.to_string()]),
    })
}
