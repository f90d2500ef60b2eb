#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv with the exact tested versions.
# Reinstalls only when requirements.lock or pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  for candidate in "${PYTHON:-}" python3.11 python3 python; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "error: Python 3.11 not found; install it or set PYTHON=/path/to/python3.11" >&2
  return 1
}

stamp=".venv/.g2d-lite-installed"
wanted=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ] && .venv/bin/python -c 'import g2d_lite' 2>/dev/null; then
  exit 0
fi
if [ ! -x .venv/bin/python ]; then
  python=$(find_python)
  echo "creating .venv with $python"
  "$python" -m venv .venv
fi
echo "installing the pinned environment into .venv (first time: a few minutes)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
.venv/bin/python -c 'import matplotlib.pyplot'  # build the font cache once, not inside a notebook
echo "$wanted" > "$stamp"
