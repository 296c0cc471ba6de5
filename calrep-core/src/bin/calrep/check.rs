//! `calrep check`: validate a configuration and the files it names.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use calrep_core::group::DirectoryError;
use calrep_core::{Config, DirectorySource};

use crate::Outcome;

pub(crate) fn run(path: &Path, out: &mut impl Write) -> io::Result<Outcome> {
    // Every problem at once: what the file says, and then the files and
    // directories named by whatever parsed, in the same pass.
    let (config, problems) = Config::load_partial(path);
    let mut problems: Vec<String> = problems
        .iter()
        .flat_map(|p| p.iter().map(ToString::to_string))
        .collect();
    let Some(config) = config else {
        return Ok(Outcome::Invalid(problems));
    };
    // Every directory the sites use, opened (and so checked) once each.
    let mut sources: Vec<&DirectorySource> = Vec::new();
    for source in config.sites.iter().filter_map(|s| config.directory_for(s)) {
        if !sources.contains(&source) {
            sources.push(source);
        }
    }
    let prefix = path.display().to_string();
    let mut exchange = false;
    for source in &sources {
        match source {
            // Resolved through the site's server (EWS ExpandDL, Graph
            // transitiveMembers) when a task runs; nothing to open now.
            DirectorySource::Exchange | DirectorySource::Graph => exchange = true,
            _ => match config.open_directory_source(source) {
                Ok(_) => {}
                Err(DirectoryError::InvalidSnapshot(p)) => {
                    problems.extend(p.iter().map(ToString::to_string));
                }
                Err(e) => problems.push(format!("{prefix}: {e}")),
            },
        }
    }
    problems.extend(
        missing_secret_files(&config)
            .into_iter()
            .map(|(at, file)| format!("{prefix}: {at}: no file at {}", file.display())),
    );
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
        sources.len(),
        if sources.len() == 1 { "y" } else { "ies" },
    )?;
    if exchange {
        writeln!(
            out,
            "{}: groups of directory = \"exchange\" are resolved through Exchange (ExpandDL) when a task runs; `calrep groups` resolves one now",
            path.display()
        )?;
    }
    Ok(Outcome::Ok)
}

/// Secret files the configuration names that do not exist, with where
/// they are named and their path resolved from the configuration's folder.
fn missing_secret_files(config: &Config) -> Vec<(String, PathBuf)> {
    let mut missing = Vec::new();
    for (i, site) in config.sites.iter().enumerate() {
        let mut named: Vec<(String, &PathBuf)> = Vec::new();
        if let Some(ews) = &site.ews {
            if let Some(file) = &ews.password_file {
                named.push((format!("sites[{i}].ews.password_file"), file));
            }
            if let Some(file) = ews.oauth.as_ref().and_then(|o| o.secret_file.as_ref()) {
                named.push((format!("sites[{i}].ews.oauth.secret_file"), file));
            }
        }
        if let Some(file) = site.graph.as_ref().and_then(|g| g.secret_file.as_ref()) {
            named.push((format!("sites[{i}].graph.secret_file"), file));
        }
        for (at, file) in named {
            let full = config.resolve_path(file);
            if !full.is_file() {
                missing.push((at, full));
            }
        }
    }
    missing
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
