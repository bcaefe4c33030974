//! tfdrive's native core. The pure loop logic lives in the plain-Rust modules;
//! everything that touches Python lives in `py/`.

pub mod batch;
pub mod driver;
pub mod envs;
pub mod mailbox;
pub mod observers;
pub mod trajectory;

mod py;

use pyo3::prelude::*;

/// The `tfdrive._core` extension module: registration only.
#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py::register(m)
}
