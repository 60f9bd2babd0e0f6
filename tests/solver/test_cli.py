"""The command line: exit codes, error lines, atomic output, and no Flask or database imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from solver import load_instance, result_from_dict
from solver.cli import cli, compare_command, solve_command, write_atomically
from solver.compare import compare, rows
from tests.solver import factory


def write(path: Path, doc: Any) -> str:
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return str(path)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_solve_writes_the_result(runner: CliRunner, tmp_path: Path) -> None:
    source = write(tmp_path / "round.json", factory.valid())
    out = tmp_path / "result.json"
    done = runner.invoke(solve_command, [source, "-o", str(out)])
    assert done.exit_code == 0, done.output
    result = result_from_dict(json.loads(out.read_text(encoding="utf-8")))
    assert result.status == "optimal"
    assert "4 of 4 placed" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json", "round.json"]


def test_solve_to_stdout_with_options(runner: CliRunner, tmp_path: Path) -> None:
    source = write(tmp_path / "round.json", factory.valid())
    done = runner.invoke(solve_command, [source, "--method", "da", "--seed", "3", "--time-limit", "5", "--no-check"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert (data["method"], data["seed"], data["status"]) == ("da", 3, "feasible")


def test_bad_file_exit_2_one_line_per_problem_nothing_written(runner: CliRunner, tmp_path: Path) -> None:
    doc = factory.valid()
    doc["students"].append(factory.student("P000018", ["O9999"]))
    doc["students"][0]["gender"] = "f"
    source = write(tmp_path / "round.json", doc)
    out = tmp_path / "result.json"
    done = runner.invoke(solve_command, [source, "-o", str(out)])
    assert done.exit_code == 2
    assert done.stderr.splitlines() == [
        'students[0] (P1): field "gender" must be "female", "male", "other" or null, got "f"',
        'students[4] (P000018): preference "O9999" names no offer',
    ]
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "first_line"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "praktik-instance/0"}', 'format: expected "praktik-instance/1", got "praktik-instance/0"'),
    ],
)
def test_not_json_or_wrong_format(runner: CliRunner, tmp_path: Path, content: str, first_line: str) -> None:
    source = write(tmp_path / "round.json", content)
    done = runner.invoke(solve_command, [source, "-o", str(tmp_path / "out.json")])
    assert done.exit_code == 2
    assert first_line in done.stderr.splitlines()[0]
    assert not (tmp_path / "out.json").exists()


def test_missing_file(runner: CliRunner, tmp_path: Path) -> None:
    done = runner.invoke(solve_command, [str(tmp_path / "missing.json")])
    assert done.exit_code == 2
    assert "cannot read" in done.stderr


def test_incremental_from_the_command_line(runner: CliRunner, tmp_path: Path) -> None:
    source = write(tmp_path / "round.json", factory.valid())
    first = tmp_path / "first.json"
    assert runner.invoke(solve_command, [source, "-o", str(first)]).exit_code == 0
    second = tmp_path / "second.json"
    done = runner.invoke(solve_command, [source, "--previous", str(first), "-o", str(second)])
    assert done.exit_code == 0, done.output
    assert json.loads(second.read_text(encoding="utf-8"))["moves"] == []
    bad = write(tmp_path / "bad.json", {"format": "praktik-result/1", "status": "great"})
    done = runner.invoke(solve_command, [source, "--previous", bad])
    assert done.exit_code == 2
    assert all(line.startswith(f"{bad}: ") for line in done.stderr.splitlines())
    done = runner.invoke(solve_command, [source, "--previous", str(tmp_path / "none.json")])
    assert done.exit_code == 2
    done = runner.invoke(solve_command, [source, "--previous", str(first), "--method", "fcfs"])
    assert done.exit_code == 2
    assert "incremental rounds" in done.stderr


def test_checker_failure_exits_1(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from solver import cli as cli_module
    from solver.check import Violation

    monkeypatch.setattr(cli_module, "check", lambda inst, result: [Violation("capacity", "X is over capacity")])
    source = write(tmp_path / "round.json", factory.valid())
    out = tmp_path / "result.json"
    done = runner.invoke(solve_command, [source, "-o", str(out)])
    assert done.exit_code == 1
    assert done.stderr.splitlines() == ["checker: capacity: X is over capacity"]
    assert not out.exists()


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_atomically(str(tmp_path / "out.json"), {"bad": object()})
    assert list(tmp_path.iterdir()) == []


def test_compare_table_and_json(runner: CliRunner, tmp_path: Path) -> None:
    source = write(tmp_path / "round.json", factory.valid_larger())
    done = runner.invoke(compare_command, [source])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[1].split() == ["optimal", "da-reserves", "mcf", "da", "fcfs"]
    labels = [label for label, _ in rows(compare(load_instance(factory.valid_larger()), ("optimal",)).methods)]
    assert [line[: len(label)] for line, label in zip(lines[2:], labels, strict=True)] == labels
    assert "top three by need tercile: worst" in done.stdout
    done = runner.invoke(compare_command, [source, "--json", "--method", "optimal", "--method", "mcf"])
    data = json.loads(done.stdout)
    assert list(data["methods"]) == ["optimal", "mcf"]
    assert data["methods"]["optimal"]["solve_seconds"] >= 0
    bad = write(tmp_path / "bad.json", "[]")
    assert runner.invoke(compare_command, [bad]).exit_code == 2


def test_group_and_verbose(runner: CliRunner, tmp_path: Path) -> None:
    source = write(tmp_path / "round.json", factory.valid())
    done = runner.invoke(cli, ["-v", "solve", source, "-o", str(tmp_path / "r.json")])
    assert done.exit_code == 0
    done = runner.invoke(cli, ["compare", source])
    assert done.exit_code == 0


def test_python_dash_m_and_no_web_imports(tmp_path: Path) -> None:
    source = write(tmp_path / "round.json", factory.valid())
    out = tmp_path / "result.json"
    done = subprocess.run(
        [sys.executable, "-m", "solver", "solve", source, "-o", str(out)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert load_instance(factory.valid()).name == json.loads(out.read_text(encoding="utf-8"))["instance"]
    code = (
        "import sys, solver, solver.cli; "
        "bad = [m for m in ('flask', 'sqlalchemy', 'placement', 'web') if m in sys.modules]; "
        "print(bad)"
    )
    imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"
