"""The pure core reads no clock, opens no file and touches no environment.

import-linter (run by `make test`) keeps ccxt, CLI, storage and network packages out of the core;
this test covers what an import contract cannot see: calls of built-in I/O and the clock.
The core's modules are the `source_modules` of the import-linter contract in pyproject.toml.
"""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_CALLS = {"open", "print", "input", "exec", "eval", "breakpoint"}
FORBIDDEN_ATTRS = {
    ("time", "time"),
    ("time", "monotonic"),
    ("time", "sleep"),
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("os", "environ"),
    ("os", "getenv"),
    ("Path", "read_text"),
    ("Path", "write_text"),
}


def core_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    return sorted({m for c in contracts for m in c.get("source_modules", [])})


def core_files() -> list[Path]:
    files = []
    for module in core_modules():
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin, module
        origin = Path(spec.origin)
        files.extend(
            sorted(origin.parent.glob("*.py")) if origin.name == "__init__.py" else [origin]
        )
    return files


def test_core_list_is_not_empty():
    assert "perphedge.margin" in core_modules()
    assert "perphedge.funding" in core_modules()


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.name)
def test_no_io_or_clock_in_core(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in FORBIDDEN_CALLS, (
                f"{path.name}:{node.lineno} {node.func.id}()"
            )
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            pair = (node.value.id, node.attr)
            assert pair not in FORBIDDEN_ATTRS, f"{path.name}:{node.lineno} {'.'.join(pair)}"
