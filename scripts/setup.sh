#!/usr/bin/env bash
# Create .venv (if missing) and install genlab with its pinned dependencies (if changed).
# Idempotent: a second run only checks a stamp. Sourced by demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python_bin=$(command -v python3.11 || command -v python3)
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $python_bin" >&2
  "$python_bin" -m venv .venv
fi
stamp=.venv/.genlab-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing torch==2.13.0 (CPU) and genlab[test,export,track] into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test,export,track]"
  # The reference tools of the parity tests (the [parity] extra of pyproject.toml); --no-deps so that nothing
  # can replace the CPU torch (torchvision's PyPI wheel is CUDA-built; genlab.eval.parity copes with that).
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
    pytorch-fid==0.3.0 torch-fidelity==0.4.0 torchvision==0.28.0 tqdm==4.70.1
  echo "$want" > "$stamp"
fi
