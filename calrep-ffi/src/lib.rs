//! The C ABI of calrep.
//!
//! Only the version query exists so far; the handles, status codes, runs and
//! callbacks arrive with the C ABI work (see the README's roadmap). Nothing
//! here pretends otherwise.

use std::ffi::c_char;

/// The library version as a NUL-terminated string, `"calrep-ffi/x.y.z"`.
/// The pointer is static: never free it.
#[unsafe(no_mangle)]
pub extern "C" fn calrep_version() -> *const c_char {
    static VERSION: &str = concat!("calrep-ffi/", env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_is_nul_terminated_and_matches_the_package() {
        // SAFETY: calrep_version returns a pointer to a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(super::calrep_version()) };
        assert_eq!(
            text.to_str().unwrap(),
            format!("calrep-ffi/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
