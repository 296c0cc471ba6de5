//! A recurrence set (RFC 5545 section 3.8.5): a start, rules, extra dates
//! and excluded dates, expanded in the series' own zone.

use std::collections::BTreeSet;

use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

use super::ExpandError;
use super::iter::WallClock;
use super::rule::{Rule, Until};
use crate::tz::wall_clock::rfc5545_instant;

/// When a series starts (`DTSTART`), which also fixes the type every other
/// date of the set is normalised to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesStart {
    /// An all-day series (`DTSTART;VALUE=DATE`).
    Date(NaiveDate),
    /// A local time with no zone: the same wall-clock time anywhere.
    Floating(NaiveDateTime),
    /// A local time in a zone (`DTSTART;TZID=…`, or `…Z` as UTC).
    Zoned(NaiveDateTime, Tz),
}

impl SeriesStart {
    /// The start's wall-clock time (midnight for a date).
    ///
    /// ```
    /// use calrep_core::recur::SeriesStart;
    /// let start = SeriesStart::Date("2026-03-01".parse()?);
    /// assert_eq!(start.wall_clock().to_string(), "2026-03-01 00:00:00");
    /// # Ok::<(), chrono::ParseError>(())
    /// ```
    pub fn wall_clock(self) -> NaiveDateTime {
        match self {
            Self::Date(d) => d.and_time(NaiveTime::MIN),
            Self::Floating(t) | Self::Zoned(t, _) => t,
        }
    }
}

/// An `RDATE` or `EXDATE` value as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetDate {
    /// A date.
    Date(NaiveDate),
    /// A local time with no zone (read in the series' zone).
    Floating(NaiveDateTime),
    /// A local time in a given zone.
    Zoned(NaiveDateTime, Tz),
    /// An instant.
    Utc(DateTime<Utc>),
}

/// One occurrence, of the series start's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Instance {
    /// A day of an all-day series.
    Date(NaiveDate),
    /// A floating local time.
    Floating(NaiveDateTime),
    /// An instant of a zoned series.
    At(DateTime<Utc>),
}

impl Instance {
    /// The form the command line and the bindings print: a date as
    /// `YYYY-MM-DD`, anything else as a UTC instant `YYYY-MM-DDTHH:MM:SSZ`
    /// (floating times read as UTC).
    ///
    /// ```
    /// use calrep_core::recur::Instance;
    /// let at = Instance::At("2026-03-02T08:00:00Z".parse()?);
    /// assert_eq!(at.to_utc_text(), "2026-03-02T08:00:00Z");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_utc_text(self) -> String {
        match self {
            Self::Date(_) => self.to_string(),
            other => crate::rfc3339::utc(other.instant(chrono_tz::UTC)),
        }
    }

    /// The instant this occurrence starts, reading floating values and dates
    /// (at midnight) in `floating_zone`.
    ///
    /// ```
    /// use calrep_core::recur::Instance;
    /// let day = Instance::Date("2026-03-01".parse()?);
    /// assert_eq!(day.instant(chrono_tz::UTC).to_rfc3339(), "2026-03-01T00:00:00+00:00");
    /// # Ok::<(), chrono::ParseError>(())
    /// ```
    pub fn instant(self, floating_zone: Tz) -> DateTime<Utc> {
        match self {
            Self::At(t) => t,
            Self::Date(d) => local_instant(floating_zone, d.and_time(NaiveTime::MIN)),
            Self::Floating(t) => local_instant(floating_zone, t),
        }
    }
}

impl std::fmt::Display for Instance {
    /// RFC 3339: `2026-03-01` for a date, `2026-03-01T09:00:00` for a
    /// floating time, `2026-03-01T08:00:00Z` for an instant.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = String::with_capacity(20);
        match *self {
            Self::Date(d) => crate::rfc3339::write_date(&mut text, d),
            Self::Floating(t) => crate::rfc3339::write_local(&mut text, t),
            Self::At(t) => crate::rfc3339::write_utc(&mut text, t),
        }
        f.write_str(&text)
    }
}

/// An occurrence with the wall-clock time it shows, which is what a
/// binding needs to build a local datetime without looking the zone's
/// offset up once more: the expander knows the wall time it started from.
///
/// ```
/// use calrep_core::recur::{RecurrenceSet, SeriesStart};
/// let start = SeriesStart::Zoned("2026-03-23T09:00:00".parse()?, chrono_tz::Europe::Berlin);
/// let set = RecurrenceSet::new(start).rule("FREQ=WEEKLY;COUNT=2".parse()?);
/// let found = set.between_local("2026-01-01T00:00:00Z".parse()?, "2027-01-01T00:00:00Z".parse()?)?;
/// // The same 09:00 on both sides of Berlin's change to summer time.
/// assert_eq!(found[1].instance.to_string(), "2026-03-30T07:00:00Z");
/// assert_eq!(found[1].wall.to_string(), "2026-03-30 09:00:00");
/// assert!(!found[1].fold);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalInstance {
    /// The occurrence.
    pub instance: Instance,
    /// Its wall-clock time: in the series' zone for an instant, the value
    /// itself for a floating time, midnight for a date.
    pub wall: NaiveDateTime,
    /// Whether the instant is the second of two equal wall times (the hour
    /// repeated when clocks go back), Python's `fold=1`. Only an `RDATE`
    /// given as an instant can be: wall times mean the first (RFC 5545).
    pub fold: bool,
}

/// What an expansion collects: a bare [`Instance`] or a [`LocalInstance`].
/// Both come from the same walk, so they cannot disagree.
trait Collected: Copy {
    /// A wall-clock time of the series (`None` when the policy drops it).
    fn from_wall(set: &RecurrenceSet, wall: NaiveDateTime) -> Option<Self>;
    /// An `RDATE`, normalised to the start's type.
    fn from_date(set: &RecurrenceSet, date: SetDate) -> Option<Self>;
    fn instance(&self) -> Instance;
}

impl Collected for Instance {
    fn from_wall(set: &RecurrenceSet, wall: NaiveDateTime) -> Option<Self> {
        set.instance(wall)
    }

    fn from_date(set: &RecurrenceSet, date: SetDate) -> Option<Self> {
        set.normalise(date)
    }

    fn instance(&self) -> Instance {
        *self
    }
}

impl Collected for LocalInstance {
    fn from_wall(set: &RecurrenceSet, wall: NaiveDateTime) -> Option<Self> {
        let (instance, wall) = match set.start {
            // A time in a gap shows as the time after it (02:30 as 03:30);
            // any other shows as itself, at its first instant.
            SeriesStart::Zoned(_, zone) => set
                .zoned(zone, wall)
                .map(|at| (Instance::At(at.with_timezone(&Utc)), at.naive_local()))?,
            _ => (set.instance(wall)?, wall),
        };
        Some(Self {
            instance,
            wall,
            fold: false,
        })
    }

    fn from_date(set: &RecurrenceSet, date: SetDate) -> Option<Self> {
        let instance = set.normalise(date)?;
        let (wall, fold) = match (instance, set.start) {
            (Instance::Date(d), _) => (d.and_time(NaiveTime::MIN), false),
            (Instance::Floating(t), _) => (t, false),
            (Instance::At(t), SeriesStart::Zoned(_, zone)) => {
                let local = t.with_timezone(&zone);
                let fold = match zone.from_local_datetime(&local.naive_local()) {
                    // This instant is the later reading of its wall time.
                    LocalResult::Ambiguous(a, b) => local == a.max(b),
                    _ => false,
                };
                (local.naive_local(), fold)
            }
            (Instance::At(t), _) => (t.naive_utc(), false),
        };
        Some(Self {
            instance,
            wall,
            fold,
        })
    }

    fn instance(&self) -> Instance {
        self.instance
    }
}

/// What to do with a local time that a daylight-saving change skips or
/// repeats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalTimePolicy {
    /// RFC 5545 section 3.3.5: a skipped time is read with the offset from
    /// before the gap (02:30 in a one-hour gap becomes 03:30 new time); a
    /// repeated time means its first occurrence.
    #[default]
    Rfc5545,
    /// Like `Rfc5545`, but an occurrence at a skipped time is left out.
    SkipNonexistent,
}

/// Occurrences one expansion may return at most, against runaway rules.
pub const MAX_OCCURRENCES: usize = 1_000_000;

/// A recurring series: start, rules, `RDATE`s and `EXDATE`s.
///
/// ```
/// use calrep_core::recur::{RecurrenceSet, SeriesStart};
/// let start = SeriesStart::Zoned("2026-03-23T09:00:00".parse()?, chrono_tz::Europe::Berlin);
/// let set = RecurrenceSet::new(start).rule("FREQ=WEEKLY;COUNT=3".parse()?);
/// let starts: Vec<String> = set
///     .between("2026-01-01T00:00:00Z".parse()?, "2027-01-01T00:00:00Z".parse()?)?
///     .iter()
///     .map(ToString::to_string)
///     .collect();
/// // Berlin moves to summer time on 29 March: 09:00 is 08:00Z, then 07:00Z.
/// assert_eq!(starts, ["2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z", "2026-04-06T07:00:00Z"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurrenceSet {
    start: SeriesStart,
    rules: Vec<Rule>,
    rdates: Vec<SetDate>,
    exdates: Vec<SetDate>,
    exrules: Vec<Rule>,
    policy: LocalTimePolicy,
    start_is_instance: bool,
}

impl RecurrenceSet {
    /// A set holding only its start.
    pub fn new(start: SeriesStart) -> Self {
        Self {
            start,
            rules: Vec::new(),
            rdates: Vec::new(),
            exdates: Vec::new(),
            exrules: Vec::new(),
            policy: LocalTimePolicy::default(),
            start_is_instance: true,
        }
    }

    /// Adds an `RRULE`.
    pub fn rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Adds an `RDATE`.
    pub fn rdate(mut self, date: SetDate) -> Self {
        self.rdates.push(date);
        self
    }

    /// Adds an `EXDATE`.
    pub fn exdate(mut self, date: SetDate) -> Self {
        self.exdates.push(date);
        self
    }

    /// Adds an `EXRULE` (deprecated by RFC 5545, still written by old
    /// clients): its instances are excluded like `EXDATE`s.
    ///
    /// ```
    /// use calrep_core::recur::{RecurrenceSet, SeriesStart};
    /// let set = RecurrenceSet::new(SeriesStart::Date("2026-03-02".parse()?))
    ///     .rule("FREQ=DAILY;COUNT=7".parse()?)
    ///     .exrule("FREQ=WEEKLY;BYDAY=SA,SU".parse()?);
    /// assert_eq!(set.all(100)?.len(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn exrule(mut self, rule: Rule) -> Self {
        self.exrules.push(rule);
        self
    }

    /// Sets how skipped and repeated local times are read.
    pub fn policy(mut self, policy: LocalTimePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Whether the start is an occurrence even when the rules do not produce
    /// it. RFC 5545 (section 3.8.5) makes it the set's first instance, which
    /// is the default: an event must not vanish because its rule is out of
    /// step with its start. Rule-only semantics (libical, ical.net,
    /// python-dateutil) drop an out-of-step start; the start never counts
    /// towards `COUNT` unless the rule produces it.
    ///
    /// ```
    /// use calrep_core::recur::{RecurrenceSet, SeriesStart};
    /// // 2026-03-01 is a Sunday; the rule only produces Mondays.
    /// let set = RecurrenceSet::new(SeriesStart::Date("2026-03-01".parse()?))
    ///     .rule("FREQ=WEEKLY;BYDAY=MO;COUNT=2".parse()?);
    /// assert_eq!(set.all(10)?.len(), 3);
    /// assert_eq!(set.start_is_instance(false).all(10)?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_is_instance(mut self, yes: bool) -> Self {
        self.start_is_instance = yes;
        self
    }

    /// Whether the set is its start alone: no rules and no `RDATE`s.
    ///
    /// ```
    /// use calrep_core::recur::{RecurrenceSet, SeriesStart};
    /// let once = RecurrenceSet::new(SeriesStart::Date("2026-03-02".parse()?));
    /// assert!(once.is_single());
    /// assert!(!once.rule("FREQ=DAILY".parse()?).is_single());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_single(&self) -> bool {
        self.rules.is_empty() && self.rdates.is_empty()
    }

    /// Whether two sets have the same rules, `RDATE`s, `EXDATE`s and
    /// `EXRULE`s, whatever their starts.
    pub(crate) fn same_recurrence(&self, other: &Self) -> bool {
        (&self.rules, &self.rdates, &self.exdates, &self.exrules)
            == (&other.rules, &other.rdates, &other.exdates, &other.exrules)
    }

    /// The series' start.
    pub fn start(&self) -> SeriesStart {
        self.start
    }

    /// The series' zone (UTC for floating and all-day series).
    fn zone(&self) -> Tz {
        match self.start {
            SeriesStart::Zoned(_, z) => z,
            _ => chrono_tz::UTC,
        }
    }

    fn start_wall(&self) -> (NaiveDateTime, bool) {
        (
            self.start.wall_clock(),
            matches!(self.start, SeriesStart::Date(_)),
        )
    }

    /// The start as an occurrence of the set (`None` when the policy drops
    /// a start in a gap).
    pub(crate) fn start_instance(&self) -> Option<Instance> {
        self.instance(self.start.wall_clock())
    }

    /// A wall-clock time of this series as an occurrence (`None` when the
    /// policy drops it).
    fn instance(&self, wall: NaiveDateTime) -> Option<Instance> {
        match self.start {
            SeriesStart::Date(_) => Some(Instance::Date(wall.date())),
            SeriesStart::Floating(_) => Some(Instance::Floating(wall)),
            SeriesStart::Zoned(_, zone) => self
                .zoned(zone, wall)
                .map(|t| Instance::At(t.with_timezone(&Utc))),
        }
    }

    /// A wall-clock time of a zoned series as an instant, by the policy,
    /// with one offset lookup (`None` when the policy drops a skipped time).
    fn zoned(&self, zone: Tz, wall: NaiveDateTime) -> Option<DateTime<Tz>> {
        match zone.from_local_datetime(&wall) {
            LocalResult::Single(t) => Some(t),
            LocalResult::Ambiguous(a, b) => Some(a.min(b)),
            LocalResult::None if self.policy == LocalTimePolicy::SkipNonexistent => None,
            LocalResult::None => {
                Some(rfc5545_instant(zone, wall).unwrap_or_else(|| zone.from_utc_datetime(&wall)))
            }
        }
    }

    /// An `RDATE`/`EXDATE` value normalised to the start's type: dates get
    /// the start's time of day, times of an all-day series their date, and
    /// zoned or UTC values are moved into the series' zone — never into the
    /// zone of the process.
    pub(crate) fn normalise(&self, date: SetDate) -> Option<Instance> {
        let (start, _) = self.start_wall();
        let zone = self.zone();
        let wall = match date {
            SetDate::Date(d) => d.and_time(start.time()),
            SetDate::Floating(t) => t,
            SetDate::Zoned(t, z) => local_instant(z, t).with_timezone(&zone).naive_local(),
            SetDate::Utc(t) => t.with_timezone(&zone).naive_local(),
        };
        match (self.start, date) {
            // An instant given exactly stays exact, even in a repeated hour.
            (SeriesStart::Zoned(..), SetDate::Utc(t)) => Some(Instance::At(t)),
            (SeriesStart::Zoned(..), SetDate::Zoned(t, z)) => {
                Some(Instance::At(local_instant(z, t)))
            }
            (SeriesStart::Date(_), _) => Some(Instance::Date(wall.date())),
            _ => self.instance(wall),
        }
    }

    /// The rule's `UNTIL` in the series' wall clock.
    fn until_wall(&self, until: Option<Until>) -> Option<NaiveDateTime> {
        let zone = self.zone();
        until.map(|u| match (self.start, u) {
            // A date-only end includes its whole day.
            (SeriesStart::Date(_), Until::Date(d)) => d.and_time(NaiveTime::MIN),
            (SeriesStart::Date(_), Until::Floating(t)) => t.date().and_time(NaiveTime::MIN),
            (SeriesStart::Date(_), Until::Utc(t)) => t.date_naive().and_time(NaiveTime::MIN),
            (_, Until::Date(d)) => d
                .and_hms_opt(23, 59, 59)
                .unwrap_or(d.and_time(NaiveTime::MIN)),
            (_, Until::Floating(t)) => t,
            (SeriesStart::Floating(_), Until::Utc(t)) => t.naive_utc(),
            (SeriesStart::Zoned(..), Until::Utc(t)) => t.with_timezone(&zone).naive_local(),
        })
    }

    fn iterators(&self) -> Result<Vec<WallClock>, ExpandError> {
        let (start, date_only) = self.start_wall();
        self.rules
            .iter()
            .map(|r| WallClock::new(r, start, date_only, self.until_wall(r.until)))
            .collect()
    }

    /// The excluded instances: `EXDATE`s, and the `EXRULE` instances from
    /// `from` up to `to` (wall clock).
    fn excluded(
        &self,
        from: Option<NaiveDateTime>,
        to: NaiveDateTime,
    ) -> Result<BTreeSet<Instance>, ExpandError> {
        let mut out: BTreeSet<Instance> = self
            .exdates
            .iter()
            .filter_map(|d| self.normalise(*d))
            .collect();
        let (start, date_only) = self.start_wall();
        for rule in &self.exrules {
            let mut it = WallClock::new(rule, start, date_only, self.until_wall(rule.until))?;
            if let Some(from) = from {
                it.seek(from);
            }
            it.stop_after(to.date());
            for wall in it {
                let wall = match wall {
                    Ok(w) => w,
                    Err(ExpandError::OutOfRange) => break,
                    Err(e) => return Err(e),
                };
                if wall > to {
                    break;
                }
                out.extend(self.instance(wall));
            }
        }
        Ok(out)
    }

    /// Every occurrence, in order. Fails with [`ExpandError::OutOfRange`] for
    /// a series without end, and with [`ExpandError::TooMany`] past `limit`.
    ///
    /// ```
    /// use calrep_core::recur::{RecurrenceSet, SeriesStart, SetDate};
    /// let set = RecurrenceSet::new(SeriesStart::Date("2026-03-02".parse()?))
    ///     .rule("FREQ=WEEKLY;BYDAY=MO,TH;COUNT=3".parse()?)
    ///     .exdate(SetDate::Date("2026-03-05".parse()?));
    /// let days: Vec<String> = set.all(100)?.iter().map(ToString::to_string).collect();
    /// assert_eq!(days, ["2026-03-02", "2026-03-09"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn all(&self, limit: usize) -> Result<Vec<Instance>, ExpandError> {
        let mut out: Vec<Instance> = Vec::new();
        let (start, _) = self.start_wall();
        let mut last = start;
        if self.start_is_instance || self.rules.is_empty() {
            out.extend(self.instance(start));
        }
        for it in self.iterators()? {
            for wall in it {
                let wall = wall?;
                last = last.max(wall);
                out.extend(self.instance(wall));
                if out.len() > limit {
                    return Err(ExpandError::TooMany(limit));
                }
            }
        }
        let rdate_walls = self
            .rdates
            .iter()
            .filter_map(|d| match self.normalise(*d)? {
                Instance::Date(d) => Some(d.and_time(NaiveTime::MIN)),
                Instance::Floating(t) => Some(t),
                Instance::At(t) => Some(t.with_timezone(&self.zone()).naive_local()),
            });
        let last = rdate_walls.fold(last, NaiveDateTime::max);
        let excluded = self.excluded(None, last)?;
        out.extend(self.rdates.iter().filter_map(|d| self.normalise(*d)));
        Ok(finish(out, &excluded))
    }

    /// The occurrences starting at or after `from` and before `to`, in order
    /// and without duplicates. Floating and all-day series are read in UTC;
    /// see [`RecurrenceSet::between_in`]. A series without end is expanded
    /// from the window on, not from its start.
    pub fn between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Instance>, ExpandError> {
        self.between_in(from, to, chrono_tz::UTC)
    }

    /// Like [`RecurrenceSet::between`], reading floating times and dates in
    /// `floating_zone`.
    ///
    /// ```
    /// use calrep_core::recur::{RecurrenceSet, SeriesStart};
    /// // A daily series started in 1990: the window costs the same as in 1990.
    /// let set = RecurrenceSet::new(SeriesStart::Zoned("1990-01-01T09:00:00".parse()?, chrono_tz::UTC))
    ///     .rule("FREQ=DAILY".parse()?);
    /// let week = set.between_in("2026-06-01T00:00:00Z".parse()?, "2026-06-08T00:00:00Z".parse()?, chrono_tz::UTC)?;
    /// assert_eq!(week.len(), 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn between_in(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        floating_zone: Tz,
    ) -> Result<Vec<Instance>, ExpandError> {
        self.collect_between(from, to, floating_zone)
    }

    /// Like [`RecurrenceSet::between`], each occurrence with the wall-clock
    /// time it shows in the series' zone (see [`LocalInstance`]).
    ///
    /// ```
    /// use calrep_core::recur::{RecurrenceSet, SeriesStart};
    /// // 02:30 does not happen in New York on 2026-03-08: it shows as 03:30.
    /// let start = SeriesStart::Zoned("2026-03-07T02:30:00".parse()?, chrono_tz::America::New_York);
    /// let set = RecurrenceSet::new(start).rule("FREQ=DAILY;COUNT=2".parse()?);
    /// let found = set.between_local("2026-03-01T00:00:00Z".parse()?, "2026-04-01T00:00:00Z".parse()?)?;
    /// assert_eq!(found[1].wall.to_string(), "2026-03-08 03:30:00");
    /// assert_eq!(found[1].instance.to_string(), "2026-03-08T07:30:00Z");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn between_local(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LocalInstance>, ExpandError> {
        self.collect_between(from, to, chrono_tz::UTC)
    }

    fn collect_between<T: Collected>(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        floating_zone: Tz,
    ) -> Result<Vec<T>, ExpandError> {
        if to <= from {
            return Ok(Vec::new());
        }
        let inside = |i: &T| {
            let t = i.instance().instant(floating_zone);
            t >= from && t < to
        };
        // Local times lie within ±15 hours of UTC (and floating ones are read
        // in `floating_zone`), so a day of slack on each side of the window in
        // wall-clock terms covers every occurrence that can fall inside it.
        let slack = TimeDelta::hours(40);
        let wall_from = from
            .naive_utc()
            .checked_sub_signed(slack)
            .unwrap_or(NaiveDateTime::MIN);
        let wall_to = to
            .naive_utc()
            .checked_add_signed(slack)
            .unwrap_or(NaiveDateTime::MAX);
        let excluded = self.excluded(Some(wall_from), wall_to)?;
        let mut out: Vec<T> = Vec::new();
        let (start, _) = self.start_wall();
        if self.start_is_instance || self.rules.is_empty() {
            out.extend(T::from_wall(self, start).filter(inside));
        }
        for mut it in self.iterators()? {
            it.seek(wall_from);
            it.stop_after(wall_to.date());
            for wall in it {
                let wall = match wall {
                    Ok(w) => w,
                    // The calendar ends in 9999: so does the window.
                    Err(ExpandError::OutOfRange) => break,
                    Err(e) => return Err(e),
                };
                if wall > wall_to {
                    break;
                }
                out.extend(T::from_wall(self, wall).filter(inside));
                if out.len() > MAX_OCCURRENCES {
                    return Err(ExpandError::TooMany(MAX_OCCURRENCES));
                }
            }
        }
        out.extend(
            self.rdates
                .iter()
                .filter_map(|d| T::from_date(self, *d))
                .filter(inside),
        );
        Ok(finish(out, &excluded))
    }
}

/// Sorted, without duplicates (RFC 5545: an instance counts once however
/// many rules produce it) and without excluded instances.
fn finish<T: Collected>(mut out: Vec<T>, excluded: &BTreeSet<Instance>) -> Vec<T> {
    out.sort_unstable_by_key(T::instance);
    out.dedup_by_key(|o| o.instance());
    if !excluded.is_empty() {
        out.retain(|o| !excluded.contains(&o.instance()));
    }
    out
}

/// The instant RFC 5545 gives a local time (first of a repeated time, a
/// skipped time moved forward by the gap).
fn local_instant(zone: Tz, wall: NaiveDateTime) -> DateTime<Utc> {
    rfc5545_instant(zone, wall).map_or_else(|| wall.and_utc(), |t| t.with_timezone(&Utc))
}
