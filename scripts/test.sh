#!/usr/bin/env bash
# The project's test command: installs what it needs, then lint, type-check and the test suite.
# Usage: scripts/test.sh [pytest args...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/bootstrap.sh
venv="${METAHRL_VENV:-$root/.venv}"
echo "== ruff" >&2
"$venv/bin/ruff" check .
echo "== mypy" >&2
"$venv/bin/mypy"
echo "== dependency audit" >&2
bash scripts/audit.sh
echo "== pytest" >&2
"$venv/bin/python" -m pytest -q "$@"
