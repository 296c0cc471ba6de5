//! Newtype identifiers for the administrator's objects.
//!
//! Each kind of object has its own id type so that a schedule id can never be
//! passed where a definition id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// What this id names, as used in messages ("site", "schedule", …).
            pub const KIND: &'static str = $kind;

            /// Wraps a string as an id. Whether it is well formed is checked by
            /// [`Config::validate`](crate::Config::validate), not here.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as written in the configuration.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self::new(id)
            }
        }
    };
}

define_id!(
    /// Identifies a [`Site`](crate::Site).
    ///
    /// ```
    /// let id = calrep_core::SiteId::new("hq");
    /// assert_eq!(id.as_str(), "hq");
    /// ```
    SiteId,
    "site"
);
define_id!(
    /// Identifies a [`Definition`](crate::Definition).
    ///
    /// ```
    /// let id = calrep_core::DefinitionId::from("all-calendars");
    /// assert_eq!(id.to_string(), "all-calendars");
    /// ```
    DefinitionId,
    "definition"
);
define_id!(
    /// Identifies a [`Schedule`](crate::Schedule).
    ///
    /// ```
    /// let id = calrep_core::ScheduleId::new("nightly");
    /// assert_eq!(calrep_core::ScheduleId::KIND, "schedule");
    /// # assert_eq!(id.as_str(), "nightly");
    /// ```
    ScheduleId,
    "schedule"
);
define_id!(
    /// Identifies a [`Task`](crate::Task).
    ///
    /// ```
    /// let id = calrep_core::TaskId::new("sales-nightly");
    /// assert_eq!(format!("{id:?}"), "TaskId(\"sales-nightly\")");
    /// ```
    TaskId,
    "task"
);

/// Why an id is not acceptable, or `None` when it is.
///
/// Ids appear in file names, log lines and command lines, so they are kept to
/// a conservative alphabet.
pub(crate) fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        return Some("an id must not be empty");
    }
    if id.len() > 128 {
        return Some("an id must be at most 128 characters long");
    }
    let ok = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        return Some("an id may hold only ASCII letters, digits, '-', '_' and '.'");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_reject_what_would_break_file_names() {
        assert!(id_problem("nightly-2").is_none());
        assert!(id_problem("").is_some());
        assert!(id_problem("a b").is_some());
        assert!(id_problem("../etc").is_some());
        assert!(id_problem(&"x".repeat(129)).is_some());
    }
}
