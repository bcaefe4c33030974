"""`_core.pyi` matches the native module: same classes, functions and members.

The name checks run everywhere; mypy's stubtest (where mypy is installed)
also checks every signature, property and class flag against the extension.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tfdrive
from tfdrive import _core

STUB = Path(tfdrive.__file__).with_name("_core.pyi")


def _stub_members():
    tree = ast.parse(STUB.read_text())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            top.add(node.name)
            names = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            names |= {n.target.id for n in node.body if isinstance(n, ast.AnnAssign)}
            members[node.name] = {n for n in names if not n.startswith("_")}
        elif isinstance(node, ast.FunctionDef):
            top.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            top.add(node.target.id)
    return top, members


def test_stub_lists_every_native_name():
    top, _ = _stub_members()
    native = {name for name in dir(_core) if not name.startswith("_")} | {"__version__"}
    assert top == native


def test_stub_classes_list_every_public_member():
    _, members = _stub_members()
    for name, stubbed in members.items():
        cls = getattr(_core, name)
        native = {m for m in vars(cls) if not m.startswith("_")}
        assert stubbed == native, name


def test_stubtest_finds_no_mismatch(tmp_path):
    pytest.importorskip("mypy.stubtest")
    # Run elsewhere than the repository, so that no mypy cache lands in it.
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "tfdrive._core"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
