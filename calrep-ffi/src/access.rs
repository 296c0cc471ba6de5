//! Continuity access from a host: issue, revoke and list the accounts that
//! may read the engine's replica (they live in the replica's store).

use calrep_core::access::{Grants, PasswordHasher, grant, revoke};
use calrep_core::replica::AccessStore;

use crate::boundary::{Out, guard, text};
use crate::engine::{calrep_engine, instant};
use crate::error::{Failure, calrep_error};
use crate::handle::Handle;
use crate::status::calrep_status;
use crate::string::calrep_string;

/// The grants of `calrep_engine_access_grant`, as JSON.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantsJson {
    #[serde(default)]
    mailboxes: Vec<String>,
    #[serde(default)]
    delegated: Vec<String>,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    expires: Option<String>,
}

fn grants(json: &str) -> Result<Grants, Failure> {
    let invalid = |m: String| Failure::new(calrep_status::InvalidArgument, m);
    let parsed: GrantsJson =
        serde_json::from_str(json).map_err(|e| invalid(format!("grants: {e}")))?;
    let addresses = |list: &[String]| {
        list.iter()
            .map(|a| {
                a.parse()
                    .map_err(|e| invalid(format!("grants: {a:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let mut out = Grants::default();
    out.mailboxes = addresses(&parsed.mailboxes)?;
    out.delegated = addresses(&parsed.delegated)?;
    out.admin = parsed.admin;
    out.expires = parsed
        .expires
        .as_deref()
        .map(|t| instant("expires", t))
        .transpose()?;
    Ok(out)
}

/// Issues `account` an app password with the grants in `grants_json`
/// (`{"mailboxes": [...], "delegated": [...], "admin": false, "expires":
/// "2027-06-30T00:00:00Z"}`, every key optional), replacing its password
/// and grants if it exists. The password is written to `password_out`: the
/// only time it is seen (only its Argon2id hash is stored), so show it to
/// the person and free it.
///
/// # Safety
///
/// `engine` is live; each text pointer points to its length of bytes;
/// `password_out` is writable; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_access_grant(
    engine: *const calrep_engine,
    account: *const u8,
    account_len: usize,
    grants_json: *const u8,
    grants_len: usize,
    password_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let password_out = unsafe { Out::new(password_out, "password_out")? };
        // SAFETY: the host keeps the engine alive during the call.
        let engine = unsafe { calrep_engine::arg(engine, "engine")? };
        // SAFETY: lengths as documented.
        let (account, json) = unsafe {
            (
                text(account, account_len, "account")?,
                text(grants_json, grants_len, "grants_json")?,
            )
        };
        let grants = grants(json)?;
        let password = engine
            .runtime
            .block_on(grant(
                engine.replica(),
                &PasswordHasher::default(),
                account,
                &grants,
                chrono::Utc::now(),
            ))
            .map_err(Failure::from)?;
        password_out.put(calrep_string::boxed(password.expose().to_owned()));
        Ok(())
    })
}

/// Removes `account`: its password and feeds stop working at once.
/// `CALREP_STATUS_MAILBOX_UNKNOWN` if there is no such account.
///
/// # Safety
///
/// `engine` is live; `account` points to `account_len` bytes; `error_out`
/// is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_access_revoke(
    engine: *const calrep_engine,
    account: *const u8,
    account_len: usize,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the host keeps the engine alive during the call.
        let engine = unsafe { calrep_engine::arg(engine, "engine")? };
        // SAFETY: length as documented.
        let account = unsafe { text(account, account_len, "account")? };
        engine
            .runtime
            .block_on(revoke(engine.replica(), account))
            .map_err(Failure::from)
    })
}

/// The access accounts as a JSON array of objects with `name`, `admin`,
/// `mailboxes`, `delegated`, `expires` and `created` — never a password or
/// its hash.
///
/// # Safety
///
/// `engine` is live; `json_out` is writable; `error_out` is NULL or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_engine_access_list(
    engine: *const calrep_engine,
    json_out: *mut *mut calrep_string,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: the caller passes NULL or a writable out-pointer.
        let json_out = unsafe { Out::new(json_out, "json_out")? };
        // SAFETY: the host keeps the engine alive during the call.
        let engine = unsafe { calrep_engine::arg(engine, "engine")? };
        let accounts = engine
            .runtime
            .block_on(engine.replica().accounts())
            .map_err(Failure::from)?;
        json_out.put(crate::string::json(&accounts)?);
        Ok(())
    })
}
