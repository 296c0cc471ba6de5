//! The in-memory mailbox's change log behaves like a server's: a client that
//! applies every page it is given, while the mailbox keeps changing, ends up
//! with exactly the mailbox's items; invalidated states demand a resync.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use calrep_core::calendar::{CalendarId, CalendarInfo, CalendarItem, ItemId, ItemTime};
use calrep_core::mailbox::{Mailbox, MailboxError, MemoryMailbox, SyncState, Window};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u8),
    Delete(u8),
    Sync(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..40, any::<u8>()).prop_map(|(id, v)| Op::Put(id, v)),
        2 => (0u8..40).prop_map(Op::Delete),
        2 => (1usize..6).prop_map(Op::Sync),
    ]
}

fn item(id: u8, version: u8) -> CalendarItem {
    let start = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut item = CalendarItem::new(
        format!("item-{id:02}"),
        format!("uid-{id}"),
        format!("v{version}"),
        ItemTime::Timed { start, end: start },
    );
    item.change_key = version.to_string();
    item
}

/// A client that pulls one page and applies it.
async fn pull(
    mailbox: &MemoryMailbox,
    cal: &CalendarId,
    state: &mut Option<SyncState>,
    replica: &mut BTreeMap<ItemId, String>,
    max: usize,
) -> bool {
    let page = mailbox
        .changes(cal, state.as_ref(), Window::ALL, max)
        .await
        .unwrap();
    let items = mailbox.items(cal, &page.changed).await.unwrap();
    for id in &page.deleted {
        replica.remove(id);
    }
    for item in items {
        replica.insert(item.id.clone(), item.subject.clone());
    }
    *state = page.state;
    page.more
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn paged_sync_under_concurrent_change_converges(ops in prop::collection::vec(op(), 1..80)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let mailbox = MemoryMailbox::new("a@x.com".parse().unwrap());
            let cal = mailbox.add_calendar(CalendarInfo::new("c", "Calendar", true));
            let mut state = None;
            let mut replica = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Put(id, v) => mailbox.put_item(&cal, item(id, v)),
                    Op::Delete(id) => { mailbox.delete_item(&cal, &ItemId::new(format!("item-{id:02}"))); }
                    Op::Sync(max) => { pull(&mailbox, &cal, &mut state, &mut replica, max).await; }
                }
            }
            while pull(&mailbox, &cal, &mut state, &mut replica, 3).await {}
            let truth: BTreeMap<ItemId, String> = mailbox.items_of(&cal).into_iter().map(|i| (i.id.clone(), i.subject.clone())).collect();
            prop_assert_eq!(replica, truth);
            Ok(())
        })?;
    }
}

#[test]
fn invalidated_and_foreign_states_require_a_resync() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mailbox = MemoryMailbox::new("a@x.com".parse().unwrap());
        let cal = mailbox.add_calendar(CalendarInfo::new("c", "Calendar", true));
        mailbox.put_item(&cal, item(1, 1));
        let page = mailbox.changes(&cal, None, Window::ALL, 10).await.unwrap();
        mailbox.invalidate_states();
        let err = mailbox
            .changes(&cal, page.state.as_ref(), Window::ALL, 10)
            .await
            .unwrap_err();
        assert_eq!(err, MailboxError::ResyncRequired);
        let err = mailbox
            .changes(&cal, Some(&SyncState::new("garbage")), Window::ALL, 10)
            .await
            .unwrap_err();
        assert_eq!(err, MailboxError::ResyncRequired);
        let err = mailbox
            .changes(&CalendarId::new("gone"), None, Window::ALL, 10)
            .await
            .unwrap_err();
        assert!(matches!(err, MailboxError::CalendarGone(_)));
        mailbox.inject_fault(MailboxError::Transport("reset".into()));
        assert!(mailbox.calendars().await.unwrap_err().is_retryable());
        assert_eq!(mailbox.calendars().await.unwrap().len(), 1);
    });
}
