//! `calrep move-to-graph`: move a site's replica from EWS ids to Graph ids
//! in place, so its first Graph run reads nothing twice.

use std::io::{self, Write};
use std::path::Path;

use calrep_core::SiteId;
use calrep_core::graph::{GraphSource, move_from_ews};

use crate::{Outcome, load_config, runtime, try_outcome};

pub(crate) fn run(
    path: &Path,
    site: &str,
    json: bool,
    out: &mut impl Write,
) -> io::Result<Outcome> {
    let config = try_outcome!(load_config(path));
    let id = SiteId::new(site);
    let Some(configured) = config.site(&id) else {
        let known: Vec<_> = config.sites.iter().map(|s| s.id.as_str()).collect();
        return Ok(Outcome::Invalid(vec![format!(
            "no site named {site:?}; the configuration has: {}",
            known.join(", ")
        )]));
    };
    if configured.graph.is_none() {
        return Ok(Outcome::Invalid(vec![format!(
            "site {site} has no [graph] app registration: add it (see the README's \
             \"Microsoft 365 through Microsoft Graph\") before moving the replica"
        )]));
    }
    let source = match GraphSource::from_site(configured, &config.base_dir) {
        Ok(s) => s,
        Err(e) => return Ok(Outcome::Invalid(vec![e.to_string()])),
    };
    let replica_path = config.resolve_path(&config.replica.path);
    if config.replica.postgres.is_none() && !replica_path.exists() {
        return Ok(Outcome::Failed(format!(
            "there is no replica at {} to move",
            replica_path.display()
        )));
    }
    let rt = try_outcome!(runtime());
    let replica = try_outcome!(crate::open_store(&config, &rt)).replica();
    let concurrency = configured.graph.as_ref().map_or(8, |g| g.concurrency);
    let report = match rt.block_on(move_from_ews(&source, &*replica, &id, concurrency)) {
        Ok(r) => r,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &report)?;
        writeln!(out)?;
    } else {
        for m in &report.mailboxes {
            match &m.error {
                Some(error) => writeln!(out, "  {}: not moved: {error}", m.mailbox)?,
                None => writeln!(
                    out,
                    "  {}: {} calendars, {} items, {} attachments renamed{}",
                    m.mailbox,
                    m.rekeyed.calendars,
                    m.rekeyed.items,
                    m.rekeyed.attachments,
                    match m.untranslated {
                        0 => String::new(),
                        n => format!("; {n} gone at the source (the next run removes them)"),
                    }
                )?,
            }
        }
        let moved = report.mailboxes.len() - report.failed();
        writeln!(
            out,
            "site {site}: {moved} of {} mailboxes moved to Graph ids",
            report.mailboxes.len()
        )?;
        if configured.ews.is_some() {
            writeln!(
                out,
                "now remove the site's [ews] section: while it is there the site still \
                 replicates over EWS, which would read the moved mailboxes again"
            )?;
        }
    }
    Ok(if report.failed() == 0 {
        Outcome::Ok
    } else {
        Outcome::Exit(3)
    })
}
