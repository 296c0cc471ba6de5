//! New keys for a mailbox's replica when its site moves to a source that
//! names the same calendars, items and attachments differently (EWS →
//! Microsoft Graph): [`Rekey`] says old → new, and
//! [`ReplicaWriter::rekey`](super::ReplicaWriter::rekey) rewrites them in
//! one transaction, so the new source's first full sync finds every
//! unchanged item already stored under its own id and writes nothing.

use std::collections::HashMap;

use serde::Serialize;

use crate::SiteId;
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarItem, ItemId};

/// Old → new keys for one mailbox's replica.
///
/// Ids without a new key keep their old one: an item deleted at the source
/// since the last run cannot be translated, and the new source's first full
/// sync removes it like any other vanished item.
///
/// ```
/// use calrep_core::calendar::{CalendarId, ItemId};
/// use calrep_core::replica::Rekey;
///
/// let mut plan = Rekey::new(calrep_core::SiteId::new("hq"), "ann@example.com".parse()?);
/// plan.calendars.insert(CalendarId::new("ews-cal"), CalendarId::new("graph-cal"));
/// plan.items.insert(ItemId::new("ews-item"), ItemId::new("graph-item"));
/// assert!(!plan.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Rekey {
    /// The site whose sync states belong to the old source: they are
    /// dropped, so the new source starts with a full sync.
    pub site: SiteId,
    /// Whose replica.
    pub mailbox: EmailAddress,
    /// Calendars: old id → new id.
    pub calendars: HashMap<CalendarId, CalendarId>,
    /// Items and modified occurrences: old id → new id.
    pub items: HashMap<ItemId, ItemId>,
    /// Attachments, by their item's old id and their own old id → new id.
    pub attachments: HashMap<(ItemId, String), String>,
}

impl Rekey {
    /// A plan that changes nothing yet.
    pub fn new(site: SiteId, mailbox: EmailAddress) -> Self {
        Self {
            site,
            mailbox,
            calendars: HashMap::new(),
            items: HashMap::new(),
            attachments: HashMap::new(),
        }
    }

    /// Whether the plan renames nothing.
    pub fn is_empty(&self) -> bool {
        self.calendars.is_empty() && self.items.is_empty() && self.attachments.is_empty()
    }

    /// `item` under its new keys (its own id, its modified occurrences'
    /// and its attachments'), or `None` when nothing in it changes.
    pub(crate) fn apply_to(&self, item: &CalendarItem) -> Option<CalendarItem> {
        let mut out = item.clone();
        let old = item.id.clone();
        if let Some(new) = self.items.get(&old) {
            out.id = new.clone();
        }
        if let Some(rec) = &mut out.recurrence {
            for m in &mut rec.modified {
                if let Some(new) = m.item.as_ref().and_then(|i| self.items.get(i)) {
                    m.item = Some(new.clone());
                }
            }
        }
        for a in &mut out.attachments {
            if let Some(new) = self.attachments.get(&(old.clone(), a.id.clone())) {
                a.id.clone_from(new);
            }
        }
        (out != *item).then_some(out)
    }
}

/// What a [`Rekey`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Rekeyed {
    /// Calendars renamed.
    pub calendars: u64,
    /// Items whose id or inner ids were renamed.
    pub items: u64,
    /// Attachment records renamed.
    pub attachments: u64,
    /// The old source's sync states dropped.
    pub states_dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{Attachment, ItemTime};

    #[test]
    fn an_item_is_renamed_with_its_occurrences_and_attachments() {
        let time = ItemTime::Timed {
            start: "2026-01-05T09:00:00Z".parse().unwrap(),
            end: "2026-01-05T09:30:00Z".parse().unwrap(),
        };
        let mut item = CalendarItem::new("old", "uid", "Standup", time);
        item.attachments
            .push(Attachment::new("att-old", "a.txt", "text/plain", 3));
        let mut plan = Rekey::new(SiteId::new("hq"), "a@example.com".parse().unwrap());
        assert_eq!(plan.apply_to(&item), None, "an empty plan changes nothing");
        plan.items.insert(ItemId::new("old"), ItemId::new("new"));
        plan.attachments
            .insert((ItemId::new("old"), "att-old".into()), "att-new".into());
        let renamed = plan.apply_to(&item).unwrap();
        assert_eq!(renamed.id.as_str(), "new");
        assert_eq!(renamed.attachments[0].id, "att-new");
        assert_eq!(renamed.subject, "Standup");
    }
}
