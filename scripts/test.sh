#!/usr/bin/env bash
# Set up, then the code checks (ruff, lint-imports), then the default test suite (slow tests excluded), then the slow tests (-m slow:
# SIGKILL at many seeded points, 50 web clients for 30 s, long CLI runs). CI runs both.
# With arguments, only `pytest ARGS` runs (e.g. `bash scripts/test.sh -q` = the default suite alone).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The browser tests drive Debian's chromium through chromium-driver. Install them when missing
# and we may (root with apt-get, as in CI); otherwise those tests skip and say why.
if ! command -v chromedriver >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing chromium and chromium-driver from Debian's packages" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
    || echo "test: could not install chromium; the browser tests will skip" >&2
fi
if [ "$#" -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
# Code checks: formatting, lint (pyflakes, isort, pycodestyle at 119 columns), and the layers of
# ../shared/DESIGN.md (imports only point downwards; the contract is in pyproject.toml).
echo "test: ruff format --check, ruff check, lint-imports" >&2
.venv/bin/ruff format --check --quiet .
.venv/bin/ruff check --quiet .
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
.venv/bin/python -m pytest
echo "test: the default suite passed; now the slow tests (-m slow)" >&2
exec .venv/bin/python -m pytest -m slow
