#!/usr/bin/env bash
# A second virtual environment, .venv-tl3, with TransformerLens 3.x (``HookedTransformer``) for
# tests/tl3/: lens_steer only needs the TransformerLens hook interface, and this checks that a TL 3
# model really works with it. Idempotent: an up-to-date .venv-tl3 is reused in about a second.
#
#   bash scripts/tl3_env.sh && LENS_STEER_TL3=1 .venv-tl3/bin/python -m pytest tests/tl3
#
# Environment knobs:
#   PYTHON           interpreter for the venv (default python3; needs ≥ 3.11 for tomllib)
#   TL3_VENV         where the venv goes (default <repo>/.venv-tl3)
#   TORCH_INDEX_URL  an index serving torch CPU wheels, used when no local CPU wheel is found
#   TL3_FORCE=1      reinstall even when the stamp says the venv is current
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TL3_VENV:-$ROOT/.venv-tl3}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="2.13.0"
TL_VERSION="3.9.0"
# Runtime deps of lens_steer that pyproject.toml may not list (imported lazily by the tasks).
EXTRA_DEPS=(math-verify)
# pyproject dependencies never installed here: TL 4 is replaced by TL 3, torch is installed first.
SKIP_DEPS="torch transformer-lens"
# Test-only packages.
TEST_DEPS=("pytest>=8")
# Lets step 3 build the editable install in the venv itself (no isolated build env to set up).
BUILD_DEPS=("setuptools>=77")
start=$SECONDS

log() { printf '[tl3_env %3ds] %s\n' "$((SECONDS - start))" "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV with $("$PYTHON" --version 2>&1)"
    "$PYTHON" -m venv "$VENV"
else
    log "reusing $VENV"
fi
PY="$VENV/bin/python"
# pip, minus the "Location 'file://…' is ignored" lines a pip.conf naming local indexes prints for
# every package those indexes lack (noise on such images); pip's exit status is kept.
pip_() {
    { "$PY" -m pip --disable-pip-version-check "$@" 2>&1 1>&3 3>&- \
        | { grep -v "^WARNING: Location 'file://.*' is ignored" || true; } >&2; } 3>&1
}

# The deps to install: pyproject.toml's list less SKIP_DEPS, plus EXTRA_DEPS not already named.
mapfile -t DEPS < <(SKIP="$SKIP_DEPS" "$PY" - "$ROOT/pyproject.toml" "${EXTRA_DEPS[@]}" <<'EOF'
import os, re, sys, tomllib

def name(req):
    return re.split(r"[\s<>=!~;\[(@]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")

skip = set(os.environ["SKIP"].split())
with open(sys.argv[1], "rb") as f:
    deps = [d for d in tomllib.load(f)["project"]["dependencies"] if name(d) not in skip]
named = {name(d) for d in deps}
deps += [d for d in sys.argv[2:] if name(d) not in named]
print("\n".join(deps))
EOF
)
[ "${#DEPS[@]}" -gt 0 ] || { echo "could not read dependencies from pyproject.toml" >&2; exit 1; }

# Skip everything when this exact recipe already ran to completion in this venv.
STAMP="$VENV/.lens_steer_tl3_stamp"
want="$(printf '%s\n' "torch==$TORCH_VERSION" "transformer-lens==$TL_VERSION" "${DEPS[@]}" \
    "${TEST_DEPS[@]}" "${BUILD_DEPS[@]}" | sha256sum | cut -c1-16)"
if [ "${TL3_FORCE:-0}" != 1 ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
    && "$PY" -c "import importlib.util as u, sys
sys.exit(not all(u.find_spec(m) for m in ('lens_steer', 'transformer_lens', 'torch', 'pytest')))" \
        2>/dev/null; then
    log "up to date (stamp $want)"
    exit 0
fi
rm -f "$STAMP"

# 1. torch first, as a CPU build. Linux PyPI torch is the CUDA build (several GB of nvidia-*
#    wheels), so prefer a CPU wheel on disk: pip's find-links folders (this image keeps one in
#    /opt/wheels), then TORCH_INDEX_URL, and PyPI's own build only as the last resort.
have_torch() {
    "$PY" -c "import sys, torch; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" \
        2>/dev/null
}
if have_torch; then
    log "torch $TORCH_VERSION already installed"
else
    tag="cp$("$PY" -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"
    wheel=""
    for dir in ${PIP_FIND_LINKS:-} /opt/wheels; do
        dir="${dir#file://}"
        [ -d "$dir" ] || continue
        wheel="$(ls "$dir"/torch-"$TORCH_VERSION"+cpu-"$tag"-"$tag"-*linux*x86_64.whl 2>/dev/null \
            | head -n1 || true)"
        [ -n "$wheel" ] && break
    done
    if [ -n "$wheel" ]; then
        log "installing torch from $wheel"
        pip_ install -q "$wheel"
    elif [ -n "${TORCH_INDEX_URL:-}" ]; then
        log "installing torch==$TORCH_VERSION from $TORCH_INDEX_URL"
        pip_ install -q --index-url "$TORCH_INDEX_URL" --extra-index-url https://pypi.org/simple \
            "torch==$TORCH_VERSION"
    else
        log "WARNING: no torch $TORCH_VERSION CPU wheel found; PyPI's build pulls CUDA libraries"
        pip_ install -q "torch==$TORCH_VERSION"
    fi
fi
TORCH_INSTALLED="$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null)"

# 2. TransformerLens 3, the transformers it accepts (bounded by pyproject's own pin), the rest of
#    the runtime deps and pytest, resolved together; torch is held at the build installed above.
CONSTRAINTS="$(mktemp)"
trap 'rm -f "$CONSTRAINTS"' EXIT
echo "torch==$TORCH_INSTALLED" >"$CONSTRAINTS"
log "installing transformer-lens==$TL_VERSION + ${#DEPS[@]} runtime deps + ${TEST_DEPS[*]}"
pip_ install -q -c "$CONSTRAINTS" "transformer-lens==$TL_VERSION" "${DEPS[@]}" "${TEST_DEPS[@]}" \
    "${BUILD_DEPS[@]}"

# 3. This project, without its declared deps (they would bring TransformerLens 4 back).
log "installing lens_steer (editable, --no-deps)"
pip_ install -q --no-deps --no-build-isolation -e "$ROOT"

"$PY" - <<'EOF'
import importlib.metadata as md
import lens_steer, torch, transformer_lens
from transformer_lens import HookedTransformer  # noqa: F401
print("  " + ", ".join(f"{p} {md.version(p)}" for p in ("torch", "transformer-lens", "transformers")))
EOF
echo "$want" >"$STAMP"
log "done"
