//! Property tests over hostile page sequences: a scripted mailbox answers
//! `changes` from a random, endlessly repeating script — pages that say
//! "more" with a new or the same state, refused states, throttling with any
//! duration (zero and `u64::MAX` included), dropped connections — and every
//! run must end, without a panic, within a bounded number of calls, with
//! the mailbox healthy or failed alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use calrep_core::EmailAddress;
use calrep_core::calendar::{CalendarId, CalendarInfo, CalendarItem, ItemId};
use calrep_core::engine::{EngineOptions, MailboxOutcome, RunOptions};
use calrep_core::mailbox::{ChangePage, Mailbox, MailboxError, MailboxSource, SyncState};
use calrep_testkit::fixture::{config, engine_with_source, single};
use proptest::prelude::*;

/// One answer of the script.
#[derive(Debug, Clone)]
enum Step {
    Page { more: bool, same_state: bool },
    Resync,
    Throttle(u64),
    Reset,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (any::<bool>(), any::<bool>())
            .prop_map(|(more, same_state)| Step::Page { more, same_state }),
        Just(Step::Resync),
        prop_oneof![Just(0u64), 0u64..20, Just(u64::MAX), any::<u64>()].prop_map(Step::Throttle),
        Just(Step::Reset),
    ]
}

#[derive(Debug)]
struct Scripted {
    address: EmailAddress,
    script: Vec<Step>,
    calls: AtomicU64,
}

#[async_trait]
impl Mailbox for Scripted {
    fn address(&self) -> &EmailAddress {
        &self.address
    }

    async fn calendars(&self) -> Result<Vec<CalendarInfo>, MailboxError> {
        Ok(vec![CalendarInfo::new("cal", "Calendar", true)])
    }

    async fn changes(
        &self,
        _calendar: &CalendarId,
        state: Option<&SyncState>,
        _window: calrep_core::mailbox::Window,
        _max: usize,
    ) -> Result<ChangePage, MailboxError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let step = &self.script[usize::try_from(n).unwrap() % self.script.len()];
        let mut page = ChangePage::default();
        match step {
            Step::Page { more, same_state } => {
                page.changed = vec![ItemId::new(format!("i{}", n % 3))];
                page.more = *more;
                page.state = match (same_state, state) {
                    (true, Some(s)) => Some(s.clone()),
                    _ => Some(SyncState::new(format!("s{n}"))),
                };
                Ok(page)
            }
            Step::Resync => Err(MailboxError::ResyncRequired),
            Step::Throttle(ms) => Err(MailboxError::Throttled {
                retry_after: Duration::from_millis(*ms),
            }),
            Step::Reset => Err(MailboxError::Transport("connection reset".into())),
        }
    }

    async fn items(
        &self,
        _calendar: &CalendarId,
        ids: &[ItemId],
    ) -> Result<Vec<CalendarItem>, MailboxError> {
        Ok(ids.iter().map(|id| single(id.as_str(), "x", 1)).collect())
    }

    async fn attachment(
        &self,
        _item: &ItemId,
        _id: &str,
        _max: u64,
    ) -> Result<Option<Vec<u8>>, MailboxError> {
        Ok(None)
    }
}

#[derive(Debug)]
struct OneScripted(Arc<Scripted>);

#[async_trait]
impl MailboxSource for OneScripted {
    async fn open(&self, _address: &EmailAddress) -> Result<Arc<dyn Mailbox>, MailboxError> {
        Ok(self.0.clone())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_page_script_ends_bounded_with_the_mailbox_healthy_or_failed(
        script in proptest::collection::vec(step(), 1..12),
    ) {
        let mailbox = Arc::new(Scripted {
            address: "a@example.com".parse().unwrap(),
            script,
            calls: AtomicU64::new(0),
        });
        let mut options = EngineOptions::default();
        options.base_backoff = Duration::from_millis(1);
        options.max_wait = Duration::from_millis(30);
        options.max_pages_per_calendar = 40;
        let engine = engine_with_source(
            config(&[("t", "default", r#"{ mailbox = "a@example.com" }"#)]),
            Arc::new(OneScripted(mailbox.clone())),
            options,
        );
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let report = rt
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(30), engine.run_task(&"t".into(), RunOptions::default())).await
            })
            .expect("the run ended")
            .unwrap();
        let outcome = &report.mailboxes[0].outcome;
        prop_assert!(
            matches!(outcome, MailboxOutcome::Healthy | MailboxOutcome::Failed { .. }),
            "{outcome:?}"
        );
        // Pages (twice: one resync) times the retries a call may make.
        let calls = mailbox.calls.load(Ordering::SeqCst);
        prop_assert!(calls <= 2 * 40 * 60, "{calls} calls");
    }
}
