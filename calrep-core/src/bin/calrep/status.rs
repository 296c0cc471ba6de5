//! `calrep status`: what the replica holds.

use std::io::{self, Write};
use std::path::Path;

use crate::{Outcome, load_config, open_replica_read_only, runtime, try_outcome};

pub(crate) fn run(path: &Path, json: bool, out: &mut impl Write) -> io::Result<Outcome> {
    let config = try_outcome!(load_config(path));
    let runtime = try_outcome!(runtime());
    let store = try_outcome!(open_replica_read_only(&config, &runtime));
    let mailboxes = match runtime.block_on(store.replica().mailboxes()) {
        Ok(m) => m,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    if json {
        serde_json::to_writer_pretty(&mut *out, &mailboxes)?;
        writeln!(out)?;
        return Ok(Outcome::Ok);
    }
    let frozen = mailboxes.iter().filter(|m| m.frozen.is_some()).count();
    writeln!(
        out,
        "replica {}: {} mailboxes ({frozen} frozen)",
        store.describe(),
        mailboxes.len()
    )?;
    for m in mailboxes {
        let when = m.last_synced.map_or_else(
            || "never".to_owned(),
            // As the JSON form writes it.
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        match &m.frozen {
            Some(reason) => writeln!(out, "  {}  last synced {when}  frozen: {reason}", m.address)?,
            None => writeln!(out, "  {}  last synced {when}", m.address)?,
        }
    }
    Ok(Outcome::Ok)
}
