"""`_core.pyi` matches the native module: same classes, functions and members."""

from __future__ import annotations

import ast
from pathlib import Path

import tfdrive
from tfdrive import _core

STUB = Path(tfdrive.__file__).with_name("_core.pyi")


def _stub_members():
    tree = ast.parse(STUB.read_text())
    top, members = set(), {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            top.add(node.name)
            members[node.name] = {
                n.name
                for n in node.body
                if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")
            }
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
