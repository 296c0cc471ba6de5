//! The `TimeZoneDefinition` Exchange embeds in an item (`StartTimeZone`):
//! periods with their bias, groups of yearly transitions, and which group
//! applies from when. When the zone's id is unknown or custom, the
//! definition is matched against the zones of the CLDR table: the IANA zone
//! whose offsets agree with the definition around each of its transitions
//! in the item's year stands in, so recurrences keep their daylight-saving
//! shifts.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Weekday};
use chrono_tz::Tz;

use super::xml::Element;
use crate::tz::resolve_zone;

/// A transition that recurs every year on the `occurrence`-th `weekday` of
/// `month` (−1: the last), at `time` local, to a period with `offset`.
#[derive(Debug, Clone, Copy)]
struct Yearly {
    offset: i32,
    month: u32,
    weekday: Weekday,
    occurrence: i8,
    time: i64,
}

/// What the definition says, in seconds east of UTC.
#[derive(Debug, Clone)]
pub(crate) struct Definition {
    /// Transition groups by id: yearly transitions, or one fixed offset.
    groups: HashMap<String, Group>,
    /// Which group applies from when (`None`: from the beginning).
    timeline: Vec<(Option<NaiveDateTime>, String)>,
    /// The Windows id the period ids name (`trule:Microsoft/Registry/<id>/…`).
    hint: Option<String>,
}

#[derive(Debug, Clone)]
enum Group {
    Fixed(i32),
    Yearly(Vec<Yearly>),
}

impl Definition {
    /// Reads a `StartTimeZone` / `TimeZoneDefinition` element.
    pub(crate) fn read(e: Element<'_>) -> Option<Self> {
        let mut periods: HashMap<&str, i32> = HashMap::new();
        let mut hint = None;
        for p in e.child("Periods")?.children_named("Period") {
            let id = p.attribute("Id")?;
            periods.insert(id, -super::item::xs_duration_seconds(p.attribute("Bias")?)?);
            if hint.is_none() {
                hint = id
                    .strip_prefix("trule:Microsoft/Registry/")
                    .and_then(|rest| rest.split('/').next())
                    .map(str::to_owned);
            }
        }
        let mut groups = HashMap::new();
        for g in e
            .child("TransitionsGroups")?
            .children_named("TransitionsGroup")
        {
            let mut yearly = Vec::new();
            let mut fixed = None;
            for t in g.children() {
                let to = periods.get(t.text_of("To")?).copied()?;
                match t.name() {
                    "RecurringDayTransition" => yearly.push(Yearly {
                        offset: to,
                        month: t.text_of("Month")?.parse().ok()?,
                        weekday: t.text_of("DayOfWeek")?.parse().ok()?,
                        occurrence: t.text_of("Occurrence")?.parse().ok()?,
                        time: i64::from(super::item::xs_duration_seconds(
                            t.text_of("TimeOffset")?,
                        )?),
                    }),
                    "Transition" => fixed = Some(to),
                    _ => {}
                }
            }
            let group = match (yearly.is_empty(), fixed) {
                (false, _) => Group::Yearly(yearly),
                (true, Some(offset)) => Group::Fixed(offset),
                (true, None) => continue,
            };
            groups.insert(g.attribute("Id")?.to_owned(), group);
        }
        let mut timeline = Vec::new();
        for t in e.child("Transitions")?.children() {
            let group = t.text_of("To")?.to_owned();
            let from = match t.name() {
                "Transition" => None,
                "AbsoluteDateTransition" => Some(t.text_of("DateTime")?.parse().ok()?),
                _ => continue,
            };
            timeline.push((from, group));
        }
        Some(Self {
            groups,
            timeline,
            hint,
        })
    }

    /// The group in force on 1 January of `year`.
    fn group(&self, year: i32) -> Option<&Group> {
        let jan1 = NaiveDate::from_ymd_opt(year, 1, 1)?.and_time(NaiveTime::MIN);
        let id = self
            .timeline
            .iter()
            .rfind(|(from, _)| from.is_none_or(|f| f <= jan1))
            .map(|(_, g)| g)?;
        self.groups.get(id)
    }

    /// Instants (UTC seconds) at which `tz` must have a given offset for it
    /// to agree with the definition in `year`.
    fn checks(&self, year: i32) -> Option<Vec<(i64, i32)>> {
        match self.group(year)? {
            Group::Fixed(offset) => Some(
                [1, 4, 7, 10]
                    .iter()
                    .filter_map(|m| NaiveDate::from_ymd_opt(year, *m, 15))
                    .map(|d| {
                        (
                            d.and_time(NaiveTime::MIN).and_utc().timestamp() - i64::from(*offset),
                            *offset,
                        )
                    })
                    .collect(),
            ),
            Group::Yearly(rules) => {
                let mut out = Vec::new();
                for (i, rule) in rules.iter().enumerate() {
                    // The offset in force before this transition is the
                    // other rule's.
                    let before = rules
                        .iter()
                        .enumerate()
                        .find(|(j, _)| *j != i)
                        .map_or(rule.offset, |(_, r)| r.offset);
                    let day = nth_weekday(year, rule.month, rule.weekday, rule.occurrence)?;
                    let local = day.and_time(NaiveTime::MIN) + TimeDelta::seconds(rule.time);
                    let at = local.and_utc().timestamp() - i64::from(before);
                    out.push((at - 3_600, before));
                    out.push((at + 3_600, rule.offset));
                }
                Some(out)
            }
        }
    }

    /// Whether `tz` has the definition's offsets throughout `year`.
    fn agrees(&self, tz: Tz, year: i32) -> bool {
        self.checks(year).is_some_and(|checks| {
            !checks.is_empty()
                && checks.iter().all(|(at, offset)| {
                    chrono::DateTime::from_timestamp(*at, 0).is_some_and(|t| {
                        tz.offset_from_utc_datetime(&t.naive_utc())
                            .fix()
                            .local_minus_utc()
                            == *offset
                    })
                })
        })
    }

    /// The IANA zone that agrees with the definition in `year`: the one the
    /// period ids name if it agrees, else the first in the CLDR table.
    pub(crate) fn matching_zone(&self, year: i32) -> Option<Tz> {
        let hinted = self
            .hint
            .as_deref()
            .and_then(|h| resolve_zone(h).ok())
            .map(|z| z.tz());
        if let Some(tz) = hinted.filter(|tz| self.agrees(*tz, year)) {
            return Some(tz);
        }
        crate::tz::windows_ids()
            .filter_map(|id| resolve_zone(id).ok())
            .map(|z| z.tz())
            .find(|tz| self.agrees(*tz, year))
    }
}

/// The `occurrence`-th `weekday` of a month (−1 or 5: the last).
fn nth_weekday(year: i32, month: u32, weekday: Weekday, occurrence: i8) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let days: Vec<NaiveDate> = first
        .iter_days()
        .take_while(|d| *d < next)
        .filter(|d| d.weekday() == weekday)
        .collect();
    match occurrence {
        -1 | 5 => days.last().copied(),
        n @ 1..=4 => days.get(usize::try_from(n - 1).ok()?).copied(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::xml;
    use super::*;

    /// The shape Exchange sends for W. Europe Standard Time (periods,
    /// a yearly transitions group, the timeline), under a custom id.
    fn definition(period_prefix: &str) -> Definition {
        let text = format!(
            r#"<t:StartTimeZone Id="Customized Time Zone" Name="Customized Time Zone">
  <t:Periods>
    <t:Period Bias="-PT1H" Name="Standard" Id="{p}/2006-Standard"/>
    <t:Period Bias="-PT2H" Name="Daylight" Id="{p}/2006-Daylight"/>
  </t:Periods>
  <t:TransitionsGroups>
    <t:TransitionsGroup Id="0">
      <t:RecurringDayTransition><t:To Kind="Period">{p}/2006-Daylight</t:To><t:TimeOffset>PT2H</t:TimeOffset><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek><t:Occurrence>-1</t:Occurrence></t:RecurringDayTransition>
      <t:RecurringDayTransition><t:To Kind="Period">{p}/2006-Standard</t:To><t:TimeOffset>PT3H</t:TimeOffset><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek><t:Occurrence>-1</t:Occurrence></t:RecurringDayTransition>
    </t:TransitionsGroup>
  </t:TransitionsGroups>
  <t:Transitions><t:Transition><t:To Kind="Group">0</t:To></t:Transition></t:Transitions>
</t:StartTimeZone>"#,
            p = period_prefix
        );
        let doc = xml::parse(&text).unwrap();
        let root = doc.root();
        Definition::read(root.first_child().unwrap()).unwrap()
    }

    #[test]
    fn a_definition_finds_the_zone_it_describes() {
        let named = definition("trule:Microsoft/Registry/W. Europe Standard Time");
        assert_eq!(named.matching_zone(2026), Some(chrono_tz::Europe::Berlin));
        // Without a name in the period ids, the first zone of the table with
        // the same rules in that year stands in.
        let anonymous = definition("custom");
        let tz = anonymous.matching_zone(2026).unwrap();
        for probe in [
            "2026-01-15T12:00:00Z",
            "2026-03-29T00:59:00Z",
            "2026-03-29T01:01:00Z",
            "2026-07-15T12:00:00Z",
            "2026-10-25T01:01:00Z",
        ] {
            let at: chrono::DateTime<chrono::Utc> = probe.parse().unwrap();
            assert_eq!(
                tz.offset_from_utc_datetime(&at.naive_utc()).fix(),
                chrono_tz::Europe::Berlin
                    .offset_from_utc_datetime(&at.naive_utc())
                    .fix(),
                "{} at {probe}",
                tz.name()
            );
        }
    }
}
