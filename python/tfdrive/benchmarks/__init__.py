"""Benchmarks of the collection stack, run side by side (`tfdrive bench`).

Each module compares variants interleaved in one process and reports
medians and ratios (see `common`); `suite` runs them all and writes JSON and
PNG plots. `benches/` holds thin scripts that run one module each.
"""
