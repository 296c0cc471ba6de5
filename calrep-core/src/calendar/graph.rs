//! Microsoft Graph's `patternedRecurrence` (an event's `recurrence`) mapped
//! to the same [`Recurrence`] model as Exchange's, so a series read through
//! Graph expands, exports and compares exactly like one read through EWS.

use chrono::{NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::recurrence::{DayOfWeekIndex, DaysOfWeek, Pattern, Range, Recurrence, RecurrenceError};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Patterned {
    pattern: GraphPattern,
    range: GraphRange,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphPattern {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default = "one")]
    interval: u16,
    #[serde(default)]
    month: u8,
    #[serde(default)]
    day_of_month: u8,
    #[serde(default)]
    days_of_week: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_day_of_week: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphRange {
    #[serde(rename = "type")]
    kind: String,
    start_date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end_date: Option<NaiveDate>,
    #[serde(default)]
    number_of_occurrences: u32,
}

fn one() -> u16 {
    1
}

const DAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

fn invalid(message: String) -> RecurrenceError {
    RecurrenceError::Invalid(message)
}

fn weekday(name: &str) -> Result<Weekday, RecurrenceError> {
    DAYS.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, d)| *d)
        .ok_or_else(|| invalid(format!("{name:?} is not a Graph dayOfWeek")))
}

fn weekday_name(day: Weekday) -> String {
    DAYS.iter()
        .find(|(_, d)| *d == day)
        .map_or("monday", |(n, _)| n)
        .to_owned()
}

/// A relative pattern's days: Graph lists them; Exchange names the sets it
/// allows (one day, every day, weekdays, weekend days).
fn day_set(names: &[String]) -> Result<DaysOfWeek, RecurrenceError> {
    let mut days: Vec<Weekday> = names.iter().map(|n| weekday(n)).collect::<Result<_, _>>()?;
    days.sort_by_key(|d| d.num_days_from_monday());
    days.dedup();
    for set in [
        DaysOfWeek::AnyDay,
        DaysOfWeek::Weekday,
        DaysOfWeek::WeekendDay,
    ] {
        if set.weekdays() == days {
            return Ok(set);
        }
    }
    match days.as_slice() {
        [one] => Ok(DaysOfWeek::Day(*one)),
        _ => Err(invalid(format!(
            "daysOfWeek {names:?} in a relative pattern: only one day, all days, weekdays or weekend days are supported"
        ))),
    }
}

fn index(name: Option<&str>) -> Result<DayOfWeekIndex, RecurrenceError> {
    Ok(match name.unwrap_or("first") {
        "first" => DayOfWeekIndex::First,
        "second" => DayOfWeekIndex::Second,
        "third" => DayOfWeekIndex::Third,
        "fourth" => DayOfWeekIndex::Fourth,
        "last" => DayOfWeekIndex::Last,
        other => return Err(invalid(format!("{other:?} is not a Graph weekIndex"))),
    })
}

fn index_name(index: DayOfWeekIndex) -> String {
    match index {
        DayOfWeekIndex::First => "first",
        DayOfWeekIndex::Second => "second",
        DayOfWeekIndex::Third => "third",
        DayOfWeekIndex::Fourth => "fourth",
        DayOfWeekIndex::Last => "last",
    }
    .to_owned()
}

impl Recurrence {
    /// A series from Graph's `patternedRecurrence` JSON (an event's
    /// `recurrence` property). Unknown properties are ignored; missing or
    /// wrong required ones are named in the error.
    ///
    /// ```
    /// use calrep_core::calendar::Recurrence;
    /// let graph = serde_json::json!({
    ///     "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
    ///     "range": {"type": "numbered", "startDate": "2026-01-30", "numberOfOccurrences": 6,
    ///               "recurrenceTimeZone": "W. Europe Standard Time"}});
    /// let rec = Recurrence::from_graph(&graph)?;
    /// assert_eq!(rec.rule(chrono_tz::Europe::Berlin, false).to_string(),
    ///            "FREQ=MONTHLY;COUNT=6;BYDAY=FR;BYSETPOS=-1");
    /// # Ok::<(), calrep_core::calendar::RecurrenceError>(())
    /// ```
    pub fn from_graph(value: &serde_json::Value) -> Result<Self, RecurrenceError> {
        let graph: Patterned = serde_json::from_value(value.clone())
            .map_err(|e| invalid(format!("not a Graph patternedRecurrence: {e}")))?;
        let p = &graph.pattern;
        let days = || -> Result<Vec<Weekday>, RecurrenceError> {
            p.days_of_week.iter().map(|n| weekday(n)).collect()
        };
        let pattern = match p.kind.as_str() {
            "daily" => Pattern::Daily {
                interval: p.interval,
            },
            "weekly" => Pattern::Weekly {
                interval: p.interval,
                days: days()?,
                first_day_of_week: weekday(p.first_day_of_week.as_deref().unwrap_or("sunday"))?,
            },
            "absoluteMonthly" => Pattern::AbsoluteMonthly {
                interval: p.interval,
                day_of_month: p.day_of_month,
            },
            "relativeMonthly" => Pattern::RelativeMonthly {
                interval: p.interval,
                days: day_set(&p.days_of_week)?,
                index: index(p.index.as_deref())?,
            },
            "absoluteYearly" => Pattern::AbsoluteYearly {
                interval: p.interval,
                month: p.month,
                day_of_month: p.day_of_month,
            },
            "relativeYearly" => Pattern::RelativeYearly {
                interval: p.interval,
                month: p.month,
                days: day_set(&p.days_of_week)?,
                index: index(p.index.as_deref())?,
            },
            other => {
                return Err(invalid(format!(
                    "pattern.type {other:?} is not a Graph pattern"
                )));
            }
        };
        let r = &graph.range;
        let range = match r.kind.as_str() {
            "noEnd" => Range::NoEnd {
                start_date: r.start_date,
            },
            "endDate" => Range::EndDate {
                start_date: r.start_date,
                end_date: r
                    .end_date
                    .ok_or_else(|| invalid("range.endDate is missing".into()))?,
            },
            "numbered" => Range::Numbered {
                start_date: r.start_date,
                count: r.number_of_occurrences,
            },
            other => {
                return Err(invalid(format!(
                    "range.type {other:?} is not a Graph range"
                )));
            }
        };
        let rec = Recurrence::new(pattern, range);
        rec.check()?;
        Ok(rec)
    }

    /// The series as Graph's `patternedRecurrence` JSON (without the zone,
    /// which Graph keeps in `range.recurrenceTimeZone`).
    ///
    /// ```
    /// use calrep_core::calendar::Recurrence;
    /// let graph = serde_json::json!({
    ///     "pattern": {"type": "weekly", "interval": 2, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "monday"},
    ///     "range": {"type": "endDate", "startDate": "2026-03-02", "endDate": "2026-06-30"}});
    /// let rec = Recurrence::from_graph(&graph)?;
    /// assert_eq!(Recurrence::from_graph(&rec.to_graph())?, rec);
    /// # Ok::<(), calrep_core::calendar::RecurrenceError>(())
    /// ```
    pub fn to_graph(&self) -> serde_json::Value {
        let mut p = GraphPattern {
            kind: String::new(),
            interval: 1,
            month: 0,
            day_of_month: 0,
            days_of_week: Vec::new(),
            first_day_of_week: None,
            index: None,
        };
        let names = |days: Vec<Weekday>| days.into_iter().map(weekday_name).collect();
        match &self.pattern {
            Pattern::Daily { interval } => {
                p.kind = "daily".into();
                p.interval = *interval;
            }
            Pattern::Weekly {
                interval,
                days,
                first_day_of_week,
            } => {
                p.kind = "weekly".into();
                p.interval = *interval;
                p.days_of_week = names(days.clone());
                p.first_day_of_week = Some(weekday_name(*first_day_of_week));
            }
            Pattern::AbsoluteMonthly {
                interval,
                day_of_month,
            } => {
                p.kind = "absoluteMonthly".into();
                p.interval = *interval;
                p.day_of_month = *day_of_month;
            }
            Pattern::RelativeMonthly {
                interval,
                days,
                index,
            } => {
                p.kind = "relativeMonthly".into();
                p.interval = *interval;
                p.days_of_week = names(days.weekdays());
                p.index = Some(index_name(*index));
            }
            Pattern::AbsoluteYearly {
                interval,
                month,
                day_of_month,
            } => {
                p.kind = "absoluteYearly".into();
                p.interval = *interval;
                p.month = *month;
                p.day_of_month = *day_of_month;
            }
            Pattern::RelativeYearly {
                interval,
                month,
                days,
                index,
            } => {
                p.kind = "relativeYearly".into();
                p.interval = *interval;
                p.month = *month;
                p.days_of_week = names(days.weekdays());
                p.index = Some(index_name(*index));
            }
        }
        let range = match self.range {
            Range::NoEnd { start_date } => GraphRange {
                kind: "noEnd".into(),
                start_date,
                end_date: None,
                number_of_occurrences: 0,
            },
            Range::EndDate {
                start_date,
                end_date,
            } => GraphRange {
                kind: "endDate".into(),
                start_date,
                end_date: Some(end_date),
                number_of_occurrences: 0,
            },
            Range::Numbered { start_date, count } => GraphRange {
                kind: "numbered".into(),
                start_date,
                end_date: None,
                number_of_occurrences: count,
            },
        };
        serde_json::to_value(Patterned { pattern: p, range }).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_graph_values_are_named() {
        let cases = [
            (
                serde_json::json!({"pattern": {"type": "hourly"}, "range": {"type": "noEnd", "startDate": "2026-01-01"}}),
                "hourly",
            ),
            (
                serde_json::json!({"pattern": {"type": "weekly", "daysOfWeek": ["funday"]}, "range": {"type": "noEnd", "startDate": "2026-01-01"}}),
                "funday",
            ),
            (
                serde_json::json!({"pattern": {"type": "daily"}, "range": {"type": "endDate", "startDate": "2026-01-01"}}),
                "endDate",
            ),
            (
                serde_json::json!({"pattern": {"type": "relativeMonthly", "daysOfWeek": ["monday", "friday"]}, "range": {"type": "noEnd", "startDate": "2026-01-01"}}),
                "daysOfWeek",
            ),
            (serde_json::json!({"pattern": {"type": "daily"}}), "range"),
        ];
        for (value, part) in cases {
            let err = Recurrence::from_graph(&value).unwrap_err().to_string();
            assert!(err.contains(part), "{value}: {err}");
        }
    }
}
