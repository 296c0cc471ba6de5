//! Errors: each area keeps its own detailed type, and every one of them
//! says what *kind* of failure it is ([`Classify`]), decided here, once.
//! The C ABI turns a kind into a status, Python into an exception class,
//! a server into an HTTP status — each with one conversion, none of them
//! re-deciding what an engine or replica error means.

use crate::address::NameError;
use crate::calendar::{DiffError, RecurrenceError};
use crate::config::ConfigError;
use crate::engine::EngineError;
use crate::ews::{EwsItemError, EwsSetupError};
use crate::group::DirectoryError;
use crate::ical::{ExportError, IcsDiffError, IcsError, TextDiffError};
use crate::mailbox::MailboxError;
use crate::recur::{ExpandError, RuleError, SetTextError};
use crate::replica::ReplicaError;
use crate::schedule::ScheduleError;
use crate::secret::SecretError;
use crate::tz::TimeZoneError;

/// What kind of failure an error is: what a caller can do about it.
///
/// ```
/// use calrep_core::{Classify, ErrorKind};
/// let err = calrep_core::tz::resolve_zone("Nowhere/Land").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller's input is malformed (an address, an instant, a zone, a
    /// document to read).
    InvalidArgument,
    /// The configuration is invalid, or something it names (a secret, a
    /// schedule's zone) cannot be used.
    Config,
    /// No task (or what it refers to) by that name.
    UnknownTask,
    /// The task is disabled.
    TaskDisabled,
    /// The source or its directory failed or cannot be set up (a server
    /// down, throttling, credentials refused): try again later or fix the
    /// site.
    Source,
    /// The replica could not be read or written.
    Replica,
    /// The replica holds no such mailbox or calendar.
    UnknownMailbox,
    /// A recurrence rule is invalid.
    Recurrence,
    /// A valid series could not be expanded (out of range, over budget).
    Expansion,
}

impl ErrorKind {
    /// Every kind, for bindings' tests that each maps somewhere of its own.
    pub const ALL: &'static [ErrorKind] = &[
        Self::InvalidArgument,
        Self::Config,
        Self::UnknownTask,
        Self::TaskDisabled,
        Self::Source,
        Self::Replica,
        Self::UnknownMailbox,
        Self::Recurrence,
        Self::Expansion,
    ];
}

/// An error that knows its [`ErrorKind`].
pub trait Classify: std::error::Error {
    /// What kind of failure this is.
    fn kind(&self) -> ErrorKind;
}

/// Any error from calrep-core, for callers that use `?` across areas. Each
/// variant keeps its area's detailed type.
///
/// ```
/// use calrep_core::{Classify, Error, ErrorKind};
/// let err: Error = calrep_core::tz::resolve_zone("Nowhere/Land").unwrap_err().into();
/// assert!(matches!(err, Error::TimeZone(_)));
/// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
/// assert!(!err.is_retryable());
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration problem.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An unknown time zone.
    #[error(transparent)]
    TimeZone(#[from] TimeZoneError),
    /// A schedule that cannot run.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// A directory that could not answer.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// A secret that could not be read.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A run that could not start.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A replica that could not be read or written.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
    /// A mailbox that could not be read.
    #[error(transparent)]
    Mailbox(#[from] MailboxError),
    /// A mailbox that could not be exported.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// A recurrence rule that cannot be read.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// A series that cannot be expanded.
    #[error(transparent)]
    Expand(#[from] ExpandError),
}

impl Error {
    /// Whether trying the same thing again later may succeed (a source or
    /// directory that was unavailable), as opposed to needing a fix.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Directory(DirectoryError::Unavailable(_)) => true,
            Self::Mailbox(e) => e.is_retryable(),
            _ => false,
        }
    }
}

impl Classify for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Config(e) => e.kind(),
            Self::TimeZone(e) => e.kind(),
            Self::Schedule(e) => e.kind(),
            Self::Directory(e) => e.kind(),
            Self::Secret(e) => e.kind(),
            Self::Engine(e) => e.kind(),
            Self::Replica(e) => e.kind(),
            Self::Mailbox(e) => e.kind(),
            Self::Export(e) => e.kind(),
            Self::Rule(e) => e.kind(),
            Self::Expand(e) => e.kind(),
        }
    }
}

/// Errors that are one kind whatever their detail.
macro_rules! one_kind {
    ($kind:ident: $($error:ty),+ $(,)?) => {
        $(impl Classify for $error {
            fn kind(&self) -> ErrorKind {
                ErrorKind::$kind
            }
        })+
    };
}

one_kind!(InvalidArgument: NameError, TimeZoneError, IcsError);
one_kind!(Config: ConfigError, ScheduleError, SecretError);
one_kind!(Source: DirectoryError, MailboxError, EwsSetupError, EwsItemError);
one_kind!(Replica: ReplicaError);
one_kind!(Recurrence: RuleError, SetTextError, RecurrenceError);
one_kind!(Expansion: DiffError);

impl Classify for EngineError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::UnknownTask(_) | Self::UnknownDefinition { .. } => ErrorKind::UnknownTask,
            Self::Disabled(_) => ErrorKind::TaskDisabled,
            Self::NoSource(_) | Self::SourceSetup { .. } | Self::Directory { .. } => {
                ErrorKind::Source
            }
        }
    }
}

impl Classify for ExportError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NoCalendars(_) | Self::NoSuchCalendar { .. } => ErrorKind::UnknownMailbox,
            Self::Replica(e) => e.kind(),
        }
    }
}

impl Classify for ExpandError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Rule(e) => e.kind(),
            Self::OutOfRange | Self::Runaway(_) | Self::TooMany(_) | Self::Budget(_) => {
                ErrorKind::Expansion
            }
        }
    }
}

impl Classify for IcsDiffError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Read { .. } => ErrorKind::InvalidArgument,
            Self::Expand { .. } => ErrorKind::Expansion,
        }
    }
}

impl Classify for TextDiffError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Unreadable(_) => ErrorKind::InvalidArgument,
            Self::Expansion(_) => ErrorKind::Expansion,
        }
    }
}
