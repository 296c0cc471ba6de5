//! `calrep export`: a mailbox's replica as RFC 5545 iCalendar.

use std::io::{self, Write};
use std::path::Path;

use calrep_core::EmailAddress;
use calrep_core::ical::{AttachmentStyle, ExportError, export_mailbox};

use crate::{Outcome, load_config, open_replica_read_only, runtime, try_outcome};

pub(crate) fn run(
    path: &Path,
    mailbox: &str,
    calendar: Option<&str>,
    out_file: Option<&Path>,
    inline: bool,
    out: &mut impl Write,
) -> io::Result<Outcome> {
    let config = try_outcome!(load_config(path));
    let address: EmailAddress = match mailbox.parse() {
        Ok(a) => a,
        Err(e) => return Ok(Outcome::Invalid(vec![format!("--mailbox: {e}")])),
    };
    let style = if inline {
        AttachmentStyle::Inline
    } else {
        AttachmentStyle::HashUri
    };
    let runtime = try_outcome!(runtime());
    let replica = try_outcome!(open_replica_read_only(&config, &runtime)).replica();
    let export = export_mailbox(&*replica, &address, calendar, style, chrono::Utc::now());
    let exported = match runtime.block_on(export) {
        Ok(e) => e,
        Err(e @ (ExportError::NoCalendars(_) | ExportError::NoSuchCalendar { .. })) => {
            return Ok(Outcome::Invalid(vec![e.to_string()]));
        }
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    let text = exported.text;
    match out_file {
        Some(file) => {
            if let Err(e) = std::fs::write(file, &text) {
                return Ok(Outcome::Failed(format!(
                    "cannot write {}: {e}",
                    file.display()
                )));
            }
            writeln!(
                out,
                "{}: {} items from {} calendar(s) of {address}",
                file.display(),
                exported.items,
                exported.calendars
            )?;
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(Outcome::Ok)
}
