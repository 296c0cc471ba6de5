//! CPython's `datetime` C API, reached through its capsule.
//!
//! Under the stable ABI (our abi3 wheel) pyo3 makes a `datetime` by calling
//! the class as Python code would: an argument tuple, and a keyword dict
//! for `fold`, per object. The `datetime` module publishes its constructors
//! in the capsule `datetime.datetime_CAPI`, and `PyCapsule_Import` is part
//! of the stable ABI, so an abi3 extension may call them directly; this is
//! what `PyDateTime_IMPORT` does in C. The structure's layout is CPython's
//! `PyDateTime_CAPI`, unchanged since 3.7 except for fields added at its
//! end (we read none of those), so it holds for every Python the wheel
//! supports (3.9 and later).
//!
//! On import the capsule's type objects are checked against
//! `datetime.date` and `datetime.datetime`; an interpreter whose capsule
//! does not match (another implementation, say) gets `None` and the
//! caller keeps pyo3's constructors.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyTzInfo;

/// `Date_FromDate(year, month, day, type)`.
type DateFromDate =
    unsafe extern "C" fn(c_int, c_int, c_int, *mut ffi::PyTypeObject) -> *mut ffi::PyObject;

/// `DateTime_FromDateAndTimeAndFold(year, month, day, hour, minute, second,
/// microsecond, tzinfo, fold, type)`.
type DateTimeFromParts = unsafe extern "C" fn(
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    c_int,
    *mut ffi::PyObject,
    c_int,
    *mut ffi::PyTypeObject,
) -> *mut ffi::PyObject;

/// CPython's `PyDateTime_CAPI` (Include/datetime.h), up to the last field
/// we use; fields we never call are opaque pointers.
#[repr(C)]
struct Capi {
    date_type: *mut ffi::PyTypeObject,
    datetime_type: *mut ffi::PyTypeObject,
    time_type: *mut c_void,
    delta_type: *mut c_void,
    tzinfo_type: *mut c_void,
    timezone_utc: *mut c_void,
    // Function pointers as `Option`s (same layout): a NULL one is refused
    // on import instead of being undefined behaviour.
    date_from_date: Option<DateFromDate>,
    datetime_from_date_and_time: *mut c_void,
    time_from_time: *mut c_void,
    delta_from_delta: *mut c_void,
    timezone_from_timezone: *mut c_void,
    datetime_from_timestamp: *mut c_void,
    date_from_timestamp: *mut c_void,
    datetime_from_date_and_time_and_fold: Option<DateTimeFromParts>,
}

/// The checked capsule: constructors for `date` and `datetime`.
#[derive(Clone, Copy)]
pub(crate) struct DateTimeApi {
    capi: &'static Capi,
    date_from_date: DateFromDate,
    datetime_from_date_and_time_and_fold: DateTimeFromParts,
}

// SAFETY: the capsule points at a static structure of the `datetime`
// module, never written after the module's initialisation and alive until
// the interpreter ends (a loaded extension module is never unloaded); its
// functions are only called with the GIL held (they take `Python<'_>`).
unsafe impl Send for DateTimeApi {}
// SAFETY: as above.
unsafe impl Sync for DateTimeApi {}

static API: OnceLock<Option<DateTimeApi>> = OnceLock::new();

/// Whether the capsule is used (it is unless a test or the benchmark turns
/// it off, to exercise or measure pyo3's constructors).
static ENABLED: AtomicBool = AtomicBool::new(true);

/// `_calrep._use_datetime_capi(on)`: uses the capsule, or pyo3's own
/// constructors, from now on; returns the previous setting. For tests and
/// the benchmark, which compare both in one process.
#[pyfunction]
pub(crate) fn _use_datetime_capi(on: bool) -> bool {
    ENABLED.swap(on, Ordering::Relaxed)
}

impl DateTimeApi {
    /// The capsule, imported once per process; `None` when it is missing
    /// or does not describe this interpreter's `datetime` types.
    pub(crate) fn get(py: Python<'_>) -> Option<Self> {
        if !ENABLED.load(Ordering::Relaxed) {
            return None;
        }
        *API.get_or_init(|| Self::import(py).ok().flatten())
    }

    fn import(py: Python<'_>) -> PyResult<Option<Self>> {
        let module = py.import("datetime")?;
        let date = module.getattr("date")?;
        let datetime = module.getattr("datetime")?;
        // SAFETY: a NUL-terminated name; the GIL is held.
        let pointer = unsafe { ffi::PyCapsule_Import(c"datetime.datetime_CAPI".as_ptr(), 0) };
        if pointer.is_null() {
            // Clear the ImportError the failed import set.
            let _ = PyErr::take(py);
            return Ok(None);
        }
        // SAFETY: the capsule of that name holds a `PyDateTime_CAPI`, whose
        // first fields `Capi` mirrors; checked below against the types.
        let capi: &'static Capi = unsafe { &*pointer.cast::<Capi>() };
        let same = capi.date_type.cast::<ffi::PyObject>() == date.as_ptr()
            && capi.datetime_type.cast::<ffi::PyObject>() == datetime.as_ptr();
        let (Some(date_from_date), Some(datetime_from_date_and_time_and_fold)) = (
            capi.date_from_date,
            capi.datetime_from_date_and_time_and_fold,
        ) else {
            return Ok(None);
        };
        Ok(same.then_some(Self {
            capi,
            date_from_date,
            datetime_from_date_and_time_and_fold,
        }))
    }

    /// `datetime.date(year, month, day)`.
    pub(crate) fn date<'py>(
        self,
        py: Python<'py>,
        year: i32,
        month: u32,
        day: u32,
    ) -> PyResult<Bound<'py, PyAny>> {
        // SAFETY: the GIL is held (`py`); the constructor validates its
        // arguments and returns a new reference or NULL with an exception.
        unsafe {
            let made =
                (self.date_from_date)(year, month as c_int, day as c_int, self.capi.date_type);
            Bound::from_owned_ptr_or_err(py, made)
        }
    }

    /// `datetime.datetime(...)` with `tzinfo` (None when absent) and `fold`.
    pub(crate) fn datetime<'py>(
        self,
        py: Python<'py>,
        (year, month, day): (i32, u32, u32),
        (hour, minute, second): (u32, u32, u32),
        tzinfo: Option<&Bound<'py, PyTzInfo>>,
        fold: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let none = py.None();
        let tzinfo = tzinfo.map_or(none.as_ptr(), |t| t.as_ptr());
        // SAFETY: as for `date`; `tzinfo` is borrowed for the call (the
        // constructor takes its own reference).
        unsafe {
            let made = (self.datetime_from_date_and_time_and_fold)(
                year,
                month as c_int,
                day as c_int,
                hour as c_int,
                minute as c_int,
                second as c_int,
                0,
                tzinfo,
                c_int::from(fold),
                self.capi.datetime_type,
            );
            Bound::from_owned_ptr_or_err(py, made)
        }
    }
}
