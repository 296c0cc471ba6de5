//! calrep's [`CalendarItem`] written as an EWS `t:CalendarItem` element, the
//! way `GetItem` returns one (what the EWS simulator serves). Its reader is
//! [`super::read_calendar_items`]; the round trip is tested.

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use quick_xml::escape::escape;

use super::names::{MONTHS, day_name};
use crate::calendar::{
    Attendee, AttendeeRole, CalendarItem, DayOfWeekIndex, DaysOfWeek, FreeBusy, ItemTime, Pattern,
    Range, Recurrence, Sensitivity,
};
use crate::tz::wall_clock::rfc5545_instant;

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn element(out: &mut String, name: &str, text: &str) {
    let _ = write!(out, "<t:{name}>{}</t:{name}>", escape(text));
}

/// The item as an EWS `t:CalendarItem` element (with the `t:` prefix; the
/// caller declares it).
pub(crate) fn calendar_item_xml(item: &CalendarItem) -> String {
    let mut out = String::from("<t:CalendarItem>");
    let _ = write!(
        out,
        "<t:ItemId Id=\"{}\" ChangeKey=\"{}\"/>",
        escape(item.id.as_str()),
        escape(&item.change_key)
    );
    element(&mut out, "Subject", &item.subject);
    let _ = write!(
        out,
        "<t:Body BodyType=\"Text\">{}</t:Body>",
        escape(&item.body)
    );
    element(&mut out, "Sensitivity", sensitivity(item.sensitivity));
    if !item.attachments.is_empty() {
        out.push_str("<t:Attachments>");
        for a in &item.attachments {
            let _ = write!(
                out,
                "<t:FileAttachment><t:AttachmentId Id=\"{}\"/><t:Name>{}</t:Name><t:ContentType>{}</t:ContentType><t:Size>{}</t:Size></t:FileAttachment>",
                escape(&a.id),
                escape(&a.name),
                escape(&a.content_type),
                a.size
            );
        }
        out.push_str("</t:Attachments>");
    }
    if !item.categories.is_empty() {
        out.push_str("<t:Categories>");
        for c in &item.categories {
            element(&mut out, "String", c);
        }
        out.push_str("</t:Categories>");
    }
    if let Some(t) = item.last_modified {
        element(&mut out, "LastModifiedTime", &at(t));
    }
    element(&mut out, "UID", &item.uid);
    let zone: chrono_tz::Tz = item.zone.iana.parse().unwrap_or(chrono_tz::UTC);
    let (start, end, all_day) = match item.time {
        ItemTime::Timed { start, end } => (start, end, false),
        ItemTime::AllDay { start, end } => {
            let midnight = |d: NaiveDate| {
                rfc5545_instant(zone, d.and_time(NaiveTime::MIN)).map_or_else(
                    || d.and_time(NaiveTime::MIN).and_utc(),
                    |t| t.with_timezone(&Utc),
                )
            };
            (midnight(start), midnight(end), true)
        }
    };
    element(&mut out, "Start", &at(start));
    element(&mut out, "End", &at(end));
    element(
        &mut out,
        "IsAllDayEvent",
        if all_day { "true" } else { "false" },
    );
    element(&mut out, "LegacyFreeBusyStatus", free_busy(item.free_busy));
    element(&mut out, "Location", &item.location);
    element(
        &mut out,
        "IsCancelled",
        if item.is_cancelled { "true" } else { "false" },
    );
    let kind = if item.recurrence.is_some() {
        "RecurringMaster"
    } else {
        "Single"
    };
    element(&mut out, "CalendarItemType", kind);
    if let Some(o) = &item.organizer {
        out.push_str("<t:Organizer>");
        mailbox(&mut out, o);
        out.push_str("</t:Organizer>");
    }
    for (list, role) in [
        ("RequiredAttendees", AttendeeRole::Required),
        ("OptionalAttendees", AttendeeRole::Optional),
        ("Resources", AttendeeRole::Resource),
    ] {
        let people: Vec<&Attendee> = item.attendees.iter().filter(|a| a.role == role).collect();
        if people.is_empty() {
            continue;
        }
        let _ = write!(out, "<t:{list}>");
        for p in people {
            out.push_str("<t:Attendee>");
            mailbox(&mut out, p);
            out.push_str("</t:Attendee>");
        }
        let _ = write!(out, "</t:{list}>");
    }
    if let Some(rec) = &item.recurrence {
        recurrence(&mut out, rec);
    }
    element(&mut out, "StartTimeZoneId", &item.zone.source_id);
    out.push_str("</t:CalendarItem>");
    out
}

fn mailbox(out: &mut String, person: &Attendee) {
    out.push_str("<t:Mailbox>");
    element(out, "Name", &person.name);
    element(out, "EmailAddress", person.address.as_str());
    element(out, "RoutingType", "SMTP");
    out.push_str("</t:Mailbox>");
}

fn recurrence(out: &mut String, rec: &Recurrence) {
    out.push_str("<t:Recurrence>");
    match &rec.pattern {
        Pattern::Daily { interval } => {
            let _ = write!(
                out,
                "<t:DailyRecurrence><t:Interval>{interval}</t:Interval></t:DailyRecurrence>"
            );
        }
        Pattern::Weekly {
            interval,
            days,
            first_day_of_week,
        } => {
            let days: Vec<&str> = days.iter().map(|d| day_name(*d)).collect();
            let _ = write!(
                out,
                "<t:WeeklyRecurrence><t:Interval>{interval}</t:Interval><t:DaysOfWeek>{}</t:DaysOfWeek><t:FirstDayOfWeek>{}</t:FirstDayOfWeek></t:WeeklyRecurrence>",
                days.join(" "),
                day_name(*first_day_of_week)
            );
        }
        Pattern::AbsoluteMonthly {
            interval,
            day_of_month,
        } => {
            let _ = write!(
                out,
                "<t:AbsoluteMonthlyRecurrence><t:Interval>{interval}</t:Interval><t:DayOfMonth>{day_of_month}</t:DayOfMonth></t:AbsoluteMonthlyRecurrence>"
            );
        }
        Pattern::RelativeMonthly {
            interval,
            days,
            index,
        } => {
            let _ = write!(
                out,
                "<t:RelativeMonthlyRecurrence><t:Interval>{interval}</t:Interval><t:DaysOfWeek>{}</t:DaysOfWeek><t:DayOfWeekIndex>{}</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>",
                day_set(*days),
                index_name(*index)
            );
        }
        Pattern::AbsoluteYearly {
            month,
            day_of_month,
            ..
        } => {
            let _ = write!(
                out,
                "<t:AbsoluteYearlyRecurrence><t:DayOfMonth>{day_of_month}</t:DayOfMonth><t:Month>{}</t:Month></t:AbsoluteYearlyRecurrence>",
                month_name(*month)
            );
        }
        Pattern::RelativeYearly {
            month, days, index, ..
        } => {
            let _ = write!(
                out,
                "<t:RelativeYearlyRecurrence><t:DaysOfWeek>{}</t:DaysOfWeek><t:DayOfWeekIndex>{}</t:DayOfWeekIndex><t:Month>{}</t:Month></t:RelativeYearlyRecurrence>",
                day_set(*days),
                index_name(*index),
                month_name(*month)
            );
        }
    }
    let _ = match rec.range {
        Range::NoEnd { start_date } => write!(
            out,
            "<t:NoEndRecurrence><t:StartDate>{start_date}</t:StartDate></t:NoEndRecurrence>"
        ),
        Range::EndDate {
            start_date,
            end_date,
        } => write!(
            out,
            "<t:EndDateRecurrence><t:StartDate>{start_date}</t:StartDate><t:EndDate>{end_date}</t:EndDate></t:EndDateRecurrence>"
        ),
        Range::Numbered { start_date, count } => write!(
            out,
            "<t:NumberedRecurrence><t:StartDate>{start_date}</t:StartDate><t:NumberOfOccurrences>{count}</t:NumberOfOccurrences></t:NumberedRecurrence>"
        ),
    };
    out.push_str("</t:Recurrence>");
    if !rec.modified.is_empty() {
        out.push_str("<t:ModifiedOccurrences>");
        for m in &rec.modified {
            out.push_str("<t:Occurrence>");
            if let Some(id) = &m.item {
                let _ = write!(out, "<t:ItemId Id=\"{}\"/>", escape(id.as_str()));
            }
            element(out, "Start", &at(m.start));
            element(out, "End", &at(m.end));
            element(out, "OriginalStart", &at(m.original_start));
            out.push_str("</t:Occurrence>");
        }
        out.push_str("</t:ModifiedOccurrences>");
    }
    if !rec.deleted.is_empty() {
        out.push_str("<t:DeletedOccurrences>");
        for d in &rec.deleted {
            let _ = write!(
                out,
                "<t:DeletedOccurrence><t:Start>{}</t:Start></t:DeletedOccurrence>",
                at(*d)
            );
        }
        out.push_str("</t:DeletedOccurrences>");
    }
}

fn sensitivity(s: Sensitivity) -> &'static str {
    match s {
        Sensitivity::Personal => "Personal",
        Sensitivity::Private => "Private",
        Sensitivity::Confidential => "Confidential",
        _ => "Normal",
    }
}

fn free_busy(f: FreeBusy) -> &'static str {
    match f {
        FreeBusy::Free => "Free",
        FreeBusy::Tentative => "Tentative",
        FreeBusy::Oof => "OOF",
        FreeBusy::WorkingElsewhere => "WorkingElsewhere",
        FreeBusy::NoData => "NoData",
        _ => "Busy",
    }
}

fn day_set(days: DaysOfWeek) -> &'static str {
    match days {
        DaysOfWeek::Day(d) => day_name(d),
        DaysOfWeek::Weekday => "Weekday",
        DaysOfWeek::WeekendDay => "WeekendDay",
        _ => "Day",
    }
}

fn index_name(i: DayOfWeekIndex) -> &'static str {
    match i {
        DayOfWeekIndex::First => "First",
        DayOfWeekIndex::Second => "Second",
        DayOfWeekIndex::Third => "Third",
        DayOfWeekIndex::Fourth => "Fourth",
        _ => "Last",
    }
}

fn month_name(m: u8) -> &'static str {
    MONTHS
        .get(usize::from(m.max(1)) - 1)
        .copied()
        .unwrap_or("January")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::DemoOrganisation;

    /// What survives a trip through EWS XML: the zone is re-resolved (and
    /// records how), and an exception's own subject, location and body come
    /// from its own GetItem, not from the master.
    fn comparable(mut item: CalendarItem) -> CalendarItem {
        item.zone.resolved_by = None;
        if let Some(rec) = &mut item.recurrence {
            for m in &mut rec.modified {
                m.subject = None;
                m.location = None;
                m.body = None;
            }
        }
        item
    }

    #[test]
    fn every_demo_item_survives_the_round_trip() {
        let demo = DemoOrganisation::generate(11, 20, 1);
        let mut checked = 0;
        for address in &demo.addresses {
            let mailbox = demo.source.mailbox(address);
            let calendars = calendar_ids(&mailbox);
            for calendar in calendars {
                for item in mailbox.items_of(&calendar) {
                    let xml = calendar_item_xml(&item);
                    let back = super::super::read_calendar_items(&xml)
                        .unwrap_or_else(|e| panic!("{e}\n{xml}"));
                    assert_eq!(back.len(), 1);
                    let mut expected = comparable(item.clone());
                    // The reader stores the zone under its current name.
                    expected.zone.iana = back[0].zone.iana.clone();
                    assert_eq!(comparable(back[0].clone()), expected, "{xml}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 200, "{checked}");
    }

    /// The mailbox's calendar ids, read without an async runtime.
    fn calendar_ids(mailbox: &crate::mailbox::MemoryMailbox) -> Vec<crate::calendar::CalendarId> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(crate::mailbox::Mailbox::calendars(mailbox))
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect()
    }
}
