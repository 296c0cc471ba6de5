//! The recurrence-aware difference between two versions of a calendar
//! (replica and source, or before and after): which items were added,
//! removed or modified (and in which fields), and what that did to their
//! occurrences in a window — added, removed, moved (old → new time) or
//! modified on their own. An occurrence is known by its series' UID and its
//! original start, so a pattern edit, a zone change, a new exception or a
//! new deletion shows as exactly the occurrences it touches.
//!
//! The result is deterministic (everything sorted), can be applied to the
//! first calendar to give the second, and inverted.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::item::{CalendarItem, ItemId};
use super::recurrence::{ModifiedOccurrence, Occurrence, RecurrenceError};

/// A field of an item, as the diff names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Field {
    /// The iCalendar UID.
    Uid,
    /// The source's version stamp.
    ChangeKey,
    /// The last modification time.
    LastModified,
    /// The subject.
    Subject,
    /// The body.
    Body,
    /// The location.
    Location,
    /// Start and end.
    Time,
    /// The time zone.
    Zone,
    /// The recurrence pattern, or whether the item recurs at all.
    Pattern,
    /// The recurrence range.
    Range,
    /// The series' modified occurrences.
    ModifiedOccurrences,
    /// The series' deleted occurrences.
    DeletedOccurrences,
    /// The organizer.
    Organizer,
    /// The attendees.
    Attendees,
    /// The sensitivity.
    Sensitivity,
    /// The free/busy status.
    FreeBusy,
    /// The categories.
    Categories,
    /// The cancelled flag.
    Cancelled,
    /// The attachments.
    Attachments,
}

/// The fields in which two versions of an item differ, in [`Field`] order.
///
/// ```
/// use calrep_core::calendar::{CalendarItem, Field, ItemTime, changed_fields};
/// let a = CalendarItem::new("1", "u", "Call", ItemTime::Timed {
///     start: "2026-01-05T09:00:00Z".parse()?, end: "2026-01-05T10:00:00Z".parse()? });
/// let mut b = a.clone();
/// b.location = "Room 4".into();
/// assert_eq!(changed_fields(&a, &b), [Field::Location]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn changed_fields(a: &CalendarItem, b: &CalendarItem) -> Vec<Field> {
    let (ra, rb) = (a.recurrence.as_ref(), b.recurrence.as_ref());
    let checks = [
        (Field::Uid, a.uid != b.uid),
        (Field::ChangeKey, a.change_key != b.change_key),
        (Field::LastModified, a.last_modified != b.last_modified),
        (Field::Subject, a.subject != b.subject),
        (Field::Body, a.body != b.body),
        (Field::Location, a.location != b.location),
        (Field::Time, a.time != b.time),
        (Field::Zone, a.zone != b.zone),
        (
            Field::Pattern,
            ra.map(|r| &r.pattern) != rb.map(|r| &r.pattern),
        ),
        (Field::Range, ra.map(|r| r.range) != rb.map(|r| r.range)),
        (
            Field::ModifiedOccurrences,
            ra.map(|r| &r.modified) != rb.map(|r| &r.modified),
        ),
        (
            Field::DeletedOccurrences,
            ra.map(|r| &r.deleted) != rb.map(|r| &r.deleted),
        ),
        (Field::Organizer, a.organizer != b.organizer),
        (Field::Attendees, a.attendees != b.attendees),
        (Field::Sensitivity, a.sensitivity != b.sensitivity),
        (Field::FreeBusy, a.free_busy != b.free_busy),
        (Field::Categories, a.categories != b.categories),
        (Field::Cancelled, a.is_cancelled != b.is_cancelled),
        (Field::Attachments, a.attachments != b.attachments),
    ];
    checks
        .into_iter()
        .filter(|(_, differs)| *differs)
        .map(|(f, _)| f)
        .collect()
}

/// An item present in both versions but different.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ItemChange {
    /// Which fields differ.
    pub fields: Vec<Field>,
    /// The first version.
    pub before: CalendarItem,
    /// The second version.
    pub after: CalendarItem,
}

/// One occurrence's change within the window. `original_start` is `None`
/// for a single (non-recurring) item, whose identity is its UID alone.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
#[non_exhaustive]
pub enum OccurrenceChange {
    /// The occurrence exists only in the second version.
    Added {
        /// The series' UID.
        uid: String,
        /// Where the pattern puts it.
        original_start: Option<DateTime<Utc>>,
        /// Start.
        start: DateTime<Utc>,
        /// End.
        end: DateTime<Utc>,
    },
    /// The occurrence exists only in the first version.
    Removed {
        /// The series' UID.
        uid: String,
        /// Where the pattern puts it.
        original_start: Option<DateTime<Utc>>,
        /// Start.
        start: DateTime<Utc>,
        /// End.
        end: DateTime<Utc>,
    },
    /// The occurrence's time changed.
    Moved {
        /// The series' UID.
        uid: String,
        /// Where the pattern puts it.
        original_start: Option<DateTime<Utc>>,
        /// Old start and end.
        from: (DateTime<Utc>, DateTime<Utc>),
        /// New start and end.
        to: (DateTime<Utc>, DateTime<Utc>),
    },
    /// Same time, but the occurrence's own subject, location or body, or
    /// whether it is an exception, changed.
    Modified {
        /// The series' UID.
        uid: String,
        /// Where the pattern puts it.
        original_start: Option<DateTime<Utc>>,
        /// Start.
        start: DateTime<Utc>,
        /// End.
        end: DateTime<Utc>,
    },
}

impl OccurrenceChange {
    fn key(&self) -> (&str, Option<DateTime<Utc>>) {
        match self {
            Self::Added {
                uid,
                original_start,
                ..
            }
            | Self::Removed {
                uid,
                original_start,
                ..
            }
            | Self::Moved {
                uid,
                original_start,
                ..
            }
            | Self::Modified {
                uid,
                original_start,
                ..
            } => (uid, *original_start),
        }
    }

    fn inverse(&self) -> Self {
        match self.clone() {
            Self::Added {
                uid,
                original_start,
                start,
                end,
            } => Self::Removed {
                uid,
                original_start,
                start,
                end,
            },
            Self::Removed {
                uid,
                original_start,
                start,
                end,
            } => Self::Added {
                uid,
                original_start,
                start,
                end,
            },
            Self::Moved {
                uid,
                original_start,
                from,
                to,
            } => Self::Moved {
                uid,
                original_start,
                from: to,
                to: from,
            },
            modified @ Self::Modified { .. } => modified,
        }
    }
}

/// The difference between two versions of a calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CalendarDiff {
    /// Items only in the second version, by id.
    pub added: Vec<CalendarItem>,
    /// Items only in the first version, by id.
    pub removed: Vec<CalendarItem>,
    /// Items in both that differ, by id.
    pub modified: Vec<ItemChange>,
    /// Occurrence changes in the window, by UID and original start.
    pub occurrences: Vec<OccurrenceChange>,
}

/// A series that could not be expanded while comparing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {item}: {source}")]
pub struct DiffError {
    /// The item.
    pub item: ItemId,
    /// Why.
    pub source: RecurrenceError,
}

/// One occurrence with what makes it differ on its own.
#[derive(PartialEq, Eq)]
struct Seen<'a> {
    occurrence: Occurrence,
    own: Option<&'a ModifiedOccurrence>,
}

type Key = (String, Option<DateTime<Utc>>);

impl CalendarDiff {
    /// Compares `before` with `after`, expanding series over `from..to`.
    ///
    /// ```
    /// use calrep_core::calendar::{CalendarDiff, CalendarItem, ItemTime, OccurrenceChange};
    /// let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    /// let a = CalendarItem::new("1", "u", "Call", ItemTime::Timed {
    ///     start: at("2026-01-05T09:00:00Z"), end: at("2026-01-05T10:00:00Z") });
    /// let mut b = a.clone();
    /// b.time = ItemTime::Timed { start: at("2026-01-06T09:00:00Z"), end: at("2026-01-06T10:00:00Z") };
    /// let diff = CalendarDiff::between(&[a.clone()], &[b.clone()], at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z"))?;
    /// assert!(matches!(diff.occurrences[0], OccurrenceChange::Moved { .. }));
    /// assert_eq!(diff.apply(&[a]), [b]);
    /// # Ok::<(), calrep_core::calendar::DiffError>(())
    /// ```
    pub fn between(
        before: &[CalendarItem],
        after: &[CalendarItem],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Self, DiffError> {
        let (old, new) = (by_id(before), by_id(after));
        let mut diff = Self {
            added: new
                .iter()
                .filter(|(id, _)| !old.contains_key(*id))
                .map(|(_, i)| (*i).clone())
                .collect(),
            removed: old
                .iter()
                .filter(|(id, _)| !new.contains_key(*id))
                .map(|(_, i)| (*i).clone())
                .collect(),
            modified: Vec::new(),
            occurrences: Vec::new(),
        };
        for (id, a) in &old {
            if let Some(b) = new.get(id) {
                if a == b {
                    continue;
                }
                diff.modified.push(ItemChange {
                    fields: changed_fields(a, b),
                    before: (*a).clone(),
                    after: (*b).clone(),
                });
            }
        }
        // Occurrences can only change where an item did.
        let touched_old: Vec<&CalendarItem> = diff
            .removed
            .iter()
            .chain(diff.modified.iter().map(|c| &c.before))
            .collect();
        let touched_new: Vec<&CalendarItem> = diff
            .added
            .iter()
            .chain(diff.modified.iter().map(|c| &c.after))
            .collect();
        let (a, b) = (
            expand(&touched_old, from, to)?,
            expand(&touched_new, from, to)?,
        );
        diff.occurrences = occurrence_changes(&a, &b);
        Ok(diff)
    }

    /// Whether the versions are equal.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.modified.is_empty()
    }

    /// `items` with this diff applied: removed items taken out, added and
    /// modified ones in their second version. Sorted by id.
    pub fn apply(&self, items: &[CalendarItem]) -> Vec<CalendarItem> {
        let mut map: BTreeMap<ItemId, CalendarItem> =
            items.iter().map(|i| (i.id.clone(), i.clone())).collect();
        for item in &self.removed {
            map.remove(&item.id);
        }
        for item in self
            .added
            .iter()
            .chain(self.modified.iter().map(|c| &c.after))
        {
            map.insert(item.id.clone(), item.clone());
        }
        map.into_values().collect()
    }

    /// The diff from the second version back to the first.
    pub fn inverse(&self) -> Self {
        let mut occurrences: Vec<OccurrenceChange> = self
            .occurrences
            .iter()
            .map(OccurrenceChange::inverse)
            .collect();
        occurrences.sort_by(|x, y| x.key().cmp(&y.key()));
        Self {
            added: self.removed.clone(),
            removed: self.added.clone(),
            modified: self
                .modified
                .iter()
                .map(|c| ItemChange {
                    fields: c.fields.clone(),
                    before: c.after.clone(),
                    after: c.before.clone(),
                })
                .collect(),
            occurrences,
        }
    }

    /// The differences in words, one per line, for reports.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        for i in &self.added {
            out.push(format!("item {} ({:?}) added", i.id, i.subject));
        }
        for i in &self.removed {
            out.push(format!("item {} ({:?}) removed", i.id, i.subject));
        }
        for c in &self.modified {
            let fields: Vec<String> = c
                .fields
                .iter()
                .map(|f| {
                    serde_json::to_value(f)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                })
                .collect();
            out.push(format!(
                "item {} ({:?}) differs in {}",
                c.after.id,
                c.after.subject,
                fields.join(", ")
            ));
        }
        let when = |t: &Option<DateTime<Utc>>| {
            t.map_or_else(String::new, |t| format!(" of {}", t.to_rfc3339()))
        };
        for o in &self.occurrences {
            out.push(match o {
                OccurrenceChange::Added {
                    uid,
                    original_start,
                    start,
                    ..
                } => {
                    format!(
                        "occurrence{} of {uid:?} added at {}",
                        when(original_start),
                        start.to_rfc3339()
                    )
                }
                OccurrenceChange::Removed {
                    uid,
                    original_start,
                    start,
                    ..
                } => {
                    format!(
                        "occurrence{} of {uid:?} removed from {}",
                        when(original_start),
                        start.to_rfc3339()
                    )
                }
                OccurrenceChange::Moved {
                    uid,
                    original_start,
                    from,
                    to,
                } => format!(
                    "occurrence{} of {uid:?} moved from {} to {}",
                    when(original_start),
                    from.0.to_rfc3339(),
                    to.0.to_rfc3339()
                ),
                OccurrenceChange::Modified {
                    uid,
                    original_start,
                    ..
                } => {
                    format!("occurrence{} of {uid:?} modified", when(original_start))
                }
            });
        }
        out
    }
}

/// What changed among one item's occurrences: the same comparison as
/// [`CalendarDiff`] makes (an occurrence is its original start), in the form
/// the replica needs to rewrite only what differs.
#[derive(Debug, Default)]
pub(crate) struct OccurrenceDelta<'a> {
    /// New occurrences.
    pub(crate) added: Vec<&'a Occurrence>,
    /// Occurrences whose time or exception flag changed.
    pub(crate) changed: Vec<&'a Occurrence>,
    /// Original starts of occurrences that are gone.
    pub(crate) removed: Vec<DateTime<Utc>>,
}

/// The delta from `old` to `new` occurrences of one item.
pub(crate) fn occurrence_delta<'a>(
    old: &[Occurrence],
    new: &'a [Occurrence],
) -> OccurrenceDelta<'a> {
    let mut before: BTreeMap<DateTime<Utc>, &Occurrence> =
        old.iter().map(|o| (o.original_start, o)).collect();
    let mut delta = OccurrenceDelta::default();
    for o in new {
        match before.remove(&o.original_start) {
            None => delta.added.push(o),
            Some(b) if b != o => delta.changed.push(o),
            Some(_) => {}
        }
    }
    delta.removed = before.into_keys().collect();
    delta
}

fn by_id(items: &[CalendarItem]) -> BTreeMap<&ItemId, &CalendarItem> {
    items.iter().map(|i| (&i.id, i)).collect()
}

/// Each item's occurrences in `from..to`, keyed by UID and original start.
fn expand<'a>(
    items: &[&'a CalendarItem],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeMap<Key, Seen<'a>>, DiffError> {
    let mut map = BTreeMap::new();
    for item in items {
        let list = item.occurrences(from, to).map_err(|source| DiffError {
            item: item.id.clone(),
            source,
        })?;
        let modified = item.recurrence.as_ref().map(|r| &r.modified);
        for occurrence in list {
            let original = item.recurrence.as_ref().map(|_| occurrence.original_start);
            let own = modified.and_then(|m| {
                m.iter()
                    .find(|m| m.original_start == occurrence.original_start)
            });
            map.insert((item.uid.clone(), original), Seen { occurrence, own });
        }
    }
    Ok(map)
}

/// Occurrence changes between two keyed sets, sorted by key.
fn occurrence_changes(
    a: &BTreeMap<Key, Seen<'_>>,
    b: &BTreeMap<Key, Seen<'_>>,
) -> Vec<OccurrenceChange> {
    let mut out = Vec::new();
    for ((uid, original), x) in a {
        let (uid, original_start) = (uid.clone(), *original);
        let o = x.occurrence;
        match b.get(&(uid.clone(), original_start)) {
            None => out.push(OccurrenceChange::Removed {
                uid,
                original_start,
                start: o.start,
                end: o.end,
            }),
            Some(y) if (y.occurrence.start, y.occurrence.end) != (o.start, o.end) => {
                out.push(OccurrenceChange::Moved {
                    uid,
                    original_start,
                    from: (o.start, o.end),
                    to: (y.occurrence.start, y.occurrence.end),
                });
            }
            Some(y) if y != x => out.push(OccurrenceChange::Modified {
                uid,
                original_start,
                start: o.start,
                end: o.end,
            }),
            Some(_) => {}
        }
    }
    for ((uid, original_start), y) in b {
        if !a.contains_key(&(uid.clone(), *original_start)) {
            out.push(OccurrenceChange::Added {
                uid: uid.clone(),
                original_start: *original_start,
                start: y.occurrence.start,
                end: y.occurrence.end,
            });
        }
    }
    out.sort_by(|x, y| x.key().cmp(&y.key()));
    out
}
