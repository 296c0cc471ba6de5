//! The schedule as an administrator writes it.

use std::fmt;

use chrono::{NaiveDateTime, NaiveTime};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ScheduleId;

/// When tasks run: one-off, daily or weekly, always in a named time zone.
///
/// ```
/// let s: calrep_core::Schedule = toml::from_str(r#"
///     id = "office-hours"
///     time_zone = "W. Europe Standard Time"
///     when.weekly = { days = ["mon", "tue", "wed", "thu", "fri"], times.many = { start = "08:00", end = "18:00", interval_minutes = 30 } }
/// "#)?;
/// assert_eq!(s.id.as_str(), "office-hours");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Schedule {
    /// The schedule's id.
    pub id: ScheduleId,
    /// Free text for operators.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// An IANA name (`Europe/Berlin`) or a Windows id (`W. Europe Standard
    /// Time`). Times below are wall-clock times in this zone.
    pub time_zone: String,
    /// The pattern of runs.
    pub when: When,
}

/// The pattern of a schedule's runs (MSE's schedule types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum When {
    /// Once, at a wall-clock date and time. A one-off in the past never runs.
    OneOff {
        /// The date and time, e.g. `2026-12-24T18:00`.
        at: LocalDateTime,
    },
    /// Every day.
    Daily(DailyTimes),
    /// On the given days of the week.
    Weekly {
        /// The days, e.g. `["mon", "wed"]`.
        days: Vec<Weekday>,
        /// The times on each of those days.
        times: DailyTimes,
    },
}

/// MSE's daily "Schedule Type": once a day, or many times within a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DailyTimes {
    /// Once, at `start`.
    Once {
        /// Wall-clock time of the run.
        start: LocalTime,
    },
    /// At `start`, then every `interval_minutes` on the wall-clock grid, up to
    /// and including `end` on the same day.
    Many {
        /// First run of the day.
        start: LocalTime,
        /// No run after this time.
        end: LocalTime,
        /// Minutes between runs, 1 to 1440.
        interval_minutes: IntervalMinutes,
    },
}

/// A wall-clock time of day, written `HH:MM` or `HH:MM:SS`.
///
/// ```
/// let t: calrep_core::LocalTime = "07:30".parse()?;
/// assert_eq!(t.to_string(), "07:30");
/// assert!("25:00".parse::<calrep_core::LocalTime>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalTime(pub NaiveTime);

impl std::str::FromStr for LocalTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        NaiveTime::parse_from_str(s, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
            .map(Self)
            .map_err(|_| format!("{s:?} is not a time of day (expected HH:MM, e.g. \"02:30\")"))
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use chrono::Timelike;
        if self.0.second() == 0 {
            write!(f, "{}", self.0.format("%H:%M"))
        } else {
            write!(f, "{}", self.0.format("%H:%M:%S"))
        }
    }
}

/// A wall-clock date and time without an offset, written
/// `YYYY-MM-DDTHH:MM[:SS]`.
///
/// ```
/// let t: calrep_core::LocalDateTime = "2026-12-24T18:00".parse()?;
/// assert_eq!(t.to_string(), "2026-12-24T18:00:00");
/// let err = "2026-12-24T18:00Z".parse::<calrep_core::LocalDateTime>().unwrap_err();
/// assert!(err.contains("offset"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalDateTime(pub NaiveDateTime);

impl std::str::FromStr for LocalDateTime {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let has_offset = s.ends_with('Z')
            || s.ends_with('z')
            || s.get(10..)
                .is_some_and(|t| t.contains('+') || t.rfind('-').is_some());
        if has_offset {
            return Err(format!(
                "{s:?} has a UTC offset; write the wall-clock time in the schedule's time zone without an offset"
            ));
        }
        ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
            .map(Self)
            .ok_or_else(|| {
                format!("{s:?} is not a date and time (expected YYYY-MM-DDTHH:MM, e.g. \"2026-12-24T18:00\")")
            })
    }
}

impl fmt::Display for LocalDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// A day of the week, written `mon` … `sun` (full names and any case accepted).
///
/// ```
/// let d: calrep_core::Weekday = "Friday".parse()?;
/// assert_eq!(d.0, chrono::Weekday::Fri);
/// assert_eq!(d.to_string(), "fri");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weekday(pub chrono::Weekday);

impl std::str::FromStr for Weekday {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim()
            .parse::<chrono::Weekday>()
            .map(Self)
            .map_err(|_| format!("{s:?} is not a day of the week (expected mon, tue, … sun)"))
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_string().to_ascii_lowercase())
    }
}

/// Minutes between runs of a daily "Many" window: 1 to 1440.
///
/// ```
/// let ok: calrep_core::IntervalMinutes = serde_json::from_str("30")?;
/// assert_eq!(ok.get(), 30);
/// let err = serde_json::from_str::<calrep_core::IntervalMinutes>("0").unwrap_err();
/// assert!(err.to_string().contains("between 1 and 1440"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct IntervalMinutes(u16);

impl IntervalMinutes {
    /// The number of minutes.
    pub fn get(self) -> u16 {
        self.0
    }

    /// An interval, if `minutes` is between 1 and 1440.
    pub fn new(minutes: i64) -> Result<Self, String> {
        match u16::try_from(minutes) {
            Ok(m @ 1..=1440) => Ok(Self(m)),
            _ => Err(format!(
                "interval_minutes must be between 1 and 1440, got {minutes}"
            )),
        }
    }
}

macro_rules! serde_via_str {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
serde_via_str!(LocalTime, LocalDateTime, Weekday);

impl Serialize for IntervalMinutes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.0)
    }
}

impl<'de> Deserialize<'de> for IntervalMinutes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let minutes = i64::deserialize(d)?;
        Self::new(minutes).map_err(serde::de::Error::custom)
    }
}
