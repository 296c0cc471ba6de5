//! Recurring series as Exchange and Microsoft Graph describe them (one
//! pattern, one range, modified and deleted occurrences), and their
//! expansion into occurrences in the series' own wall-clock zone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::item::{ItemId, ItemTime};
use crate::recur::{
    ByDay, ExpandError, Frequency, RecurrenceSet, Rule, SeriesStart, SetDate, Until,
};

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
    /// Day `day_of_month` of `month` every `interval` years (clamped like
    /// monthly). Exchange's yearly patterns have no interval; Graph's do.
    AbsoluteYearly {
        /// Years between occurrences.
        #[serde(default = "one", skip_serializing_if = "is_one")]
        interval: u16,
        /// 1 to 12.
        month: u8,
        /// 1 to 31.
        day_of_month: u8,
    },
    /// The `index`-th of `days` in `month` every `interval` years.
    RelativeYearly {
        /// Years between occurrences.
        #[serde(default = "one", skip_serializing_if = "is_one")]
        interval: u16,
        /// 1 to 12.
        month: u8,
        /// Which days count.
        days: DaysOfWeek,
        /// Which of them.
        index: DayOfWeekIndex,
    },
}

fn one() -> u16 {
    1
}

fn is_one(n: &u16) -> bool {
    *n == 1
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
    /// The series cannot be expanded.
    #[error(transparent)]
    Expand(#[from] ExpandError),
}

impl Recurrence {
    /// A series with no modified or deleted occurrences.
    ///
    /// ```
    /// use calrep_core::calendar::{Pattern, Range, Recurrence};
    /// let pattern: Pattern = serde_json::from_value(serde_json::json!({"type": "daily", "interval": 2}))?;
    /// let range = Range::NoEnd { start_date: "2026-03-01".parse()? };
    /// assert!(Recurrence::new(pattern, range).check().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(pattern: Pattern, range: Range) -> Self {
        Self {
            pattern,
            range,
            modified: Vec::new(),
            deleted: Vec::new(),
        }
    }

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
                interval,
                month,
                day_of_month,
            } if !interval_ok(*interval, 99)
                || !(1..=12).contains(month)
                || !(1..=31).contains(day_of_month) =>
            {
                return bad(
                    "yearly interval must be 1 to 99, month 1 to 12 and day_of_month 1 to 31",
                );
            }
            Pattern::RelativeYearly {
                interval, month, ..
            } if !interval_ok(*interval, 99) || !(1..=12).contains(month) => {
                return bad("yearly interval must be 1 to 99 and month 1 to 12");
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
    /// apply to every occurrence). The expansion starts near the window,
    /// however old the series.
    pub fn occurrences(
        &self,
        time: &ItemTime,
        zone: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Occurrence>, RecurrenceError> {
        let (set, duration) = self.set(time, zone)?;
        let modified: BTreeMap<DateTime<Utc>, &ModifiedOccurrence> = self
            .modified
            .iter()
            .map(|m| (m.original_start, m))
            .collect();
        let mut out = Vec::new();
        for original in set.between_in(from - duration, to, zone)? {
            let original = original.instant(zone);
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
        // Exceptions moved into the window from beyond its reach. One whose
        // original start lies in the range just expanded and was not found
        // there is not of this series; the others are checked against one
        // expansion over their span (never one per exception: a COUNT rule
        // replays from its start each time).
        let deleted: BTreeSet<DateTime<Utc>> = self.deleted.iter().copied().collect();
        let placed: BTreeSet<DateTime<Utc>> = out.iter().map(|o| o.original_start).collect();
        let expanded = (from - duration)..to;
        let moved_in: Vec<&ModifiedOccurrence> = self
            .modified
            .iter()
            .filter(|m| {
                m.start < to
                    && m.end > from
                    && !deleted.contains(&m.original_start)
                    && !placed.contains(&m.original_start)
                    && !expanded.contains(&m.original_start)
            })
            .collect();
        if let (Some(first), Some(last)) = (
            moved_in.iter().map(|m| m.original_start).min(),
            moved_in.iter().map(|m| m.original_start).max(),
        ) {
            let in_series: BTreeSet<DateTime<Utc>> = set
                .between_in(first, last + TimeDelta::seconds(1), zone)?
                .iter()
                .map(|i| i.instant(zone))
                .collect();
            out.extend(
                moved_in
                    .into_iter()
                    .filter(|m| in_series.contains(&m.original_start))
                    .map(|m| Occurrence {
                        original_start: m.original_start,
                        start: m.start,
                        end: m.end,
                        is_exception: true,
                    }),
            );
        }
        out.sort_by_key(|o| (o.start, o.original_start));
        Ok(out)
    }

    /// The series as an RFC 5545 recurrence set (the pattern's rule, the
    /// deleted occurrences as `EXDATE`s), and each occurrence's length.
    fn set(
        &self,
        time: &ItemTime,
        zone: Tz,
    ) -> Result<(RecurrenceSet, TimeDelta), RecurrenceError> {
        self.check()?;
        let (local_time, duration) = pattern_time(time, zone);
        let all_day = matches!(time, ItemTime::AllDay { .. });
        let first_day = self.range.start_date();
        let start = if all_day {
            SeriesStart::Date(first_day)
        } else {
            SeriesStart::Zoned(first_day.and_time(local_time), zone)
        };
        // Exchange's range may start on a day the pattern skips; the first
        // occurrence is then the first day the pattern gives, and counting
        // starts there.
        let mut set = RecurrenceSet::new(start)
            .rule(self.rule(zone, all_day))
            .start_is_instance(false);
        for t in &self.deleted {
            set = set.exdate(if all_day {
                SetDate::Date(t.with_timezone(&zone).date_naive())
            } else {
                SetDate::Utc(*t)
            });
        }
        Ok((set, duration))
    }

    /// The pattern and range as an RFC 5545 rule (the table in DESIGN.md):
    /// `zone` places an end date's last moment, `all_day` writes it as a
    /// date.
    ///
    /// ```
    /// let rec: calrep_core::calendar::Recurrence = serde_json::from_value(serde_json::json!({
    ///     "pattern": {"type": "absolute_monthly", "interval": 1, "day_of_month": 31},
    ///     "range": {"type": "numbered", "start_date": "2026-01-31", "count": 6}}))?;
    /// // Exchange moves day 31 to a short month's last day: BYSETPOS=-1 says so.
    /// assert_eq!(
    ///     rec.rule(chrono_tz::UTC, false).to_string(),
    ///     "FREQ=MONTHLY;COUNT=6;BYMONTHDAY=28,29,30,31;BYSETPOS=-1",
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rule(&self, zone: Tz, all_day: bool) -> Rule {
        let every = |d: Weekday| ByDay {
            nth: None,
            weekday: d,
        };
        let (freq, interval) = match self.pattern {
            Pattern::Daily { interval } => (Frequency::Daily, interval),
            Pattern::Weekly { interval, .. } => (Frequency::Weekly, interval),
            Pattern::AbsoluteMonthly { interval, .. }
            | Pattern::RelativeMonthly { interval, .. } => (Frequency::Monthly, interval),
            Pattern::AbsoluteYearly { interval, .. } | Pattern::RelativeYearly { interval, .. } => {
                (Frequency::Yearly, interval)
            }
        };
        let mut rule = Rule::new(freq);
        rule.interval = u32::from(interval.max(1));
        match &self.pattern {
            Pattern::Daily { .. } => {}
            Pattern::Weekly {
                days,
                first_day_of_week,
                ..
            } => {
                rule.by_day = days.iter().map(|d| every(*d)).collect();
                rule.week_start = *first_day_of_week;
            }
            Pattern::AbsoluteMonthly { day_of_month, .. } => {
                clamped_month_day(&mut rule, *day_of_month)
            }
            Pattern::AbsoluteYearly {
                month,
                day_of_month,
                ..
            } => {
                rule.by_month = vec![*month];
                clamped_month_day(&mut rule, *day_of_month);
            }
            Pattern::RelativeMonthly { days, index, .. } => {
                rule.by_day = days.weekdays().into_iter().map(every).collect();
                rule.by_set_pos = vec![set_position(*index)];
            }
            Pattern::RelativeYearly {
                month, days, index, ..
            } => {
                rule.by_month = vec![*month];
                rule.by_day = days.weekdays().into_iter().map(every).collect();
                rule.by_set_pos = vec![set_position(*index)];
            }
        }
        match self.range {
            Range::NoEnd { .. } => {}
            Range::Numbered { count, .. } => rule.count = Some(count),
            Range::EndDate { end_date, .. } if all_day => rule.until = Some(Until::Date(end_date)),
            Range::EndDate { end_date, .. } => {
                // The last moment of the end date in the series' zone.
                let last = end_date.and_hms_opt(23, 59, 59).unwrap_or_default();
                let until = zone
                    .from_local_datetime(&last)
                    .latest()
                    .map_or_else(|| last.and_utc(), |t| t.with_timezone(&Utc));
                rule.until = Some(Until::Utc(until));
            }
        }
        rule
    }
}

/// Exchange puts days 29–31 on a short month's last day: the last of the
/// candidate days 28..=day is the same day in RFC 5545 terms.
fn clamped_month_day(rule: &mut Rule, day: u8) {
    if day <= 28 {
        rule.by_month_day = vec![day as i8];
    } else {
        rule.by_month_day = (28..=day).map(|d| d as i8).collect();
        rule.by_set_pos = vec![-1];
    }
}

fn set_position(index: DayOfWeekIndex) -> i16 {
    match index {
        DayOfWeekIndex::First => 1,
        DayOfWeekIndex::Second => 2,
        DayOfWeekIndex::Third => 3,
        DayOfWeekIndex::Fourth => 4,
        DayOfWeekIndex::Last => -1,
    }
}

impl Recurrence {
    /// The series' first occurrence as the pattern places it (before any
    /// modification or deletion): where an RFC 5545 DTSTART must be, since
    /// DTSTART always counts as an instance there, while Exchange's range
    /// may start on a day the pattern skips.
    pub fn first_occurrence(&self, time: &ItemTime, zone: Tz) -> Option<Occurrence> {
        let mut plain = self.clone();
        plain.deleted.clear();
        let (set, duration) = plain.set(time, zone).ok()?;
        let begin = set.start().wall_clock();
        // The first occurrence lies within a few years of the range's start
        // for every Exchange pattern (yearly on 29 February: eight at most).
        let from = (begin - TimeDelta::days(2)).and_utc();
        let to = (begin + TimeDelta::days(366 * 9)).and_utc();
        let start = set.between_in(from, to, zone).ok()?.first()?.instant(zone);
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
