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
        assert_eq!(
            SecretRef::from_pair(var.as_ref(), None),
            Ok(SecretRef::Env("X".into()))
        );
    }
}
