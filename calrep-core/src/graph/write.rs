//! calrep's [`CalendarItem`] written as Graph JSON, the way Graph returns
//! it (what the simulator serves): the master or single as a `GET` with
//! `$select` and `$expand` answers, and the rows `calendarView/delta` lists
//! (expanded instances, occurrences as stubs). Its reader is
//! [`super::read_event`]; the round trip is tested.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::calendar::{AttendeeRole, CalendarItem, FreeBusy, ItemTime, Sensitivity};

/// A `dateTimeTimeZone` in UTC, with Graph's seven decimals.
fn utc(t: DateTime<Utc>) -> Value {
    // chrono formats three, six or nine decimals; Graph writes seven.
    let mut text = t.format("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    text.truncate(text.len() - 2);
    json!({"dateTime": text, "timeZone": "UTC"})
}

/// An all-day boundary: midnight of the day itself, whatever the zone.
fn day(d: NaiveDate) -> Value {
    json!({"dateTime": format!("{d}T00:00:00.0000000"), "timeZone": "UTC"})
}

fn zone_of(item: &CalendarItem) -> chrono_tz::Tz {
    item.zone.iana.parse().unwrap_or(chrono_tz::UTC)
}

/// The series master or single instance; `id` maps a stored id to the one
/// Graph shows.
pub(crate) fn event_json(item: &CalendarItem, id: &dyn Fn(&str) -> String) -> Value {
    let (start, end) = match item.time {
        ItemTime::Timed { start, end } => (utc(start), utc(end)),
        ItemTime::AllDay { start, end } => (day(start), day(end)),
    };
    let person =
        |a: &crate::calendar::Attendee| json!({"name": a.name, "address": a.address.as_str()});
    let mut event = json!({
        "id": id(item.id.as_str()),
        "iCalUId": item.uid,
        "type": if item.recurrence.is_some() { "seriesMaster" } else { "singleInstance" },
        "seriesMasterId": null,
        "subject": item.subject,
        "body": {"contentType": "text", "content": item.body},
        "location": {"displayName": item.location},
        "start": start,
        "end": end,
        "isAllDay": matches!(item.time, ItemTime::AllDay { .. }),
        "originalStartTimeZone": item.zone.source_id,
        "originalEndTimeZone": item.zone.source_id,
        "organizer": item.organizer.as_ref().map(|o| json!({"emailAddress": person(o)})),
        "attendees": item.attendees.iter().map(|a| json!({
            "type": match a.role {
                AttendeeRole::Optional => "optional",
                AttendeeRole::Resource => "resource",
                _ => "required",
            },
            "emailAddress": person(a),
        })).collect::<Vec<_>>(),
        "sensitivity": match item.sensitivity {
            Sensitivity::Personal => "personal",
            Sensitivity::Private => "private",
            Sensitivity::Confidential => "confidential",
            _ => "normal",
        },
        "showAs": match item.free_busy {
            FreeBusy::Free => "free",
            FreeBusy::Tentative => "tentative",
            FreeBusy::Oof => "oof",
            FreeBusy::WorkingElsewhere => "workingElsewhere",
            FreeBusy::NoData => "unknown",
            _ => "busy",
        },
        "categories": item.categories,
        "isCancelled": item.is_cancelled,
        "changeKey": item.change_key,
        "lastModifiedDateTime": item.last_modified.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
        "hasAttachments": !item.attachments.is_empty(),
        "recurrence": null,
        "attachments": item.attachments.iter().map(|a| json!({
            "@odata.type": "#microsoft.graph.fileAttachment",
            "id": id(&a.id), "name": a.name, "contentType": a.content_type, "size": a.size,
        })).collect::<Vec<_>>(),
    });
    if let Some(rec) = &item.recurrence {
        let tz = zone_of(item);
        let mut patterned = rec.to_graph();
        patterned["range"]["recurrenceTimeZone"] = json!(item.zone.source_id);
        event["recurrence"] = patterned;
        // Cancelled occurrences by their day in the series' zone.
        event["cancelledOccurrences"] = rec
            .deleted
            .iter()
            .map(|t| {
                json!(format!(
                    "OID.{}.{}",
                    id(item.id.as_str()),
                    t.with_timezone(&tz).date_naive()
                ))
            })
            .collect();
        let all_day = matches!(item.time, ItemTime::AllDay { .. });
        event["exceptionOccurrences"] = rec
            .modified
            .iter()
            .map(|m| {
                let local_day = |t: DateTime<Utc>| day(t.with_timezone(&tz).date_naive());
                let (start, end) = if all_day {
                    (local_day(m.start), local_day(m.end))
                } else {
                    (utc(m.start), utc(m.end))
                };
                let own = m.item.as_ref().map_or_else(
                    || occurrence_id(&id(item.id.as_str()), m.original_start),
                    |i| id(i.as_str()),
                );
                json!({
                    "id": own,
                    "type": "exception",
                    "seriesMasterId": id(item.id.as_str()),
                    "originalStart": m.original_start.to_rfc3339_opts(SecondsFormat::Secs, true),
                    "start": start,
                    "end": end,
                    "subject": m.subject.clone().unwrap_or_else(|| item.subject.clone()),
                    "location": {"displayName": m.location.clone().unwrap_or_else(|| item.location.clone())},
                    "body": {"contentType": "text", "content": m.body.clone().unwrap_or_else(|| item.body.clone())},
                })
            })
            .collect();
    }
    event
}

/// The id Graph gives an unmodified occurrence: derived from its series and
/// original start, as Exchange derives it.
pub(crate) fn occurrence_id(master: &str, original_start: DateTime<Utc>) -> String {
    format!("{master}.{}", original_start.format("%Y%m%dT%H%M%SZ"))
}

/// The rows `calendarView/delta` lists for `item` in `from..to`: one per
/// instance (stubs: id, type, seriesMasterId, start, end), and the master
/// itself when it has any. Empty when nothing of it is in the window.
pub(crate) fn delta_rows(
    item: &CalendarItem,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    id: &dyn Fn(&str) -> String,
) -> Vec<Value> {
    let Ok(occurrences) = item.occurrences(from, to) else {
        return Vec::new();
    };
    if occurrences.is_empty() {
        return Vec::new();
    }
    let master = id(item.id.as_str());
    if item.recurrence.is_none() {
        let mut row = event_json(item, id);
        row.as_object_mut().map(|o| o.remove("attachments"));
        return vec![row];
    }
    let tz = zone_of(item);
    let all_day = matches!(item.time, ItemTime::AllDay { .. });
    let mut rows = vec![json!({"id": master, "type": "seriesMaster", "seriesMasterId": null})];
    for o in occurrences {
        let own = item
            .recurrence
            .as_ref()
            .and_then(|r| {
                r.modified
                    .iter()
                    .find(|m| m.original_start == o.original_start)
            })
            .and_then(|m| m.item.as_ref().map(|i| id(i.as_str())))
            .unwrap_or_else(|| occurrence_id(&master, o.original_start));
        let at = |t: DateTime<Utc>| {
            if all_day {
                day(t.with_timezone(&tz).date_naive())
            } else {
                utc(t)
            }
        };
        rows.push(json!({
            "id": own,
            "type": if o.is_exception { "exception" } else { "occurrence" },
            "seriesMasterId": master,
            "start": at(o.start),
            "end": at(o.end),
        }));
    }
    rows
}
