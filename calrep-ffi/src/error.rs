//! The error object: a status and a message, owned by the library.

use std::ffi::{CString, c_char};

use calrep_core::Classify;

use crate::handle::Handle;
use crate::status::calrep_status;

/// An error: its status and a message in words. Created by the library,
/// freed with `calrep_error_free`.
#[derive(Debug)]
pub struct calrep_error {
    status: calrep_status,
    message: CString,
}

/// What failed inside the library, before it becomes a `calrep_error`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: calrep_status,
    pub(crate) message: String,
}

impl Handle for calrep_error {
    const NAME: &'static str = "calrep_error";
}

impl<E: Classify> From<E> for Failure {
    /// The one conversion of core's errors: their kind's status, their text.
    fn from(e: E) -> Self {
        Self::new(e.kind().into(), e.to_string())
    }
}

impl Failure {
    pub(crate) fn new(status: calrep_status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn into_error(self) -> calrep_error {
        // Interior NULs cannot appear in a C string; they are shown as U+FFFD.
        let text = self.message.replace('\0', "\u{fffd}");
        calrep_error {
            status: self.status,
            message: CString::new(text).unwrap_or_default(),
        }
    }
}

/// The error's status.
///
/// Returns `CALREP_STATUS_NULL_PARAMETER` for NULL.
///
/// # Safety
///
/// `error` is NULL or an error the library returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_error_status(error: *const calrep_error) -> calrep_status {
    // SAFETY: the host keeps the error until it frees it.
    match unsafe { calrep_error::arg(error, "error") } {
        Ok(e) => e.status,
        Err(f) => f.status,
    }
}

/// The error's message, UTF-8, NUL-terminated; valid until the error is
/// freed. An empty string for NULL.
///
/// # Safety
///
/// `error` is NULL or an error the library returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_error_message(error: *const calrep_error) -> *const c_char {
    // SAFETY: the host keeps the error until it frees it.
    match unsafe { calrep_error::arg(error, "error") } {
        Ok(e) => e.message.as_ptr(),
        Err(_) => c"".as_ptr(),
    }
}

/// Frees an error. NULL does nothing.
///
/// # Safety
///
/// `error` is NULL or an error the library returned, freed only once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_error_free(error: *mut calrep_error) {
    drop(calrep_error::release(error));
}
