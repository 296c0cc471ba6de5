//! Progress events: pushed to a host callback and kept in a bounded queue
//! the host can pull from with a timeout, each as one JSON object
//! (`{"event": "mailbox_finished", "address": …, "outcome": …}`).

use std::ffi::{CString, c_char, c_void};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use calrep_core::engine::{Event, EventQueue, EventSink};

/// Receives each progress event as JSON (`json` is NUL-terminated, `len`
/// bytes without the NUL, valid only during the call). Called on a runtime
/// thread; it must return quickly and must not unwind (catch every
/// exception).
pub type calrep_event_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, json: *const c_char, len: usize)>;

/// Called exactly once with `user_data` when the library no longer needs it.
pub type calrep_finalizer = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// How many events the queue keeps; older ones are dropped when it is full.
const QUEUE_LIMIT: usize = 10_000;

/// A host's callback with its data, finalized once when dropped.
pub(crate) struct HostCallback<F: Copy> {
    pub(crate) f: F,
    pub(crate) user_data: *mut c_void,
    pub(crate) finalizer: calrep_finalizer,
}

// SAFETY: the API documents that callbacks and their user data may be used
// from any thread; the host promises that by registering them.
unsafe impl<F: Copy> Send for HostCallback<F> {}
// SAFETY: as above; the library never touches `user_data` itself.
unsafe impl<F: Copy> Sync for HostCallback<F> {}

impl<F: Copy> std::fmt::Debug for HostCallback<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostCallback")
    }
}

impl<F: Copy> Drop for HostCallback<F> {
    fn drop(&mut self) {
        if let Some(finalize) = self.finalizer {
            // SAFETY: the host gave this finalizer for this user data; it
            // runs exactly once, here.
            unsafe { finalize(self.user_data) };
        }
    }
}

/// The queue and the callback of one engine.
pub(crate) struct Events {
    queue: EventQueue<String>,
    callback: Mutex<Option<HostCallback<unsafe extern "C" fn(*mut c_void, *const c_char, usize)>>>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            queue: EventQueue::new(QUEUE_LIMIT),
            callback: Mutex::new(None),
        }
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Events")
    }
}

impl Events {
    /// The sink the engine emits into.
    pub(crate) fn sink(events: &std::sync::Arc<Self>) -> EventSink {
        let events = std::sync::Arc::clone(events);
        EventSink::new(move |event| events.push(event))
    }

    fn push(&self, event: &Event) {
        let Ok(json) = serde_json::to_string(event) else {
            return;
        };
        if let Some(cb) = self
            .callback
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && let Ok(text) = CString::new(json.clone())
        {
            // SAFETY: the host registered this callback for this data.
            unsafe { (cb.f)(cb.user_data, text.as_ptr(), json.len()) };
        }
        self.queue.push(json);
    }

    /// Replaces the callback (the old one's finalizer runs).
    pub(crate) fn set_callback(
        &self,
        callback: Option<HostCallback<unsafe extern "C" fn(*mut c_void, *const c_char, usize)>>,
    ) {
        let old = std::mem::replace(
            &mut *self.callback.lock().unwrap_or_else(PoisonError::into_inner),
            callback,
        );
        drop(old);
    }

    /// The oldest queued event, waiting up to `timeout` for one.
    pub(crate) fn next(&self, timeout: Duration) -> Option<String> {
        self.queue.next(timeout)
    }
}
