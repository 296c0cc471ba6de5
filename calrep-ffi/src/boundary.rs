//! The boundary every export goes through: panics caught, NULLs and bad
//! UTF-8 refused with a status, errors turned into error objects, outputs
//! written only on success.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::error::{Failure, calrep_error};
use crate::handle::Handle;
use crate::status::calrep_status;

/// Runs `body`; on failure (or a panic) fills `*error_out` when it is not
/// NULL and returns the status.
pub(crate) fn guard(
    error_out: *mut *mut calrep_error,
    body: impl FnOnce() -> Result<(), Failure>,
) -> calrep_status {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return calrep_status::Ok,
        Ok(Err(failure)) => failure,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Failure::new(
                calrep_status::Panic,
                format!("calrep panicked (a bug): {what}"),
            )
        }
    };
    let status = failure.status;
    if !error_out.is_null() {
        // SAFETY: the caller passes NULL or a writable pointer.
        unsafe { *error_out = failure.into_error().into_handle() };
    }
    status
}

/// A required pointer argument, or `NullParameter` naming it.
pub(crate) fn non_null<T>(p: *const T, name: &str) -> Result<*const T, Failure> {
    if p.is_null() {
        Err(Failure::new(
            calrep_status::NullParameter,
            format!("{name} is NULL"),
        ))
    } else {
        Ok(p)
    }
}

/// A UTF-8 string argument given as pointer and length (no NUL needed).
///
/// # Safety
///
/// `ptr` points to `len` readable bytes, or is NULL.
pub(crate) unsafe fn text<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        if len == 0 {
            return Ok("");
        }
        return Err(Failure::new(
            calrep_status::NullParameter,
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: the caller guarantees `len` readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            calrep_status::InvalidUtf8,
            format!("{name} is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    // A NUL inside would cut the text short wherever it is passed on as a
    // C string, so it is refused rather than silently truncated.
    match text.bytes().position(|b| b == 0) {
        Some(at) => Err(Failure::new(
            calrep_status::InvalidArgument,
            format!("{name} contains a NUL byte (at byte {at})"),
        )),
        None => Ok(text),
    }
}

/// An out-pointer argument: checked non-NULL when the call starts (before
/// any work, so a NULL costs nothing), written once when it succeeds.
#[derive(Debug)]
pub(crate) struct Out<T>(std::ptr::NonNull<T>);

impl<T> Out<T> {
    /// The out-pointer `p`, or `NullParameter` naming it.
    ///
    /// # Safety
    ///
    /// `p` is NULL or valid for writing a `T` until the call returns.
    pub(crate) unsafe fn new(p: *mut T, name: &str) -> Result<Self, Failure> {
        std::ptr::NonNull::new(p)
            .map(Self)
            .ok_or_else(|| Failure::new(calrep_status::NullParameter, format!("{name} is NULL")))
    }

    /// Gives the caller `value`.
    pub(crate) fn put(self, value: T) {
        // SAFETY: non-NULL and writable, as `new`'s caller promised.
        unsafe { self.0.as_ptr().write(value) };
    }
}
