//! `calrep.expand`: a recurrence's occurrences as timezone-aware datetimes,
//! built in Rust so that the Python objects are the only per-occurrence
//! cost that remains.

use calrep_core::recur::{Instance, LocalInstance, RecurrenceSet, Rule, SeriesStart, SetDate};
use calrep_core::tz::resolve_zone;
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDate, PyDateTime, PyString, PyType, PyTzInfo};

use crate::datetime_api::DateTimeApi;
use crate::errors::{core_error, core_error_about};

/// A date, a naive datetime or an aware one, as Python gave it.
enum When {
    Date(NaiveDate),
    Naive(NaiveDateTime),
    Aware(DateTime<Utc>),
}

/// `datetime.datetime` and `datetime.date`, looked up once.
static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static DATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
/// `zoneinfo.ZoneInfo` and `array.array`, looked up once: an import per
/// call goes through the import machinery.
static ZONE_INFO: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static ARRAY: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// Whether `value` is an instance of `datetime.<class>`, the type cached
/// in `cell`.
fn is_instance(
    value: &Bound<'_, PyAny>,
    cell: &'static PyOnceLock<Py<PyType>>,
    class: &str,
) -> PyResult<bool> {
    value.is_instance(cell.import(value.py(), "datetime", class)?)
}

fn naive_of(value: &Bound<'_, PyAny>) -> PyResult<NaiveDateTime> {
    // Interned names: a `&str` would become a new Python string, hashed,
    // for every lookup.
    let py = value.py();
    let field = |name: &Bound<'_, PyString>| -> PyResult<u32> { value.getattr(name)?.extract() };
    let date = NaiveDate::from_ymd_opt(
        field(intern!(py, "year"))? as i32,
        field(intern!(py, "month"))?,
        field(intern!(py, "day"))?,
    );
    let time = NaiveTime::from_hms_opt(
        field(intern!(py, "hour"))?,
        field(intern!(py, "minute"))?,
        field(intern!(py, "second"))?,
    );
    date.zip(time)
        .map(|(d, t)| d.and_time(t))
        .ok_or_else(|| PyValueError::new_err("not a representable date and time"))
}

/// Reads a `date` or `datetime` argument.
fn when(name: &str, value: &Bound<'_, PyAny>) -> PyResult<When> {
    if is_instance(value, &DATETIME, "datetime")? {
        let py = value.py();
        if value.call_method0(intern!(py, "utcoffset"))?.is_none() {
            return Ok(When::Naive(naive_of(value)?));
        }
        // Two calls instead of `astimezone(utc)` and six fields. The float
        // may round a late microsecond up to the next second (its step is
        // 30 µs in year 9999), so the microseconds are taken off exactly and
        // the whole second is what remains, as the fields would give it.
        let seconds: f64 = value.call_method0(intern!(py, "timestamp"))?.extract()?;
        let micros: u32 = value.getattr(intern!(py, "microsecond"))?.extract()?;
        let whole = (seconds - f64::from(micros) / 1e6).round();
        return DateTime::from_timestamp(whole as i64, 0)
            .map(When::Aware)
            .ok_or_else(|| {
                PyValueError::new_err(format!("{name} is not a representable instant"))
            });
    }
    if is_instance(value, &DATE, "date")? {
        let py = value.py();
        let field =
            |name: &Bound<'_, PyString>| -> PyResult<u32> { value.getattr(name)?.extract() };
        let (year, month, day) = (
            field(intern!(py, "year"))?,
            field(intern!(py, "month"))?,
            field(intern!(py, "day"))?,
        );
        return NaiveDate::from_ymd_opt(year as i32, month, day)
            .map(When::Date)
            .ok_or_else(|| PyValueError::new_err(format!("{name} is not a representable date")));
    }
    Err(PyTypeError::new_err(format!(
        "{name} must be a datetime.date or datetime.datetime, not {}",
        value.get_type().name()?
    )))
}

/// A window bound: an aware datetime.
fn bound(name: &str, value: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    match when(name, value)? {
        When::Aware(t) => Ok(t),
        When::Naive(_) => Err(PyValueError::new_err(format!(
            "{name} must be timezone-aware (a naive datetime is no instant); add tzinfo, e.g. datetime.timezone.utc"
        ))),
        When::Date(_) => Err(PyTypeError::new_err(format!(
            "{name} must be a timezone-aware datetime.datetime, not a date"
        ))),
    }
}

/// The zone argument: an IANA or Windows name, a tzinfo with a `key`
/// (zoneinfo.ZoneInfo), or None for UTC.
fn zone(tz: Option<&Bound<'_, PyAny>>) -> PyResult<Tz> {
    let Some(tz) = tz.filter(|t| !t.is_none()) else {
        return Ok(chrono_tz::UTC);
    };
    let name: String = if let Ok(s) = tz.cast::<PyString>() {
        s.extract()?
    } else if let Ok(key) = tz.getattr("key") {
        key.extract()?
    } else if tz.is_instance_of::<PyTzInfo>() && tz.str()?.extract::<String>()? == "UTC" {
        "UTC".to_owned()
    } else {
        return Err(PyTypeError::new_err(
            "tz must be a zone name (IANA or Windows), a zoneinfo.ZoneInfo or None",
        ));
    };
    resolve_zone(&name)
        .map(|z| z.tz())
        .map_err(|e| core_error_about(&format!("tz {name:?}"), e))
}

fn set_date(name: &str, value: &Bound<'_, PyAny>, zone: Tz, floating: bool) -> PyResult<SetDate> {
    Ok(match when(name, value)? {
        When::Date(d) => SetDate::Date(d),
        When::Naive(t) if floating => SetDate::Floating(t),
        When::Naive(t) => SetDate::Zoned(t, zone),
        When::Aware(t) => SetDate::Utc(t),
    })
}

/// The occurrences of `rrule` from `dtstart` in zone `tz` that start in
/// [`start`, `end`), without `exdates` and with `rdates`.
#[pyfunction]
#[pyo3(signature = (rrule, dtstart, tz, start, end, exdates = None, rdates = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn expand<'py>(
    py: Python<'py>,
    rrule: &str,
    dtstart: &Bound<'py, PyAny>,
    tz: Option<&Bound<'py, PyAny>>,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
    exdates: Option<Vec<Bound<'py, PyAny>>>,
    rdates: Option<Vec<Bound<'py, PyAny>>>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let Expansion { set, window, zone } =
        read_set(rrule, dtstart, tz, (start, end), exdates, rdates)?;
    let (tzinfo, python_has_zone) = python_zone(py, zone)?;
    let api = DateTimeApi::get(py);
    // Each occurrence comes with the wall time it shows in the zone, which
    // the datetime is made of: no offset lookup per occurrence.
    let found = py
        .detach(|| set.between_local(window.0, window.1))
        .map_err(core_error)?;
    found
        .into_iter()
        .map(|local| {
            let local = if python_has_zone {
                local
            } else {
                in_utc(local)
            };
            to_python(py, api, local, &tzinfo)
        })
        .collect()
}

/// The same occurrences as POSIX seconds, in an `array.array('q')` (a
/// buffer: `numpy.frombuffer(found, dtype=numpy.int64)` reads it without a
/// copy). Dates and floating times are read as wall-clock times in `tz`.
#[pyfunction]
#[pyo3(signature = (rrule, dtstart, tz, start, end, exdates = None, rdates = None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn expand_posix<'py>(
    py: Python<'py>,
    rrule: &str,
    dtstart: &Bound<'py, PyAny>,
    tz: Option<&Bound<'py, PyAny>>,
    start: &Bound<'py, PyAny>,
    end: &Bound<'py, PyAny>,
    exdates: Option<Vec<Bound<'py, PyAny>>>,
    rdates: Option<Vec<Bound<'py, PyAny>>>,
) -> PyResult<Bound<'py, PyAny>> {
    let Expansion { set, window, zone } =
        read_set(rrule, dtstart, tz, (start, end), exdates, rdates)?;
    let found = py
        .detach(|| set.between(window.0, window.1))
        .map_err(core_error)?;
    let mut bytes = Vec::with_capacity(found.len() * 8);
    for instance in found {
        bytes.extend_from_slice(&instance.instant(zone).timestamp().to_ne_bytes());
    }
    let array = ARRAY.import(py, "array", "array")?.call1(("q",))?;
    array.call_method1(intern!(py, "frombytes"), (PyBytes::new(py, &bytes),))?;
    Ok(array)
}

/// What the arguments ask for.
struct Expansion {
    set: RecurrenceSet,
    /// `[from, to)`.
    window: (DateTime<Utc>, DateTime<Utc>),
    /// The series' zone.
    zone: Tz,
}

/// The arguments read.
fn read_set<'py>(
    rrule: &str,
    dtstart: &Bound<'py, PyAny>,
    tz: Option<&Bound<'py, PyAny>>,
    (start, end): (&Bound<'py, PyAny>, &Bound<'py, PyAny>),
    exdates: Option<Vec<Bound<'py, PyAny>>>,
    rdates: Option<Vec<Bound<'py, PyAny>>>,
) -> PyResult<Expansion> {
    let zone = zone(tz)?;
    let (from, to) = (bound("start", start)?, bound("end", end)?);
    // As the command line and the C ABI: an empty or reversed window is a
    // mistake, not an empty answer.
    if from >= to {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "start must be before end",
        ));
    }
    let series_start = match when("dtstart", dtstart)? {
        When::Date(d) => SeriesStart::Date(d),
        When::Naive(t) => SeriesStart::Zoned(t, zone),
        When::Aware(t) => SeriesStart::Zoned(t.with_timezone(&zone).naive_local(), zone),
    };
    let rule: Rule = rrule
        .parse()
        .map_err(|e| core_error_about(&format!("rrule {rrule:?}"), e))?;
    let mut set = RecurrenceSet::new(series_start).rule(rule);
    let floating = matches!(series_start, SeriesStart::Date(_));
    for d in exdates.iter().flatten() {
        set = set.exdate(set_date("exdates", d, zone, floating)?);
    }
    for d in rdates.iter().flatten() {
        set = set.rdate(set_date("rdates", d, zone, floating)?);
    }
    Ok(Expansion {
        set,
        window: (from, to),
        zone,
    })
}

/// `zoneinfo.ZoneInfo(name)` for the zone and `true`, or UTC and `false`
/// when Python has no data for it (the datetimes are then in UTC).
fn python_zone(py: Python<'_>, zone: Tz) -> PyResult<(Bound<'_, PyTzInfo>, bool)> {
    let found = ZONE_INFO
        .import(py, "zoneinfo", "ZoneInfo")
        .and_then(|z| z.call1((zone.name(),)))
        .ok()
        .and_then(|z| z.cast_into::<PyTzInfo>().ok());
    Ok(match found {
        Some(tzinfo) => (tzinfo, true),
        None => (PyTzInfo::utc(py)?.to_owned(), false),
    })
}

/// An instant shown in UTC, for a zone Python has no data for (dates and
/// floating times show as they are).
fn in_utc(local: LocalInstance) -> LocalInstance {
    match local.instance {
        Instance::At(t) => LocalInstance {
            wall: t.naive_utc(),
            fold: false,
            ..local
        },
        _ => local,
    }
}

fn to_python<'py>(
    py: Python<'py>,
    api: Option<DateTimeApi>,
    local: LocalInstance,
    tzinfo: &Bound<'py, PyTzInfo>,
) -> PyResult<Bound<'py, PyAny>> {
    match local.instance {
        Instance::Date(d) => match api {
            Some(api) => api.date(py, d.year(), d.month(), d.day()),
            None => Ok(PyDate::new(py, d.year(), d.month() as u8, d.day() as u8)?.into_any()),
        },
        Instance::Floating(t) => datetime(py, api, t, None, false),
        Instance::At(_) => datetime(py, api, local.wall, Some(tzinfo), local.fold),
    }
}

fn datetime<'py>(
    py: Python<'py>,
    api: Option<DateTimeApi>,
    t: NaiveDateTime,
    tzinfo: Option<&Bound<'py, PyTzInfo>>,
    fold: bool,
) -> PyResult<Bound<'py, PyAny>> {
    if let Some(api) = api {
        let date = (t.year(), t.month(), t.day());
        return api.datetime(py, date, (t.hour(), t.minute(), t.second()), tzinfo, fold);
    }
    let (y, mo, d) = (t.year(), t.month() as u8, t.day() as u8);
    let (h, mi, s) = (t.hour() as u8, t.minute() as u8, t.second() as u8);
    // Without a fold the plain constructor: under abi3 the one with a fold
    // passes it as a keyword, which costs a dict per datetime.
    let made = if fold {
        PyDateTime::new_with_fold(py, y, mo, d, h, mi, s, 0, tzinfo, true)?
    } else {
        PyDateTime::new(py, y, mo, d, h, mi, s, 0, tzinfo)?
    };
    Ok(made.into_any())
}
