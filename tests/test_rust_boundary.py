"""The Rust core has no panicking call outside its tests.

A panic reaches Python as `pyo3_runtime.PanicException`, which `except
Exception` does not catch; so the core's non-test code returns errors
instead of calling `unwrap`, `expect`, `panic!` or `unreachable!`. The one
allowed panic re-raises, on the calling thread, a panic of an env worker
thread (a bug in a kernel, not bad input).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

RUST_SRC = Path(__file__).resolve().parents[1] / "rust" / "src"
PANICKING = re.compile(r"\.unwrap\(\)|\.expect\(|\bpanic!|\bunreachable!|\btodo!|\bunimplemented!")
ALLOWED = {("envs/pool.rs", 'panic!("an env worker thread panicked")')}


def non_test_lines(path: Path):
    """(line number, code) of `path` before its `#[cfg(test)]` module, comments dropped."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip() == "#[cfg(test)]":
            return
        code = line.split("//", 1)[0]
        if code.strip():
            yield number, code


@pytest.mark.skipif(not RUST_SRC.is_dir(), reason="needs the source tree")
def test_no_panicking_calls_outside_tests():
    found = []
    for path in sorted(RUST_SRC.rglob("*.rs")):
        relative = path.relative_to(RUST_SRC).as_posix()
        for number, code in non_test_lines(path):
            match = PANICKING.search(code)
            if match and not any(relative == file and snippet in code for file, snippet in ALLOWED):
                found.append(f"{relative}:{number}: {code.strip()}")
    assert found == []
