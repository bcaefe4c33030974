//! Native vectorized environments (classic control).
