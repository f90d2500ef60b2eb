#!/usr/bin/env bash
# Set up .venv if needed, then lint and run every test: package unit tests, data scripts on
# generated fixtures, papermill runs of the notebooks, and nbval on the committed notebooks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export G2D_LITE_PROGRESS=0
.venv/bin/ruff check .
exec .venv/bin/pytest tests notebooks --nbval-lax --nbval-current-env \
  --nbval-sanitize-with tests/nbval_sanitize.cfg --durations=15 "$@"
