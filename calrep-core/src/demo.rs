//! A generated demo organisation: mailboxes in nested groups with calendars
//! full of what real ones hold (single items, every kind of recurring series,
//! moved and deleted occurrences, all-day events, several time zones,
//! attachments, private appointments), deterministic for a seed, so that
//! every command can run without an Exchange server.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use serde_json::json;

use crate::address::EmailAddress;
use crate::calendar::{
    Attachment, Attendee, CalendarId, CalendarInfo, CalendarItem, ItemId, ItemTime,
    ModifiedOccurrence, Recurrence, Sensitivity, ZoneInfo,
};
use crate::group::{DirectoryError, SnapshotDirectory};
use crate::mailbox::{MemoryMailbox, MemoryOrganisation};

/// A small, fast, deterministic random number generator (SplitMix64): the
/// demo must be the same for the same seed everywhere.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(usize::try_from(self.below(items.len() as u64)).unwrap_or(0))
    }
}

const FIRST: &[&str] = &[
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kira",
    "Liam", "Maya", "Noah", "Olga", "Pavel", "Quinn", "Rosa", "Sami", "Tara",
];
const LAST: &[&str] = &[
    "Ahmed", "Becker", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hansen", "Ito", "Jensen",
    "Kowalski", "Lopez", "Moreau", "Nakamura", "Okafor", "Petrov",
];
const DEPARTMENTS: &[&str] = &["Sales", "Engineering", "Finance", "Support", "Marketing"];
const ZONES: &[(&str, &str)] = &[
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("GMT Standard Time", "Europe/London"),
    ("Eastern Standard Time", "America/New_York"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("India Standard Time", "Asia/Kolkata"),
];
const SUBJECTS: &[&str] = &[
    "Planning",
    "1:1",
    "Design review",
    "Customer call",
    "Budget",
    "Retro",
    "Hiring panel",
    "All hands",
    "Lunch and learn",
    "Vendor sync",
];

/// The demo organisation: its mailboxes and its directory.
#[derive(Debug)]
pub struct DemoOrganisation {
    /// The mailboxes, as a mailbox source.
    pub source: Arc<MemoryOrganisation>,
    /// The mailboxes' addresses, in order.
    pub addresses: Vec<EmailAddress>,
    /// The directory snapshot (JSON) with nested groups.
    pub directory_json: String,
    seed: u64,
}

/// Everything the demo writes starts here, so replicas are comparable.
fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

impl DemoOrganisation {
    /// The root group containing every demo mailbox (nested through
    /// departments and teams).
    pub const ALL_STAFF: &'static str = "All Staff";
    /// The root group's address (for `ExpandDL`).
    pub const ALL_STAFF_ADDRESS: &'static str = "all-staff@demo.example";

    /// The directory, read from [`directory_json`](Self::directory_json).
    ///
    /// ```
    /// use calrep_core::demo::DemoOrganisation;
    /// let demo = DemoOrganisation::generate(7, 20, 0);
    /// let directory = demo.directory()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn directory(&self) -> Result<SnapshotDirectory, DirectoryError> {
        SnapshotDirectory::from_json_str(
            &self.directory_json,
            &format!("demo directory (seed {})", self.seed),
        )
    }

    /// Generates an organisation of `mailboxes` people (at least 10) from
    /// `seed`, then applies `change_rounds` rounds of changes (see
    /// [`apply_changes`](Self::apply_changes)).
    ///
    /// ```
    /// let demo = calrep_core::demo::DemoOrganisation::generate(7, 20, 0);
    /// assert_eq!(demo.addresses.len(), 20);
    /// let again = calrep_core::demo::DemoOrganisation::generate(7, 20, 0);
    /// assert_eq!(demo.directory_json, again.directory_json);
    /// ```
    pub fn generate(seed: u64, mailboxes: usize, change_rounds: u32) -> Self {
        let mailboxes = mailboxes.max(10);
        let mut rng = Rng(seed);
        let source = Arc::new(MemoryOrganisation::new());
        let mut addresses = Vec::with_capacity(mailboxes);
        let mut users = Vec::with_capacity(mailboxes + 2);
        for i in 0..mailboxes {
            let first = rng.pick(FIRST).copied().unwrap_or("Ada");
            let last = rng.pick(LAST).copied().unwrap_or("Ahmed");
            let local = format!("{}.{}{}", first.to_lowercase(), last.to_lowercase(), i);
            let Ok(address) = format!("{local}@demo.example").parse::<EmailAddress>() else {
                continue;
            };
            users.push(json!({
                "dn": format!("CN={first} {last} {i},OU=Staff,DC=demo,DC=example"),
                "display_name": format!("{first} {last}"),
                "primary_smtp": address.as_str(),
                // One disabled and one unlicensed account, as in any real directory.
                "enabled": i != 3,
                "licensed": i != 5,
            }));
            let mailbox = source.mailbox(&address);
            fill_mailbox(&mut rng, &mailbox, i);
            addresses.push(address);
        }
        users.push(json!({"display_name": "Outside Auditor", "primary_smtp": "auditor@partner.example", "kind": "contact"}));
        let mut groups = Vec::new();
        let mut department_dns = Vec::new();
        for (d, department) in DEPARTMENTS.iter().enumerate() {
            let mut team_dns = Vec::new();
            for team in 0..2 {
                let name = format!("{department} Team {}", team + 1);
                let dn = format!("CN={name},OU=Groups,DC=demo,DC=example");
                let members: Vec<&str> = addresses
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % (DEPARTMENTS.len() * 2) == d * 2 + team)
                    .map(|(_, a)| a.as_str())
                    .collect();
                // Mail-enabled, so Exchange's ExpandDL can expand it too.
                let address = format!(
                    "{}-team-{}@demo.example",
                    department.to_lowercase(),
                    team + 1
                );
                groups.push(json!({"name": name, "dn": dn, "address": address, "kind": "security", "members": members}));
                team_dns.push(dn);
            }
            let dn = format!("CN={department},OU=Groups,DC=demo,DC=example");
            let mut members = team_dns.clone();
            if d == 0 {
                // A cycle, as directories accumulate them: Sales contains All Staff.
                members.push(format!(
                    "CN={},OU=Groups,DC=demo,DC=example",
                    Self::ALL_STAFF
                ));
                members.push("auditor@partner.example".to_owned());
            }
            groups.push(json!({"name": department, "dn": dn, "address": format!("{}@demo.example", department.to_lowercase()), "kind": "distribution", "members": members}));
            department_dns.push(dn);
        }
        groups.push(json!({"name": Self::ALL_STAFF, "dn": format!("CN={},OU=Groups,DC=demo,DC=example", Self::ALL_STAFF), "address": Self::ALL_STAFF_ADDRESS, "kind": "security", "members": department_dns}));
        let directory_json =
            serde_json::to_string_pretty(&json!({"users": users, "groups": groups}))
                .unwrap_or_default();
        let demo = Self {
            source,
            addresses,
            directory_json,
            seed,
        };
        for round in 1..=change_rounds {
            demo.apply_changes(round);
        }
        demo
    }

    /// One round of changes, as people make them between two runs: an
    /// occurrence moved and one deleted, a series edited, an item created
    /// and one deleted, in some of the mailboxes. Returns how many changes
    /// were made.
    pub fn apply_changes(&self, round: u32) -> usize {
        let mut rng = Rng(self.seed ^ u64::from(round).wrapping_mul(0x5851_F42D_4C95_7F2D));
        let mut changes = 0;
        let default = CalendarId::new("calendar");
        for (i, address) in self.addresses.iter().enumerate() {
            if rng.below(4) != 0 {
                continue;
            }
            let mailbox = self.source.mailbox(address);
            let items = mailbox.items_of(&default);
            // Move one occurrence and delete another of the first series.
            let timed_series: Vec<&CalendarItem> = items
                .iter()
                .filter(|it| it.recurrence.is_some() && matches!(it.time, ItemTime::Timed { .. }))
                .collect();
            if let Some(mut series) = timed_series.first().map(|s| (*s).clone()) {
                let zone: chrono_tz::Tz = series.zone.iana.parse().unwrap_or(chrono_tz::UTC);
                let window = (epoch(), epoch() + TimeDelta::days(120));
                let occurrences = series
                    .recurrence
                    .as_ref()
                    .and_then(|r| r.occurrences(&series.time, zone, window.0, window.1).ok())
                    .unwrap_or_default();
                let regular: Vec<_> = occurrences.iter().filter(|o| !o.is_exception).collect();
                if let (Some(rec), Some(moved), Some(deleted)) =
                    (series.recurrence.as_mut(), regular.get(1), regular.get(2))
                {
                    // As on Exchange, the exception is an item of its own with
                    // an id, and may carry its own subject.
                    let mut exception = ModifiedOccurrence::moved(
                        moved.original_start,
                        moved.start + TimeDelta::hours(2),
                        moved.end + TimeDelta::hours(2),
                    );
                    exception.item = Some(ItemId::new(format!(
                        "{}.occ{}",
                        series.id,
                        moved.original_start.timestamp()
                    )));
                    exception.subject = Some(format!("{} (moved)", series.subject));
                    rec.modified.push(exception);
                    rec.deleted.push(deleted.original_start);
                    series.change_key = format!("{}+{round}", series.change_key);
                    mailbox.put_item(&default, series);
                    changes += 2;
                }
            }
            // Edit a series: new subject and location.
            if let Some(mut series) = timed_series.get(1).map(|s| (*s).clone()) {
                series.subject =
                    format!("{} (moved to room {})", series.subject, 100 + rng.below(50));
                series.location = "Room 4.12".into();
                series.change_key = format!("{}+{round}", series.change_key);
                mailbox.put_item(&default, series);
                changes += 1;
            }
            // Delete a single item, create a new one.
            if let Some(single) = items
                .iter()
                .find(|it| it.recurrence.is_none() && it.attachments.is_empty())
            {
                mailbox.delete_item(&default, &single.id);
                changes += 1;
            }
            let id = format!("r{round}-{i}");
            let start = epoch()
                + TimeDelta::days(i64::try_from(rng.below(60)).unwrap_or(0))
                + TimeDelta::hours(15);
            mailbox.put_item(
                &default,
                item(
                    &id,
                    &format!("Added in round {round}"),
                    ItemTime::Timed {
                        start,
                        end: start + TimeDelta::minutes(45),
                    },
                    ZONES[0],
                ),
            );
            changes += 1;
        }
        changes
    }
}

fn item(id: &str, subject: &str, time: ItemTime, zone: (&str, &str)) -> CalendarItem {
    let mut item = CalendarItem::new(id, format!("{id}@demo.example"), subject, time);
    item.zone = ZoneInfo::new(zone.0, zone.1);
    item.change_key = "1".into();
    item.last_modified = Some(epoch());
    item
}

fn recurrence(
    pattern: serde_json::Value,
    start: NaiveDate,
    range: &str,
    n: u32,
) -> Option<Recurrence> {
    let range = match range {
        "numbered" => json!({"type": "numbered", "start_date": start, "count": n}),
        "end_date" => {
            json!({"type": "end_date", "start_date": start, "end_date": start + TimeDelta::days(i64::from(n) * 7)})
        }
        _ => json!({"type": "no_end", "start_date": start}),
    };
    serde_json::from_value(json!({"pattern": pattern, "range": range})).ok()
}

/// Fills one mailbox: about 20 single items, one series of each pattern
/// kind, all-day events, attachments, a private appointment.
fn fill_mailbox(rng: &mut Rng, mailbox: &MemoryMailbox, index: usize) {
    let calendar = mailbox.add_calendar(CalendarInfo::new("calendar", "Calendar", true));
    let zone = *rng.pick(ZONES).unwrap_or(&ZONES[0]);
    let tz: chrono_tz::Tz = zone.1.parse().unwrap_or(chrono_tz::UTC);
    let local = |day: i64, hour: u32| {
        let date = epoch().date_naive() + TimeDelta::days(day);
        tz.from_local_datetime(&date.and_hms_opt(hour, 0, 0).unwrap_or_default())
            .earliest()
            .map_or_else(epoch, |t| t.with_timezone(&Utc))
    };
    for n in 0..20 {
        let day = i64::try_from(rng.below(150)).unwrap_or(0) - 30;
        let start = local(day, 8 + u32::try_from(rng.below(9)).unwrap_or(0));
        let subject = rng.pick(SUBJECTS).copied().unwrap_or("Meeting");
        let mut it = item(
            &format!("s{n}"),
            subject,
            ItemTime::Timed {
                start,
                end: start
                    + TimeDelta::minutes(30 * (1 + i64::try_from(rng.below(4)).unwrap_or(0))),
            },
            zone,
        );
        it.body = format!("Agenda for {subject}.");
        it.location = format!("Room {}", 1 + rng.below(20));
        if let Ok(organizer) = format!("organizer{}@demo.example", rng.below(10)).parse() {
            it.organizer = Some(Attendee::new("Organizer", organizer));
        }
        if n % 7 == 0 {
            it.attachments.push(Attachment::new(
                format!("{}.a1", it.id),
                "agenda.txt",
                "text/plain",
                64,
            ));
            // Many items share one file: stored once in the replica.
            mailbox.put_attachment(
                &it.id,
                &format!("{}.a1", it.id),
                format!("Shared agenda, version {}\n", n % 3).into_bytes(),
            );
        }
        mailbox.put_item(&calendar, it);
    }
    let start_date = epoch().date_naive();
    let series: [(&str, serde_json::Value, &str, u32, u32); 6] = [
        (
            "Daily standup",
            json!({"type": "daily", "interval": 1}),
            "end_date",
            8,
            9,
        ),
        (
            "Team sync",
            json!({"type": "weekly", "interval": 1, "days": ["mon", "thu"], "first_day_of_week": "mon"}),
            "no_end",
            0,
            10,
        ),
        (
            "Month-end close",
            json!({"type": "absolute_monthly", "interval": 1, "day_of_month": 31}),
            "numbered",
            12,
            16,
        ),
        (
            "Steering committee",
            json!({"type": "relative_monthly", "interval": 1, "days": "weekday", "index": "last"}),
            "numbered",
            10,
            14,
        ),
        (
            "Anniversary",
            json!({"type": "absolute_yearly", "month": 2, "day_of_month": 29}),
            "no_end",
            0,
            12,
        ),
        (
            "Board meeting",
            json!({"type": "relative_yearly", "month": 3, "days": {"day": "tue"}, "index": "second"}),
            "numbered",
            3,
            11,
        ),
    ];
    for (n, (subject, pattern, range, count, hour)) in series.into_iter().enumerate() {
        let start = local(0, hour);
        let mut it = item(
            &format!("r{n}"),
            subject,
            ItemTime::Timed {
                start,
                end: start + TimeDelta::minutes(45),
            },
            zone,
        );
        it.recurrence = recurrence(pattern, start_date, range, count);
        mailbox.put_item(&calendar, it);
    }
    // All-day events, one of them a recurring one.
    let day = start_date + TimeDelta::days(i64::try_from(rng.below(40)).unwrap_or(0));
    mailbox.put_item(
        &calendar,
        item(
            "d0",
            "Conference",
            ItemTime::AllDay {
                start: day,
                end: day + TimeDelta::days(3),
            },
            zone,
        ),
    );
    let mut holiday = item(
        "d1",
        "Team offsite day",
        ItemTime::AllDay {
            start: start_date,
            end: start_date + TimeDelta::days(1),
        },
        zone,
    );
    holiday.recurrence = recurrence(
        json!({"type": "absolute_monthly", "interval": 3, "day_of_month": 15}),
        start_date,
        "numbered",
        4,
    );
    mailbox.put_item(&calendar, holiday);
    // A private appointment.
    let start = local(5, 16);
    let mut private = item(
        "p0",
        "Doctor's appointment",
        ItemTime::Timed {
            start,
            end: start + TimeDelta::hours(1),
        },
        zone,
    );
    private.sensitivity = Sensitivity::Private;
    private.location = "Clinic".into();
    mailbox.put_item(&calendar, private);
    // Every fifth person keeps a second calendar.
    if index.is_multiple_of(5) {
        let team = mailbox.add_calendar(CalendarInfo::new("team", "Team calendar", false));
        let start = local(3, 10);
        mailbox.put_item(
            &team,
            item(
                "t0",
                "Team lunch",
                ItemTime::Timed {
                    start,
                    end: start + TimeDelta::hours(1),
                },
                zone,
            ),
        );
    }
}
