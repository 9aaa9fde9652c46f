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
cd "$ROOT"
# Where PYTHONDONTWRITEBYTECODE is set (containers, CI), Python caches no bytecode and every
# command compiles Prefect, Polars and the rest from source again (4 s of a nightly run's
# start-up). The first command after uv.lock changes has uv compile the packages' bytecode as
# it syncs; the next ones find it (compiling on every sync would cost 1.5 s each).
MARK="$ROOT/.venv/.bytecode-$(cksum < "$ROOT/uv.lock" | cut -d' ' -f1)"
if [ -n "${PYTHONDONTWRITEBYTECODE:-}" ] && [ ! -e "$MARK" ] && [ -z "${UV_COMPILE_BYTECODE:-}" ]; then
  status=0
  UV_COMPILE_BYTECODE=1 "$UV" "$@" || status=$?
  if [ "$status" -eq 0 ] && [ -d "$ROOT/.venv" ]; then
    rm -f "$ROOT"/.venv/.bytecode-* && : > "$MARK"
  fi
  exit "$status"
fi
exec "$UV" "$@"
