"""benchmarks/gpu.py on tiny shapes on the CPU: the script the GPU machine runs does not rot, and
its unsteered rows reproduce transformers' greedy tokens exactly (fp32)."""

import runpy
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"

pytestmark = pytest.mark.usefixtures("one_thread")


def test_gpu_benchmark_smoke_on_cpu(monkeypatch, capsys) -> None:
    argv = ["gpu.py", "--tiny", "--device", "cpu", "--dtype", "float32", "--batches", "1,8",
            "--prompt-len", "24", "--new", "6", "--its", "--its-prompts", "4"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capsys.readouterr().out
    rows = [
        line
        for line in out.splitlines()
        if line.startswith("| qwen3") or line.startswith("| llama")
    ]
    assert len(rows) == 2 * (2 * 3 + 2)  # per arch: 3 rows per batch size, 2 ITS rows
    same = [line for line in rows if "tokens = HF" in line]
    assert len(same) == 4 and all("(100.0% tokens = HF)" in line for line in same)
    assert all("λ-batched" in line or "per λ" in line for line in rows if "ITS" in line)
