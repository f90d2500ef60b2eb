#!/usr/bin/env bash
# Set up .venv if needed, then lint and run every test: package unit tests, data scripts on
# generated fixtures, papermill runs of the notebooks, and nbval on the committed notebooks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export G2D_LITE_PROGRESS=0
# One torch thread: results then match the committed notebooks bit for bit, and 2-core runners
# are not oversubscribed. The papermill tests train into artifacts/, which nbval then reuses.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"
export G2D_LITE_TEST_ARTIFACT_DIR="${G2D_LITE_TEST_ARTIFACT_DIR:-$PWD/artifacts}"
# One pytest worker per core (G2D_LITE_TEST_WORKERS=0 runs in this process); the scheduler in
# conftest.py keeps each module, each notebook and the notebook chain in one worker.
workers="${G2D_LITE_TEST_WORKERS:-auto}"
.venv/bin/ruff check .
exec .venv/bin/pytest tests notebooks -n "$workers" --dist loadscope --nbval-lax \
  --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 \
  --durations=15 "$@"
