//! A calendar's items as the front end serves them, kept in memory per
//! calendar version: every request checks the calendar's change number
//! (one query that reads no item) and reads and parses the items only when
//! it moved. Each item carries its resource name, its ETag and the span its
//! occurrences can fall in, so that a time-range query expands only the
//! items that may overlap it, and GET, multiget and sync find theirs by
//! name or id.
//!
//! Items are kept as stored; masking for delegates happens when a request
//! uses one (the same calendar is served to owners and delegates).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::address::EmailAddress;
use crate::base64::encode_url;
use crate::calendar::{CalendarId, CalendarItem, ItemId, ItemTime, Range};
use crate::replica::{ReplicaError, ReplicaReader};

/// Items kept at most, over all calendars (the least recently used
/// calendars go first): a kept item with its written data takes a few
/// kilobytes, so this bounds the cache to a few hundred megabytes.
const MAX_ITEMS: usize = 100_000;

/// Widening of a span for zones: an all-day date or a day boundary is
/// placed in the item's zone, at most 14 hours from UTC.
const ZONE_MARGIN: TimeDelta = TimeDelta::days(2);

/// One item as a resource of its collection.
#[derive(Debug)]
pub(crate) struct Resource {
    /// `{base64url(UID)}.ics`.
    pub(crate) name: String,
    pub(crate) etag: String,
    /// As stored (not masked).
    pub(crate) item: CalendarItem,
    /// No occurrence starts before the first instant or ends after the
    /// second (conservatively wide).
    span: (DateTime<Utc>, DateTime<Utc>),
    /// Its calendar data as written into XML once, as stored and masked:
    /// (the calendar name it was written with, the escaped text).
    pub(crate) written: [std::sync::OnceLock<(String, String)>; 2],
}

impl Resource {
    /// Whether an occurrence may overlap `from..to` (its span does).
    pub(crate) fn may_overlap(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.span.0 < to && self.span.1 >= from
    }

    /// Whether an occurrence overlaps `from..to` (an item that cannot be
    /// expanded counts, so that it is never hidden).
    pub(crate) fn overlaps(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
        self.may_overlap(from, to)
            && self
                .item
                .occurrences(from, to)
                .map_or(true, |o| !o.is_empty())
    }
}

/// One version of a calendar's resources.
#[derive(Debug)]
pub(crate) struct Resources {
    /// The calendar's change number they are of.
    pub(crate) version: u64,
    pub(crate) list: Vec<Resource>,
    by_name: HashMap<String, usize>,
    by_id: HashMap<ItemId, usize>,
    /// The calendar's own zone, counted once when first asked for.
    zone: std::sync::OnceLock<chrono_tz::Tz>,
}

impl Resources {
    pub(crate) fn named(&self, name: &str) -> Option<&Resource> {
        self.by_name.get(name).and_then(|&i| self.list.get(i))
    }

    pub(crate) fn by_id(&self, id: &ItemId) -> Option<&Resource> {
        self.by_id.get(id).and_then(|&i| self.list.get(i))
    }

    /// The zone most of the calendar's items are written in (UTC only if
    /// all are), which clients take as the calendar's own.
    pub(crate) fn main_zone(&self) -> chrono_tz::Tz {
        *self
            .zone
            .get_or_init(|| main_zone(self.list.iter().map(|r| &r.item)))
    }
}

/// The zone most of a calendar's items are written in (UTC only if all
/// are), which clients take as the calendar's own (`calendar-timezone`).
fn main_zone<'a>(items: impl Iterator<Item = &'a CalendarItem>) -> chrono_tz::Tz {
    let mut counts: HashMap<chrono_tz::Tz, usize> = HashMap::new();
    for item in items {
        if let Ok(tz) = item.zone.iana.parse::<chrono_tz::Tz>() {
            *counts.entry(tz).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|(a, m), (b, n)| {
            (*a != chrono_tz::Tz::UTC, m, b.name()).cmp(&(*b != chrono_tz::Tz::UTC, n, a.name()))
        })
        .map_or(chrono_tz::Tz::UTC, |(tz, _)| tz)
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Where `item`'s occurrences can fall, widened by a margin for zones.
fn span(item: &CalendarItem) -> (DateTime<Utc>, DateTime<Utc>) {
    let (start, end) = match item.time {
        ItemTime::Timed { start, end } => (start, end.max(start)),
        ItemTime::AllDay { start, end } => (midnight(start), midnight(end.max(start))),
    };
    let Some(rec) = &item.recurrence else {
        return (start - ZONE_MARGIN, end + ZONE_MARGIN);
    };
    let length = end - start;
    let mut first = start;
    let mut last = match &rec.range {
        Range::NoEnd { start_date } => {
            first = first.min(midnight(*start_date));
            DateTime::<Utc>::MAX_UTC
        }
        Range::EndDate {
            start_date,
            end_date,
        } => {
            first = first.min(midnight(*start_date));
            midnight(*end_date) + TimeDelta::days(1) + length
        }
        Range::Numbered { start_date, .. } => {
            first = first.min(midnight(*start_date));
            // Expanded once per version; a series that cannot be is
            // treated as endless.
            item.occurrences(first - ZONE_MARGIN, DateTime::<Utc>::MAX_UTC)
                .ok()
                .and_then(|o| o.iter().map(|o| o.end).max())
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        }
    };
    for m in &rec.modified {
        first = first.min(m.start);
        last = last.max(m.end);
    }
    (
        first.checked_sub_signed(ZONE_MARGIN).unwrap_or(first),
        last.checked_add_signed(ZONE_MARGIN).unwrap_or(last),
    )
}

/// Calendars' resources by (mailbox, calendar), with when each was last
/// used.
#[derive(Debug, Default)]
struct Kept {
    calendars: HashMap<(String, CalendarId), (Arc<Resources>, u64)>,
    tick: u64,
    items: usize,
}

/// The resources of the calendars recently served.
#[derive(Debug, Default)]
pub(crate) struct ResourceCache {
    kept: Mutex<Kept>,
}

impl ResourceCache {
    /// The resources of `mailbox`'s `calendar` at change number `version`:
    /// kept ones if they are of that version, else read (and kept if the
    /// calendar did not change while it was read). `None`: no such
    /// calendar.
    pub(crate) async fn get(
        &self,
        replica: &dyn ReplicaReader,
        mailbox: &EmailAddress,
        calendar: &CalendarId,
        version: u64,
    ) -> Result<Option<Arc<Resources>>, ReplicaError> {
        let key = (mailbox.key().to_owned(), calendar.clone());
        {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            kept.tick += 1;
            let tick = kept.tick;
            if let Some((resources, used)) = kept.calendars.get_mut(&key)
                && resources.version == version
            {
                *used = tick;
                return Ok(Some(Arc::clone(resources)));
            }
        }
        let Some(changes) = replica.changes(mailbox, calendar, 0).await? else {
            return Ok(None);
        };
        let items = replica.items(mailbox, calendar).await?;
        let seqs: HashMap<_, _> = changes.changed.into_iter().collect();
        let mut list = Vec::with_capacity(items.len());
        for item in items {
            list.push(Resource {
                name: format!("{}.ics", encode_url(item.uid.as_bytes())),
                etag: format!(
                    "\"{}-{}\"",
                    changes.version,
                    seqs.get(&item.id).copied().unwrap_or(0)
                ),
                span: span(&item),
                written: Default::default(),
                item,
            });
        }
        let resources = Arc::new(Resources {
            version: changes.version,
            by_name: list
                .iter()
                .enumerate()
                .map(|(i, r)| (r.name.clone(), i))
                .collect(),
            by_id: list
                .iter()
                .enumerate()
                .map(|(i, r)| (r.item.id.clone(), i))
                .collect(),
            list,
            zone: std::sync::OnceLock::new(),
        });
        // Kept only if nothing was written between the two reads.
        let now = replica
            .changes(mailbox, calendar, u64::MAX)
            .await?
            .map(|c| c.version);
        if now == Some(resources.version) {
            self.keep(key, Arc::clone(&resources));
        }
        Ok(Some(resources))
    }

    fn keep(&self, key: (String, CalendarId), resources: Arc<Resources>) {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.tick += 1;
        let tick = kept.tick;
        let size = resources.list.len();
        if let Some((old, _)) = kept.calendars.insert(key, (resources, tick)) {
            kept.items -= old.list.len();
        }
        kept.items += size;
        while kept.items > MAX_ITEMS && kept.calendars.len() > 1 {
            let Some(oldest) = kept
                .calendars
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((gone, _)) = kept.calendars.remove(&oldest) {
                kept.items -= gone.list.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::calendar::{Pattern, Recurrence};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn a_span_holds_every_occurrence_of_singles_and_series() {
        let single = CalendarItem::new(
            "1",
            "u1",
            "Call",
            ItemTime::Timed {
                start: at("2026-06-01T09:00:00Z"),
                end: at("2026-06-01T10:00:00Z"),
            },
        );
        let (from, to) = span(&single);
        assert!(from <= at("2026-06-01T09:00:00Z") && to >= at("2026-06-01T10:00:00Z"));
        assert!(to < at("2026-06-04T00:00:00Z"));

        let mut series = single.clone();
        series.recurrence = Some(Recurrence::new(
            Pattern::Daily { interval: 1 },
            Range::Numbered {
                start_date: "2026-06-01".parse().unwrap(),
                count: 10,
            },
        ));
        let (from, to) = span(&series);
        let all = series.occurrences(from, to + TimeDelta::days(365)).unwrap();
        assert_eq!(all.len(), 10);
        assert!(all.iter().all(|o| o.start >= from && o.end <= to));
        assert!(to < at("2026-06-14T00:00:00Z"), "{to}");

        let mut endless = series.clone();
        if let Some(r) = &mut endless.recurrence {
            r.range = Range::NoEnd {
                start_date: "2026-06-01".parse().unwrap(),
            };
        }
        assert_eq!(span(&endless).1, DateTime::<Utc>::MAX_UTC);
    }
}
