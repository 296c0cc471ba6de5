//! Strings the library returns: owned by it, freed with its own function.

use std::ffi::{CString, c_char};

use crate::error::Failure;
use crate::handle::Handle;
use crate::status::calrep_status;

/// A UTF-8 string owned by the library (a JSON report, an iCalendar
/// document, a URL). Read it with `calrep_string_ptr` / `calrep_string_len`
/// and free it with `calrep_string_free`.
#[derive(Debug)]
pub struct calrep_string {
    text: CString,
}

impl Handle for calrep_string {
    const NAME: &'static str = "calrep_string";
}

impl calrep_string {
    /// Boxes `text` for the caller (interior NULs, which JSON and iCalendar
    /// never contain, become U+FFFD).
    pub(crate) fn boxed(text: String) -> *mut calrep_string {
        // A NUL would end the text early for C: replaced (rare, so the scan
        // comes first and the common case keeps its buffer).
        let text = if text.contains('\0') {
            text.replace('\0', "\u{fffd}")
        } else {
            text
        };
        let text = CString::new(text).unwrap_or_default();
        calrep_string { text }.into_handle()
    }
}

/// `value` as compact JSON for the caller. Serializing calrep's own types
/// cannot fail; if it ever did, that is a bug, reported as an internal
/// failure (not a panic: nothing panicked).
pub(crate) fn json(value: &impl serde::Serialize) -> Result<*mut calrep_string, Failure> {
    encoded(serde_json::to_string(value))
}

/// [`json`], indented for people.
pub(crate) fn json_pretty(value: &impl serde::Serialize) -> Result<*mut calrep_string, Failure> {
    encoded(serde_json::to_string_pretty(value))
}

fn encoded(text: serde_json::Result<String>) -> Result<*mut calrep_string, Failure> {
    text.map(calrep_string::boxed)
        .map_err(|e| Failure::new(calrep_status::Internal, format!("cannot write JSON: {e}")))
}

/// The string's bytes, NUL-terminated; valid until it is freed. An empty
/// string for NULL.
///
/// # Safety
///
/// `s` is NULL or a string the library returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_string_ptr(s: *const calrep_string) -> *const c_char {
    // SAFETY: the host keeps the string until it frees it.
    match unsafe { calrep_string::arg(s, "s") } {
        Ok(s) => s.text.as_ptr(),
        Err(_) => c"".as_ptr(),
    }
}

/// The string's length in bytes, without the NUL; 0 for NULL.
///
/// # Safety
///
/// `s` is NULL or a string the library returned and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_string_len(s: *const calrep_string) -> usize {
    // SAFETY: the host keeps the string until it frees it.
    unsafe { calrep_string::arg(s, "s") }.map_or(0, |s| s.text.as_bytes().len())
}

/// Frees a string. NULL does nothing.
///
/// # Safety
///
/// `s` is NULL or a string the library returned, freed only once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calrep_string_free(s: *mut calrep_string) {
    drop(calrep_string::release(s));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a C host reads back: the bytes up to the terminating NUL.
    fn read_back(text: &str) -> String {
        let s = calrep_string::boxed(text.to_owned());
        // SAFETY: `s` was just returned and is freed once, below.
        let (ptr, len) = unsafe { (calrep_string_ptr(s), calrep_string_len(s)) };
        // SAFETY: the library's string is NUL-terminated and alive.
        let read = unsafe { std::ffi::CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned();
        assert_eq!(read.len(), len, "the length a host is told");
        // SAFETY: returned above, not freed before.
        unsafe { calrep_string_free(s) };
        read
    }

    #[test]
    fn a_nul_inside_the_text_is_replaced_not_an_early_end() {
        assert_eq!(read_back("a\0b"), "a\u{fffd}b");
        assert_eq!(
            read_back("[\"2026-03-01T08:00:00Z\"]"),
            "[\"2026-03-01T08:00:00Z\"]"
        );
        assert_eq!(read_back(""), "");
    }
}
