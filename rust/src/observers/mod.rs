//! Native observers.
