//! `calrep store copy`: move an installation from one store to another
//! (the SQLite file to PostgreSQL, or back) without replicating anything
//! again.

use std::io::{self, Write};
use std::path::PathBuf;

use calrep_core::replica::{ConfiguredStore, copy_store};

use crate::{ConfigArg, Outcome, load_config, runtime, try_outcome};

/// What to do with the store.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Action {
    /// Copy every mailbox, calendar, item, occurrence, attachment, sync
    /// state, access account and past run from the store --config names
    /// into the empty store --to names, keeping ids and change numbers: the
    /// next run after the move is incremental and CalDAV clients keep their
    /// sync tokens. Stop every calrep host first.
    Copy {
        #[command(flatten)]
        config: ConfigArg,
        /// The configuration naming the destination store (its [replica]
        /// section; the rest of it is not used).
        #[arg(long)]
        to: PathBuf,
    },
}

pub(crate) fn run(action: &Action, out: &mut impl Write) -> io::Result<Outcome> {
    let Action::Copy { config, to } = action;
    let from_config = try_outcome!(load_config(&config.path));
    let to_config = try_outcome!(load_config(to));
    let rt = try_outcome!(runtime());
    let copied = rt.block_on(async {
        let from = ConfiguredStore::open_read_only(&from_config).await?;
        let to = ConfiguredStore::open(&to_config).await?;
        if from.describe() == to.describe() {
            return Ok((from.describe(), to.describe(), None));
        }
        let report = copy_store(&from, &to).await?;
        Ok::<_, calrep_core::replica::ReplicaError>((from.describe(), to.describe(), Some(report)))
    });
    let (from, to, report) = match copied {
        Ok(done) => done,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    let Some(report) = report else {
        return Ok(Outcome::Invalid(vec![format!(
            "--config and --to both name {from}: nothing to copy"
        )]));
    };
    writeln!(out, "copied {from} into {to}:")?;
    for (table, rows) in &report.tables {
        writeln!(out, "  {table:<18} {rows:>10} rows")?;
    }
    Ok(Outcome::Ok)
}
