//! RFC 5545 recurrence, done here rather than borrowed: rules parsed with
//! errors that name the bad part, expanded in the series' own wall clock,
//! with explicit daylight-saving handling, `EXDATE`/`RDATE` normalised to
//! the start's type, duplicates removed, the start always first, windows
//! reached without replaying the series' past, and typed limits against
//! runaway rules. DESIGN.md ("Recurrence") says why this replaces the
//! `rrule` crate's expansion.

mod iter;
mod rule;
mod set;
mod text;

pub(crate) use rule::parse_ical_time;
pub use rule::{ByDay, Frequency, Rule, Until};
pub use set::{
    Instance, LocalInstance, LocalTimePolicy, MAX_OCCURRENCES, RecurrenceSet, SeriesStart, SetDate,
};
pub use text::{SetTextError, set_from_text};

/// A rule that cannot be parsed or breaks RFC 5545's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// The text is not `NAME=VALUE;…`.
    #[error("malformed rule: {0}")]
    Syntax(String),
    /// `FREQ` is missing.
    #[error("the rule has no FREQ")]
    MissingFreq,
    /// A part RFC 5545 does not define.
    #[error("unknown rule part {0}")]
    UnknownPart(String),
    /// A part's value is wrong.
    #[error("{part}={value}: {reason}")]
    Value {
        /// The part (`BYDAY`, `UNTIL`, …).
        part: String,
        /// The offending value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Parts that RFC 5545 forbids together.
    #[error("{part}: {reason}")]
    Combination {
        /// The part at fault.
        part: &'static str,
        /// Why.
        reason: String,
    },
}

/// A series that cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExpandError {
    /// The rule is invalid.
    #[error(transparent)]
    Rule(#[from] RuleError),
    /// The series needs occurrences after the year 9999.
    #[error("the series runs past the year 9999")]
    OutOfRange,
    /// The rule produced nothing in too many periods in a row.
    #[error("the rule produced no occurrence in {0} periods in a row")]
    Runaway(u32),
    /// More occurrences than allowed.
    #[error("the series has more than {0} occurrences")]
    TooMany(usize),
    /// Expanding the rule would cost more candidate times than allowed
    /// (a `COUNT` replayed from far back, `BYSETPOS` over millions).
    #[error("the rule needs more than {0} candidate times to expand; refused as too costly")]
    Budget(u64),
}
