"""The configs in configs/ validate, and configs/demo.yaml is exactly what `lens-steer demo` runs."""

from pathlib import Path

import pytest

from lens_steer.pipeline.config import ConfigError, config_hash, load_config
from lens_steer.pipeline.demo import demo_config, find_data_root

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


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


@pytest.mark.parametrize(
    "path", sorted((ROOT / "configs" / "sweeps").glob("*.yaml")), ids=lambda p: p.name
)
def test_sweep_files_expand_to_valid_runs(path: Path) -> None:
    from lens_steer.pipeline.sweep import load_sweep

    sweep = load_sweep(path)
    assert len(sweep.runs) >= 2 and len({r.name for r in sweep.runs}) == len(sweep.runs)
