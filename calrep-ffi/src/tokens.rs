//! Access tokens from the host: sites configured with `host_tokens = true`
//! ask a host callback (MSAL, a managed identity…) for every EWS request's
//! bearer token.

use std::ffi::c_void;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use calrep_core::Secret;
use calrep_core::ews::TokenAnswer;

use crate::boundary::{guard, text};
use crate::error::{Failure, calrep_error};
use crate::events::HostCallback;
use crate::handle::Handle;
use crate::status::calrep_status;

/// Asks the host for an access token for the site `site` (UTF-8, `site_len`
/// bytes, not NUL-terminated). The callback answers through `request`
/// before it returns: `calrep_token_request_set` with the token, or
/// `calrep_token_request_fail` with the reason, and returns 0
/// (`CALREP_STATUS_OK`; any other number fails the request too). calrep asks
/// before every EWS request, so the host caches tokens. Called on a
/// blocking thread of the runtime, possibly on several at once; it may
/// block (to fetch a token), and must not unwind.
pub type calrep_token_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        site: *const u8,
        site_len: usize,
        request: *mut calrep_token_request,
    ) -> u32,
>;

// The status comes back as a plain number: a value outside the enum from
// C must not be undefined behaviour.
pub(crate) type TokenFn =
    unsafe extern "C" fn(*mut c_void, *const u8, usize, *mut calrep_token_request) -> u32;

/// One request for a token, answered by the token callback; valid only
/// during the call.
pub struct calrep_token_request {
    answer: Mutex<Option<Result<Secret, String>>>,
}

impl fmt::Debug for calrep_token_request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the token itself.
        f.write_str("calrep_token_request")
    }
}

impl Handle for calrep_token_request {
    const NAME: &'static str = "calrep_token_request";
}

/// Answers a token request with the access token (without `Bearer `).
///
/// # Safety
///
/// `request` is the request passed to the running callback; `token` points
/// to `token_len` bytes; `error_out` is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_token_request_set(
    request: *const calrep_token_request,
    token: *const u8,
    token_len: usize,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: as documented.
        let (request, token) = unsafe {
            (
                calrep_token_request::arg(request, "request")?,
                text(token, token_len, "token")?,
            )
        };
        if token.is_empty() {
            return Err(Failure::new(
                calrep_status::InvalidArgument,
                "token is empty",
            ));
        }
        request.set(Ok(Secret::new(token)));
        Ok(())
    })
}

/// Answers a token request with the reason no token can be had (it appears
/// in the mailbox's error).
///
/// # Safety
///
/// As `calrep_token_request_set`, with `reason`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_token_request_fail(
    request: *const calrep_token_request,
    reason: *const u8,
    reason_len: usize,
    error_out: *mut *mut calrep_error,
) -> calrep_status {
    guard(error_out, || {
        // SAFETY: as documented.
        let (request, reason) = unsafe {
            (
                calrep_token_request::arg(request, "request")?,
                text(reason, reason_len, "reason")?,
            )
        };
        request.set(Err(reason.to_owned()));
        Ok(())
    })
}

impl calrep_token_request {
    fn set(&self, answer: Result<Secret, String>) {
        *self.answer.lock().unwrap_or_else(PoisonError::into_inner) = Some(answer);
    }
}

/// Asks the host's callback for a token for `site` (on a blocking thread:
/// see `calrep_core::ews::BlockingTokens`).
pub(crate) fn ask(callback: &HostCallback<TokenFn>, site: &str) -> TokenAnswer {
    let request = calrep_token_request {
        answer: Mutex::new(None),
    }
    .into_handle();
    // SAFETY: the host registered this callback for this data; the request
    // is live until released below, after the call.
    let status = unsafe { (callback.f)(callback.user_data, site.as_ptr(), site.len(), request) };
    let answer = calrep_token_request::release(request).and_then(|r| {
        r.answer
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
    });
    match (status, answer) {
        (0, Some(Ok(token))) => Ok(token),
        (_, Some(Err(reason))) => Err(format!("failed: {reason}")),
        (0, None) => Err("returned without answering the request".into()),
        (status, _) => Err(format!("returned status {status}")),
    }
}
