"""The README's usage example runs as written."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _usage_example() -> str:
    text = README.read_text()
    start = text.index("```python\nfrom tfdrive.drivers.py_driver import PyDriver") + len(
        "```python\n"
    )
    return text[start : text.index("```", start)]


def test_readme_gymnasium_alternative_runs():
    code = _usage_example()
    alternative = "# env = BatchedPyEnvironment("
    assert alternative in code
    code = code.replace(alternative, "env = BatchedPyEnvironment(")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    average_return, steps, _ = out.getvalue().split(" ", 2)
    assert float(average_return) > 8.0 and 100_000 <= int(steps) < 100_000 + 256


def test_readme_usage_example_runs():
    code = _usage_example()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    average_return, steps, stats = out.getvalue().split(" ", 2)
    assert float(average_return) > 8.0  # random CartPole episodes last 8+ steps
    assert 100_000 <= int(steps) < 100_000 + 256
    assert stats.startswith("RunStats(num_steps=")
