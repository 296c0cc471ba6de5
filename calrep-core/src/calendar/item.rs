//! Calendars and calendar items as a source reports them.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::recurrence::{Occurrence, Recurrence, RecurrenceError};
use crate::address::EmailAddress;
use crate::tz::{ResolvedZone, ZoneSource};

crate::ids::string_id!(
    /// A calendar folder's id at the source (EWS FolderId, Graph calendar id).
    ///
    /// ```
    /// let id = calrep_core::calendar::CalendarId::new("AAMkAD…");
    /// assert_eq!(id.as_str(), "AAMkAD…");
    /// ```
    CalendarId
);
crate::ids::string_id!(
    /// An item's id at the source (EWS ItemId, Graph event id).
    ///
    /// ```
    /// let id = calrep_core::calendar::ItemId::new("item-1");
    /// assert_eq!(id.to_string(), "item-1");
    /// ```
    ItemId
);

/// A calendar folder of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CalendarInfo {
    /// Its id at the source.
    pub id: CalendarId,
    /// Its display name.
    pub name: String,
    /// Whether it is the mailbox's default calendar.
    pub is_default: bool,
}

impl CalendarInfo {
    /// A calendar.
    ///
    /// ```
    /// let c = calrep_core::calendar::CalendarInfo::new("cal-1", "Calendar", true);
    /// assert!(c.is_default);
    /// ```
    pub fn new(id: impl Into<String>, name: impl Into<String>, is_default: bool) -> Self {
        Self {
            id: CalendarId::new(id),
            name: name.into(),
            is_default,
        }
    }
}

/// When an item happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ItemTime {
    /// From one instant to another.
    Timed {
        /// Start.
        start: DateTime<Utc>,
        /// End (not before start).
        end: DateTime<Utc>,
    },
    /// Whole days, in the item's zone: `start` up to but not including `end`.
    AllDay {
        /// First day.
        start: NaiveDate,
        /// The day after the last day.
        end: NaiveDate,
    },
}

/// The time zone an item was written in, and how calrep resolved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ZoneInfo {
    /// The id the source gave (Windows id, IANA name, display name, …).
    pub source_id: String,
    /// The IANA zone whose rules calrep uses.
    pub iana: String,
    /// How `source_id` became `iana`, when a resolver recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<ZoneSource>,
}

impl ZoneInfo {
    /// A zone resolved from `source_id` to `iana`.
    ///
    /// ```
    /// let z = calrep_core::calendar::ZoneInfo::new("W. Europe Standard Time", "Europe/Berlin");
    /// assert_eq!(z.iana, "Europe/Berlin");
    /// ```
    pub fn new(source_id: impl Into<String>, iana: impl Into<String>) -> Self {
        Self {
            source_id: source_id.into(),
            iana: iana.into(),
            resolved_by: None,
        }
    }

    /// The zone a resolver found, with its resolution path.
    ///
    /// ```
    /// use calrep_core::calendar::ZoneInfo;
    /// use calrep_core::tz::{resolve_zone, ZoneSource};
    /// let z = ZoneInfo::resolved(&resolve_zone("India Standard Time")?);
    /// assert_eq!((z.iana.as_str(), z.resolved_by), ("Asia/Kolkata", Some(ZoneSource::Windows)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolved(zone: &ResolvedZone) -> Self {
        Self {
            source_id: zone.id().to_owned(),
            iana: zone.tz().name().to_owned(),
            resolved_by: Some(zone.source()),
        }
    }
}

/// Exchange's sensitivity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Sensitivity {
    /// Normal.
    #[default]
    Normal,
    /// Personal.
    Personal,
    /// Private.
    Private,
    /// Confidential.
    Confidential,
}

impl Sensitivity {
    /// Whether this is the default, `Normal`.
    pub fn is_normal(&self) -> bool {
        *self == Self::Normal
    }

    /// Whether a definition's private-item policy applies (Private or Personal).
    pub fn is_private(self) -> bool {
        matches!(self, Self::Private | Self::Personal)
    }
}

/// Exchange's free/busy status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FreeBusy {
    /// Free.
    Free,
    /// Tentative.
    Tentative,
    /// Busy.
    #[default]
    Busy,
    /// Out of office.
    Oof,
    /// Working elsewhere.
    WorkingElsewhere,
    /// No data.
    NoData,
}

impl FreeBusy {
    /// Whether this is the default, `Busy`.
    pub fn is_busy(&self) -> bool {
        *self == Self::Busy
    }
}

/// How an attendee is invited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttendeeRole {
    /// Required.
    #[default]
    Required,
    /// Optional.
    Optional,
    /// A room or other resource.
    Resource,
}

/// A person (organizer or attendee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Attendee {
    /// Display name.
    pub name: String,
    /// SMTP address.
    pub address: EmailAddress,
    /// Role (ignored for the organizer).
    #[serde(default)]
    pub role: AttendeeRole,
}

impl Attendee {
    /// A required attendee.
    pub fn new(name: impl Into<String>, address: EmailAddress) -> Self {
        Self {
            name: name.into(),
            address,
            role: AttendeeRole::Required,
        }
    }
}

/// An attachment's metadata. Its content is fetched separately, within the
/// definition's size cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Attachment {
    /// Its id at the source.
    pub id: String,
    /// File name.
    pub name: String,
    /// MIME type.
    pub content_type: String,
    /// Size in bytes, as the source reports it.
    pub size: u64,
}

impl Attachment {
    /// An attachment's metadata.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        content_type: impl Into<String>,
        size: u64,
    ) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            content_type: content_type.into(),
            size,
        }
    }
}

/// One calendar item: a single appointment or a recurring series' master
/// (with its modified and deleted occurrences).
///
/// ```
/// use calrep_core::calendar::{CalendarItem, ItemTime};
/// let item = CalendarItem::new("id-1", "uid-1", "Standup", ItemTime::Timed {
///     start: "2026-01-05T09:00:00Z".parse()?,
///     end: "2026-01-05T09:15:00Z".parse()?,
/// });
/// assert!(item.recurrence.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CalendarItem {
    /// Its id at the source.
    pub id: ItemId,
    /// The iCalendar UID.
    pub uid: String,
    /// The source's version stamp (EWS ChangeKey, Graph changeKey).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub change_key: String,
    /// When the source last changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<DateTime<Utc>>,
    /// Subject.
    pub subject: String,
    /// Body text.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Location.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    /// When (for a series: the first occurrence's pattern time).
    pub time: ItemTime,
    /// The zone it was written in.
    pub zone: ZoneInfo,
    /// The series, if recurring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Recurrence>,
    /// The organizer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<Attendee>,
    /// Attendees.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<Attendee>,
    /// Sensitivity.
    #[serde(default, skip_serializing_if = "Sensitivity::is_normal")]
    pub sensitivity: Sensitivity,
    /// Free/busy status.
    #[serde(default, skip_serializing_if = "FreeBusy::is_busy")]
    pub free_busy: FreeBusy,
    /// Categories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Whether the meeting was cancelled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_cancelled: bool,
    /// Attachment metadata.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
}

impl CalendarItem {
    /// A single, normal, busy item in UTC with no attendees; set the other
    /// fields as needed.
    pub fn new(
        id: impl Into<String>,
        uid: impl Into<String>,
        subject: impl Into<String>,
        time: ItemTime,
    ) -> Self {
        Self {
            id: ItemId::new(id),
            uid: uid.into(),
            change_key: String::new(),
            last_modified: None,
            subject: subject.into(),
            body: String::new(),
            location: String::new(),
            time,
            zone: ZoneInfo::new("UTC", "UTC"),
            recurrence: None,
            organizer: None,
            attendees: Vec::new(),
            sensitivity: Sensitivity::Normal,
            free_busy: FreeBusy::Busy,
            categories: Vec::new(),
            is_cancelled: false,
            attachments: Vec::new(),
        }
    }

    /// The item's occurrences overlapping `from..to`, in its own zone: the
    /// series' occurrences, or the single item itself (an all-day item spans
    /// its days from midnight in its zone; an item of no length counts when
    /// it starts inside).
    ///
    /// ```
    /// use calrep_core::calendar::{CalendarItem, ItemTime};
    /// let item = CalendarItem::new("1", "u", "Call", ItemTime::Timed {
    ///     start: "2026-01-05T09:00:00Z".parse()?, end: "2026-01-05T10:00:00Z".parse()? });
    /// assert_eq!(item.occurrences("2026-01-05T09:30:00Z".parse()?, "2026-01-06T00:00:00Z".parse()?)?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn occurrences(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Occurrence>, RecurrenceError> {
        let zone: chrono_tz::Tz = self
            .zone
            .iana
            .parse()
            .map_err(|_| RecurrenceError::UnknownZone(self.zone.iana.clone()))?;
        if let Some(rec) = &self.recurrence {
            return rec.occurrences(&self.time, zone, from, to);
        }
        let (start, end) = match self.time {
            ItemTime::Timed { start, end } => (start, end),
            ItemTime::AllDay { start, end } => {
                let at = |d: chrono::NaiveDate| {
                    crate::tz::wall_clock::rfc5545_instant(zone, d.and_time(NaiveTime::MIN))
                        .map(|t| t.with_timezone(&Utc))
                        .ok_or_else(|| {
                            RecurrenceError::Invalid(format!("day {d} cannot be placed in {zone}"))
                        })
                };
                (at(start)?, at(end)?)
            }
        };
        let overlaps =
            start < to && end.max(start) > from || start == end && start >= from && start < to;
        Ok(if overlaps {
            vec![Occurrence {
                original_start: start,
                start,
                end,
                is_exception: false,
            }]
        } else {
            Vec::new()
        })
    }

    /// The series' modified occurrence whose pattern start is
    /// `original_start` (its own time and text), if it has one.
    ///
    /// ```
    /// use calrep_core::calendar::{CalendarItem, ItemTime, ModifiedOccurrence, Pattern, Range, Recurrence};
    /// let start = "2026-01-05T09:00:00Z".parse()?;
    /// let mut item = CalendarItem::new("1", "u", "Standup", ItemTime::Timed { start, end: "2026-01-05T09:15:00Z".parse()? });
    /// let mut series = Recurrence::new(Pattern::Daily { interval: 1 }, Range::Numbered { start_date: "2026-01-05".parse()?, count: 5 });
    /// let second = "2026-01-06T09:00:00Z".parse()?;
    /// series.modified.push(ModifiedOccurrence::moved(second, "2026-01-06T11:00:00Z".parse()?, "2026-01-06T11:15:00Z".parse()?));
    /// item.recurrence = Some(series);
    /// assert!(item.modified_occurrence(second).is_some());
    /// assert!(item.modified_occurrence(start).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn modified_occurrence(
        &self,
        original_start: DateTime<Utc>,
    ) -> Option<&crate::calendar::ModifiedOccurrence> {
        self.recurrence
            .as_ref()?
            .modified
            .iter()
            .find(|m| m.original_start == original_start)
    }

    /// The item as a definition's "mask" policy shows it: times and busy
    /// state kept; subject, body, location, people and attachments dropped.
    ///
    /// ```
    /// use calrep_core::calendar::{CalendarItem, ItemTime};
    /// let mut item = CalendarItem::new("1", "u", "Doctor", ItemTime::Timed {
    ///     start: "2026-01-05T09:00:00Z".parse()?, end: "2026-01-05T10:00:00Z".parse()? });
    /// item.location = "Clinic".into();
    /// let masked = item.masked();
    /// assert_eq!(masked.subject, "Private appointment");
    /// assert!(masked.location.is_empty());
    /// assert_eq!(masked.time, item.time);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn masked(&self) -> Self {
        let mut masked = self.clone();
        masked.subject = "Private appointment".into();
        masked.body.clear();
        masked.location.clear();
        masked.organizer = None;
        masked.attendees.clear();
        masked.categories.clear();
        masked.attachments.clear();
        if let Some(rec) = &mut masked.recurrence {
            for m in &mut rec.modified {
                m.subject = None;
                m.location = None;
                m.body = None;
            }
        }
        masked
    }
}
