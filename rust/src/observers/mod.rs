//! Native observers: run by the driver without Python calls.

pub mod buffer;
pub mod metrics;
