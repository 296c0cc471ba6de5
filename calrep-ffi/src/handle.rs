//! Which handles are alive. Every handle the library gives out is recorded
//! here with its type, and forgotten when it is freed, so that a freed,
//! forged or mistyped pointer is refused with `CALREP_STATUS_STALE_HANDLE`
//! instead of being read, and freeing one twice does nothing. The check
//! never dereferences the pointer; an address the allocator has since
//! handed to a new handle of the same type cannot be told apart (as in any
//! C API).

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use crate::error::Failure;
use crate::status::calrep_status;

fn live() -> &'static Mutex<HashMap<usize, TypeId>> {
    static LIVE: OnceLock<Mutex<HashMap<usize, TypeId>>> = OnceLock::new();
    LIVE.get_or_init(Mutex::default)
}

/// A type the library hands out as an opaque pointer.
pub(crate) trait Handle: Sized + 'static {
    /// Its C name, for messages.
    const NAME: &'static str;

    /// Boxes the value and records the pointer as live.
    fn into_handle(self) -> *mut Self {
        let p = Box::into_raw(Box::new(self));
        live()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(p as usize, TypeId::of::<Self>());
        p
    }

    /// Whether `p` is a live handle of this type.
    fn is_live(p: *const Self) -> bool {
        live()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(p as usize))
            == Some(&TypeId::of::<Self>())
    }

    /// The handle behind a required argument: NULL is `NullParameter`, a
    /// pointer that is not a live handle of this type is `StaleHandle`.
    ///
    /// # Safety
    ///
    /// The host does not free the handle while the reference is in use.
    unsafe fn arg<'a>(p: *const Self, name: &str) -> Result<&'a Self, Failure> {
        if p.is_null() {
            return Err(Failure::new(
                calrep_status::NullParameter,
                format!("{name} is NULL"),
            ));
        }
        if !Self::is_live(p) {
            return Err(Failure::new(
                calrep_status::StaleHandle,
                format!(
                    "{name} is not a live {}: freed already, or not made by calrep",
                    Self::NAME
                ),
            ));
        }
        // SAFETY: recorded as live with this type, so it came from
        // `into_handle` and has not been freed.
        Ok(unsafe { &*p })
    }

    /// Takes a live handle back to drop it; `None` for NULL, a handle freed
    /// already, or a pointer calrep did not make.
    fn release(p: *mut Self) -> Option<Box<Self>> {
        let mut live = live().lock().unwrap_or_else(PoisonError::into_inner);
        if p.is_null() || live.get(&(p as usize)) != Some(&TypeId::of::<Self>()) {
            return None;
        }
        live.remove(&(p as usize));
        if live.is_empty() {
            // Give the table's memory back: hashbrown keeps a pointer into
            // the middle of its allocation, which valgrind counts as
            // "possibly lost" at exit when the last handle is gone.
            *live = HashMap::new();
        }
        // SAFETY: it was live with this type: made by `into_handle`, and now
        // forgotten, so this is the only release.
        Some(unsafe { Box::from_raw(p) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Thing(u32);
    impl Handle for Thing {
        const NAME: &'static str = "thing";
    }
    #[derive(Debug)]
    struct Other;
    impl Handle for Other {
        const NAME: &'static str = "other";
    }

    #[test]
    fn a_freed_handle_is_refused_and_a_second_free_does_nothing() {
        let p = Thing(7).into_handle();
        // SAFETY: live until released below.
        assert_eq!(unsafe { Thing::arg(p, "thing") }.map(|t| t.0).ok(), Some(7));
        assert!(Thing::release(p).is_some());
        // SAFETY: the check refuses it without reading it.
        let stale = unsafe { Thing::arg(p, "thing") }.map(|_| ()).err();
        assert_eq!(stale.map(|f| f.status), Some(calrep_status::StaleHandle));
        assert!(Thing::release(p).is_none());
    }

    #[test]
    fn a_handle_of_another_type_is_refused() {
        let p = Other.into_handle();
        let forged = p.cast::<Thing>();
        // SAFETY: the check refuses it without reading it.
        let e = unsafe { Thing::arg(forged, "engine") }.map(|_| ()).err();
        assert_eq!(e.map(|f| f.status), Some(calrep_status::StaleHandle));
        assert!(Thing::release(forged).is_none());
        assert!(Other::release(p).is_some());
    }
}
