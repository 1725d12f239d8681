#!/usr/bin/env bash
# Set up, then run the default test suite (slow tests excluded; add -m slow for those).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
