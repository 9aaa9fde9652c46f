#!/usr/bin/env sh
# Run uv, installing it from PyPI into .tools/ on first use (no curl|sh, nothing global).
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if command -v uv >/dev/null 2>&1; then
  UV=uv
else
  UV="$ROOT/.tools/bin/uv"
  if [ ! -x "$UV" ]; then
    echo "scripts/uv.sh: installing uv into .tools/ (first run only)" >&2
    python3 -m venv "$ROOT/.tools" >/dev/null
    "$ROOT/.tools/bin/python" -m pip install --quiet --disable-pip-version-check "uv>=0.9,<1"
  fi
fi
# uv's managed Python downloads come from GitHub, which this machine cannot reach: use the system 3.11.
export UV_PYTHON_DOWNLOADS="${UV_PYTHON_DOWNLOADS:-never}"
cd "$ROOT" && exec "$UV" "$@"
