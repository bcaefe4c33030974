//! The PyO3 boundary: Python adapters for envs, policies and observers,
//! conversions and the error type. Each submodule registers its own classes.

use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let _ = m;
    Ok(())
}
