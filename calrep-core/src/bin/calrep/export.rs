//! `calrep export`: a mailbox's replica as RFC 5545 iCalendar.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::Path;

use calrep_core::EmailAddress;
use calrep_core::ical::{AttachmentStyle, StoredAttachment, export};
use calrep_core::replica::Replica;

use crate::{Outcome, load_config, open_engine, try_outcome};

pub(crate) fn run(
    path: &Path,
    mailbox: &str,
    calendar: Option<&str>,
    out_file: Option<&Path>,
    inline: bool,
    out: &mut impl Write,
) -> io::Result<Outcome> {
    let config = try_outcome!(load_config(path));
    let (_engine, replica) = try_outcome!(open_engine(config));
    let address: EmailAddress = match mailbox.parse() {
        Ok(a) => a,
        Err(e) => return Ok(Outcome::Invalid(vec![format!("--mailbox: {e}")])),
    };
    let calendars = match replica.calendars(&address) {
        Ok(c) => c,
        Err(e) => return Ok(Outcome::Failed(e.to_string())),
    };
    if calendars.is_empty() {
        return Ok(Outcome::Invalid(vec![format!(
            "the replica holds no calendars for {address}"
        )]));
    }
    let chosen: Vec<_> = match calendar {
        None => calendars,
        Some(name) => calendars
            .into_iter()
            .filter(|c| c.name == name || c.id.as_str() == name)
            .collect(),
    };
    if chosen.is_empty() {
        return Ok(Outcome::Invalid(vec![format!(
            "{address} has no calendar named {:?}",
            calendar.unwrap_or_default()
        )]));
    }
    let mut items = Vec::new();
    let mut refs: HashMap<(String, String), Option<String>> = HashMap::new();
    for c in &chosen {
        match (
            replica.items(&address, &c.id),
            replica.attachment_refs(&address, &c.id),
        ) {
            (Ok(found), Ok(attachments)) => {
                items.extend(found);
                refs.extend(
                    attachments
                        .into_iter()
                        .map(|(item, id, sha)| ((item.as_str().to_owned(), id), sha)),
                );
            }
            (Err(e), _) | (_, Err(e)) => return Ok(Outcome::Failed(e.to_string())),
        }
    }
    let name = match chosen.as_slice() {
        [one] => format!("{} ({address})", one.name),
        _ => address.to_string(),
    };
    let style = if inline {
        AttachmentStyle::Inline
    } else {
        AttachmentStyle::HashUri
    };
    let lookup = |item: &str, attachment: &str| {
        let sha = refs.get(&(item.to_owned(), attachment.to_owned()))?.clone();
        let content = match (&sha, inline) {
            (Some(sha), true) => replica.attachment(sha).ok().flatten(),
            _ => None,
        };
        Some(StoredAttachment::new(sha, content))
    };
    let text = export(&name, &items, lookup, style, chrono::Utc::now());
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
                items.len(),
                chosen.len()
            )?;
        }
        None => out.write_all(text.as_bytes())?,
    }
    Ok(Outcome::Ok)
}
