//! An in-memory mailbox with a real change log, for tests, benchmarks, the
//! demo and embedders.

#[cfg(feature = "sim")]
use std::collections::VecDeque;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{ChangePage, Mailbox, MailboxError, MailboxSource, SyncState};
use crate::address::EmailAddress;
use crate::calendar::{CalendarId, CalendarInfo, CalendarItem, ItemId};

#[derive(Debug, Default)]
struct Calendar {
    info: Option<CalendarInfo>,
    items: BTreeMap<ItemId, CalendarItem>,
    /// Every change in order: the item and whether it was deleted.
    log: Vec<(ItemId, bool)>,
    /// Bumped to invalidate every state issued so far.
    epoch: u64,
}

#[derive(Debug, Default)]
struct Inner {
    calendars: BTreeMap<CalendarId, Calendar>,
    attachments: HashMap<(ItemId, String), Vec<u8>>,
    /// Errors returned by the next calls, in order (fault injection).
    #[cfg(feature = "sim")]
    faults: VecDeque<MailboxError>,
    requests: u64,
}

/// A mailbox held in memory. Sync states are positions in each calendar's
/// change log, so incremental sync behaves as on a server: a state returns
/// exactly what changed after it, and [`invalidate_states`](Self::invalidate_states)
/// makes old states fail with [`MailboxError::ResyncRequired`].
///
/// ```
/// use calrep_core::calendar::{CalendarInfo, CalendarItem, ItemTime};
/// use calrep_core::mailbox::{Mailbox, MemoryMailbox, Window};
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let mailbox = MemoryMailbox::new("alice@example.com".parse()?);
/// let cal = mailbox.add_calendar(CalendarInfo::new("cal", "Calendar", true));
/// let time = ItemTime::Timed { start: "2026-01-05T09:00:00Z".parse()?, end: "2026-01-05T10:00:00Z".parse()? };
/// mailbox.put_item(&cal, CalendarItem::new("1", "uid-1", "Planning", time));
/// let first = mailbox.changes(&cal, None, Window::ALL, 100).await?;
/// assert_eq!(first.changed.len(), 1);
/// let again = mailbox.changes(&cal, first.state.as_ref(), Window::ALL, 100).await?;
/// assert!(again.changed.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MemoryMailbox {
    address: EmailAddress,
    inner: Mutex<Inner>,
}

impl MemoryMailbox {
    /// An empty mailbox.
    pub fn new(address: EmailAddress) -> Self {
        Self {
            address,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds (or renames) a calendar and returns its id.
    pub fn add_calendar(&self, info: CalendarInfo) -> CalendarId {
        let id = info.id.clone();
        self.lock().calendars.entry(id.clone()).or_default().info = Some(info);
        id
    }

    /// Removes a calendar with everything in it.
    pub fn remove_calendar(&self, id: &CalendarId) {
        self.lock().calendars.remove(id);
    }

    /// Creates or replaces an item, logging the change.
    pub fn put_item(&self, calendar: &CalendarId, item: CalendarItem) {
        let mut inner = self.lock();
        let cal = inner.calendars.entry(calendar.clone()).or_default();
        cal.log.push((item.id.clone(), false));
        cal.items.insert(item.id.clone(), item);
    }

    /// Deletes an item, logging the change. Returns whether it existed.
    pub fn delete_item(&self, calendar: &CalendarId, id: &ItemId) -> bool {
        let mut inner = self.lock();
        let Some(cal) = inner.calendars.get_mut(calendar) else {
            return false;
        };
        let existed = cal.items.remove(id).is_some();
        if existed {
            cal.log.push((id.clone(), true));
        }
        existed
    }

    /// An item as currently stored.
    pub fn item(&self, calendar: &CalendarId, id: &ItemId) -> Option<CalendarItem> {
        self.lock().calendars.get(calendar)?.items.get(id).cloned()
    }

    /// Every item of a calendar, by id.
    pub fn items_of(&self, calendar: &CalendarId) -> Vec<CalendarItem> {
        self.lock()
            .calendars
            .get(calendar)
            .map(|c| c.items.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Stores an attachment's content.
    pub fn put_attachment(&self, item: &ItemId, attachment_id: &str, content: Vec<u8>) {
        self.lock()
            .attachments
            .insert((item.clone(), attachment_id.to_owned()), content);
    }

    /// An attachment's content found by its id alone, as EWS's
    /// `GetAttachment` asks (the simulator's lookup).
    #[cfg(feature = "sim")]
    pub(crate) fn attachment_by_id(&self, attachment_id: &str) -> Option<Vec<u8>> {
        self.lock()
            .attachments
            .iter()
            .find(|((_, id), _)| id == attachment_id)
            .map(|(_, content)| content.clone())
    }

    /// A modified occurrence found by its own item id, with its series.
    #[cfg(feature = "sim")]
    pub(crate) fn occurrence_by_id(
        &self,
        id: &ItemId,
    ) -> Option<(CalendarItem, crate::calendar::ModifiedOccurrence)> {
        let inner = self.lock();
        inner
            .calendars
            .values()
            .flat_map(|c| c.items.values())
            .find_map(|item| {
                let m = item
                    .recurrence
                    .as_ref()?
                    .modified
                    .iter()
                    .find(|m| m.item.as_ref() == Some(id))?;
                Some((item.clone(), m.clone()))
            })
    }

    /// The calendars, without counting a request (the simulator's view).
    #[cfg(feature = "sim")]
    pub(crate) fn calendar_infos(&self) -> Vec<CalendarInfo> {
        self.lock()
            .calendars
            .values()
            .filter_map(|c| c.info.clone())
            .collect()
    }

    /// A calendar's epoch and change-log length (the simulator's delta
    /// positions), or `None` if it does not exist.
    #[cfg(feature = "sim")]
    pub(crate) fn log_position(&self, calendar: &CalendarId) -> Option<(u64, usize)> {
        let inner = self.lock();
        let cal = inner.calendars.get(calendar)?;
        Some((cal.epoch, cal.log.len()))
    }

    /// Change-log entries `from..to` of a calendar.
    #[cfg(feature = "sim")]
    pub(crate) fn log_entries(
        &self,
        calendar: &CalendarId,
        from: usize,
        to: usize,
    ) -> Vec<(ItemId, bool)> {
        let inner = self.lock();
        inner
            .calendars
            .get(calendar)
            .and_then(|c| c.log.get(from..to.min(c.log.len())))
            .map(<[_]>::to_vec)
            .unwrap_or_default()
    }

    /// An item found by its id in any calendar.
    #[cfg(feature = "sim")]
    pub(crate) fn find_item(&self, id: &ItemId) -> Option<CalendarItem> {
        let inner = self.lock();
        inner
            .calendars
            .values()
            .find_map(|c| c.items.get(id).cloned())
    }

    /// Makes every sync state issued so far invalid.
    pub fn invalidate_states(&self) {
        for cal in self.lock().calendars.values_mut() {
            cal.epoch += 1;
        }
    }

    /// Makes the next call fail with `error` (queued in order). Test
    /// machinery: only with the `sim` feature.
    #[cfg(feature = "sim")]
    pub fn inject_fault(&self, error: MailboxError) {
        self.lock().faults.push_back(error);
    }

    /// How many calls the mailbox has answered or failed.
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// Counts a request and returns a queued fault, if any.
    fn begin(&self) -> Result<MutexGuard<'_, Inner>, MailboxError> {
        let mut inner = self.lock();
        inner.requests += 1;
        #[cfg(feature = "sim")]
        if let Some(fault) = inner.faults.pop_front() {
            return Err(fault);
        }
        Ok(inner)
    }
}

fn parse_state(state: &str) -> Option<(u64, usize)> {
    let (epoch, position) = state.split_once(':')?;
    Some((epoch.parse().ok()?, position.parse().ok()?))
}

#[async_trait]
impl Mailbox for MemoryMailbox {
    fn address(&self) -> &EmailAddress {
        &self.address
    }

    async fn calendars(&self) -> Result<Vec<CalendarInfo>, MailboxError> {
        let inner = self.begin()?;
        Ok(inner
            .calendars
            .values()
            .filter_map(|c| c.info.clone())
            .collect())
    }

    async fn changes(
        &self,
        calendar: &CalendarId,
        state: Option<&SyncState>,
        _window: crate::mailbox::Window,
        max: usize,
    ) -> Result<ChangePage, MailboxError> {
        let inner = self.begin()?;
        let cal = inner
            .calendars
            .get(calendar)
            .ok_or_else(|| MailboxError::CalendarGone(calendar.clone()))?;
        let max = max.max(1);
        let mut page = ChangePage::default();
        // A first sync lists the items that exist now, in id order, page by
        // page; its state is "epoch#log length at start#last id (hex)" until
        // the listing ends. Changes made meanwhile come through the log.
        let listing = match state {
            None => Some((cal.epoch, cal.log.len(), None)),
            Some(state) => match state.as_str().split('#').collect::<Vec<_>>().as_slice() {
                [epoch, log_len, last] => {
                    let parsed = (
                        epoch.parse::<u64>(),
                        log_len.parse::<usize>(),
                        crate::encoding::unhex(last).and_then(|b| String::from_utf8(b).ok()),
                    );
                    let (Ok(epoch), Ok(log_len), Some(last)) = parsed else {
                        return Err(MailboxError::ResyncRequired);
                    };
                    if epoch != cal.epoch || log_len > cal.log.len() {
                        return Err(MailboxError::ResyncRequired);
                    }
                    Some((epoch, log_len, Some(ItemId::new(last))))
                }
                _ => None,
            },
        };
        if let Some((epoch, log_len, after)) = listing {
            let range = match &after {
                None => cal.items.range::<ItemId, _>(..),
                Some(last) => cal
                    .items
                    .range::<ItemId, _>((Bound::Excluded(last), Bound::Unbounded)),
            };
            let mut ids = range.map(|(id, _)| id.clone());
            page.changed = ids.by_ref().take(max).collect();
            page.more = ids.next().is_some();
            let next = match page.changed.last() {
                Some(last) if page.more => format!(
                    "{epoch}#{log_len}#{}",
                    crate::encoding::hex(last.as_str().as_bytes())
                ),
                _ => {
                    // The listing is done; changes made during it are next.
                    page.more = cal.log.len() > log_len;
                    format!("{epoch}:{log_len}")
                }
            };
            page.state = Some(SyncState::new(next));
            return Ok(page);
        }
        let end = state.map(SyncState::as_str).unwrap_or_default();
        let (epoch, position) = parse_state(end).ok_or(MailboxError::ResyncRequired)?;
        if epoch != cal.epoch || position > cal.log.len() {
            return Err(MailboxError::ResyncRequired);
        }
        let pending = cal.log.get(position..).unwrap_or_default();
        let taken = pending.len().min(max);
        let mut latest: BTreeMap<&ItemId, bool> = BTreeMap::new();
        for (id, deleted) in pending.iter().take(taken) {
            latest.insert(id, *deleted);
        }
        for (id, deleted) in latest {
            if deleted {
                page.deleted.push(id.clone());
            } else {
                page.changed.push(id.clone());
            }
        }
        page.more = pending.len() > taken;
        page.state = Some(SyncState::new(format!("{epoch}:{}", position + taken)));
        Ok(page)
    }

    async fn items(
        &self,
        calendar: &CalendarId,
        ids: &[ItemId],
    ) -> Result<Vec<CalendarItem>, MailboxError> {
        let inner = self.begin()?;
        let cal = inner
            .calendars
            .get(calendar)
            .ok_or_else(|| MailboxError::CalendarGone(calendar.clone()))?;
        Ok(ids
            .iter()
            .filter_map(|id| cal.items.get(id).cloned())
            .collect())
    }

    async fn attachment(
        &self,
        item: &ItemId,
        attachment_id: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, MailboxError> {
        let inner = self.begin()?;
        let content = inner
            .attachments
            .get(&(item.clone(), attachment_id.to_owned()))
            .ok_or_else(|| {
                MailboxError::Protocol(format!("no attachment {attachment_id} on item {item}"))
            })?;
        Ok((content.len() as u64 <= max_bytes).then(|| content.clone()))
    }
}

/// Many in-memory mailboxes, opened by address: a [`MailboxSource`].
#[derive(Debug, Default)]
pub struct MemoryOrganisation {
    mailboxes: Mutex<HashMap<EmailAddress, Arc<MemoryMailbox>>>,
}

impl MemoryOrganisation {
    /// An organisation with no mailboxes.
    pub fn new() -> Self {
        Self::default()
    }

    /// The mailbox for `address`, created empty if needed.
    pub fn mailbox(&self, address: &EmailAddress) -> Arc<MemoryMailbox> {
        let mut map = self
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            map.entry(address.clone())
                .or_insert_with(|| Arc::new(MemoryMailbox::new(address.clone()))),
        )
    }

    /// The mailbox for `address`, if it exists.
    pub fn existing(&self, address: &EmailAddress) -> Option<Arc<MemoryMailbox>> {
        self.mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(address)
            .cloned()
    }

    /// Removes a mailbox (later opens fail with "not found").
    pub fn remove(&self, address: &EmailAddress) {
        self.mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(address);
    }
}

#[async_trait]
impl MailboxSource for MemoryOrganisation {
    async fn open(&self, address: &EmailAddress) -> Result<Arc<dyn Mailbox>, MailboxError> {
        let map = self
            .mailboxes
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match map.get(address) {
            Some(mailbox) => Ok(Arc::clone(mailbox) as Arc<dyn Mailbox>),
            None => Err(MailboxError::MailboxNotFound(address.to_string())),
        }
    }
}
