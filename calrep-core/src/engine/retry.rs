//! Retrying source calls: wait exactly as long as a throttling server asks,
//! back off exponentially after transport errors, and count it all.

use std::future::Future;
use std::time::Duration;

use crate::mailbox::MailboxError;

/// Retry settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) base_backoff: Duration,
}

/// What calls to one mailbox cost.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct CallStats {
    pub(crate) requests: u64,
    pub(crate) retries: u64,
    pub(crate) throttled: Duration,
}

impl RetryPolicy {
    /// Runs `call` until it succeeds, fails for good, or the retries run out.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        stats: &mut CallStats,
        mut call: F,
    ) -> Result<T, MailboxError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, MailboxError>>,
    {
        let mut attempt = 0u32;
        loop {
            stats.requests += 1;
            match call().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && attempt < self.max_retries => {
                    attempt += 1;
                    stats.retries += 1;
                    let wait = match &e {
                        MailboxError::Throttled { retry_after } => {
                            stats.throttled += *retry_after;
                            *retry_after
                        }
                        _ => self.base_backoff.saturating_mul(1 << attempt.min(10)),
                    };
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
