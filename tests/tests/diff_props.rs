//! Properties of the calendar diff over random calendars and random edits
//! (pattern edits, zone changes, new exceptions, new deletions, moves,
//! added and removed items):
//! - `diff(a, a)` is empty;
//! - applying `diff(a, b)` to `a` gives `b`;
//! - `diff(b, a)` is the inverse of `diff(a, b)`;
//! - the occurrence changes, applied to `a`'s occurrences in the window
//!   (expanded independently, item by item), give exactly `b`'s;
//! - two versions of an item serialise alike exactly when no field differs
//!   (the replica's fast "unchanged" test during reconciliation).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use calrep_core::calendar::{
    CalendarDiff, CalendarItem, ItemTime, ModifiedOccurrence, OccurrenceChange, Pattern, Range,
    Recurrence, ZoneInfo, changed_fields,
};
use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

const ZONES: &[&str] = &[
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "UTC",
];

fn window() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 7, 1, 0, 0, 0).unwrap(),
    )
}

fn pattern() -> impl Strategy<Value = Pattern> {
    prop_oneof![
        (1u16..4).prop_map(|i| serde_json::from_value(
            serde_json::json!({"type": "daily", "interval": i})
        )
        .unwrap()),
        (
            1u16..3,
            prop::sample::subsequence(vec!["mon", "wed", "fri", "sun"], 1..=3)
        )
            .prop_map(|(i, days)| serde_json::from_value(serde_json::json!({
                "type": "weekly", "interval": i, "days": days, "first_day_of_week": "mon"}))
            .unwrap()),
        (1u16..3, 1u8..=31).prop_map(|(i, d)| serde_json::from_value(
            serde_json::json!({"type": "absolute_monthly", "interval": i, "day_of_month": d})
        )
        .unwrap()),
    ]
}

/// A random item: single or recurring, in one of the zones.
fn item(n: usize) -> impl Strategy<Value = CalendarItem> {
    (
        0i64..150,
        0u32..24,
        prop::sample::select(ZONES),
        prop::option::weighted(0.6, (pattern(), 2u32..30)),
    )
        .prop_map(move |(day, hour, zone, recurrence)| {
            let start =
                Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0).unwrap() + TimeDelta::days(day);
            let time = ItemTime::Timed {
                start,
                end: start + TimeDelta::minutes(45),
            };
            let mut item = CalendarItem::new(
                format!("id{n}"),
                format!("uid{n}"),
                format!("item {n}"),
                time,
            );
            item.zone = ZoneInfo::new(zone, zone);
            item.recurrence = recurrence.map(|(pattern, count)| {
                let local = start.with_timezone(&zone.parse::<chrono_tz::Tz>().unwrap());
                Recurrence::new(
                    pattern,
                    Range::Numbered {
                        start_date: local.date_naive(),
                        count,
                    },
                )
            });
            item
        })
}

fn calendar() -> impl Strategy<Value = Vec<CalendarItem>> {
    (0usize..8).prop_flat_map(|n| (0..n).map(item).collect::<Vec<_>>())
}

/// One edit of a calendar.
#[derive(Debug, Clone)]
enum Edit {
    Subject(usize),
    MoveItem(usize, i64),
    Interval(usize),
    Zone(usize, &'static str),
    DeleteOccurrence(usize, usize),
    MoveOccurrence(usize, usize, i64),
    Remove(usize),
    Add(Box<CalendarItem>),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Subject),
        (any::<usize>(), -48i64..48).prop_map(|(i, h)| Edit::MoveItem(i, h)),
        any::<usize>().prop_map(Edit::Interval),
        (any::<usize>(), prop::sample::select(ZONES)).prop_map(|(i, z)| Edit::Zone(i, z)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, k)| Edit::DeleteOccurrence(i, k)),
        (any::<usize>(), any::<usize>(), -72i64..72)
            .prop_map(|(i, k, h)| Edit::MoveOccurrence(i, k, h)),
        any::<usize>().prop_map(Edit::Remove),
        item(100).prop_map(|i| Edit::Add(Box::new(i))),
    ]
}

fn apply(items: &mut Vec<CalendarItem>, edit: &Edit) {
    let (from, to) = window();
    if items.is_empty() && !matches!(edit, Edit::Add(_)) {
        return;
    }
    let pick = |i: usize, items: &Vec<CalendarItem>| i % items.len();
    match edit {
        Edit::Subject(i) => {
            let i = pick(*i, items);
            items[i].subject.push('!');
        }
        Edit::MoveItem(i, hours) => {
            let i = pick(*i, items);
            if let ItemTime::Timed { start, end } = items[i].time {
                let d = TimeDelta::hours(*hours);
                items[i].time = ItemTime::Timed {
                    start: start + d,
                    end: end + d,
                };
                // A series keeps its dates in its range; only single items move freely.
                if items[i].recurrence.is_some() {
                    items[i].time = ItemTime::Timed { start, end };
                }
            }
        }
        Edit::Interval(i) => {
            let i = pick(*i, items);
            if let Some(r) = &mut items[i].recurrence {
                let p = serde_json::to_value(&r.pattern).unwrap();
                let mut p = p.as_object().unwrap().clone();
                if let Some(n) = p.get("interval").and_then(|v| v.as_u64()) {
                    p.insert("interval".into(), (n % 3 + 1).into());
                }
                r.pattern = serde_json::from_value(serde_json::Value::Object(p)).unwrap();
                // Exceptions of the old pattern no longer belong to the new one.
                r.modified.clear();
                r.deleted.clear();
            }
        }
        Edit::Zone(i, zone) => {
            let i = pick(*i, items);
            items[i].zone = ZoneInfo::new(*zone, *zone);
            if let Some(r) = &mut items[i].recurrence {
                r.modified.clear();
                r.deleted.clear();
            }
        }
        Edit::DeleteOccurrence(i, k) | Edit::MoveOccurrence(i, k, _) => {
            let i = pick(*i, items);
            let list = items[i].occurrences(from, to).unwrap();
            let Some(r) = &mut items[i].recurrence else {
                return;
            };
            let plain: Vec<_> = list.iter().filter(|o| !o.is_exception).collect();
            if plain.is_empty() {
                return;
            }
            let o = plain[k % plain.len()];
            match edit {
                Edit::MoveOccurrence(_, _, h) => r.modified.push(ModifiedOccurrence::moved(
                    o.original_start,
                    o.start + TimeDelta::hours(*h),
                    o.end + TimeDelta::hours(*h),
                )),
                _ => r.deleted.push(o.original_start),
            }
        }
        Edit::Remove(i) => {
            let i = pick(*i, items);
            items.remove(i);
        }
        Edit::Add(item) => {
            let mut item = (**item).clone();
            let n = items.len() + 100;
            item.id = calrep_core::calendar::ItemId::new(format!("id{n}"));
            item.uid = format!("uid{n}");
            if !items.iter().any(|i| i.id == item.id) {
                items.push(item);
            }
        }
    }
}

/// Occurrence times by (UID, original start).
type Occurrences = BTreeMap<(String, Option<DateTime<Utc>>), (DateTime<Utc>, DateTime<Utc>)>;

/// Every occurrence in the window, keyed as the diff keys them.
fn occurrences(items: &[CalendarItem]) -> Occurrences {
    let (from, to) = window();
    let mut map = BTreeMap::new();
    for item in items {
        for o in item.occurrences(from, to).unwrap() {
            let original = item.recurrence.as_ref().map(|_| o.original_start);
            map.insert((item.uid.clone(), original), (o.start, o.end));
        }
    }
    map
}

fn sorted(mut items: Vec<CalendarItem>) -> Vec<CalendarItem> {
    items.sort_by(|a, b| a.id.cmp(&b.id));
    items
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn diff_is_empty_applies_inverts_and_accounts_for_every_occurrence(
        a in calendar(),
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let (from, to) = window();
        let mut b = a.clone();
        for e in &edits {
            apply(&mut b, e);
        }
        let same = CalendarDiff::between(&a, &a, from, to).unwrap();
        prop_assert!(same.is_empty() && same.occurrences.is_empty());

        let forward = CalendarDiff::between(&a, &b, from, to).unwrap();
        prop_assert_eq!(forward.apply(&a), sorted(b.clone()));
        let backward = CalendarDiff::between(&b, &a, from, to).unwrap();
        prop_assert_eq!(&backward, &forward.inverse());

        // The replica decides "unchanged" by comparing stored JSON; that must
        // be the same as an empty field diff.
        for x in &a {
            if let Some(y) = b.iter().find(|y| y.id == x.id) {
                let same_json = serde_json::to_string(x).unwrap() == serde_json::to_string(y).unwrap();
                prop_assert_eq!(same_json, changed_fields(x, y).is_empty());
            }
        }

        let mut occ = occurrences(&a);
        for change in &forward.occurrences {
            match change {
                OccurrenceChange::Added { uid, original_start, start, end } => {
                    prop_assert!(occ.insert((uid.clone(), *original_start), (*start, *end)).is_none());
                }
                OccurrenceChange::Removed { uid, original_start, .. } => {
                    prop_assert!(occ.remove(&(uid.clone(), *original_start)).is_some());
                }
                OccurrenceChange::Moved { uid, original_start, from, to } => {
                    let slot = occ.get_mut(&(uid.clone(), *original_start));
                    prop_assert_eq!(slot.as_deref(), Some(from));
                    if let Some(s) = slot { *s = *to; }
                }
                OccurrenceChange::Modified { uid, original_start, .. } => {
                    prop_assert!(occ.contains_key(&(uid.clone(), *original_start)));
                }
                _ => {}
            }
        }
        prop_assert_eq!(occ, occurrences(&b));
    }
}

#[test]
fn a_new_deletion_and_a_moved_exception_are_exactly_two_occurrence_changes() {
    let (from, to) = window();
    let start = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap();
    let mut a = CalendarItem::new(
        "1",
        "weekly",
        "Standup",
        ItemTime::Timed {
            start,
            end: start + TimeDelta::minutes(15),
        },
    );
    a.zone = ZoneInfo::new("W. Europe Standard Time", "Europe/Berlin");
    a.recurrence = Some(Recurrence::new(
        serde_json::from_value(serde_json::json!({"type": "weekly", "interval": 1, "days": ["mon"], "first_day_of_week": "mon"})).unwrap(),
        Range::NoEnd { start_date: NaiveDate::from_ymd_opt(2026, 3, 2).unwrap() },
    ));
    let mut b = a.clone();
    let r = b.recurrence.as_mut().unwrap();
    // 9 March deleted; 16 March moved two hours later. Berlin is UTC+1 then.
    r.deleted
        .push(Utc.with_ymd_and_hms(2026, 3, 9, 8, 0, 0).unwrap());
    let moved = Utc.with_ymd_and_hms(2026, 3, 16, 8, 0, 0).unwrap();
    r.modified.push(ModifiedOccurrence::moved(
        moved,
        moved + TimeDelta::hours(2),
        moved + TimeDelta::hours(2) + TimeDelta::minutes(15),
    ));
    let diff = CalendarDiff::between(&[a], &[b], from, to).unwrap();
    assert_eq!(diff.modified.len(), 1);
    assert_eq!(diff.occurrences.len(), 2, "{:#?}", diff.occurrences);
    assert!(
        matches!(&diff.occurrences[0], OccurrenceChange::Removed { original_start: Some(t), .. } if t.to_rfc3339() == "2026-03-09T08:00:00+00:00")
    );
    assert!(
        matches!(&diff.occurrences[1], OccurrenceChange::Moved { to, .. } if to.0 == moved + TimeDelta::hours(2))
    );
}
