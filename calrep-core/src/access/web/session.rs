//! Signed-in browsers: sessions kept in the server's memory, keyed by the
//! SHA-256 of a random cookie value (so a lookup compares digests, not the
//! secret, and a memory dump holds no usable cookie).
//!
//! A session names its account and the password hash it signed in against;
//! the caller re-reads the account on every request, so a revoked,
//! re-issued or expired account ends its sessions at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::access::AccessError;
use crate::access::password::random_token;

/// A session unused this long ends.
const IDLE: TimeDelta = TimeDelta::hours(8);
/// No session lasts longer than this.
const LONGEST: TimeDelta = TimeDelta::hours(24);
/// Sessions kept at most; the least recently used go first.
const MAX_SESSIONS: usize = 10_000;
/// Random bytes in a session cookie and in a CSRF token (256 bits).
const TOKEN_BYTES: usize = 32;

/// What a live session says.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The account signed in.
    pub(crate) account: String,
    /// The password hash it signed in against.
    pub(crate) password_hash: String,
    /// The token its forms carry.
    pub(crate) csrf: String,
    created: DateTime<Utc>,
    seen: DateTime<Utc>,
}

/// The sessions of one server.
#[derive(Debug, Default)]
pub(crate) struct Sessions {
    live: Mutex<HashMap<[u8; 32], Session>>,
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A new random token for a cookie or a form.
pub(crate) fn new_token() -> Result<String, AccessError> {
    random_token(TOKEN_BYTES)
}

impl Sessions {
    /// Starts a session for `account` (signed in against `password_hash`)
    /// and returns its cookie value.
    pub(crate) fn start(
        &self,
        account: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<String, AccessError> {
        let token = new_token()?;
        let session = Session {
            account: account.to_owned(),
            password_hash: password_hash.to_owned(),
            csrf: new_token()?,
            created: now,
            seen: now,
        };
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.retain(|_, s| s.alive(now));
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live.iter().min_by_key(|(_, s)| s.seen).map(|(k, _)| *k)
        {
            live.remove(&oldest);
        }
        live.insert(key(&token), session);
        Ok(token)
    }

    /// The live session of cookie value `token`, marked as seen at `now`.
    pub(crate) fn find(&self, token: &str, now: DateTime<Utc>) -> Option<Session> {
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        let k = key(token);
        match live.get_mut(&k) {
            Some(s) if s.alive(now) => {
                s.seen = now;
                Some(s.clone())
            }
            Some(_) => {
                live.remove(&k);
                None
            }
            None => None,
        }
    }

    /// Ends the session of cookie value `token`, if any.
    pub(crate) fn end(&self, token: &str) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key(token));
    }
}

impl Session {
    fn alive(&self, now: DateTime<Utc>) -> bool {
        now - self.seen < IDLE && now - self.created < LONGEST
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_session_ends_when_idle_too_long_or_old_enough_and_when_ended() {
        let sessions = Sessions::default();
        let t0 = at("2026-11-29T08:00:00Z");
        let token = sessions.start("ann", "$argon2id$…", t0).unwrap();
        assert_eq!(token.len(), 43, "256 bits in base64url");
        let s = sessions.find(&token, t0 + TimeDelta::hours(7)).unwrap();
        assert_eq!(s.account, "ann");
        assert_eq!(s.csrf.len(), 43);
        assert_ne!(s.csrf, token);
        // Used every 7 hours it lives, but never past 24 hours.
        assert!(sessions.find(&token, t0 + TimeDelta::hours(14)).is_some());
        assert!(sessions.find(&token, t0 + TimeDelta::hours(21)).is_some());
        assert!(sessions.find(&token, t0 + TimeDelta::hours(24)).is_none());
        // Idle for 8 hours: gone.
        let idle = sessions.start("ann", "h", t0).unwrap();
        assert!(sessions.find(&idle, t0 + TimeDelta::hours(8)).is_none());
        // Ended: gone; an unknown cookie finds nothing.
        let ended = sessions.start("ann", "h", t0).unwrap();
        sessions.end(&ended);
        assert!(sessions.find(&ended, t0).is_none());
        assert!(sessions.find("forged", t0).is_none());
    }
}
