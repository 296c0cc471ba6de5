//! `calrep check`: validate a configuration and the files it names.

use std::io::{self, Write};
use std::path::Path;

use calrep_core::DirectorySource;
use calrep_core::group::DirectoryError;

use crate::{Outcome, load_config};

pub(crate) fn run(path: &Path, out: &mut impl Write) -> io::Result<Outcome> {
    let config = match load_config(path) {
        Ok(c) => c,
        Err(outcome) => return Ok(outcome),
    };
    // Every directory the sites use, opened (and so checked) once each.
    let mut sources: Vec<&DirectorySource> = Vec::new();
    for source in config.sites.iter().filter_map(|s| config.directory_for(s)) {
        if !sources.contains(&source) {
            sources.push(source);
        }
    }
    let mut problems = Vec::new();
    for source in &sources {
        match config.open_directory_source(source) {
            Ok(_) => {}
            Err(DirectoryError::InvalidSnapshot(p)) => {
                problems.extend(p.iter().map(ToString::to_string));
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let snapshots = sources;
    if !problems.is_empty() {
        return Ok(Outcome::Invalid(problems));
    }
    let enabled = config.tasks.iter().filter(|t| t.enabled).count();
    writeln!(
        out,
        "{}: ok: {} site{}, {} definition{}, {} schedule{}, {} task{} ({enabled} enabled), {} director{}",
        path.display(),
        config.sites.len(),
        plural(config.sites.len()),
        config.definitions.len(),
        plural(config.definitions.len()),
        config.schedules.len(),
        plural(config.schedules.len()),
        config.tasks.len(),
        plural(config.tasks.len()),
        snapshots.len(),
        if snapshots.len() == 1 { "y" } else { "ies" },
    )?;
    Ok(Outcome::Ok)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
