"""Layering: web -> placement -> solver, never the other way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_importing_solver_loads_no_flask_sqlalchemy_or_placement() -> None:
    code = (
        "import sys, solver, solver.cli; "
        "bad = [m for m in ('flask', 'sqlalchemy', 'placement', 'web') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


def test_praktik_solve_does_not_import_flask() -> None:
    code = (
        "import sys; from web.cli import main; "
        "main.get_command(None, 'solve'); "
        "print(','.join(m for m in ('flask', 'sqlalchemy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("solver", {"flask", "flask_login", "flask_wtf", "flask_babel", "sqlalchemy", "placement", "web"}),
        ("placement", {"flask", "flask_login", "flask_wtf", "flask_babel", "web"}),
    ],
)
def test_lower_layers_do_not_import_upper_ones(package: str, forbidden: set[str]) -> None:
    assert _imported_modules(package) & forbidden == set()
