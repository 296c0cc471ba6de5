//! App passwords: made from the system's randomness, kept as Argon2id
//! hashes, checked without telling a wrong password from an unknown name.
//!
//! Argon2id costs ~20 ms and 19 MiB per check on purpose, and CalDAV
//! clients send their password with every request. A password that
//! verified is therefore remembered for a few minutes: as a SHA-256 under a
//! random per-process key, next to the stored hash it matched (so a new
//! password or a revoked account stops matching at once).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

use super::AccessError;
use crate::secret::Secret;

/// How long a verified password is remembered.
const REMEMBER: Duration = Duration::from_secs(300);

/// Bytes of randomness in an app password (160 bits).
const PASSWORD_BYTES: usize = 20;

/// A new app password: 160 random bits, base64url (27 characters).
///
/// # Errors
///
/// If the system has no randomness to give.
pub fn new_app_password() -> Result<Secret, AccessError> {
    random_token(PASSWORD_BYTES).map(Secret::new)
}

/// `bytes` of the system's randomness, base64url without padding.
pub(crate) fn random_token(bytes: usize) -> Result<String, AccessError> {
    let mut buffer = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buffer)
        .map_err(|_| AccessError::Password("the system's random source failed".into()))?;
    Ok(crate::base64::encode_url(&buffer))
}

/// Verified passwords: stored hash → (keyed digest of the password, until
/// when).
type Remembered = HashMap<String, ([u8; 32], Instant)>;

/// Hashes and checks app passwords; cheap to clone (one cache).
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Verified passwords: stored hash → (keyed digest of the password,
    /// until when).
    remembered: Arc<Mutex<Remembered>>,
    key: [u8; 32],
    /// Checked when the name is unknown, so that it costs the same.
    dummy: Arc<std::sync::OnceLock<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("memory_kib", &self.params.m_cost())
            .field("iterations", &self.params.t_cost())
            .finish_non_exhaustive()
    }
}

impl Default for PasswordHasher {
    /// OWASP's Argon2id settings: 19 MiB, two passes, one lane.
    fn default() -> Self {
        Self::with_params(Params::new(19 * 1024, 2, 1, None).unwrap_or_default())
    }
}

impl PasswordHasher {
    /// Cheap settings (8 KiB, one pass) for tests and examples: never for
    /// real passwords.
    pub fn fast_for_tests() -> Self {
        Self::with_params(Params::new(8, 1, 1, None).unwrap_or_default())
    }

    fn with_params(params: Params) -> Self {
        let mut key = [0u8; 32];
        // Without randomness the key stays zero: digests are then only as
        // secret as the process's memory, which holds the passwords anyway.
        let _ = SystemRandom::new().fill(&mut key);
        Self {
            params,
            remembered: Arc::default(),
            key,
            dummy: Arc::default(),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn digest(&self, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// The PHC string of `password` with a fresh salt, computed off the
    /// async workers.
    ///
    /// # Errors
    ///
    /// If the system has no randomness, or the hash fails.
    pub async fn hash(&self, password: &Secret) -> Result<String, AccessError> {
        let mut salt = [0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| AccessError::Password("the system's random source failed".into()))?;
        let argon2 = self.argon2();
        let password = password.expose().to_owned();
        let hashed = tokio::task::spawn_blocking(move || {
            let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| AccessError::Password(e.to_string()))?;
        hashed.map_err(AccessError::Password)
    }

    /// Whether `password` matches `stored` (a PHC string); `None` (an
    /// unknown account) checks a dummy hash so that it takes as long.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> bool {
        let digest = self.digest(password);
        if let Some(stored) = stored {
            let remembered = self
                .remembered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(stored)
                .copied();
            if let Some((known, until)) = remembered
                && Instant::now() < until
                && same(&known, &digest)
            {
                return true;
            }
        }
        let target = match stored {
            Some(s) => s.to_owned(),
            None => match self.dummy_hash().await {
                Some(d) => d,
                None => return false,
            },
        };
        let argon2 = self.argon2();
        let candidate = password.to_owned();
        let checked = target.clone();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&checked)
                .is_ok_and(|h| argon2.verify_password(candidate.as_bytes(), &h).is_ok())
        })
        .await
        .unwrap_or(false);
        if ok && stored.is_some() {
            let mut remembered = self
                .remembered
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let now = Instant::now();
            remembered.retain(|_, (_, until)| *until > now);
            remembered.insert(target, (digest, now + REMEMBER));
        }
        ok && stored.is_some()
    }

    async fn dummy_hash(&self) -> Option<String> {
        if let Some(d) = self.dummy.get() {
            return Some(d.clone());
        }
        let made = self.hash(&Secret::new("no such account")).await.ok()?;
        Some(self.dummy.get_or_init(|| made).clone())
    }
}

/// Whether two digests are equal, looking at every byte whatever the
/// first difference.
/// Whether `a` and `b` are equal, in time that depends only on their
/// lengths (tokens and digests are compared without telling how much of
/// them matched).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    a.len() == b.len() && std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_hash_only() {
        let hasher = PasswordHasher::fast_for_tests();
        let password = new_app_password().unwrap();
        assert_eq!(password.expose().len(), 27);
        let hash = hasher.hash(&password).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(!hash.contains(password.expose()));
        assert!(hasher.verify(password.expose(), Some(&hash)).await);
        // Remembered now; a wrong one still fails.
        assert!(hasher.verify(password.expose(), Some(&hash)).await);
        assert!(!hasher.verify("wrong", Some(&hash)).await);
        assert!(!hasher.verify(password.expose(), None).await);
        assert!(!hasher.verify(password.expose(), Some("not a hash")).await);
        let other = hasher.hash(&password).await.unwrap();
        assert_ne!(hash, other, "each hash has its own salt");
    }
}
