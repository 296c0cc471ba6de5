//! `calrep access grant|revoke|list`: who may read the replica in an
//! outage. Accounts live in the replica's store, so they work while the
//! directory and Exchange are down.

use std::io::{self, Write};
use std::sync::Arc;

use calrep_core::EmailAddress;
use calrep_core::access::{
    AccessReplica, Grants, PasswordHasher, feed_urls, grant, issue_feed_token, revoke,
};

use crate::{ConfigArg, Outcome, load_config, runtime, try_outcome};

/// What to do with access accounts.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Action {
    /// Issue an account (or replace its password and grants); prints its
    /// new app password once.
    Grant {
        #[command(flatten)]
        config: ConfigArg,
        /// The sign-in name.
        #[arg(long)]
        account: String,
        /// A mailbox that is the account's own (repeatable).
        #[arg(long = "mailbox")]
        mailboxes: Vec<String>,
        /// A mailbox delegated to it: readable, others' private items masked (repeatable).
        #[arg(long = "delegate")]
        delegated: Vec<String>,
        /// Read every mailbox, private items included.
        #[arg(long)]
        admin: bool,
        /// No sign-in after this instant (RFC 3339).
        #[arg(long)]
        expires: Option<String>,
    },
    /// Issue (or rotate) an account's feed token and print its
    /// subscription URLs; the old token stops working at once.
    Feed {
        #[command(flatten)]
        config: ConfigArg,
        /// The sign-in name.
        #[arg(long)]
        account: String,
    },
    /// Remove an account: its password stops working at once.
    Revoke {
        #[command(flatten)]
        config: ConfigArg,
        /// The sign-in name.
        #[arg(long)]
        account: String,
    },
    /// List the accounts and their grants (never a password).
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn addresses(list: &[String], what: &str) -> Result<Vec<EmailAddress>, Outcome> {
    list.iter()
        .map(|a| {
            a.parse()
                .map_err(|e| Outcome::Invalid(vec![format!("--{what} {a:?}: {e}")]))
        })
        .collect()
}

/// The configured store, as the front end reads it (accounts included).
fn open(
    config: &ConfigArg,
    rt: &tokio::runtime::Runtime,
) -> Result<Arc<dyn AccessReplica>, Outcome> {
    let config = load_config(&config.path)?;
    Ok(crate::open_store(&config, rt)?.reader())
}

pub(crate) fn run(action: &Action, out: &mut impl Write) -> io::Result<Outcome> {
    let rt = try_outcome!(runtime());
    match action {
        Action::Grant {
            config,
            account,
            mailboxes,
            delegated,
            admin,
            expires,
        } => {
            let mut grants = Grants::default();
            grants.mailboxes = try_outcome!(addresses(mailboxes, "mailbox"));
            grants.delegated = try_outcome!(addresses(delegated, "delegate"));
            grants.admin = *admin;
            grants.expires = match expires.as_deref().map(str::parse) {
                None => None,
                Some(Ok(t)) => Some(t),
                Some(Err(e)) => {
                    return Ok(Outcome::Invalid(vec![format!("--expires: {e}")]));
                }
            };
            let store = try_outcome!(open(config, &rt));
            let hasher = PasswordHasher::default();
            let now = chrono::Utc::now();
            match rt.block_on(grant(&*store, &hasher, account, &grants, now)) {
                Ok(password) => {
                    writeln!(out, "account {account}: app password (shown only now):")?;
                    writeln!(out, "{}", password.expose())?;
                    Ok(Outcome::Ok)
                }
                Err(e) => Ok(Outcome::Invalid(vec![e.to_string()])),
            }
        }
        Action::Feed { config, account } => {
            let loaded = try_outcome!(load_config(&config.path));
            let base = loaded.access.as_ref().map_or_else(
                || "http://127.0.0.1:8008".to_owned(),
                calrep_core::AccessConfig::base_url,
            );
            let store = try_outcome!(open(config, &rt));
            let issued = rt.block_on(async {
                let token = issue_feed_token(&*store, account).await?;
                feed_urls(&*store, account, &token, &base).await
            });
            match issued {
                Ok(urls) => {
                    writeln!(
                        out,
                        "account {account}: feed URLs (shown only now; webcal:// works too):"
                    )?;
                    for (calendar, url) in urls {
                        writeln!(out, "  {calendar}: {url}")?;
                    }
                    Ok(Outcome::Ok)
                }
                Err(e) => Ok(Outcome::Invalid(vec![e.to_string()])),
            }
        }
        Action::Revoke { config, account } => {
            let store = try_outcome!(open(config, &rt));
            match rt.block_on(revoke(&*store, account)) {
                Ok(()) => {
                    writeln!(out, "account {account}: revoked")?;
                    Ok(Outcome::Ok)
                }
                Err(e) => Ok(Outcome::Invalid(vec![e.to_string()])),
            }
        }
        Action::List { config, json } => {
            let store = try_outcome!(open(config, &rt));
            let accounts = match rt.block_on(store.accounts()) {
                Ok(a) => a,
                Err(e) => return Ok(Outcome::Failed(e.to_string())),
            };
            if *json {
                serde_json::to_writer_pretty(&mut *out, &accounts)?;
                writeln!(out)?;
                return Ok(Outcome::Ok);
            }
            for a in &accounts {
                let mut what = Vec::new();
                if a.admin {
                    what.push("admin".to_owned());
                }
                if !a.mailboxes.is_empty() {
                    what.push(format!("own {}", a.mailboxes.join(", ")));
                }
                if !a.delegated.is_empty() {
                    what.push(format!("delegated {}", a.delegated.join(", ")));
                }
                if let Some(e) = a.expires {
                    what.push(format!("expires {}", e.to_rfc3339()));
                }
                writeln!(out, "  {}: {}", a.name, what.join("; "))?;
            }
            writeln!(out, "{} access accounts", accounts.len())?;
            Ok(Outcome::Ok)
        }
    }
}
