//! A Graph `event` (a series master or a single instance, as a `GET` with
//! [`SELECT`] and [`EXPAND`] returns it) read into calrep's
//! [`CalendarItem`] — the same model, and for the same data the same value,
//! as the EWS reader produces.
//!
//! The master, not the delta stream, says which occurrences are deleted
//! (`cancelledOccurrences`) and modified (`exceptionOccurrences`, each with
//! its own subject, location and body).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use serde::Deserialize;

use crate::address::EmailAddress;
use crate::calendar::{
    Attachment, Attendee, AttendeeRole, CalendarItem, FreeBusy, ItemId, ItemTime,
    ModifiedOccurrence, Recurrence, Sensitivity, ZoneInfo,
};
use crate::tz::{ResolvedZone, resolve_zone};

/// The properties asked for on every series or single fetched.
pub(crate) const SELECT: &str = "id,iCalUId,type,seriesMasterId,subject,body,location,start,end,\
isAllDay,originalStartTimeZone,originalEndTimeZone,recurrence,organizer,attendees,sensitivity,\
showAs,categories,isCancelled,changeKey,lastModifiedDateTime,hasAttachments,cancelledOccurrences";

/// The navigation properties expanded with it: the series' exceptions with
/// their own fields, and file metadata (never the content).
pub(crate) const EXPAND: &str = "exceptionOccurrences($select=id,originalStart,start,end,subject,\
location,body),attachments($select=id,name,contentType,size)";

/// Graph's Windows name for a legacy Outlook custom zone: no rules, so the
/// series' `recurrenceTimeZone` (or UTC) is used instead.
const CUSTOM_ZONE: &str = "tzone://Microsoft/Custom";

/// An event that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Graph event {event}: {property}: {message}")]
pub struct GraphEventError {
    /// The event's id, or `?` before it is known.
    pub event: String,
    /// The property at fault.
    pub property: String,
    /// What is wrong.
    pub message: String,
}

/// `null` reads as the default (Graph writes `"attendees": null`).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    id: String,
    #[serde(rename = "iCalUId", default)]
    ical_uid: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    body: Option<Body>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    start: Option<DateTimeZone>,
    #[serde(default)]
    end: Option<DateTimeZone>,
    #[serde(default, deserialize_with = "nullable")]
    is_all_day: bool,
    #[serde(default)]
    original_start_time_zone: Option<String>,
    #[serde(default)]
    recurrence: Option<serde_json::Value>,
    #[serde(default)]
    organizer: Option<Recipient>,
    #[serde(default, deserialize_with = "nullable")]
    attendees: Vec<GraphAttendee>,
    #[serde(default)]
    sensitivity: Option<String>,
    #[serde(default)]
    show_as: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    categories: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    is_cancelled: bool,
    #[serde(default)]
    change_key: Option<String>,
    #[serde(default)]
    last_modified_date_time: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    cancelled_occurrences: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    exception_occurrences: Vec<Exception>,
    #[serde(default, deserialize_with = "nullable")]
    attachments: Vec<GraphAttachment>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(default)]
    display_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DateTimeZone {
    date_time: String,
    #[serde(default)]
    time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    #[serde(default)]
    email_address: Option<NameAddress>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphAttendee {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    email_address: Option<NameAddress>,
}

#[derive(Debug, Deserialize)]
struct NameAddress {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Exception {
    id: String,
    #[serde(default)]
    original_start: Option<String>,
    #[serde(default)]
    start: Option<DateTimeZone>,
    #[serde(default)]
    end: Option<DateTimeZone>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    body: Option<Body>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphAttachment {
    #[serde(rename = "@odata.type", default)]
    odata_type: Option<String>,
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

/// Reading one event: remembers its id for error messages.
struct Reader<'a> {
    id: &'a str,
}

impl Reader<'_> {
    fn error(&self, property: &str, message: impl Into<String>) -> GraphEventError {
        GraphEventError {
            event: self.id.to_owned(),
            property: property.to_owned(),
            message: message.into(),
        }
    }

    /// A `dateTimeTimeZone` as an instant: calrep asks for UTC (no
    /// `outlook.timezone` preference), but a named zone is honoured.
    fn instant(
        &self,
        property: &str,
        value: Option<&DateTimeZone>,
    ) -> Result<DateTime<Utc>, GraphEventError> {
        let value = value.ok_or_else(|| self.error(property, "required but missing"))?;
        let wall = self.wall(property, &value.date_time)?;
        match value.time_zone.as_deref().unwrap_or("UTC") {
            "UTC" | "Etc/UTC" | "" => Ok(wall.and_utc()),
            zone => {
                let tz = resolve_zone(zone)
                    .map_err(|e| self.error(property, e.to_string()))?
                    .tz();
                crate::tz::wall_clock::rfc5545_instant(tz, wall)
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or_else(|| self.error(property, format!("{wall} does not exist in {zone}")))
            }
        }
    }

    /// The wall-clock part of a `dateTimeTimeZone` (seven decimals, no
    /// offset).
    fn wall(&self, property: &str, text: &str) -> Result<NaiveDateTime, GraphEventError> {
        NaiveDateTime::parse_from_str(text.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|_| self.error(property, format!("{text:?} is not a date-time")))
    }

    /// An all-day event's day: Graph gives midnight of the day itself,
    /// whatever zone is asked for.
    fn day(
        &self,
        property: &str,
        value: Option<&DateTimeZone>,
    ) -> Result<NaiveDate, GraphEventError> {
        let value = value.ok_or_else(|| self.error(property, "required but missing"))?;
        Ok(self.wall(property, &value.date_time)?.date())
    }

    fn offset_instant(&self, property: &str, text: &str) -> Result<DateTime<Utc>, GraphEventError> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| self.error(property, format!("{text:?} is not a date-time: {e}")))
    }
}

/// Reads a series master or single instance, as a `GET` of the event with
/// calrep's `$select` and `$expand` returns it.
///
/// ```
/// let event = serde_json::json!({
///     "id": "AAMkAGI2", "iCalUId": "040000008200E00074C5B7101A82E008", "type": "seriesMaster",
///     "subject": "Standup", "changeKey": "DwAAABYAAA",
///     "start": {"dateTime": "2026-03-02T08:00:00.0000000", "timeZone": "UTC"},
///     "end": {"dateTime": "2026-03-02T08:15:00.0000000", "timeZone": "UTC"},
///     "originalStartTimeZone": "W. Europe Standard Time",
///     "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
///                    "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 10}},
///     "cancelledOccurrences": ["OID.AAMkAGI2.2026-03-30"]
/// });
/// let item = calrep_core::graph::read_event(&event)?;
/// assert_eq!(item.zone.iana, "Europe/Berlin");
/// // Deleted on 30 March at the series' 09:00 in Berlin, after the DST change: 07:00 UTC.
/// assert_eq!(item.recurrence.unwrap().deleted[0].to_rfc3339(), "2026-03-30T07:00:00+00:00");
/// # Ok::<(), calrep_core::graph::GraphEventError>(())
/// ```
pub fn read_event(value: &serde_json::Value) -> Result<CalendarItem, GraphEventError> {
    let id = value
        .get("id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("?");
    let event =
        Event::deserialize(value).map_err(|e| Reader { id }.error("event", e.to_string()))?;
    item_of(&event)
}

/// [`read_event`] straight from the event's JSON text, with no tree built
/// in between: how the Graph client reads the masters it fetches (a tree
/// per event cost a tenth of a Graph run's CPU).
pub(crate) fn read_event_json(json: &[u8]) -> Result<CalendarItem, GraphEventError> {
    match serde_json::from_slice::<Event>(json) {
        Ok(event) => item_of(&event),
        Err(e) => {
            /// Just the id, to name the event that could not be read.
            #[derive(Deserialize)]
            struct Named {
                id: String,
            }
            let id = serde_json::from_slice::<Named>(json).map_or_else(|_| "?".into(), |n| n.id);
            Err(Reader { id: &id }.error("event", e.to_string()))
        }
    }
}

/// The item an event describes.
fn item_of(event: &Event) -> Result<CalendarItem, GraphEventError> {
    let r = Reader { id: &event.id };
    let zone = zone(&r, event)?;
    let tz = zone.tz();
    let time = if event.is_all_day {
        let start = r.day("start", event.start.as_ref())?;
        let end = r.day("end", event.end.as_ref())?;
        ItemTime::AllDay {
            start,
            end: end.max(start + TimeDelta::days(1)),
        }
    } else {
        let start = r.instant("start", event.start.as_ref())?;
        let end = r.instant("end", event.end.as_ref())?;
        if end < start {
            return Err(r.error("end", "before start"));
        }
        ItemTime::Timed { start, end }
    };
    let uid = event
        .ical_uid
        .clone()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| event.id.clone());
    let subject = event.subject.clone().unwrap_or_default();
    let mut item = CalendarItem::new(event.id.clone(), uid, subject, time);
    item.change_key = event.change_key.clone().unwrap_or_default();
    item.last_modified = match &event.last_modified_date_time {
        Some(t) => Some(r.offset_instant("lastModifiedDateTime", t)?),
        None => None,
    };
    item.body = text_of(event.body.as_ref());
    item.location = place_of(event.location.as_ref());
    item.zone = ZoneInfo::resolved(&zone);
    item.sensitivity = match event.sensitivity.as_deref().unwrap_or("normal") {
        "normal" => Sensitivity::Normal,
        "personal" => Sensitivity::Personal,
        "private" => Sensitivity::Private,
        "confidential" => Sensitivity::Confidential,
        other => return Err(r.error("sensitivity", format!("unknown value {other:?}"))),
    };
    item.free_busy = match event.show_as.as_deref().unwrap_or("busy") {
        "free" => FreeBusy::Free,
        "tentative" => FreeBusy::Tentative,
        "busy" => FreeBusy::Busy,
        "oof" => FreeBusy::Oof,
        "workingElsewhere" => FreeBusy::WorkingElsewhere,
        "unknown" => FreeBusy::NoData,
        other => return Err(r.error("showAs", format!("unknown value {other:?}"))),
    };
    item.is_cancelled = event.is_cancelled;
    item.categories = event.categories.clone();
    item.organizer = event
        .organizer
        .as_ref()
        .and_then(|o| person(o.email_address.as_ref(), AttendeeRole::Required));
    item.attendees = event
        .attendees
        .iter()
        .filter_map(|a| {
            let role = match a.kind.as_deref() {
                Some("optional") => AttendeeRole::Optional,
                Some("resource") => AttendeeRole::Resource,
                _ => AttendeeRole::Required,
            };
            person(a.email_address.as_ref(), role)
        })
        .collect();
    // Item and reference attachments have no file content to replicate,
    // as with EWS (only FileAttachment).
    item.attachments = event
        .attachments
        .iter()
        .filter(|a| {
            a.odata_type
                .as_deref()
                .is_none_or(|t| t == "#microsoft.graph.fileAttachment")
        })
        .map(|a| {
            Attachment::new(
                a.id.clone(),
                a.name.clone().unwrap_or_default(),
                a.content_type
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".into()),
                a.size.unwrap_or(0),
            )
        })
        .collect();
    if let Some(value) = event.recurrence.as_ref().filter(|v| !v.is_null()) {
        let mut rec =
            Recurrence::from_graph(value).map_err(|e| r.error("recurrence", e.to_string()))?;
        rec.deleted = deleted_occurrences(&r, event, &item, tz)?;
        for e in &event.exception_occurrences {
            rec.modified.push(exception(&r, e, &item, tz)?);
        }
        item.recurrence = Some(rec);
    }
    Ok(item)
}

/// The series' zone: `originalStartTimeZone` (Windows or IANA); for a
/// custom zone, the range's `recurrenceTimeZone`; else UTC.
fn zone(r: &Reader<'_>, event: &Event) -> Result<ResolvedZone, GraphEventError> {
    let from_range = || {
        event
            .recurrence
            .as_ref()?
            .get("range")?
            .get("recurrenceTimeZone")?
            .as_str()
            .filter(|z| !z.is_empty())
            .map(str::to_owned)
    };
    let id = match event.original_start_time_zone.as_deref() {
        Some(z) if !z.is_empty() && z != CUSTOM_ZONE => z.to_owned(),
        _ => from_range().unwrap_or_else(|| "UTC".into()),
    };
    resolve_zone(&id).map_err(|e| r.error("originalStartTimeZone", e.to_string()))
}

/// Each `OID.{seriesMasterId}.{date}` as the occurrence's original start:
/// that day at the series' own time of day in its own zone (so an
/// occurrence after a DST change keeps its wall-clock time).
fn deleted_occurrences(
    r: &Reader<'_>,
    event: &Event,
    item: &CalendarItem,
    tz: chrono_tz::Tz,
) -> Result<Vec<DateTime<Utc>>, GraphEventError> {
    let time_of_day = match item.time {
        ItemTime::Timed { start, .. } => start.with_timezone(&tz).time(),
        ItemTime::AllDay { .. } => NaiveTime::MIN,
    };
    let mut deleted = Vec::with_capacity(event.cancelled_occurrences.len());
    for oid in &event.cancelled_occurrences {
        let day = oid
            .rsplit_once('.')
            .and_then(|(_, d)| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| {
                r.error(
                    "cancelledOccurrences",
                    format!("{oid:?} does not end in a date"),
                )
            })?;
        let at = crate::tz::wall_clock::rfc5545_instant(tz, day.and_time(time_of_day))
            .ok_or_else(|| r.error("cancelledOccurrences", format!("{day} not in {tz}")))?;
        deleted.push(at.with_timezone(&Utc));
    }
    Ok(deleted)
}

/// One `exceptionOccurrences` entry: where the pattern put it, where it is
/// now, and the fields that differ from the series'.
fn exception(
    r: &Reader<'_>,
    e: &Exception,
    master: &CalendarItem,
    tz: chrono_tz::Tz,
) -> Result<ModifiedOccurrence, GraphEventError> {
    let original = e
        .original_start
        .as_deref()
        .ok_or_else(|| r.error("exceptionOccurrences.originalStart", "required but missing"))?;
    let original = r.offset_instant("exceptionOccurrences.originalStart", original)?;
    let (start, end) = match master.time {
        ItemTime::Timed { .. } => (
            r.instant("exceptionOccurrences.start", e.start.as_ref())?,
            r.instant("exceptionOccurrences.end", e.end.as_ref())?,
        ),
        // All-day occurrences: local midnights of their days.
        ItemTime::AllDay { .. } => {
            let midnight = |d: NaiveDate| {
                crate::tz::wall_clock::rfc5545_instant(tz, d.and_time(NaiveTime::MIN))
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or_else(|| {
                        r.error("exceptionOccurrences.start", format!("{d} not in {tz}"))
                    })
            };
            (
                midnight(r.day("exceptionOccurrences.start", e.start.as_ref())?)?,
                midnight(r.day("exceptionOccurrences.end", e.end.as_ref())?)?,
            )
        }
    };
    let mut m = ModifiedOccurrence::moved(original, start, end);
    m.item = Some(ItemId::new(e.id.clone()));
    m.subject = e.subject.clone().filter(|s| *s != master.subject);
    m.location = e
        .location
        .as_ref()
        .map(|l| place_of(Some(l)))
        .filter(|l| *l != master.location);
    m.body = e
        .body
        .as_ref()
        .map(|b| text_of(Some(b)))
        .filter(|b| *b != master.body);
    Ok(m)
}

fn text_of(body: Option<&Body>) -> String {
    body.and_then(|b| b.content.clone()).unwrap_or_default()
}

fn place_of(location: Option<&Location>) -> String {
    location
        .and_then(|l| l.display_name.clone())
        .unwrap_or_default()
}

fn person(who: Option<&NameAddress>, role: AttendeeRole) -> Option<Attendee> {
    let who = who?;
    let address: EmailAddress = who.address.as_deref()?.parse().ok()?;
    let mut person = Attendee::new(who.name.clone().unwrap_or_default(), address);
    person.role = role;
    Some(person)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> serde_json::Value {
        serde_json::json!({
            "id": "M1", "iCalUId": "UID-1", "type": "seriesMaster", "subject": "Review",
            "body": {"contentType": "text", "content": "Agenda"},
            "location": {"displayName": "Room 1"},
            "start": {"dateTime": "2026-03-02T08:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-02T09:00:00.0000000", "timeZone": "UTC"},
            "isAllDay": false, "originalStartTimeZone": "W. Europe Standard Time",
            "recurrence": {"pattern": {"type": "daily", "interval": 1},
                           "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 40,
                                     "recurrenceTimeZone": "W. Europe Standard Time"}},
            "attendees": null, "categories": null, "sensitivity": "private", "showAs": "oof",
            "cancelledOccurrences": ["OID.M1.2026-03-05"],
            "exceptionOccurrences": [{
                "id": "X1", "originalStart": "2026-03-30T07:00:00Z",
                "start": {"dateTime": "2026-03-30T12:00:00.0000000", "timeZone": "UTC"},
                "end": {"dateTime": "2026-03-30T13:00:00.0000000", "timeZone": "UTC"},
                "subject": "Review (moved)", "location": {"displayName": "Room 1"},
                "body": {"contentType": "text", "content": "Agenda"}}],
            "attachments": [
                {"@odata.type": "#microsoft.graph.fileAttachment", "id": "A1", "name": "a.pdf", "contentType": "application/pdf", "size": 10},
                {"@odata.type": "#microsoft.graph.itemAttachment", "id": "A2", "name": "mail"}]
        })
    }

    #[test]
    fn a_master_reads_with_its_exceptions_and_deletions() {
        let item = read_event(&master()).unwrap();
        assert_eq!(item.sensitivity, Sensitivity::Private);
        assert_eq!(item.free_busy, FreeBusy::Oof);
        assert_eq!(item.attachments.len(), 1, "only file attachments");
        let rec = item.recurrence.unwrap();
        // 09:00 in Berlin before the DST change is 08:00 UTC.
        assert_eq!(rec.deleted[0].to_rfc3339(), "2026-03-05T08:00:00+00:00");
        let m = &rec.modified[0];
        assert_eq!(m.item.as_ref().map(ItemId::as_str), Some("X1"));
        // Only what differs from the series is kept, as EWS's reader does.
        assert_eq!(m.subject.as_deref(), Some("Review (moved)"));
        assert_eq!((m.location.as_deref(), m.body.as_deref()), (None, None));
    }

    #[test]
    fn bad_values_name_the_event_and_the_property() {
        let mut bad = master();
        bad["showAs"] = "sleeping".into();
        let err = read_event(&bad).unwrap_err();
        assert_eq!(
            (err.event.as_str(), err.property.as_str()),
            ("M1", "showAs")
        );
        let mut bad = master();
        bad["start"]["dateTime"] = "yesterday".into();
        assert_eq!(read_event(&bad).unwrap_err().property, "start");
        let mut bad = master();
        bad["cancelledOccurrences"] = serde_json::json!(["OID.M1.someday"]);
        assert_eq!(
            read_event(&bad).unwrap_err().property,
            "cancelledOccurrences"
        );
        assert_eq!(
            read_event(&serde_json::json!({"subject": 1}))
                .unwrap_err()
                .event,
            "?"
        );
    }

    /// The client reads events from their text; every fixture here reads
    /// the same that way as through a tree, errors naming the same event
    /// and property.
    #[test]
    fn events_read_from_text_as_from_a_tree() {
        let mut cases = vec![master(), serde_json::json!({"subject": 1})];
        for (path, value) in [
            ("/showAs", serde_json::json!("sleeping")),
            ("/start/dateTime", serde_json::json!("yesterday")),
            (
                "/cancelledOccurrences",
                serde_json::json!(["OID.M1.someday"]),
            ),
            ("/isAllDay", serde_json::json!(true)),
            ("/attendees", serde_json::json!("everyone")),
            ("/recurrence", serde_json::Value::Null),
        ] {
            let mut case = master();
            *case.pointer_mut(path).unwrap() = value;
            cases.push(case);
        }
        for case in cases {
            let text = case.to_string();
            match (read_event(&case), read_event_json(text.as_bytes())) {
                (Ok(tree), Ok(read)) => assert_eq!(tree, read, "{text}"),
                (Err(tree), Err(read)) => assert_eq!(
                    (tree.event, tree.property),
                    (read.event, read.property),
                    "{text}"
                ),
                (tree, read) => panic!("{text}: {tree:?} against {read:?}"),
            }
        }
        let broken = read_event_json(br#"{"id": "M1", "subject": "#).unwrap_err();
        assert_eq!(
            (broken.event.as_str(), broken.property.as_str()),
            ("?", "event")
        );
    }

    #[test]
    fn a_custom_zone_falls_back_to_the_recurrence_zone() {
        let mut custom = master();
        custom["originalStartTimeZone"] = CUSTOM_ZONE.into();
        custom["recurrence"]["range"]["recurrenceTimeZone"] = "Tokyo Standard Time".into();
        assert_eq!(read_event(&custom).unwrap().zone.iana, "Asia/Tokyo");
    }

    #[test]
    fn all_day_events_keep_their_days_whatever_the_zone() {
        let mut day = master();
        day["isAllDay"] = true.into();
        day["start"] =
            serde_json::json!({"dateTime": "2026-03-02T00:00:00.0000000", "timeZone": "UTC"});
        day["end"] =
            serde_json::json!({"dateTime": "2026-03-03T00:00:00.0000000", "timeZone": "UTC"});
        day["exceptionOccurrences"] = serde_json::json!([]);
        day["cancelledOccurrences"] = serde_json::json!([]);
        let item = read_event(&day).unwrap();
        assert_eq!(
            item.time,
            ItemTime::AllDay {
                start: "2026-03-02".parse().unwrap(),
                end: "2026-03-03".parse().unwrap()
            }
        );
    }
}
