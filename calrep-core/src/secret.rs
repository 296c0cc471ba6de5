//! Secrets by reference. A configuration never holds a password, only where to
//! find it; the value is read when it is needed and can never be printed.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where a secret lives: an environment variable or a file.
///
/// ```
/// use calrep_core::SecretRef;
/// // SAFETY of the example: single-threaded doctest.
/// unsafe { std::env::set_var("CALREP_DOC_SECRET", "hunter2") };
/// let secret = SecretRef::Env("CALREP_DOC_SECRET".into()).load(std::path::Path::new("."))?;
/// assert_eq!(secret.expose(), "hunter2");
/// assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecretRef {
    /// The value of this environment variable.
    Env(String),
    /// The contents of this file (relative paths are taken from the
    /// configuration file's folder), without a trailing line break.
    File(PathBuf),
}

impl SecretRef {
    /// Builds a reference from the `*_env` / `*_file` pair of a configuration
    /// section; exactly one must be given.
    pub(crate) fn from_pair(
        env: Option<&String>,
        file: Option<&PathBuf>,
    ) -> Result<Self, &'static str> {
        match (env, file) {
            (Some(var), None) if var.trim().is_empty() => {
                Err("the environment variable name is empty")
            }
            // A pasted secret instead of a name: refused, and never echoed.
            (Some(var), None) if !is_env_name(var) => Err(
                "is not an environment variable name (letters, digits and _, not starting with a digit): give the name of the variable that holds the secret, never the secret itself",
            ),
            (Some(var), None) => Ok(Self::Env(var.clone())),
            (None, Some(path)) if path.as_os_str().is_empty() => Err("the file path is empty"),
            (None, Some(path)) => Ok(Self::File(path.clone())),
            (Some(_), Some(_)) => Err("give either the _env or the _file form, not both"),
            (None, None) => Err("missing: give the secret by reference (_env or _file)"),
        }
    }

    /// Reads the secret now. `base` is the folder relative file paths start from.
    pub fn load(&self, base: &Path) -> Result<Secret, SecretError> {
        match self {
            Self::Env(var) => match std::env::var(var) {
                Ok(value) if !value.is_empty() => Ok(Secret(value)),
                Ok(_) => Err(SecretError::Empty {
                    source_name: format!("environment variable {var}"),
                }),
                Err(_) => Err(SecretError::EnvMissing { var: var.clone() }),
            },
            Self::File(path) => {
                let full = base.join(path);
                let text = std::fs::read_to_string(&full).map_err(|e| SecretError::File {
                    path: full.display().to_string(),
                    reason: e.kind().to_string(),
                })?;
                let value = text.trim_end_matches(['\r', '\n']).to_owned();
                if value.is_empty() {
                    return Err(SecretError::Empty {
                        source_name: format!("file {}", full.display()),
                    });
                }
                Ok(Secret(value))
            }
        }
    }
}

/// Whether `name` is a portable environment variable name.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A secret value. Its `Debug` is redacted and it has no `Display`, so it
/// cannot end up in a log line, an error or a report by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value supplied by a host in code.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it (an HTTP header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A secret could not be read. Messages name where it was looked for, never
/// the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The environment variable is not set.
    #[error("environment variable {var} is not set")]
    EnvMissing {
        /// The variable's name.
        var: String,
    },
    /// The file could not be read.
    #[error("cannot read secret file {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The variable or file is empty.
    #[error("{source_name} is empty")]
    Empty {
        /// Which variable or file.
        source_name: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_secrets_lose_their_line_break_and_never_print() {
        let dir = std::env::temp_dir().join(format!("calrep-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("pw"), "s3cret\n").unwrap();
        let secret = SecretRef::File("pw".into()).load(&dir).unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert!(!format!("{secret:?}").contains("s3cret"));
        let missing = SecretRef::File("nope".into()).load(&dir).unwrap_err();
        assert!(missing.to_string().contains("nope"), "{missing}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn exactly_one_reference_form_is_accepted() {
        let var = Some("X".to_owned());
        let path = Some(PathBuf::from("p"));
        assert!(SecretRef::from_pair(var.as_ref(), path.as_ref()).is_err());
        assert!(SecretRef::from_pair(None, None).is_err());
        let pasted = Some("hunter2 is my pass!".to_owned());
        let refused = SecretRef::from_pair(pasted.as_ref(), None).unwrap_err();
        assert!(!refused.contains("hunter2"), "{refused}");
        assert_eq!(
            SecretRef::from_pair(var.as_ref(), None),
            Ok(SecretRef::Env("X".into()))
        );
    }
}

/// Removes known secret values from text a server supplied (an error
/// description, a fault string) before calrep shows or stores it: a server
/// that echoes the request must not put a password into a report.
///
/// Each secret is matched as sent and in the encodings it travels in: form
/// and percent encoding (a token request's body), and the base64 of
/// `user:password` (an HTTP Basic header).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Redactor {
    needles: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} forms)", self.needles.len())
    }
}

impl Redactor {
    /// Redacts `secret` in every form it is sent in.
    pub(crate) fn secret(mut self, secret: &Secret) -> Self {
        let value = secret.expose();
        // Very short values would redact ordinary words; a secret that short
        // is refused by no one, but is also not worth hiding from itself.
        if value.len() < 4 {
            return self;
        }
        let form = crate::encoding::form_encode(value);
        self.needles.push(form.replace('+', "%20"));
        self.needles.push(form);
        self.needles.push(value.to_owned());
        self.needles.sort();
        self.needles.dedup();
        // Longest first, so a form never leaves a part of a longer one.
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        self
    }

    /// Also redacts the HTTP Basic credentials of `username` and `secret`.
    pub(crate) fn basic(self, username: &str, secret: &Secret) -> Self {
        let pair = format!("{username}:{}", secret.expose());
        let encoded = Secret::new(crate::base64::encode(pair.as_bytes()));
        self.secret(secret).secret(&encoded)
    }

    /// `text` with every known secret replaced by `<redacted>`.
    pub(crate) fn clean(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), "<redacted>");
            }
        }
        out
    }
}

#[cfg(test)]
mod redactor_tests {
    use super::*;

    #[test]
    fn every_travelling_form_of_a_secret_is_redacted() {
        let secret = Secret::new("p@ss word+1");
        let r = Redactor::default().basic("svc", &secret);
        let basic = crate::base64::encode(b"svc:p@ss word+1");
        let echoed = format!(
            "got client_secret=p%40ss+word%2B1 and p%40ss%20word%2B1 and 'p@ss word+1' and Basic {basic}"
        );
        let clean = r.clean(&echoed);
        assert!(!clean.contains("p@ss"), "{clean}");
        assert!(!clean.contains("p%40ss"), "{clean}");
        assert!(!clean.contains(&basic), "{clean}");
        assert_eq!(clean.matches("<redacted>").count(), 4, "{clean}");
    }
}
