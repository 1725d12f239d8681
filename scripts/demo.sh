#!/usr/bin/env bash
# Set up, then train a small DCGAN and a small VAE on the embedded MNIST (a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/genlab demo "$@"
