//! An EWS `CalendarItem` (as `GetItem` returns it) read into calrep's
//! [`CalendarItem`]: namespaces matched, unknown elements tolerated,
//! required ones enforced with errors that name the element and the item.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};

use super::names::{MONTHS, weekday};
use super::xml::{self, Element, TYPES};
use super::zone::Definition;
use crate::address::EmailAddress;
use crate::calendar::{
    Attachment, Attendee, AttendeeRole, CalendarItem, DayOfWeekIndex, DaysOfWeek, FreeBusy,
    ItemTime, ModifiedOccurrence, Pattern, Range, Recurrence, Sensitivity, ZoneInfo,
};
use crate::tz::{ResolvedZone, ZoneSource, resolve_zone, resolve_zone_or_offset};

/// A `CalendarItem` that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("EWS CalendarItem {item}: {element}: {message}")]
pub struct EwsItemError {
    /// The item's id, or `?` before it is known.
    pub item: String,
    /// The element at fault.
    pub element: String,
    /// What is wrong.
    pub message: String,
}

/// Reads every `t:CalendarItem` in an EWS XML document or fragment (a
/// `GetItem` response, or the element alone with the usual `t:` prefix).
///
/// ```
/// let xml = r#"<t:CalendarItem>
///   <t:ItemId Id="AAMk1" ChangeKey="DwAA"/><t:Subject>Team sync</t:Subject>
///   <t:UID>040000008200E000</t:UID>
///   <t:Start>2026-03-02T08:00:00Z</t:Start><t:End>2026-03-02T08:30:00Z</t:End>
///   <t:Recurrence>
///     <t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday Thursday</t:DaysOfWeek>
///       <t:FirstDayOfWeek>Monday</t:FirstDayOfWeek></t:WeeklyRecurrence>
///     <t:NumberedRecurrence><t:StartDate>2026-03-02</t:StartDate>
///       <t:NumberOfOccurrences>6</t:NumberOfOccurrences></t:NumberedRecurrence>
///   </t:Recurrence>
///   <t:StartTimeZoneId>W. Europe Standard Time</t:StartTimeZoneId>
/// </t:CalendarItem>"#;
/// let items = calrep_core::ews::read_calendar_items(xml)?;
/// assert_eq!(items[0].zone.iana, "Europe/Berlin");
/// let rule = items[0].recurrence.as_ref().unwrap().rule(chrono_tz::Europe::Berlin, false);
/// assert_eq!(rule.to_string(), "FREQ=WEEKLY;COUNT=6;BYDAY=MO,TH");
/// # Ok::<(), calrep_core::ews::EwsItemError>(())
/// ```
pub fn read_calendar_items(text: &str) -> Result<Vec<CalendarItem>, EwsItemError> {
    let doc = xml::parse(text).map_err(|message| EwsItemError {
        item: "?".into(),
        element: "document".into(),
        message,
    })?;
    let mut found = Vec::new();
    collect(doc.root(), &mut found);
    found.into_iter().map(read_item).collect()
}

pub(crate) fn collect<'a>(e: Element<'a>, out: &mut Vec<Element<'a>>) {
    for c in e.children() {
        if c.is(TYPES, "CalendarItem") {
            out.push(c);
        } else {
            collect(c, out);
        }
    }
}

/// Reading one item: remembers its id for error messages.
struct Reader<'a> {
    e: Element<'a>,
    id: String,
}

impl Reader<'_> {
    fn error(&self, element: &str, message: impl Into<String>) -> EwsItemError {
        EwsItemError {
            item: self.id.clone(),
            element: element.to_owned(),
            message: message.into(),
        }
    }

    fn instant(&self, element: &str, text: &str) -> Result<DateTime<Utc>, EwsItemError> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                self.error(
                    element,
                    format!("{text:?} is not a date-time with zone: {e}"),
                )
            })
    }

    fn number<T: std::str::FromStr>(
        &self,
        parent: Element<'_>,
        name: &str,
    ) -> Result<T, EwsItemError> {
        let text = parent
            .text_of(name)
            .ok_or_else(|| self.error(name, format!("required in {}", parent.name())))?;
        text.parse()
            .map_err(|_| self.error(name, format!("{text:?} is not a number")))
    }
}

pub(crate) fn read_item(e: Element<'_>) -> Result<CalendarItem, EwsItemError> {
    let id_element = e.child("ItemId");
    let id = id_element
        .and_then(|i| i.attribute("Id"))
        .unwrap_or_default()
        .to_owned();
    let r = Reader {
        e,
        id: if id.is_empty() {
            "?".into()
        } else {
            id.clone()
        },
    };
    if id.is_empty() {
        return Err(r.error("ItemId", "required but missing"));
    }
    let start = r.instant("Start", r.required_in(e, "Start")?)?;
    let end = r.instant("End", r.required_in(e, "End")?)?;
    if end < start {
        return Err(r.error("End", "before Start"));
    }
    let resolved = zone(&r, start)?;
    let tz = resolved.tz();
    let all_day = e.text_of("IsAllDayEvent") == Some("true");
    let time = if all_day {
        let day = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
        ItemTime::AllDay {
            start: day(start),
            end: day(end).max(day(start) + TimeDelta::days(1)),
        }
    } else {
        ItemTime::Timed { start, end }
    };
    let uid = e
        .text_of("UID")
        .filter(|u| !u.is_empty())
        .unwrap_or(&id)
        .to_owned();
    let mut item = CalendarItem::new(
        id.clone(),
        uid,
        e.text_of("Subject").unwrap_or_default(),
        time,
    );
    item.change_key = id_element
        .and_then(|i| i.attribute("ChangeKey"))
        .unwrap_or_default()
        .to_owned();
    item.body = e.text_of("Body").unwrap_or_default().to_owned();
    item.location = e.text_of("Location").unwrap_or_default().to_owned();
    item.zone = ZoneInfo::resolved(&resolved);
    item.last_modified = match e.text_of("LastModifiedTime") {
        Some(t) => Some(r.instant("LastModifiedTime", t)?),
        None => None,
    };
    item.sensitivity = match e.text_of("Sensitivity").unwrap_or("Normal") {
        "Normal" => Sensitivity::Normal,
        "Personal" => Sensitivity::Personal,
        "Private" => Sensitivity::Private,
        "Confidential" => Sensitivity::Confidential,
        other => return Err(r.error("Sensitivity", format!("unknown value {other:?}"))),
    };
    item.free_busy = match e.text_of("LegacyFreeBusyStatus").unwrap_or("Busy") {
        "Free" => FreeBusy::Free,
        "Tentative" => FreeBusy::Tentative,
        "Busy" => FreeBusy::Busy,
        "OOF" => FreeBusy::Oof,
        "WorkingElsewhere" => FreeBusy::WorkingElsewhere,
        "NoData" => FreeBusy::NoData,
        other => return Err(r.error("LegacyFreeBusyStatus", format!("unknown value {other:?}"))),
    };
    item.is_cancelled = e.text_of("IsCancelled") == Some("true");
    item.categories = e
        .child("Categories")
        .map(|c| {
            c.children_named("String")
                .map(|s| s.text().trim().to_owned())
                .collect()
        })
        .unwrap_or_default();
    item.organizer = e
        .child("Organizer")
        .and_then(|o| person(o, AttendeeRole::Required));
    for (list, role) in [
        ("RequiredAttendees", AttendeeRole::Required),
        ("OptionalAttendees", AttendeeRole::Optional),
        ("Resources", AttendeeRole::Resource),
    ] {
        if let Some(list) = e.child(list) {
            item.attendees.extend(
                list.children_named("Attendee")
                    .filter_map(|a| person(a, role)),
            );
        }
    }
    if let Some(attachments) = e.child("Attachments") {
        for a in attachments.children_named("FileAttachment") {
            let id = a.child("AttachmentId").and_then(|i| i.attribute("Id"));
            let Some(id) = id else {
                return Err(r.error("AttachmentId", "a FileAttachment without an id"));
            };
            item.attachments.push(Attachment::new(
                id,
                a.text_of("Name").unwrap_or_default(),
                a.text_of("ContentType")
                    .unwrap_or("application/octet-stream"),
                a.text_of("Size").and_then(|s| s.parse().ok()).unwrap_or(0),
            ));
        }
    }
    if let Some(rec) = e.child("Recurrence") {
        item.recurrence = Some(recurrence(&r, rec)?);
    }
    Ok(item)
}

/// The item's zone: `StartTimeZoneId` (Exchange 2013+) or
/// `StartTimeZone/@Id` through the tables; for an unknown or custom id, the
/// zone whose rules match the embedded definition in the item's year; failing
/// that, the definition's standard offset as a fixed offset.
fn zone(r: &Reader<'_>, start: DateTime<Utc>) -> Result<ResolvedZone, EwsItemError> {
    let definition = r.e.child("StartTimeZone");
    let id =
        r.e.text_of("StartTimeZoneId")
            .or_else(|| definition.and_then(|d| d.attribute("Id")))
            .unwrap_or("UTC");
    if let Ok(zone) = resolve_zone(id) {
        return Ok(zone);
    }
    let matched = definition
        .and_then(Definition::read)
        .and_then(|d| d.matching_zone(start.year()));
    if let Some(tz) = matched {
        return Ok(ResolvedZone::found(id, tz, ZoneSource::Definition));
    }
    let standard_offset = definition.and_then(standard_bias).map(|bias| -bias);
    resolve_zone_or_offset(id, standard_offset)
        .or_else(|e| match definition.and_then(|d| d.attribute("Name")) {
            Some(name) => resolve_zone_or_offset(name, standard_offset).map_err(|_| e),
            None => Err(e),
        })
        .map_err(|e| r.error("StartTimeZone", e.to_string()))
}

/// The bias (minutes west of UTC) of a definition's standard period, in
/// seconds (`Bias="-PT1H"` → −3600: one hour east of UTC).
fn standard_bias(definition: Element<'_>) -> Option<i32> {
    let periods = definition.child("Periods")?;
    let period = periods
        .children_named("Period")
        .find(|p| p.attribute("Name") == Some("Standard"))
        .or_else(|| periods.children_named("Period").next())?;
    xs_duration_seconds(period.attribute("Bias")?)
}

/// An `xs:duration` (`-PT1H`, `P0DT2H0M0S`) in seconds, read by the same
/// parser as iCalendar durations.
pub(super) fn xs_duration_seconds(text: &str) -> Option<i32> {
    crate::ical::parse_duration(text).and_then(|d| i32::try_from(d.num_seconds()).ok())
}

fn person(e: Element<'_>, role: AttendeeRole) -> Option<Attendee> {
    let mailbox = e.child("Mailbox")?;
    let address: EmailAddress = mailbox.text_of("EmailAddress")?.parse().ok()?;
    let mut person = Attendee::new(mailbox.text_of("Name").unwrap_or_default(), address);
    person.role = role;
    Some(person)
}

fn recurrence(r: &Reader<'_>, e: Element<'_>) -> Result<Recurrence, EwsItemError> {
    let pattern_element = e
        .children()
        .find(|c| {
            c.ns() == TYPES
                && c.name().ends_with("Recurrence")
                && !c.name().starts_with("NoEnd")
                && !c.name().starts_with("EndDate")
                && !c.name().starts_with("Numbered")
        })
        .ok_or_else(|| r.error("Recurrence", "no pattern element"))?;
    let p = pattern_element;
    let interval = |p: Element<'_>| -> Result<u16, EwsItemError> { r.number(p, "Interval") };
    let pattern = match p.name() {
        "DailyRecurrence" => Pattern::Daily {
            interval: interval(p)?,
        },
        "WeeklyRecurrence" => Pattern::Weekly {
            interval: interval(p)?,
            days: r
                .required_in(p, "DaysOfWeek")?
                .split_whitespace()
                .map(|d| {
                    weekday(d).ok_or_else(|| r.error("DaysOfWeek", format!("{d:?} is not a day")))
                })
                .collect::<Result<_, _>>()?,
            first_day_of_week: match p.text_of("FirstDayOfWeek") {
                Some(d) => weekday(d)
                    .ok_or_else(|| r.error("FirstDayOfWeek", format!("{d:?} is not a day")))?,
                None => Weekday::Sun,
            },
        },
        "AbsoluteMonthlyRecurrence" => Pattern::AbsoluteMonthly {
            interval: interval(p)?,
            day_of_month: r.number(p, "DayOfMonth")?,
        },
        "RelativeMonthlyRecurrence" => Pattern::RelativeMonthly {
            interval: interval(p)?,
            days: day_set(r, p)?,
            index: index(r, p)?,
        },
        "AbsoluteYearlyRecurrence" => Pattern::AbsoluteYearly {
            interval: 1,
            month: month(r, p)?,
            day_of_month: r.number(p, "DayOfMonth")?,
        },
        "RelativeYearlyRecurrence" => Pattern::RelativeYearly {
            interval: 1,
            month: month(r, p)?,
            days: day_set(r, p)?,
            index: index(r, p)?,
        },
        other => return Err(r.error(other, "not a recurrence pattern calrep knows")),
    };
    let date = |parent: Element<'_>, name: &str| -> Result<NaiveDate, EwsItemError> {
        let text = r.required_in(parent, name)?;
        // Exchange may write the date with an offset (2026-03-02+01:00).
        let day = text.get(..10).unwrap_or(text);
        NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map_err(|_| r.error(name, format!("{text:?} is not a date")))
    };
    let range = if let Some(x) = e.child("NoEndRecurrence") {
        Range::NoEnd {
            start_date: date(x, "StartDate")?,
        }
    } else if let Some(x) = e.child("EndDateRecurrence") {
        Range::EndDate {
            start_date: date(x, "StartDate")?,
            end_date: date(x, "EndDate")?,
        }
    } else if let Some(x) = e.child("NumberedRecurrence") {
        Range::Numbered {
            start_date: date(x, "StartDate")?,
            count: r.number(x, "NumberOfOccurrences")?,
        }
    } else {
        return Err(r.error("Recurrence", "no range element"));
    };
    let mut rec = Recurrence::new(pattern, range);
    if let Some(list) = r.e.child("ModifiedOccurrences") {
        for o in list.children_named("Occurrence") {
            let get = |name: &str| -> Result<DateTime<Utc>, EwsItemError> {
                r.instant(name, r.required_in(o, name)?)
            };
            let mut m =
                ModifiedOccurrence::moved(get("OriginalStart")?, get("Start")?, get("End")?);
            m.item = o
                .child("ItemId")
                .and_then(|i| i.attribute("Id"))
                .map(crate::calendar::ItemId::new);
            rec.modified.push(m);
        }
    }
    if let Some(list) = r.e.child("DeletedOccurrences") {
        for d in list.children_named("DeletedOccurrence") {
            rec.deleted
                .push(r.instant("DeletedOccurrence", r.required_in(d, "Start")?)?);
        }
    }
    rec.check()
        .map_err(|e| r.error(pattern_element.name(), e.to_string()))?;
    Ok(rec)
}

impl Reader<'_> {
    fn required_in<'b>(&self, parent: Element<'b>, name: &str) -> Result<&'b str, EwsItemError> {
        parent
            .text_of(name)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| self.error(name, format!("required in {}", parent.name())))
    }
}

fn day_set(r: &Reader<'_>, p: Element<'_>) -> Result<DaysOfWeek, EwsItemError> {
    let text = r.required_in(p, "DaysOfWeek")?;
    Ok(match text {
        "Day" => DaysOfWeek::AnyDay,
        "Weekday" => DaysOfWeek::Weekday,
        "WeekendDay" => DaysOfWeek::WeekendDay,
        d => DaysOfWeek::Day(
            weekday(d).ok_or_else(|| r.error("DaysOfWeek", format!("{d:?} is not a day")))?,
        ),
    })
}

fn index(r: &Reader<'_>, p: Element<'_>) -> Result<DayOfWeekIndex, EwsItemError> {
    Ok(match r.required_in(p, "DayOfWeekIndex")? {
        "First" => DayOfWeekIndex::First,
        "Second" => DayOfWeekIndex::Second,
        "Third" => DayOfWeekIndex::Third,
        "Fourth" => DayOfWeekIndex::Fourth,
        "Last" => DayOfWeekIndex::Last,
        other => return Err(r.error("DayOfWeekIndex", format!("unknown value {other:?}"))),
    })
}

fn month(r: &Reader<'_>, p: Element<'_>) -> Result<u8, EwsItemError> {
    let text = r.required_in(p, "Month")?;
    MONTHS
        .iter()
        .position(|m| *m == text)
        .map(|i| i as u8 + 1)
        .ok_or_else(|| r.error("Month", format!("{text:?} is not a month name")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The response shape of Microsoft's GetItem documentation: envelope,
    /// `m:` messages, `t:` types, the master with a modified and a deleted
    /// occurrence.
    const RESPONSE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">
  <s:Header><h:ServerVersionInfo xmlns:h="http://schemas.microsoft.com/exchange/services/2006/types" MajorVersion="15" MinorVersion="20"/></s:Header>
  <s:Body>
    <m:GetItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:x="http://schemas.microsoft.com/exchange/services/2006/types">
      <m:ResponseMessages>
        <m:GetItemResponseMessage ResponseClass="Success">
          <m:ResponseCode>NoError</m:ResponseCode>
          <m:Items>
            <x:CalendarItem>
              <x:ItemId Id="AAMkAD1" ChangeKey="DwAAAB"/>
              <x:Subject>Budget &amp; plans</x:Subject>
              <x:Sensitivity>Private</x:Sensitivity>
              <x:UnknownFutureElement><x:Nested/></x:UnknownFutureElement>
              <x:Start>2026-03-31T07:00:00Z</x:Start>
              <x:End>2026-03-31T07:30:00Z</x:End>
              <x:IsAllDayEvent>false</x:IsAllDayEvent>
              <x:LegacyFreeBusyStatus>Tentative</x:LegacyFreeBusyStatus>
              <x:CalendarItemType>RecurringMaster</x:CalendarItemType>
              <x:Recurrence>
                <x:RelativeMonthlyRecurrence><x:Interval>1</x:Interval><x:DaysOfWeek>Weekday</x:DaysOfWeek><x:DayOfWeekIndex>Last</x:DayOfWeekIndex></x:RelativeMonthlyRecurrence>
                <x:EndDateRecurrence><x:StartDate>2026-03-02+01:00</x:StartDate><x:EndDate>2026-12-31+01:00</x:EndDate></x:EndDateRecurrence>
              </x:Recurrence>
              <x:ModifiedOccurrences><x:Occurrence><x:ItemId Id="AAMkAD1x"/><x:Start>2026-04-30T13:00:00Z</x:Start><x:End>2026-04-30T13:30:00Z</x:End><x:OriginalStart>2026-04-30T07:00:00Z</x:OriginalStart></x:Occurrence></x:ModifiedOccurrences>
              <x:DeletedOccurrences><x:DeletedOccurrence><x:Start>2026-05-29T07:00:00Z</x:Start></x:DeletedOccurrence></x:DeletedOccurrences>
              <x:StartTimeZone Id="Customized Time Zone" Name="Customized Time Zone">
                <x:Periods><x:Period Bias="-PT1H" Name="Standard" Id="trule:Microsoft/Registry/W. Europe Standard Time/2006-Standard"/><x:Period Bias="-PT2H" Name="Daylight" Id="trule:Microsoft/Registry/W. Europe Standard Time/2006-Daylight"/></x:Periods>
              </x:StartTimeZone>
            </x:CalendarItem>
          </m:Items>
        </m:GetItemResponseMessage>
      </m:ResponseMessages>
    </m:GetItemResponse>
  </s:Body>
</s:Envelope>"#;

    #[test]
    fn a_documented_response_reads_by_namespace_whatever_the_prefix() {
        let items = read_calendar_items(RESPONSE).unwrap();
        assert_eq!(items.len(), 1);
        let item = &items[0];
        assert_eq!(item.subject, "Budget & plans");
        assert_eq!(item.sensitivity, Sensitivity::Private);
        assert_eq!(item.free_busy, FreeBusy::Tentative);
        // A custom zone falls back to the definition's standard offset.
        assert_eq!(item.zone.iana, "Etc/GMT-1");
        assert_eq!(
            item.zone.resolved_by,
            Some(crate::tz::ZoneSource::FixedOffset)
        );
        let rec = item.recurrence.as_ref().unwrap();
        assert_eq!(rec.modified.len(), 1);
        assert_eq!(rec.deleted.len(), 1);
        assert!(matches!(rec.range, Range::EndDate { .. }));
    }

    #[test]
    fn a_custom_zone_with_transitions_resolves_through_its_definition() {
        let periods = r#"<x:Periods><x:Period Bias="-PT1H" Name="Standard" Id="trule:Microsoft/Registry/W. Europe Standard Time/2006-Standard"/><x:Period Bias="-PT2H" Name="Daylight" Id="trule:Microsoft/Registry/W. Europe Standard Time/2006-Daylight"/></x:Periods>"#;
        let full = format!(
            r#"{periods}<x:TransitionsGroups><x:TransitionsGroup Id="0">
<x:RecurringDayTransition><x:To Kind="Period">trule:Microsoft/Registry/W. Europe Standard Time/2006-Daylight</x:To><x:TimeOffset>PT2H</x:TimeOffset><x:Month>3</x:Month><x:DayOfWeek>Sunday</x:DayOfWeek><x:Occurrence>-1</x:Occurrence></x:RecurringDayTransition>
<x:RecurringDayTransition><x:To Kind="Period">trule:Microsoft/Registry/W. Europe Standard Time/2006-Standard</x:To><x:TimeOffset>PT3H</x:TimeOffset><x:Month>10</x:Month><x:DayOfWeek>Sunday</x:DayOfWeek><x:Occurrence>-1</x:Occurrence></x:RecurringDayTransition>
</x:TransitionsGroup></x:TransitionsGroups><x:Transitions><x:Transition><x:To Kind="Group">0</x:To></x:Transition></x:Transitions>"#
        );
        let items = read_calendar_items(&RESPONSE.replace(periods, &full)).unwrap();
        assert_eq!(items[0].zone.iana, "Europe/Berlin");
        assert_eq!(items[0].zone.source_id, "Customized Time Zone");
        assert_eq!(
            items[0].zone.resolved_by,
            Some(crate::tz::ZoneSource::Definition)
        );
    }

    #[test]
    fn missing_required_elements_name_the_element_and_the_item() {
        let no_start = RESPONSE.replace("<x:Start>2026-03-31T07:00:00Z</x:Start>", "");
        let err = read_calendar_items(&no_start).unwrap_err();
        assert_eq!(
            (err.item.as_str(), err.element.as_str()),
            ("AAMkAD1", "Start")
        );
        let bad_month = RESPONSE.replace("<x:DayOfWeekIndex>Last</x:DayOfWeekIndex>", "");
        let err = read_calendar_items(&bad_month).unwrap_err();
        assert_eq!(err.element, "DayOfWeekIndex", "{err}");
        let truncated = &RESPONSE[..RESPONSE.len() / 2];
        let err = read_calendar_items(truncated).unwrap_err();
        assert_eq!(err.element, "document", "{err}");
    }
}
