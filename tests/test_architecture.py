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


# --- the domain packages of placement/ ------------------------------------------------------------------------------

#: The domain packages, lowest first: a package may import the foundation (the modules directly under
#: ``placement/`` and the shared schema ``placement.models``) and the packages before it, never one after it.
DOMAINS = ("mail", "organisation", "employers", "cohorts", "rounds", "reports", "retention", "runtime")
#: The web packages of the three outside audiences; the coordinator's views may use every domain operation.
AUDIENCE_VIEWS = ("web/school", "web/employer", "web/pupil")


def _placement_imports(path: Path) -> list[str]:
    """Every ``placement...`` module (or name in a module) that ``path`` imports, in full."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names if alias.name.split(".")[0] == "placement"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "placement":
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _domain(module: str) -> str | None:
    """The domain package of a dotted name under ``placement``, or None for the foundation."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in DOMAINS else None


def _module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _placement_sources() -> list[Path]:
    return [p for p in (ROOT / "placement").rglob("*.py") if "migrations" not in p.parts]


def test_every_domain_package_exists_and_nothing_is_left_in_a_flat_services_bag() -> None:
    for name in DOMAINS:
        assert (ROOT / "placement" / name / "__init__.py").is_file(), name
    assert not (ROOT / "placement" / "services").exists()
    assert not [p.name for p in ROOT.joinpath("placement").rglob("*_portal.py")]


def test_the_foundation_imports_no_domain_package() -> None:
    wrong = [
        f"{_module_of(path)} -> {name}"
        for path in _placement_sources()
        if _domain(_module_of(path)) is None
        for name in _placement_imports(path)
        if _domain(name) is not None
    ]
    assert wrong == []


def test_a_domain_package_imports_only_the_packages_below_it() -> None:
    wrong = []
    for path in _placement_sources():
        own = _domain(_module_of(path))
        if own is None:
            continue
        for name in _placement_imports(path):
            other = _domain(name)
            if other is not None and DOMAINS.index(other) > DOMAINS.index(own):
                wrong.append(f"{_module_of(path)} -> {name}")
    assert wrong == []


def test_the_domain_does_not_depend_on_an_audience() -> None:
    """Scoping modules (``for_school``, ``for_employer``, ``for_pupil``) serve web/ and each other, nothing else."""
    wrong = [
        f"{_module_of(path)} -> {name}"
        for path in _placement_sources()
        if not path.stem.startswith("for_")
        for name in _placement_imports(path)
        if any(part.startswith("for_") for part in name.split("."))
    ]
    assert wrong == []


@pytest.mark.parametrize("folder", AUDIENCE_VIEWS)
def test_an_audiences_views_find_records_only_through_its_scoping_modules(folder: str) -> None:
    """School staff, employers and pupils reach records only through the modules that check they are theirs.

    Their views neither query the database themselves nor use another audience's scope, so that a
    school, class, pupil, workplace, offer or placement that is not the user's is always NotFound.
    """
    audience = {"web/school": "for_school", "web/employer": "for_employer", "web/pupil": "for_pupil"}[folder]
    for path in (ROOT / folder).glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {name.split(".")[0] for name in _imported_modules_of(tree)}
        assert "sqlalchemy" not in imported, path
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr
                in {
                    "get",
                    "scalar",
                    "scalars",
                    "execute",
                }
            ):
                owner = node.func.value
                assert not (isinstance(owner, ast.Name) and owner.id == "db"), f"{path}:{node.lineno}"
        scopes = {part for name in _placement_imports(path) for part in name.split(".") if part.startswith("for_")}
        assert scopes <= {audience}, path


def _imported_modules_of(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_processes_are_started_only_from_the_command_line() -> None:
    """``placement.runtime`` (scheduler, worker) is imported by the CLI, and by the scheduler page for its job list."""
    users = {
        _module_of(path)
        for path in (ROOT / "web").rglob("*.py")
        if any(_domain(name) == "runtime" for name in _placement_imports(path))
    }
    assert users <= {"web.cli", "web.coordinator.views"}
