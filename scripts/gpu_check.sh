#!/usr/bin/env bash
# The GPU checks of issue 7, one part per call so each fits the GPU machine's 10-minute limit.
#
# Here, once (downloads TransformerLens and the few packages the GPU image lacks into .whl/):
#   bash ../shared/gpu/wheels.sh .whl math-verify latex2sympy2_extended antlr4-python3-runtime
# Then on the GPU machine, carrying .whl (see ../shared/gpu/README.md):
#   bash scripts/gpu_check.sh tests     # tests/engine/test_gpu.py on CUDA (fixtures travel; ../shared not)
#   bash scripts/gpu_check.sh qwen      # benchmarks/gpu.py on Qwen3-0.6B's shape (+ static, ITS)
#   bash scripts/gpu_check.sh llama     # the same on Llama-3.1-8B's shape
#   bash scripts/gpu_check.sh extract   # benchmarks/gpu_extract.py (phi-4's shape)
#   bash scripts/gpu_check.sh profile   # one profiled steered batch of the graph engine
# Each part writes its output to ${OUT:-gpu-out}/<part>.txt as well as to the terminal.
set -euo pipefail
part="${1:?usage: gpu_check.sh tests|qwen|llama|extract|profile}"
out="${OUT:-gpu-out}"
mkdir -p "$out"
if ! python3 -c "import transformer_lens" 2>/dev/null; then
  ls .whl/*.whl >/dev/null 2>&1 || { echo "no .whl/: run ../shared/gpu/wheels.sh here first" >&2; exit 2; }
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:$PWD"
fi
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"; } | tee "$out/$part.txt"
case "$part" in
  tests)
    python3 -m pytest -q -p no:cacheprovider -m gpu tests/engine/test_gpu.py 2>&1 | tee -a "$out/$part.txt" ;;
  qwen)
    python3 benchmarks/gpu.py --archs qwen3-0.6b --static --its 2>&1 | tee -a "$out/$part.txt" ;;
  llama)
    python3 benchmarks/gpu.py --archs llama-3.1-8b --static --its 2>&1 | tee -a "$out/$part.txt" ;;
  extract)
    python3 benchmarks/gpu_extract.py 2>&1 | tee -a "$out/$part.txt" ;;
  profile)
    python3 benchmarks/gpu_profile.py --out "$out" 2>&1 | tee -a "$out/$part.txt" ;;
  *)
    echo "unknown part $part: tests|qwen|llama|extract|profile" >&2; exit 2 ;;
esac
