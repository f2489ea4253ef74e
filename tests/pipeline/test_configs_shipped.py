"""The configs in configs/ validate, and configs/demo.yaml is exactly what `lens-steer demo` runs."""

from pathlib import Path

import pytest

from lens_steer.pipeline.config import ConfigError, config_hash, load_config
from lens_steer.pipeline.demo import demo_config, find_data_root

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
PAPER_GRID = ROOT / "configs" / "paper-grid.yaml"
CONFIGS = sorted(p for p in (ROOT / "configs").glob("*.yaml") if p != PAPER_GRID)
SWEEPS = [*sorted((ROOT / "configs" / "sweeps").glob("*.yaml")), PAPER_GRID]


def test_there_are_configs() -> None:
    names = {p.name for p in CONFIGS}
    assert "demo.yaml" in names
    assert any(n.startswith("paper-") for n in names)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_validates(path: Path) -> None:
    cfg = load_config(path)
    assert cfg["tasks"], path


def test_demo_yaml_is_the_demo() -> None:
    from_yaml = load_config(ROOT / "configs" / "demo.yaml")
    built = demo_config(DATA)
    assert from_yaml == built
    assert config_hash(from_yaml) == config_hash(built)  # same run directory, same cache


def test_demo_finds_data_or_says_how(tmp_path, monkeypatch) -> None:
    assert find_data_root(DATA) == DATA.resolve()
    monkeypatch.setenv("LENS_STEER_DATA", str(DATA))
    assert find_data_root() == DATA.resolve()
    monkeypatch.delenv("LENS_STEER_DATA")
    monkeypatch.chdir(tmp_path)
    import lens_steer.pipeline.demo as demo_mod

    monkeypatch.setattr(demo_mod, "__file__", str(tmp_path / "x" / "demo.py"))
    with pytest.raises(ConfigError, match="--data-dir"):
        find_data_root(tmp_path / "nothing")


def test_paper_config_is_the_paper_setting() -> None:
    cfg = load_config(ROOT / "configs" / "paper-phi4-to-qwen3-0.6b-gsm8k.yaml")
    task = cfg["tasks"][0]
    assert (cfg["parent"], cfg["child"]) == ("microsoft/phi-4", "Qwen/Qwen3-0.6B")
    assert task["grid"] == "paper" and task["its"] and task["n_test"] is None
    assert (cfg["device"], cfg["dtype"]) == ("cuda", "bfloat16")


@pytest.mark.parametrize("path", SWEEPS, ids=lambda p: p.name)
def test_sweep_files_expand_to_valid_runs(path: Path) -> None:
    from lens_steer.pipeline.sweep import load_sweep

    sweep = load_sweep(path)
    assert len(sweep.runs) >= 2 and len({r.name for r in sweep.runs}) == len(sweep.runs)


def test_paper_grid_is_the_papers_grid() -> None:
    from lens_steer.experiment import PAPER_LAMBDA_GRID
    from lens_steer.pipeline.sweep import load_sweep

    sweep = load_sweep(PAPER_GRID)
    pairs = {(r.config["parent"], r.config["child"]) for r in sweep.runs}
    assert len(sweep.runs) == len(pairs) == 3 * 7
    assert {p for p, _ in pairs} == {
        "microsoft/phi-4",
        "Qwen/Qwen2.5-14B-Instruct",
        "mistralai/Mistral-7B-Instruct-v0.3",
    }
    assert "Qwen/Qwen3-0.6B" in {c for _, c in pairs} and len(PAPER_LAMBDA_GRID) == 19
    for run in sweep.runs:
        tasks = run.config["tasks"]
        assert [t["name"] for t in tasks] == ["gsm8k", "math", "arc_challenge"]
        assert all(t["grid"] == "paper" and t["its"] and t["n_test"] is None for t in tasks)
        assert run.config["device"] == "cuda" and sweep.resources["num_gpus"] == 1
