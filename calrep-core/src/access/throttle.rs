//! Failed sign-ins slow a guesser down: after too many failures in a
//! window, an account (whatever address tries it) and an address (whatever
//! account it tries) are refused without a password check until the
//! window ends. A success clears the account's count.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::PasswordHasher;
use crate::replica::{AccessAccount, AccessStore};

/// How long failures are counted.
const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures one account may have in a window.
const PER_ACCOUNT: u32 = 10;
/// Failures one address may have in a window (offices share addresses).
const PER_ADDRESS: u32 = 30;
/// Keys remembered at most (a flood of names cannot grow memory forever).
const MAX_KEYS: usize = 100_000;

/// What one sign-in attempt came to.
#[derive(Debug)]
pub(crate) enum Attempt {
    SignedIn(AccessAccount),
    /// A wrong password, or an unknown, expired or revoked account.
    Refused,
    /// The account or the address must wait this long.
    Locked(Duration),
    /// The store could not be read.
    Unavailable,
}

/// The `Retry-After` header for a lockout of `wait`.
pub(crate) fn retry_after(wait: Duration) -> (&'static str, String) {
    ("retry-after", wait.as_secs().max(1).to_string())
}

/// Counts of failed sign-ins per account and per address.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

fn account_key(name: &str) -> String {
    format!("account:{}", name.to_ascii_lowercase())
}

fn address_key(address: std::net::IpAddr) -> String {
    format!("address:{address}")
}

impl Throttle {
    /// How long `name` from `address` must wait, if either is locked out.
    pub(crate) fn wait(&self, name: &str, address: std::net::IpAddr) -> Option<Duration> {
        let failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        [
            (account_key(name), PER_ACCOUNT),
            (address_key(address), PER_ADDRESS),
        ]
        .into_iter()
        .filter_map(|(key, limit)| {
            let (count, since) = failures.get(&key)?;
            let left = WINDOW.checked_sub(now.duration_since(*since))?;
            (*count >= limit).then_some(left)
        })
        .max()
    }

    /// Signs `name` in with `password` from `address` unless either is
    /// locked out, and counts the outcome: every way in (Basic, the page's
    /// form) goes through here.
    pub(crate) async fn sign_in(
        &self,
        store: &dyn AccessStore,
        hasher: &PasswordHasher,
        name: &str,
        password: &str,
        address: std::net::IpAddr,
        now: DateTime<Utc>,
    ) -> Attempt {
        if let Some(wait) = self.wait(name, address) {
            return Attempt::Locked(wait);
        }
        match super::sign_in(store, hasher, name, password, now).await {
            Ok(Some(account)) => {
                self.succeeded(name);
                Attempt::SignedIn(account)
            }
            Ok(None) => {
                self.failed(name, address);
                Attempt::Refused
            }
            Err(_) => Attempt::Unavailable,
        }
    }

    /// Records a failed sign-in.
    pub(crate) fn failed(&self, name: &str, address: std::net::IpAddr) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        }
        for key in [account_key(name), address_key(address)] {
            let entry = failures.entry(key).or_insert((0, now));
            if now.duration_since(entry.1) >= WINDOW {
                *entry = (0, now);
            }
            entry.0 = entry.0.saturating_add(1);
        }
    }

    /// Records a successful sign-in: the account's count starts over.
    pub(crate) fn succeeded(&self, name: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&account_key(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_ten_failures_and_others_are_not() {
        let t = Throttle::default();
        let (here, there) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        for _ in 0..PER_ACCOUNT - 1 {
            t.failed("Ann", here);
        }
        assert_eq!(t.wait("ann", there), None);
        t.failed("ann", there);
        assert!(t.wait("ANN", here).is_some_and(|w| w <= WINDOW));
        assert_eq!(
            t.wait("bob", there),
            None,
            "another account from another address"
        );
        t.succeeded("ann");
        assert_eq!(t.wait("ann", there), None);
        for _ in 0..PER_ADDRESS {
            t.failed("someone", there);
        }
        assert!(t.wait("bob", there).is_some(), "the address is locked out");
    }
}
