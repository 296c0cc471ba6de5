//! Retrying source calls: wait as long as a throttling server asks (within
//! a cap), back off exponentially after transport errors, stop waiting the
//! moment a shutdown or a run's cancel is requested, and count it all.
//!
//! Two budgets, because they guard against different things: transport
//! errors (a broken connection) get `max_retries` attempts, while a server
//! that says "busy, come back in N ms" is obeyed without spending that
//! budget — a busy storm must not fail healthy mailboxes — but its waits
//! are bounded one by one (`max_wait`), in total per call (twice that),
//! and in number, so no server can hold a mailbox for ever.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;

use crate::mailbox::MailboxError;
use crate::stop::StopSignal;

/// Retry settings.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) base_backoff: Duration,
    /// The longest single wait a server may ask for; a longer ask fails
    /// the call as throttled until then. One call's throttling waits
    /// together may take twice this.
    pub(crate) max_wait: Duration,
    /// Any of these requested ends every wait at once.
    pub(crate) stops: Vec<StopSignal>,
    /// Where throttling waits are recorded for the run's wall-clock figure.
    pub(crate) log: Option<std::sync::Arc<ThrottleLog>>,
}

/// The intervals a run's mailboxes spent waiting on throttling, so that
/// the report can say how long the run as a whole was held up (waits of
/// several mailboxes overlap; their sum says little).
#[derive(Debug, Default)]
pub(crate) struct ThrottleLog {
    spans: std::sync::Mutex<Vec<(std::time::Instant, std::time::Instant)>>,
}

impl ThrottleLog {
    fn record(&self, from: std::time::Instant, to: std::time::Instant) {
        self.spans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((from, to));
    }

    /// The length of the union of the recorded waits, in milliseconds.
    pub(crate) fn wall_ms(&self) -> u64 {
        let mut spans = self
            .spans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        spans.sort();
        let mut total = Duration::ZERO;
        let mut current: Option<(std::time::Instant, std::time::Instant)> = None;
        for (from, to) in spans {
            current = match current {
                Some((a, b)) if from <= b => Some((a, b.max(to))),
                Some((a, b)) => {
                    total += b - a;
                    Some((from, to))
                }
                None => Some((from, to)),
            };
        }
        if let Some((a, b)) = current {
            total += b - a;
        }
        u64::try_from(total.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Throttling answers one call accepts: a server asking for no wait at all
/// (`BackOffMilliseconds` of 0) again and again must not spin for ever.
const MAX_THROTTLED_ANSWERS: u32 = 50;

/// What calls to one mailbox cost.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallStats {
    /// Source calls made (each may be several HTTP requests).
    pub(crate) calls: u64,
    /// HTTP requests, where the source counts them.
    pub(crate) http: Option<u64>,
    pub(crate) retries: u64,
    pub(crate) throttled: Duration,
}

/// Transport retries of one call before it fails.
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 5;
/// The first back-off after a transport error.
pub(crate) const DEFAULT_BASE_BACKOFF: Duration = Duration::from_millis(500);

impl Default for RetryPolicy {
    /// The configuration's defaults, with no stop signal.
    fn default() -> Self {
        let settings = crate::config::EngineSettings::default();
        Self {
            max_retries: DEFAULT_MAX_RETRIES,
            base_backoff: DEFAULT_BASE_BACKOFF,
            max_wait: Duration::from_secs(u64::from(settings.max_wait_seconds)),
            stops: Vec::new(),
            log: None,
        }
    }
}

impl RetryPolicy {
    /// Runs `call` until it succeeds, fails for good, or a budget runs out.
    /// A stop requested during a wait returns the error that caused it.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        stats: &mut CallStats,
        mut call: F,
    ) -> Result<T, MailboxError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, MailboxError>>,
    {
        let mut transport_attempts = 0u32;
        let mut throttled_answers = 0u32;
        let mut throttled_here = Duration::ZERO;
        let max_throttled_total = self.max_wait.saturating_mul(2);
        loop {
            stats.calls = stats.calls.saturating_add(1);
            let error = match call().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let wait = match &error {
                MailboxError::Throttled { retry_after } => {
                    throttled_answers += 1;
                    if *retry_after > self.max_wait
                        || throttled_here.saturating_add(*retry_after) > max_throttled_total
                    {
                        return Err(throttled_until(*retry_after, self.max_wait));
                    }
                    if throttled_answers > MAX_THROTTLED_ANSWERS {
                        return Err(MailboxError::Protocol(format!(
                            "the server throttled one request {MAX_THROTTLED_ANSWERS} times in a row; a later run tries again"
                        )));
                    }
                    throttled_here = throttled_here.saturating_add(*retry_after);
                    stats.throttled = stats.throttled.saturating_add(*retry_after);
                    *retry_after
                }
                MailboxError::Transport(_) if transport_attempts < self.max_retries => {
                    transport_attempts += 1;
                    self.base_backoff
                        .saturating_mul(1 << transport_attempts.min(10))
                        .min(self.max_wait)
                }
                _ => return Err(error),
            };
            stats.retries = stats.retries.saturating_add(1);
            let began = std::time::Instant::now();
            let stopped = self.sleep(wait).await;
            if let (Some(log), MailboxError::Throttled { .. }) = (&self.log, &error) {
                log.record(began, std::time::Instant::now());
            }
            if stopped {
                return Err(error);
            }
        }
    }

    /// Sleeps for `wait` unless a stop comes first; returns whether one did.
    pub(crate) async fn sleep(&self, wait: Duration) -> bool {
        if self.stops.iter().any(StopSignal::is_requested) {
            return true;
        }
        if self.stops.is_empty() {
            tokio::time::sleep(wait).await;
            return false;
        }
        let stopped = self.stops.iter().map(|s| Box::pin(s.wait(wait)));
        futures_util::future::select_all(stopped).await.0
    }
}

/// The error for a server that asks for a longer wait than calrep accepts:
/// the mailbox fails now and is tried again by a later run.
fn throttled_until(asked: Duration, cap: Duration) -> MailboxError {
    let until = chrono::TimeDelta::from_std(asked)
        .ok()
        .and_then(|d| Utc::now().checked_add_signed(d));
    MailboxError::ThrottledTooLong {
        asked_seconds: asked.as_secs(),
        cap_seconds: cap.as_secs(),
        until,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 2,
            base_backoff: Duration::from_millis(1),
            max_wait: Duration::from_millis(50),
            stops: vec![StopSignal::new()],
            log: None,
        }
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn throttling_within_the_cap_does_not_spend_the_transport_budget() {
        let mut stats = CallStats::default();
        let mut n = 0;
        // Ten throttled answers, then success: more than max_retries (2).
        let result = rt().block_on(policy().run(&mut stats, || {
            n += 1;
            let answer = if n <= 10 {
                Err(MailboxError::Throttled {
                    retry_after: Duration::from_millis(1),
                })
            } else {
                Ok(n)
            };
            async move { answer }
        }));
        assert_eq!(result, Ok(11));
        assert_eq!(stats.retries, 10);
    }

    #[test]
    fn a_wait_beyond_the_cap_fails_at_once_as_throttled_until() {
        let mut stats = CallStats::default();
        let started = std::time::Instant::now();
        let result: Result<(), _> = rt().block_on(policy().run(&mut stats, || async {
            Err(MailboxError::Throttled {
                retry_after: Duration::from_secs(u64::MAX),
            })
        }));
        assert!(started.elapsed() < Duration::from_secs(1));
        let e = result.unwrap_err();
        assert!(
            matches!(e, MailboxError::ThrottledTooLong { until: None, .. }),
            "{e:?}"
        );
        assert!(e.to_string().contains("longer than the"), "{e}");
    }

    #[test]
    fn the_total_throttled_time_per_call_is_bounded() {
        let mut stats = CallStats::default();
        let result: Result<(), _> = rt().block_on(policy().run(&mut stats, || async {
            Err(MailboxError::Throttled {
                retry_after: Duration::from_millis(40),
            })
        }));
        assert!(matches!(result, Err(MailboxError::ThrottledTooLong { .. })));
        // Two waits of 40 ms fit in twice the 50 ms cap; a third does not.
        assert_eq!(stats.throttled, Duration::from_millis(80));
    }

    #[test]
    fn endless_zero_waits_end() {
        let mut stats = CallStats::default();
        let result: Result<(), _> = rt().block_on(policy().run(&mut stats, || async {
            Err(MailboxError::Throttled {
                retry_after: Duration::ZERO,
            })
        }));
        assert!(
            matches!(result, Err(MailboxError::Protocol(_))),
            "{result:?}"
        );
        assert_eq!(stats.calls, u64::from(MAX_THROTTLED_ANSWERS) + 1);
    }

    #[test]
    fn transport_errors_spend_their_budget() {
        let mut stats = CallStats::default();
        let result: Result<(), _> = rt().block_on(policy().run(&mut stats, || async {
            Err(MailboxError::Transport("reset".into()))
        }));
        assert!(matches!(result, Err(MailboxError::Transport(_))));
        assert_eq!(stats.calls, 3);
    }

    #[test]
    fn a_stop_ends_a_wait_promptly() {
        let mut p = policy();
        p.max_wait = Duration::from_secs(3600);
        let stop = p.stops[0].clone();
        let rt = rt();
        let started = std::time::Instant::now();
        let result: Result<(), _> = rt.block_on(async {
            let canceller = async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                stop.request();
                std::future::pending::<()>().await;
            };
            let mut stats = CallStats::default();
            let call = p.run(&mut stats, || async {
                Err(MailboxError::Throttled {
                    retry_after: Duration::from_secs(3000),
                })
            });
            futures_util::pin_mut!(call, canceller);
            match futures_util::future::select(call, canceller).await {
                futures_util::future::Either::Left((r, _)) => r,
                futures_util::future::Either::Right(_) => unreachable!(),
            }
        });
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(matches!(result, Err(MailboxError::Throttled { .. })));
    }
}
