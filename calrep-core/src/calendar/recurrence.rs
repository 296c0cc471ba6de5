//! Recurring series as Exchange and Microsoft Graph describe them (one
//! pattern, one range, modified and deleted occurrences), and their
//! expansion into occurrences in the series' own wall-clock zone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::item::{ItemId, ItemTime};
use crate::schedule::wall_clock::rfc5545_instant;

/// Which days a relative pattern counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DaysOfWeek {
    /// One named day.
    Day(#[serde(with = "weekday_name")] Weekday),
    /// Any day ("Day").
    AnyDay,
    /// Monday to Friday ("Weekday").
    Weekday,
    /// Saturday and Sunday ("WeekendDay").
    WeekendDay,
}

/// Monday to Sunday.
const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

impl DaysOfWeek {
    /// The days this stands for, Monday first.
    ///
    /// ```
    /// use calrep_core::calendar::DaysOfWeek;
    /// assert_eq!(DaysOfWeek::WeekendDay.weekdays(), [chrono::Weekday::Sat, chrono::Weekday::Sun]);
    /// ```
    pub fn weekdays(self) -> Vec<Weekday> {
        WEEK.into_iter().filter(|d| self.contains(*d)).collect()
    }

    fn contains(self, day: Weekday) -> bool {
        match self {
            Self::Day(d) => d == day,
            Self::AnyDay => true,
            Self::Weekday => !matches!(day, Weekday::Sat | Weekday::Sun),
            Self::WeekendDay => matches!(day, Weekday::Sat | Weekday::Sun),
        }
    }
}

/// Which of the matching days in a month (Exchange's `DayOfWeekIndex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DayOfWeekIndex {
    /// The first.
    First,
    /// The second.
    Second,
    /// The third.
    Third,
    /// The fourth.
    Fourth,
    /// The last.
    Last,
}

/// A recurrence pattern (EWS `*Recurrence` pattern elements; Graph
/// `recurrencePattern`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum Pattern {
    /// Every `interval` days.
    Daily {
        /// Days between occurrences.
        interval: u16,
    },
    /// Every `interval` weeks on `days`.
    Weekly {
        /// Weeks between occurrences.
        interval: u16,
        /// The days.
        #[serde(with = "weekday_list")]
        days: Vec<Weekday>,
        /// The day weeks start on (for intervals above one).
        #[serde(with = "weekday_name")]
        first_day_of_week: Weekday,
    },
    /// Day `day_of_month` every `interval` months; days past the month's end
    /// fall on its last day (Exchange's rule).
    AbsoluteMonthly {
        /// Months between occurrences.
        interval: u16,
        /// 1 to 31.
        day_of_month: u8,
    },
    /// The `index`-th of `days` every `interval` months.
    RelativeMonthly {
        /// Months between occurrences.
        interval: u16,
        /// Which days count.
        days: DaysOfWeek,
        /// Which of them.
        index: DayOfWeekIndex,
    },
    /// Day `day_of_month` of `month` every year (clamped like monthly).
    AbsoluteYearly {
        /// 1 to 12.
        month: u8,
        /// 1 to 31.
        day_of_month: u8,
    },
    /// The `index`-th of `days` in `month` every year.
    RelativeYearly {
        /// 1 to 12.
        month: u8,
        /// Which days count.
        days: DaysOfWeek,
        /// Which of them.
        index: DayOfWeekIndex,
    },
}

/// How long a series runs. Dates are in the series' zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum Range {
    /// Forever.
    NoEnd {
        /// The first day of the series.
        start_date: NaiveDate,
    },
    /// Up to and including `end_date`.
    EndDate {
        /// The first day of the series.
        start_date: NaiveDate,
        /// The last day an occurrence may fall on.
        end_date: NaiveDate,
    },
    /// `count` occurrences (deleted ones included, as Exchange counts).
    Numbered {
        /// The first day of the series.
        start_date: NaiveDate,
        /// How many.
        count: u32,
    },
}

impl Range {
    fn start_date(self) -> NaiveDate {
        match self {
            Self::NoEnd { start_date }
            | Self::EndDate { start_date, .. }
            | Self::Numbered { start_date, .. } => start_date,
        }
    }
}

/// An occurrence moved or edited on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModifiedOccurrence {
    /// Where the pattern puts it (its key).
    pub original_start: DateTime<Utc>,
    /// Where it is now.
    pub start: DateTime<Utc>,
    /// When it ends now.
    pub end: DateTime<Utc>,
    /// The exception's own id at the source, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<ItemId>,
    /// A subject differing from the series'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// A location differing from the series'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// A body differing from the series'.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl ModifiedOccurrence {
    /// An occurrence moved from `original_start` to `start`..`end`.
    pub fn moved(original_start: DateTime<Utc>, start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self {
            original_start,
            start,
            end,
            item: None,
            subject: None,
            location: None,
            body: None,
        }
    }
}

/// A recurring series: pattern, range, exceptions and deletions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Recurrence {
    /// The pattern.
    pub pattern: Pattern,
    /// The range.
    pub range: Range,
    /// Occurrences moved or edited.
    #[serde(default)]
    pub modified: Vec<ModifiedOccurrence>,
    /// Original starts of deleted occurrences.
    #[serde(default)]
    pub deleted: Vec<DateTime<Utc>>,
}

/// One occurrence of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Occurrence {
    /// Its key: where the pattern puts it (for a single item, its start).
    pub original_start: DateTime<Utc>,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// Whether it was moved or edited on its own.
    pub is_exception: bool,
}

/// A series that cannot be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecurrenceError {
    /// A value is out of its range.
    #[error("invalid recurrence: {0}")]
    Invalid(String),
    /// The zone is unknown.
    #[error("unknown time zone {0:?} for expansion")]
    UnknownZone(String),
    /// The rule needs more steps than allowed to reach the window.
    #[error("recurrence needs more than {0} steps to reach the window")]
    TooManySteps(u32),
}

/// Candidate dates examined at most per expansion: a daily series 2,700
/// years long. Protects against runaway rules.
const MAX_STEPS: u32 = 1_000_000;

impl Recurrence {
    /// Checks values against Exchange's ranges.
    pub fn check(&self) -> Result<(), RecurrenceError> {
        let bad = |m: &str| Err(RecurrenceError::Invalid(m.to_owned()));
        let interval_ok = |i: u16, max: u16| (1..=max).contains(&i);
        match &self.pattern {
            Pattern::Daily { interval } if !interval_ok(*interval, 999) => {
                return bad("daily interval must be 1 to 999");
            }
            Pattern::Weekly { interval, days, .. } => {
                if !interval_ok(*interval, 99) {
                    return bad("weekly interval must be 1 to 99");
                }
                if days.is_empty() {
                    return bad("a weekly pattern needs at least one day");
                }
            }
            Pattern::AbsoluteMonthly {
                interval,
                day_of_month,
            } if !interval_ok(*interval, 99) || !(1..=31).contains(day_of_month) => {
                return bad("monthly interval must be 1 to 99 and day_of_month 1 to 31");
            }
            Pattern::RelativeMonthly { interval, .. } if !interval_ok(*interval, 99) => {
                return bad("monthly interval must be 1 to 99");
            }
            Pattern::AbsoluteYearly {
                month,
                day_of_month,
            } if !(1..=12).contains(month) || !(1..=31).contains(day_of_month) => {
                return bad("month must be 1 to 12 and day_of_month 1 to 31");
            }
            Pattern::RelativeYearly { month, .. } if !(1..=12).contains(month) => {
                return bad("month must be 1 to 12");
            }
            _ => {}
        }
        match self.range {
            Range::EndDate {
                start_date,
                end_date,
            } if end_date < start_date => bad("the end date is before the start date"),
            Range::Numbered { count: 0, .. } => {
                bad("a numbered range needs at least one occurrence")
            }
            _ => Ok(()),
        }
    }

    /// The occurrences overlapping `from..to`, in order of start, computed in
    /// the series' wall-clock zone: deleted ones left out, modified ones at
    /// their new times (found even when moved far from their original
    /// place). `time` is the master's time (its time of day and duration
    /// apply to every occurrence).
    pub fn occurrences(
        &self,
        time: &ItemTime,
        zone: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Occurrence>, RecurrenceError> {
        self.check()?;
        let (local_time, duration) = pattern_time(time, zone);
        let deleted: BTreeSet<DateTime<Utc>> = self.deleted.iter().copied().collect();
        let modified: BTreeMap<DateTime<Utc>, &ModifiedOccurrence> = self
            .modified
            .iter()
            .map(|m| (m.original_start, m))
            .collect();
        let mut out = Vec::new();
        let last_day = (to + TimeDelta::days(1)).with_timezone(&zone).date_naive();
        // `seen` counts pattern dates so far (this one included): Exchange's
        // numbered ranges count deleted occurrences too.
        for (seen, date) in (1u32..).zip(PatternDates::new(&self.pattern, self.range.start_date()))
        {
            if seen > MAX_STEPS {
                return Err(RecurrenceError::TooManySteps(MAX_STEPS));
            }
            if date > last_day {
                break;
            }
            match self.range {
                Range::EndDate { end_date, .. } if date > end_date => break,
                Range::Numbered { count: n, .. } if seen > n => break,
                _ => {}
            }
            let Some(original) = rfc5545_instant(zone, date.and_time(local_time)) else {
                continue;
            };
            let original = original.with_timezone(&Utc);
            if deleted.contains(&original) {
                continue;
            }
            let occurrence = match modified.get(&original) {
                Some(m) => Occurrence {
                    original_start: original,
                    start: m.start,
                    end: m.end,
                    is_exception: true,
                },
                None => Occurrence {
                    original_start: original,
                    start: original,
                    end: original + duration,
                    is_exception: false,
                },
            };
            if occurrence.start < to && occurrence.end > from {
                out.push(occurrence);
            }
        }
        // Exceptions moved into the window from beyond its reach.
        for m in self
            .modified
            .iter()
            .filter(|m| m.start < to && m.end > from && !deleted.contains(&m.original_start))
        {
            if !out.iter().any(|o| o.original_start == m.original_start)
                && original_is_in_series(self, m.original_start, zone, local_time)
            {
                out.push(Occurrence {
                    original_start: m.original_start,
                    start: m.start,
                    end: m.end,
                    is_exception: true,
                });
            }
        }
        out.sort_by_key(|o| (o.start, o.original_start));
        Ok(out)
    }
}

impl Recurrence {
    /// The series' first occurrence as the pattern places it (before any
    /// modification or deletion): where an RFC 5545 DTSTART must be, since
    /// DTSTART always counts as an instance there, while Exchange's range
    /// may start on a day the pattern skips.
    pub fn first_occurrence(&self, time: &ItemTime, zone: Tz) -> Option<Occurrence> {
        let (local_time, duration) = pattern_time(time, zone);
        let date = PatternDates::new(&self.pattern, self.range.start_date()).next()?;
        if let Range::EndDate { end_date, .. } = self.range
            && date > end_date
        {
            return None;
        }
        let start = rfc5545_instant(zone, date.and_time(local_time))?.with_timezone(&Utc);
        Some(Occurrence {
            original_start: start,
            start,
            end: start + duration,
            is_exception: false,
        })
    }
}

/// The wall-clock time of day every occurrence starts at, and how long each
/// lasts, from the master's time (all-day series start at midnight).
fn pattern_time(time: &ItemTime, zone: Tz) -> (NaiveTime, TimeDelta) {
    match *time {
        ItemTime::Timed { start, end } => (start.with_timezone(&zone).time(), end - start),
        ItemTime::AllDay { start, end } => (
            NaiveTime::MIN,
            TimeDelta::days((end - start).num_days().max(1)),
        ),
    }
}

/// Whether `original` is an occurrence the pattern and range produce.
fn original_is_in_series(
    rec: &Recurrence,
    original: DateTime<Utc>,
    zone: Tz,
    local_time: NaiveTime,
) -> bool {
    let target = original.with_timezone(&zone).date_naive();
    let mut count = 0;
    for date in PatternDates::new(&rec.pattern, rec.range.start_date()).take(MAX_STEPS as usize) {
        count += 1;
        match rec.range {
            Range::EndDate { end_date, .. } if date > end_date => return false,
            Range::Numbered { count: n, .. } if count > n => return false,
            _ => {}
        }
        if date > target {
            return false;
        }
        if date == target {
            return rfc5545_instant(zone, date.and_time(local_time))
                .is_some_and(|t| t.with_timezone(&Utc) == original);
        }
    }
    false
}

/// The dates a pattern produces from a start date on, in order.
struct PatternDates {
    pattern: Pattern,
    start: NaiveDate,
    /// The period (day, week or month block) being produced.
    period: u32,
    pending: Vec<NaiveDate>,
}

impl PatternDates {
    fn new(pattern: &Pattern, start: NaiveDate) -> Self {
        Self {
            pattern: pattern.clone(),
            start,
            period: 0,
            pending: Vec::new(),
        }
    }

    /// The dates of period number `k`, ascending (may be empty).
    fn period_dates(&self, k: u32) -> Option<Vec<NaiveDate>> {
        let start = self.start;
        Some(match &self.pattern {
            Pattern::Daily { interval } => {
                vec![start.checked_add_days(Days::new(u64::from(k) * u64::from(*interval)))?]
            }
            Pattern::Weekly {
                interval,
                days,
                first_day_of_week,
            } => {
                let back = (7 + start.weekday().num_days_from_monday()
                    - first_day_of_week.num_days_from_monday())
                    % 7;
                let week_start = start
                    .checked_sub_days(Days::new(u64::from(back)))?
                    .checked_add_days(Days::new(7 * u64::from(k) * u64::from(*interval)))?;
                let mut dates: Vec<NaiveDate> = (0..7)
                    .filter_map(|i| week_start.checked_add_days(Days::new(i)))
                    .filter(|d| days.contains(&d.weekday()))
                    .collect();
                dates.sort();
                dates
            }
            Pattern::AbsoluteMonthly {
                interval,
                day_of_month,
            } => {
                let first = month_start(start, k * u32::from(*interval))?;
                vec![clamped_day(first, *day_of_month)?]
            }
            Pattern::RelativeMonthly {
                interval,
                days,
                index,
            } => {
                let first = month_start(start, k * u32::from(*interval))?;
                relative_day(first, *days, *index).into_iter().collect()
            }
            Pattern::AbsoluteYearly {
                month,
                day_of_month,
            } => {
                let first = NaiveDate::from_ymd_opt(
                    start.year().checked_add(i32::try_from(k).ok()?)?,
                    u32::from(*month),
                    1,
                )?;
                vec![clamped_day(first, *day_of_month)?]
            }
            Pattern::RelativeYearly { month, days, index } => {
                let first = NaiveDate::from_ymd_opt(
                    start.year().checked_add(i32::try_from(k).ok()?)?,
                    u32::from(*month),
                    1,
                )?;
                relative_day(first, *days, *index).into_iter().collect()
            }
        })
    }
}

impl Iterator for PatternDates {
    type Item = NaiveDate;

    fn next(&mut self) -> Option<NaiveDate> {
        loop {
            if let Some(date) = self.pending.pop() {
                if date >= self.start {
                    return Some(date);
                }
                continue;
            }
            let mut dates = self.period_dates(self.period)?;
            self.period = self.period.checked_add(1)?;
            dates.reverse();
            self.pending = dates;
        }
    }
}

fn month_start(start: NaiveDate, months: u32) -> Option<NaiveDate> {
    start.with_day(1)?.checked_add_months(Months::new(months))
}

/// Day `day` of the month starting at `first`, or the month's last day.
fn clamped_day(first: NaiveDate, day: u8) -> Option<NaiveDate> {
    let last = first.checked_add_months(Months::new(1))?.pred_opt()?;
    first.with_day(u32::from(day).min(last.day()))
}

fn relative_day(first: NaiveDate, days: DaysOfWeek, index: DayOfWeekIndex) -> Option<NaiveDate> {
    let next_month = first.checked_add_months(Months::new(1))?;
    let matching: Vec<NaiveDate> = first
        .iter_days()
        .take_while(|d| *d < next_month)
        .filter(|d| days.contains(d.weekday()))
        .collect();
    match index {
        DayOfWeekIndex::First => matching.first().copied(),
        DayOfWeekIndex::Second => matching.get(1).copied(),
        DayOfWeekIndex::Third => matching.get(2).copied(),
        DayOfWeekIndex::Fourth => matching.get(3).copied(),
        DayOfWeekIndex::Last => matching.last().copied(),
    }
}

mod weekday_name {
    use chrono::Weekday;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&day.to_string().to_ascii_lowercase())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a day of the week")))
    }
}

mod weekday_list {
    use chrono::Weekday;
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(days: &[Weekday], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(days.len()))?;
        for day in days {
            seq.serialize_element(&day.to_string().to_ascii_lowercase())?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Weekday>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| {
                t.parse().map_err(|_| {
                    serde::de::Error::custom(format!("{t:?} is not a day of the week"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// Weekly on Mondays 09:00 Berlin from 2026-03-02, five occurrences.
    fn series() -> (Recurrence, ItemTime) {
        let rec: Recurrence = serde_json::from_value(serde_json::json!({
            "pattern": {"type": "weekly", "interval": 1, "days": ["mon"], "first_day_of_week": "mon"},
            "range": {"type": "numbered", "start_date": "2026-03-02", "count": 5},
        }))
        .unwrap();
        let time = ItemTime::Timed {
            start: at("2026-03-02T08:00:00Z"),
            end: at("2026-03-02T09:00:00Z"),
        };
        (rec, time)
    }

    #[test]
    fn deleted_and_moved_occurrences_are_applied_by_original_start() {
        let (mut rec, time) = series();
        // 9 March deleted; 16 March moved to the Friday two weeks later.
        rec.deleted.push(at("2026-03-09T08:00:00Z"));
        rec.modified.push(ModifiedOccurrence::moved(
            at("2026-03-16T08:00:00Z"),
            at("2026-04-03T12:00:00Z"),
            at("2026-04-03T13:00:00Z"),
        ));
        let zone = chrono_tz::Europe::Berlin;
        let all = rec
            .occurrences(
                &time,
                zone,
                at("2026-01-01T00:00:00Z"),
                at("2027-01-01T00:00:00Z"),
            )
            .unwrap();
        let starts: Vec<String> = all.iter().map(|o| o.start.to_rfc3339()).collect();
        // Berlin moves to summer time on 29 March: 09:00 local is 07:00Z after it.
        assert_eq!(
            starts,
            [
                "2026-03-02T08:00:00+00:00",
                "2026-03-23T08:00:00+00:00",
                "2026-03-30T07:00:00+00:00",
                "2026-04-03T12:00:00+00:00",
            ]
        );
        assert!(
            all.iter()
                .any(|o| o.is_exception && o.original_start == at("2026-03-16T08:00:00Z"))
        );
        // A window holding only the moved occurrence's new time finds it.
        let window = rec
            .occurrences(
                &time,
                zone,
                at("2026-04-03T00:00:00Z"),
                at("2026-04-04T00:00:00Z"),
            )
            .unwrap();
        assert_eq!(window.len(), 1);
        // A window holding only its original time does not.
        let window = rec
            .occurrences(
                &time,
                zone,
                at("2026-03-16T00:00:00Z"),
                at("2026-03-17T00:00:00Z"),
            )
            .unwrap();
        assert!(window.is_empty());
    }

    #[test]
    fn out_of_range_values_are_typed_errors() {
        let (mut rec, time) = series();
        rec.pattern = Pattern::AbsoluteMonthly {
            interval: 0,
            day_of_month: 31,
        };
        let err = rec
            .occurrences(
                &time,
                chrono_tz::UTC,
                at("2026-01-01T00:00:00Z"),
                at("2027-01-01T00:00:00Z"),
            )
            .unwrap_err();
        assert!(matches!(err, RecurrenceError::Invalid(_)), "{err}");
    }
}
