//! The crate's error type: one enum with a variant per area.

use crate::config::ConfigError;
use crate::group::DirectoryError;
use crate::schedule::ScheduleError;
use crate::secret::SecretError;
use crate::tz::TimeZoneError;

/// Any error from calrep-core. Each area keeps its own detailed type; this
/// enum lets callers use `?` across areas and still match on the area.
///
/// ```
/// use calrep_core::Error;
/// let err: Error = calrep_core::tz::resolve_zone("Nowhere/Land").unwrap_err().into();
/// assert!(matches!(err, Error::TimeZone(_)));
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
}

impl Error {
    /// Whether trying the same thing again later may succeed (a directory
    /// that was unavailable), as opposed to needing a fix.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Directory(DirectoryError::Unavailable(_)))
    }
}
