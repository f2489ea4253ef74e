"""benchmarks/gpu.py, gpu_extract.py and gpu_profile.py on tiny shapes on the CPU: the scripts
the GPU machine runs do not rot, and gpu.py's unsteered rows reproduce transformers' greedy tokens
exactly (fp32)."""

import runpy
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu.py"

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
    assert len(rows) == 2 * (2 * 5 + 3)  # per arch: 5 rows per batch size, 3 ITS rows
    same = [line for line in rows if "tokens = HF" in line]  # graph and plain, 2 batches, 2 archs
    assert len(same) == 8 and all("(100.0% tokens = HF)" in line for line in same)
    its = [line for line in rows if "ITS" in line]
    assert len(its) == 6 and sum("(paper)" in line and "| 1.00 |" in line for line in its) == 2
    checks = [line for line in out.splitlines() if line.startswith("- ") and " b" in line]
    assert len(checks) == 4, out
    for line in checks:  # fp32 on CPU: the static decoder repeats itself and equals "plain"
        assert "repeated identically: True" in line and "= plain engine: 100.0%" in line, line
        assert "rows changed by the largest λ: 0/" not in line


def test_gpu_extract_benchmark_smoke_on_cpu(monkeypatch, capsys) -> None:
    script = SCRIPT.parent / "gpu_extract.py"
    argv = ["gpu_extract.py", "--tiny", "--device", "cpu", "--dtype", "float32",
            "--lengths", "16,48", "--pairs", "4", "--batch", "4"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(script), run_name="__main__")
    rows = [line for line in capsys.readouterr().out.splitlines() if line[:4] in ("| 16", "| 48")]
    assert [r.split(" | ")[1] for r in rows] == [
        "lens_steer `extract`",
        "`run_with_cache` + slice",
    ] * 2


def test_gpu_profile_smoke_on_cpu(monkeypatch, capsys, tmp_path) -> None:
    script = SCRIPT.parent / "gpu_profile.py"
    argv = ["gpu_profile.py", "--tiny", "--device", "cpu", "--dtype", "float32", "--batch", "8",
            "--new", "8", "--prompt-len", "24", "--out", str(tmp_path)]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    steps = [line for line in out.splitlines() if line.startswith("| ls.step |")]
    assert len(steps) == 1 and steps[0].split(" | ")[1] == "7"  # 8 new tokens: 7 decode steps
    assert "| ls.prefill | 1 |" in out and (tmp_path / "trace.json").stat().st_size > 0
