//! An RFC 5545 recurrence rule (RRULE value): its parts, parsing with errors
//! that name the bad part, and the checks RFC 5545 makes on combinations.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc, Weekday};

use super::RuleError;

/// How often a rule repeats (`FREQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Frequency {
    /// `SECONDLY`.
    Secondly,
    /// `MINUTELY`.
    Minutely,
    /// `HOURLY`.
    Hourly,
    /// `DAILY`.
    Daily,
    /// `WEEKLY`.
    Weekly,
    /// `MONTHLY`.
    Monthly,
    /// `YEARLY`.
    Yearly,
}

impl Frequency {
    fn name(self) -> &'static str {
        match self {
            Self::Secondly => "SECONDLY",
            Self::Minutely => "MINUTELY",
            Self::Hourly => "HOURLY",
            Self::Daily => "DAILY",
            Self::Weekly => "WEEKLY",
            Self::Monthly => "MONTHLY",
            Self::Yearly => "YEARLY",
        }
    }

    /// Whether each period is shorter than a day.
    pub(crate) fn is_sub_daily(self) -> bool {
        self < Self::Daily
    }
}

/// The end of a rule (`UNTIL`) as written: a date, a floating local time or
/// a UTC instant. The series' start decides how it is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// `UNTIL=20261231`.
    Date(NaiveDate),
    /// `UNTIL=20261231T235959` (no zone).
    Floating(NaiveDateTime),
    /// `UNTIL=20261231T225959Z`.
    Utc(DateTime<Utc>),
}

/// One `BYDAY` entry: a weekday, optionally the `n`-th of its period
/// (negative counts from the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByDay {
    /// `Some(2)` for `2MO`, `Some(-1)` for `-1FR`, `None` for `MO`.
    pub nth: Option<i16>,
    /// The day.
    pub weekday: Weekday,
}

/// A parsed recurrence rule.
///
/// ```
/// use calrep_core::recur::{Frequency, Rule};
/// let rule: Rule = "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1".parse()?;
/// assert_eq!(rule.freq, Frequency::Monthly);
/// assert_eq!(rule.by_set_pos, [-1]);
/// assert_eq!(rule.to_string(), "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1");
/// # Ok::<(), calrep_core::recur::RuleError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `FREQ`.
    pub freq: Frequency,
    /// `INTERVAL` (at least 1).
    pub interval: u32,
    /// `COUNT`.
    pub count: Option<u32>,
    /// `UNTIL`.
    pub until: Option<Until>,
    /// `BYSECOND` (0–60).
    pub by_second: Vec<u8>,
    /// `BYMINUTE` (0–59).
    pub by_minute: Vec<u8>,
    /// `BYHOUR` (0–23).
    pub by_hour: Vec<u8>,
    /// `BYDAY`.
    pub by_day: Vec<ByDay>,
    /// `BYMONTHDAY` (±1–31).
    pub by_month_day: Vec<i8>,
    /// `BYYEARDAY` (±1–366).
    pub by_year_day: Vec<i16>,
    /// `BYWEEKNO` (±1–53).
    pub by_week_no: Vec<i8>,
    /// `BYMONTH` (1–12).
    pub by_month: Vec<u8>,
    /// `BYSETPOS` (±1–366).
    pub by_set_pos: Vec<i16>,
    /// `WKST` (Monday unless given).
    pub week_start: Weekday,
}

impl Rule {
    /// A rule with only `FREQ` set.
    ///
    /// ```
    /// use calrep_core::recur::{Frequency, Rule};
    /// assert_eq!(Rule::new(Frequency::Daily).to_string(), "FREQ=DAILY");
    /// ```
    pub fn new(freq: Frequency) -> Self {
        Self {
            freq,
            interval: 1,
            count: None,
            until: None,
            by_second: Vec::new(),
            by_minute: Vec::new(),
            by_hour: Vec::new(),
            by_day: Vec::new(),
            by_month_day: Vec::new(),
            by_year_day: Vec::new(),
            by_week_no: Vec::new(),
            by_month: Vec::new(),
            by_set_pos: Vec::new(),
            week_start: Weekday::Mon,
        }
    }

    /// Checks the combinations RFC 5545 (section 3.3.10) forbids.
    ///
    /// ```
    /// use calrep_core::recur::Rule;
    /// let err = "FREQ=DAILY;BYDAY=1MO".parse::<Rule>().unwrap_err();
    /// assert!(err.to_string().contains("BYDAY"), "{err}");
    /// ```
    pub fn check(&self) -> Result<(), RuleError> {
        let bad = |part: &'static str, why: &str| {
            Err(RuleError::Combination {
                part,
                reason: why.to_owned(),
            })
        };
        if self.count.is_some() && self.until.is_some() {
            return bad("COUNT", "COUNT and UNTIL must not both be given");
        }
        let nth = self.by_day.iter().any(|d| d.nth.is_some());
        if nth && !matches!(self.freq, Frequency::Monthly | Frequency::Yearly) {
            return bad(
                "BYDAY",
                "a numbered day (like 1MO) needs FREQ=MONTHLY or FREQ=YEARLY",
            );
        }
        if !self.by_week_no.is_empty() && self.freq != Frequency::Yearly {
            return bad("BYWEEKNO", "BYWEEKNO needs FREQ=YEARLY");
        }
        if !self.by_year_day.is_empty()
            && matches!(
                self.freq,
                Frequency::Daily | Frequency::Weekly | Frequency::Monthly
            )
        {
            return bad("BYYEARDAY", "BYYEARDAY is not allowed with this FREQ");
        }
        if !self.by_month_day.is_empty() && self.freq == Frequency::Weekly {
            return bad("BYMONTHDAY", "BYMONTHDAY is not allowed with FREQ=WEEKLY");
        }
        Ok(())
    }
}

impl FromStr for Rule {
    type Err = RuleError;

    fn from_str(text: &str) -> Result<Self, RuleError> {
        let text = text.trim();
        let text = text
            .strip_prefix("RRULE:")
            .or_else(|| text.strip_prefix("rrule:"))
            .unwrap_or(text);
        let mut freq = None;
        let mut rule = Rule::new(Frequency::Daily);
        let mut seen: Vec<String> = Vec::new();
        // A trailing ';' is common in the wild and harmless.
        let body = text.strip_suffix(';').unwrap_or(text);
        for part in body.split(';') {
            if part.is_empty() {
                return Err(RuleError::Syntax(format!("empty part in {text:?}")));
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(RuleError::Syntax(format!("{part:?} has no '='")));
            };
            let name = name.to_ascii_uppercase();
            if seen.contains(&name) {
                return Err(RuleError::Syntax(format!("{name} is given twice")));
            }
            seen.push(name.clone());
            let value = value.to_ascii_uppercase();
            match name.as_str() {
                "FREQ" => freq = Some(parse_freq(&value)?),
                "INTERVAL" => {
                    rule.interval = number(&name, &value, 1, i64::from(u32::MAX))?;
                }
                "COUNT" => rule.count = Some(number(&name, &value, 0, i64::from(u32::MAX))?),
                "UNTIL" => rule.until = Some(parse_until(&value)?),
                "BYSECOND" => rule.by_second = list(&name, &value, 0, 60, false)?,
                "BYMINUTE" => rule.by_minute = list(&name, &value, 0, 59, false)?,
                "BYHOUR" => rule.by_hour = list(&name, &value, 0, 23, false)?,
                "BYMONTHDAY" => rule.by_month_day = list(&name, &value, 1, 31, true)?,
                "BYYEARDAY" => rule.by_year_day = list(&name, &value, 1, 366, true)?,
                "BYWEEKNO" => rule.by_week_no = list(&name, &value, 1, 53, true)?,
                "BYMONTH" => rule.by_month = list(&name, &value, 1, 12, false)?,
                "BYSETPOS" => rule.by_set_pos = list(&name, &value, 1, 366, true)?,
                "BYDAY" => rule.by_day = parse_by_day(&value)?,
                "WKST" => rule.week_start = parse_weekday("WKST", &value)?,
                _ if name.starts_with("X-") => {}
                _ => return Err(RuleError::UnknownPart(name)),
            }
        }
        rule.freq = freq.ok_or(RuleError::MissingFreq)?;
        rule.check()?;
        Ok(rule)
    }
}

fn parse_freq(value: &str) -> Result<Frequency, RuleError> {
    Ok(match value {
        "SECONDLY" => Frequency::Secondly,
        "MINUTELY" => Frequency::Minutely,
        "HOURLY" => Frequency::Hourly,
        "DAILY" => Frequency::Daily,
        "WEEKLY" => Frequency::Weekly,
        "MONTHLY" => Frequency::Monthly,
        "YEARLY" => Frequency::Yearly,
        _ => return Err(bad_value("FREQ", value, "not a frequency")),
    })
}

fn bad_value(part: &str, value: &str, reason: &str) -> RuleError {
    RuleError::Value {
        part: part.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

fn number<T: TryFrom<i64>>(part: &str, value: &str, min: i64, max: i64) -> Result<T, RuleError> {
    let n: i64 = value
        .parse()
        .map_err(|_| bad_value(part, value, "not a whole number"))?;
    if !(min..=max).contains(&n) {
        return Err(bad_value(
            part,
            value,
            &format!("must be between {min} and {max}"),
        ));
    }
    T::try_from(n).map_err(|_| bad_value(part, value, "out of range"))
}

/// A comma-separated list of numbers in `min..=max`, or also in
/// `-max..=-min` when `signed`.
fn list<T: TryFrom<i64>>(
    part: &str,
    value: &str,
    min: i64,
    max: i64,
    signed: bool,
) -> Result<Vec<T>, RuleError> {
    let mut out = Vec::new();
    for item in value.split(',') {
        let item = item.strip_prefix('+').unwrap_or(item);
        let n: i64 = item
            .parse()
            .map_err(|_| bad_value(part, item, "not a whole number"))?;
        let ok = (min..=max).contains(&n) || (signed && (-max..=-min).contains(&n));
        if !ok {
            let range = if signed {
                format!("between {min} and {max}, or between -{max} and -{min}")
            } else {
                format!("between {min} and {max}")
            };
            return Err(bad_value(part, item, &format!("must be {range}")));
        }
        out.push(T::try_from(n).map_err(|_| bad_value(part, item, "out of range"))?);
    }
    Ok(out)
}

fn parse_weekday(part: &str, value: &str) -> Result<Weekday, RuleError> {
    Ok(match value {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => {
            return Err(bad_value(
                part,
                value,
                "not a day (MO, TU, WE, TH, FR, SA, SU)",
            ));
        }
    })
}

/// `BYDAY` entries. An entry numbered 0 (`0MO`) means nothing and is
/// dropped rather than refused, as ical.net does: such rules exist in the
/// wild, and refusing them would lose the whole series.
fn parse_by_day(value: &str) -> Result<Vec<ByDay>, RuleError> {
    let entries: Result<Vec<Option<ByDay>>, RuleError> = value
        .split(',')
        .map(|item| {
            let split = item.len().saturating_sub(2);
            let (n, day) = item
                .split_at_checked(split)
                .ok_or_else(|| bad_value("BYDAY", item, "not a day"))?;
            let weekday = parse_weekday("BYDAY", day)?;
            let nth = if n.is_empty() {
                None
            } else {
                let n = n.strip_prefix('+').unwrap_or(n);
                let k: i16 = n.parse().map_err(|_| {
                    bad_value(
                        "BYDAY",
                        item,
                        "the number before the day is not a whole number",
                    )
                })?;
                if k == 0 {
                    return Ok(None);
                }
                if !(-53..=53).contains(&k) {
                    return Err(bad_value(
                        "BYDAY",
                        item,
                        "the number must be 1 to 53 or -53 to -1",
                    ));
                }
                Some(k)
            };
            Ok(Some(ByDay { nth, weekday }))
        })
        .collect();
    Ok(entries?.into_iter().flatten().collect())
}

/// Parses an iCalendar DATE (`20261231`), floating DATE-TIME
/// (`20261231T120000`) or UTC DATE-TIME (`20261231T120000Z`): the three
/// forms every date value of RFC 5545 takes (UNTIL, DTSTART, EXDATE, …).
pub(crate) fn parse_ical_time(value: &str) -> Option<Until> {
    let value = value.trim();
    if let Some(utc) = value.strip_suffix('Z') {
        return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .ok()
            .map(|t| Until::Utc(t.and_utc()));
    }
    if value.contains('T') {
        return NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%S")
            .ok()
            .map(Until::Floating);
    }
    NaiveDate::parse_from_str(value, "%Y%m%d")
        .ok()
        .map(Until::Date)
}

fn parse_until(value: &str) -> Result<Until, RuleError> {
    parse_ical_time(value).ok_or_else(|| {
        bad_value(
            "UNTIL",
            value,
            "not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS[Z])",
        )
    })
}

fn weekday_code(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn join<T: fmt::Display>(items: &[T]) -> String {
            items
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }
        write!(f, "FREQ={}", self.freq.name())?;
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        match self.until {
            Some(Until::Date(d)) => write!(f, ";UNTIL={}", d.format("%Y%m%d"))?,
            Some(Until::Floating(t)) => write!(f, ";UNTIL={}", t.format("%Y%m%dT%H%M%S"))?,
            Some(Until::Utc(t)) => write!(f, ";UNTIL={}", t.format("%Y%m%dT%H%M%SZ"))?,
            None => {}
        }
        if let Some(count) = self.count {
            write!(f, ";COUNT={count}")?;
        }
        let parts: [(&str, String); 9] = [
            ("BYMONTH", join(&self.by_month)),
            ("BYWEEKNO", join(&self.by_week_no)),
            ("BYYEARDAY", join(&self.by_year_day)),
            ("BYMONTHDAY", join(&self.by_month_day)),
            (
                "BYDAY",
                self.by_day
                    .iter()
                    .map(|d| {
                        let n = d.nth.map(|n| n.to_string()).unwrap_or_default();
                        format!("{n}{}", weekday_code(d.weekday))
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("BYHOUR", join(&self.by_hour)),
            ("BYMINUTE", join(&self.by_minute)),
            ("BYSECOND", join(&self.by_second)),
            ("BYSETPOS", join(&self.by_set_pos)),
        ];
        for (name, value) in parts {
            if !value.is_empty() {
                write!(f, ";{name}={value}")?;
            }
        }
        if self.week_start != Weekday::Mon {
            write!(f, ";WKST={}", weekday_code(self.week_start))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_part_and_the_value() {
        let cases = [
            ("FREQ=WEEKLY;BYDAY=MO=;COUNT=3", "BYDAY"),
            ("FREQ=FORTNIGHTLY", "FREQ"),
            ("FREQ=DAILY;BYHOUR=24", "BYHOUR"),
            ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
            ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY"),
            ("FREQ=MONTHLY;BYWEEKNO=10", "BYWEEKNO"),
            ("FREQ=DAILY;UNTIL=2026-12-31", "UNTIL"),
            ("FREQ=DAILY;FOO=1", "FOO"),
            ("FREQ=DAILY;COUNT=1;COUNT=2", "COUNT"),
            ("INTERVAL=2", "FREQ"),
        ];
        for (text, part) in cases {
            let err = text.parse::<Rule>().unwrap_err().to_string();
            assert!(err.contains(part), "{text}: {err}");
        }
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3",
            "FREQ=MONTHLY;UNTIL=20261231T225959Z;BYDAY=-1FR,2MO",
            "FREQ=WEEKLY;UNTIL=20261231;BYDAY=MO,WE;WKST=SU",
            "FREQ=YEARLY;BYWEEKNO=-1,20;BYDAY=MO;BYSETPOS=1,-1",
        ] {
            let rule: Rule = text.parse().unwrap();
            assert_eq!(rule.to_string(), text);
            assert_eq!(rule.to_string().parse::<Rule>().unwrap(), rule);
        }
    }
}
