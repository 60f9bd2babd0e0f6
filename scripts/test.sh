#!/usr/bin/env bash
# Install Praktik with its test extras into .venv and run every gate:
# lint, format, type checks, then the test suite (SQLite and PostgreSQL) with coverage.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy (solver, placement)"
.venv/bin/mypy
echo "== pytest (SQLite and PostgreSQL)"
.venv/bin/python -m pytest --cov --cov-report=term "$@"
