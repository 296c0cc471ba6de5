//! Newtype identifiers for the administrator's objects.
//!
//! Each kind of object has its own id type so that a schedule id can never be
//! passed where a definition id is expected.

/// Declares a string newtype id with `new`, `as_str`, `Display`, a `Debug`
/// that names the type, `From<&str>` and transparent serde.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a string as an id.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
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
pub(crate) use string_id;

/// An administrator's id: a [`string_id!`] with the kind of object it names.
macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        string_id!($(#[$doc])* $name);

        impl $name {
            /// What this id names, as used in messages ("site", "schedule", …).
            pub const KIND: &'static str = $kind;
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
