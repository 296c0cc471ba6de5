//! The Python extension module `calrep._calrep`, wrapped by the `calrep`
//! package (`python/calrep`), which adds typed reports, the exception
//! classes and the asyncio glue. Every call that waits releases the GIL.

mod args;
mod config;
mod datetime_api;
mod diff;
mod engine;
mod errors;
mod events;
mod expand;
mod runtime;
mod sim;
mod tokens;

use pyo3::prelude::*;

/// The extension module.
#[pymodule]
#[pyo3(name = "_calrep")]
fn calrep_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<config::PyConfig>()?;
    m.add_class::<engine::PyEngine>()?;
    m.add_class::<sim::PySimulator>()?;
    m.add_function(wrap_pyfunction!(expand::expand, m)?)?;
    m.add_function(wrap_pyfunction!(expand::expand_posix, m)?)?;
    m.add_function(wrap_pyfunction!(datetime_api::_use_datetime_capi, m)?)?;
    m.add_function(wrap_pyfunction!(diff::diff, m)?)?;
    // calrep's threads must be out of Python before the interpreter ends.
    let before_exit = wrap_pyfunction!(runtime::before_exit, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (before_exit,))?;
    Ok(())
}
