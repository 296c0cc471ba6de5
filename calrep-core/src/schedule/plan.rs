//! Computing when a schedule runs.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

use super::spec::{DailyTimes, Schedule, When};
use crate::tz::wall_clock::run_instant;
use crate::tz::{ResolvedZone, TimeZoneError, resolve_zone};

/// A schedule made ready to compute runs: its zone resolved and its times
/// checked. Build one with [`SchedulePlan::new`] and ask it for
/// [`next_after`](Self::next_after) or iterate [`upcoming`](Self::upcoming).
///
/// Runs are wall-clock times in the schedule's zone. A time inside a
/// spring-forward gap runs once, when the gap ends; a time inside a fall-back
/// overlap runs once, at its first occurrence.
///
/// ```
/// use calrep_core::{Schedule, SchedulePlan};
/// let schedule: Schedule = toml::from_str(r#"
///     id = "nightly"
///     time_zone = "America/New_York"
///     when.daily.once.start = "02:30"
/// "#)?;
/// let plan = SchedulePlan::new(&schedule)?;
/// let after = "2024-03-09T12:00:00Z".parse()?;
/// let runs: Vec<String> = plan.upcoming(after).take(2).map(|t| t.to_rfc3339()).collect();
/// // 02:30 does not exist on 10 March 2024 in New York: that run happens at 03:00 EDT.
/// assert_eq!(runs, ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SchedulePlan {
    zone: ResolvedZone,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    OneOff(NaiveDateTime),
    Days {
        /// Bit `n` set: runs on the weekday numbered `n` from Monday.
        days: u8,
        start: NaiveTime,
        /// Slots of the day: `start + k * step` for `k < slots`.
        step: TimeDelta,
        slots: u32,
    },
}

/// Why a schedule cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// The time zone is unknown.
    #[error(transparent)]
    TimeZone(#[from] TimeZoneError),
    /// A daily window ends before (or when) it starts.
    #[error("end {end} is not after start {start}; a window must end later on the same day")]
    EndNotAfterStart {
        /// The window's start.
        start: String,
        /// The window's end.
        end: String,
    },
    /// A weekly schedule names no day.
    #[error("a weekly schedule needs at least one day")]
    NoDays,
}

impl SchedulePlan {
    /// Resolves the schedule's zone and checks its times.
    pub fn new(schedule: &Schedule) -> Result<Self, ScheduleError> {
        let zone = resolve_zone(&schedule.time_zone)?;
        let kind = match &schedule.when {
            When::OneOff { at } => Kind::OneOff(at.0),
            When::Daily(times) => day_kind(0b111_1111, times)?,
            When::Weekly { days, times } => {
                let mask = days
                    .iter()
                    .fold(0u8, |m, d| m | 1 << d.0.num_days_from_monday());
                if mask == 0 {
                    return Err(ScheduleError::NoDays);
                }
                day_kind(mask, times)?
            }
        };
        Ok(Self { zone, kind })
    }

    /// The zone the schedule's times are in.
    pub fn zone(&self) -> &ResolvedZone {
        &self.zone
    }

    /// The first run strictly after `after`, or `None` if there is none (a
    /// one-off that has passed).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Tz>> {
        let zone = self.zone.tz();
        match self.kind {
            Kind::OneOff(at) => run_instant(zone, at).filter(|t| *t > after),
            Kind::Days {
                days,
                start,
                step,
                slots,
            } => {
                let today = after.with_timezone(&zone).date_naive();
                // The day before is included for zones whose fall-back
                // overlap crosses midnight; eight more days cover a week.
                let first = today.pred_opt()?;
                first
                    .iter_days()
                    .take(9)
                    .filter(|d| days & (1 << d.weekday().num_days_from_monday()) != 0)
                    .find_map(|day| first_slot_after(zone, day, start, step, slots, after))
            }
        }
    }

    /// Runs strictly after `after`, in order, each strictly later than the one
    /// before.
    pub fn upcoming(&self, after: DateTime<Utc>) -> Upcoming<'_> {
        Upcoming { plan: self, after }
    }
}

impl DailyTimes {
    /// Checks that a "Many" window ends after it starts.
    ///
    /// ```
    /// use calrep_core::DailyTimes;
    /// let times: DailyTimes = serde_json::from_str(
    ///     r#"{"many": {"start": "18:00", "end": "08:00", "interval_minutes": 60}}"#)?;
    /// assert!(times.check().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check(&self) -> Result<(), ScheduleError> {
        match *self {
            Self::Many { start, end, .. } if end <= start => Err(ScheduleError::EndNotAfterStart {
                start: start.to_string(),
                end: end.to_string(),
            }),
            _ => Ok(()),
        }
    }
}

fn day_kind(days: u8, times: &DailyTimes) -> Result<Kind, ScheduleError> {
    Ok(match *times {
        DailyTimes::Once { start } => Kind::Days {
            days,
            start: start.0,
            step: TimeDelta::zero(),
            slots: 1,
        },
        DailyTimes::Many {
            start,
            end,
            interval_minutes,
        } => {
            times.check()?;
            let step = TimeDelta::minutes(i64::from(interval_minutes.get()));
            let span = (end.0 - start.0).num_seconds();
            let slots = u32::try_from(span / step.num_seconds() + 1).unwrap_or(1);
            Kind::Days {
                days,
                start: start.0,
                step,
                slots,
            }
        }
    })
}

/// The first slot of `day` that runs strictly after `after`.
///
/// Slot instants never decrease with the slot number (gap times map to the
/// gap's end, overlap times to their first occurrence), so a binary search
/// finds it; the common cases are answered by one or two probes first.
fn first_slot_after(
    zone: Tz,
    day: NaiveDate,
    start: NaiveTime,
    step: TimeDelta,
    slots: u32,
    after: DateTime<Utc>,
) -> Option<DateTime<Tz>> {
    let at = |k: u32| run_instant(zone, day.and_time(start) + step * i32::try_from(k).ok()?);
    let runs_after = |k: u32| at(k).is_some_and(|t| t > after);
    let last = slots.checked_sub(1)?;
    if !runs_after(last) {
        return None;
    }
    // Guess from the wall-clock distance, then confirm.
    let mut lo = 0; // candidates are in lo..=hi
    let mut hi = last;
    if slots > 1 {
        let wall_after = after.with_timezone(&zone).naive_local();
        let since_start = (wall_after - day.and_time(start)).num_seconds();
        if since_start >= 0 {
            let guess = u32::try_from(since_start / step.num_seconds() + 1)
                .unwrap_or(last)
                .min(last);
            if runs_after(guess) && (guess == 0 || !runs_after(guess - 1)) {
                return at(guess);
            }
        }
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if runs_after(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    at(lo)
}

/// Iterator over a schedule's runs; see [`SchedulePlan::upcoming`].
#[derive(Debug, Clone)]
pub struct Upcoming<'a> {
    plan: &'a SchedulePlan,
    after: DateTime<Utc>,
}

impl Iterator for Upcoming<'_> {
    type Item = DateTime<Tz>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.plan.next_after(self.after)?;
        self.after = next.with_timezone(&Utc);
        Some(next)
    }
}
