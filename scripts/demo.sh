#!/usr/bin/env bash
# Set up .venv if needed, then run the four notebooks on the embedded synthetic dataset and print
# the final results table. Extra arguments go to the runner (e.g. --profile classroom).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"  # as the committed notebooks
exec .venv/bin/python -m g2d_lite.run demo "$@"
