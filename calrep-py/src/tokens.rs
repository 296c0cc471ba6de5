//! Access tokens from a Python callable, for sites with
//! `host_tokens = true` (MSAL, azure-identity…).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use calrep_core::Secret;
use calrep_core::ews::TokenProvider;
use calrep_core::mailbox::MailboxError;
use pyo3::prelude::*;

/// Calls `provider(site)` for each request's token.
pub(crate) struct PyTokens {
    pub(crate) provider: Arc<Py<PyAny>>,
    pub(crate) site: String,
}

impl fmt::Debug for PyTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PyTokens")
            .field("site", &self.site)
            .finish()
    }
}

#[async_trait]
impl TokenProvider for PyTokens {
    async fn token(&self) -> Result<Secret, MailboxError> {
        let provider = Arc::clone(&self.provider);
        let site = self.site.clone();
        // The provider may block on the network: a blocking thread, never a
        // worker.
        tokio::task::spawn_blocking(move || ask(&provider, &site))
            .await
            .unwrap_or_else(|e| {
                Err(MailboxError::Unauthorized(format!(
                    "the token provider did not return: {e}"
                )))
            })
    }
}

fn ask(provider: &Py<PyAny>, site: &str) -> Result<Secret, MailboxError> {
    Python::attach(|py| {
        let failed = |why: String| {
            MailboxError::Unauthorized(format!("the token provider for site {site} {why}"))
        };
        let token = provider
            .call1(py, (site,))
            .map_err(|e| failed(format!("raised {e}")))?;
        let token: String = token
            .extract(py)
            .map_err(|_| failed("returned something other than a str".into()))?;
        if token.is_empty() {
            return Err(failed("returned an empty token".into()));
        }
        Ok(Secret::new(token))
    })
}
