#!/usr/bin/env bash
# The real tools the vector formats are checked against (tests/formats/test_in_*.py), added to
# .venv after `bash install.sh`: llama-cpp-python built from its source distribution (CPU only,
# ~5 min on 2 cores the first time; pip's wheel cache makes later runs take seconds) and repeng
# (--no-deps: it pins numpy<2, which the rest of the project does not need). lm-eval is already a
# dev dependency. Idempotent: an up-to-date install is reused at once.
#
#   bash scripts/interop_env.sh && .venv/bin/python -m pytest tests/formats
#
# Environment knobs:
#   VENV            the venv to add to (default <repo>/.venv)
#   INTEROP_FORCE=1 reinstall even when the stamp says it is current
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
LLAMA="llama-cpp-python==0.3.36"
REPENG="repeng==0.4.0"
# No multimodal library (not needed, doubles the build); portable x86-64 code so a cached wheel
# also runs on another CPU of the same architecture.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
start=$SECONDS

log() { printf '[interop_env %3ds] %s\n' "$((SECONDS - start))" "$*"; }
[ -x "$PY" ] || { echo "no $PY: run 'bash install.sh' first" >&2; exit 1; }

STAMP="$VENV/.lens_steer_interop_stamp"
want="$(printf '%s\n' "$LLAMA" "$REPENG" "$CMAKE_ARGS" | sha256sum | cut -c1-16)"
if [ "${INTEROP_FORCE:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
    && "$PY" -c "import importlib.util as u, sys
sys.exit(not all(u.find_spec(m) for m in ('llama_cpp', 'repeng')))" 2>/dev/null; then
    log "up to date (stamp $want)"
    exit 0
fi
rm -f "$STAMP"

# pip's "Location 'file://…' is ignored" lines (local indexes lacking a package) are noise here.
pip_() {
    { "$PY" -m pip --disable-pip-version-check "$@" 2>&1 1>&3 3>&- \
        | { grep -v "^WARNING: Location 'file://.*' is ignored" || true; } >&2; } 3>&1
}

log "installing $LLAMA from source (CMAKE_ARGS=$CMAKE_ARGS; cached wheel if built before)"
pip_ install -q --no-binary llama-cpp-python "$LLAMA"
log "installing $REPENG (--no-deps)"
pip_ install -q --no-deps "$REPENG"
"$PY" -c "import llama_cpp, importlib.metadata as md
print('  llama-cpp-python', llama_cpp.__version__, '| repeng', md.version('repeng'))"
echo "$want" >"$STAMP"
log "done"
