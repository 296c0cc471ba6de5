//! Access tokens from a Python callable, for sites with
//! `host_tokens = true` (MSAL, azure-identity…).

use calrep_core::Secret;
use calrep_core::ews::TokenAnswer;
use pyo3::prelude::*;

/// `provider(site)`, on the blocking thread `calrep_core::ews::BlockingTokens`
/// calls it from.
pub(crate) fn ask(provider: &Py<PyAny>, site: &str) -> TokenAnswer {
    crate::runtime::attach_from_worker(|py| {
        let token = provider
            .call1(py, (site,))
            .map_err(|e| format!("raised {e}"))?;
        let token: String = token
            .extract(py)
            .map_err(|_| "returned something other than a str".to_owned())?;
        if token.is_empty() {
            return Err("returned an empty token".into());
        }
        Ok(Secret::new(token))
    })
    .unwrap_or_else(|| Err("could not be asked: the Python interpreter is shutting down".into()))
}
