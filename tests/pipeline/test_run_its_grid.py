"""`tasks[].its_grid`: ITS (and its random-direction control) vote over a sub-grid while λ* is
still tuned on the whole grid; run directories stamped before the option existed still resume."""

from pathlib import Path

import pytest

from lens_steer.analysis import lambda_curve, load_run, report_figures
from lens_steer.pipeline.config import ConfigError, config_hash, validate_config
from lens_steer.pipeline.run import run_pipeline
from lens_steer.testing import save_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")

ARC = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "arc_challenge"


def _cfg(root: Path, **task) -> dict:
    return {
        "name": "its-sub",
        "parent": save_tiny_model(root / "parent", "gemma3", 48, 4, 1),
        "child": save_tiny_model(root / "child", "llama", 32, 5, 2),
        "device": "cpu",
        "output_dir": str(root / "runs"),
        "extract": {"batch_size": 4},
        "tasks": [
            {
                "name": "arc_challenge",
                "data_dir": str(ARC),
                "scoring": "loglik",
                "pairs": {"n": 6},
                "n_val": 12,
                "n_test": 12,
                "grid": [4.0, 16.0, 64.0],
                "controls": ["random-direction"],
                "batch_size": 16,
                **task,
            }
        ],
    }


def test_its_votes_over_its_grid_and_lambda_star_over_grid(tmp_path):
    run = load_run(
        run_pipeline(validate_config(_cfg(tmp_path, its_grid=[4.0, 64.0])), progress=False)
    )
    tr = run.task("arc_challenge")
    assert [row["lam"] for row in tr.tune["table"]] == [4.0, 16.0, 64.0]
    for name in ("its", "random-direction-its"):
        assert tr.conditions[name]["lam"] == [4.0, 64.0]
        assert tr.conditions[name]["n_votes"] == 2
    assert tr.conditions["steered"]["lam"] in (4.0, 16.0, 64.0)
    assert report_figures([run])  # the report draws a run whose test grid is a sub-grid
    fig = lambda_curve([run])
    assert list(fig.layout.xaxis.tickvals) == [4.0, 16.0, 64.0]  # every tuned λ is ticked
    base = next(t for t in fig.data if t.name.endswith("baseline (test)") and t.mode == "lines")
    assert (min(base.x), max(base.x)) == (4.0, 64.0)
    test = next(t for t in fig.data if t.name.endswith("steered (test)") and t.mode != "none")
    assert sorted(set(test.x)) == [4.0, 64.0]


def test_its_grid_is_checked_and_old_run_directories_keep_their_hash(tmp_path):
    cfg = _cfg(tmp_path)
    with pytest.raises(ConfigError, match="its_grid.*non-empty list"):
        validate_config(_cfg(tmp_path, its_grid=[]))
    assert validate_config(_cfg(tmp_path, its_grid="paper"))["tasks"][0]["its_grid"] == "paper"
    checked = validate_config(cfg)
    assert checked["tasks"][0]["its_grid"] is None
    before = {
        **checked,
        "tasks": [{k: v for k, v in checked["tasks"][0].items() if k != "its_grid"}],
    }
    assert config_hash(checked) == config_hash(before)  # stamped before its_grid existed
    assert config_hash(validate_config(_cfg(tmp_path, its_grid=[4.0]))) != config_hash(checked)
