//! Status codes: stable numbers grouped by area, never reused.

use calrep_core::ErrorKind;

/// What a call ended with. `CALREP_STATUS_OK` is 0; the others are grouped
/// by area in thousands. Numbers are stable: a retired one is never reused.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum calrep_status {
    /// Success.
    Ok = 0,
    /// A required pointer argument was NULL.
    NullParameter = 1001,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 1002,
    /// An argument is out of range or malformed (a time, a number).
    InvalidArgument = 1003,
    /// A handle argument is not live: freed already, of another type, or
    /// not made by calrep.
    StaleHandle = 1004,
    /// The configuration text is invalid; the message lists every problem.
    ConfigInvalid = 2001,
    /// The configuration has no such task (or what it refers to is missing).
    TaskUnknown = 3001,
    /// The task is disabled.
    TaskDisabled = 3002,
    /// The task's site has no usable mailbox source (a secret that cannot
    /// be read, an unsupported backend).
    SourceUnavailable = 3003,
    /// The run was cancelled before it finished.
    Cancelled = 3004,
    /// The replica cannot be opened, read or written.
    ReplicaError = 4001,
    /// The replica has no such mailbox.
    MailboxUnknown = 4002,
    /// A recurrence rule, start, zone or date list is invalid.
    RecurrenceInvalid = 5001,
    /// A valid recurrence could not be expanded (past year 9999, too many
    /// occurrences, a rule that never matches).
    ExpansionFailed = 5002,
    /// Nothing arrived before the timeout.
    Timeout = 7001,
    /// An operating-system error (a port in use, a file).
    Io = 9001,
    /// A bug in calrep: a panic was caught at the boundary.
    Panic = 9002,
    /// A bug in calrep that did not panic: an answer that could not be
    /// encoded, or a kind of core error this boundary has no status for.
    Internal = 9003,
}

impl From<ErrorKind> for calrep_status {
    /// The one mapping of core's error kinds to statuses.
    fn from(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidArgument => Self::InvalidArgument,
            ErrorKind::Config => Self::ConfigInvalid,
            ErrorKind::UnknownTask => Self::TaskUnknown,
            ErrorKind::TaskDisabled => Self::TaskDisabled,
            ErrorKind::Source => Self::SourceUnavailable,
            ErrorKind::Replica => Self::ReplicaError,
            ErrorKind::UnknownMailbox => Self::MailboxUnknown,
            ErrorKind::Recurrence => Self::RecurrenceInvalid,
            ErrorKind::Expansion => Self::ExpansionFailed,
            // A kind added to core after this boundary was written: its
            // test below fails until the kind has a status of its own.
            _ => Self::Internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_error_kind_has_a_status_of_its_own() {
        let statuses: std::collections::HashSet<u32> = ErrorKind::ALL
            .iter()
            .map(|&kind| calrep_status::from(kind) as u32)
            .collect();
        assert_eq!(
            statuses.len(),
            ErrorKind::ALL.len(),
            "two kinds share a status"
        );
        assert!(!statuses.contains(&(calrep_status::Internal as u32)));
    }
}
