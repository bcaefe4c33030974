//! The PyO3 boundary: Python adapters for envs, policies and observers,
//! conversions and the error type. Each submodule registers its own classes.

use pyo3::prelude::*;

mod arrays;
pub(crate) mod batched;
mod buffer;
mod collect;
mod driver;
pub(crate) mod envs;
mod error;
mod lookups;
mod mailbox;
mod observers;
mod timing;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<driver::DriverCore>()?;
    m.add_class::<driver::RunStats>()?;
    m.add_function(wrap_pyfunction!(driver::count_steps, m)?)?;
    m.add_class::<observers::EpisodeMetricCore>()?;
    m.add_class::<buffer::TrajectoryBufferCore>()?;
    envs::register(m)?;
    batched::register(m)?;
    m.add_class::<mailbox::MailboxesCore>()?;
    Ok(())
}
