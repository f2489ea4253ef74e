"""`tasks[].its_grid`: ITS (and its random-direction control) vote over a sub-grid while λ* is
still tuned on the whole grid; run directories stamped before the option existed still resume."""

import pytest

from lens_steer.analysis import lambda_curve, load_run, report_figures
from lens_steer.pipeline.config import ConfigError, config_hash, validate_config
from lens_steer.pipeline.run import run_pipeline

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def cfg(tmp_path, tiny_pair, arc_task):
    """A tiny run with ITS and its random control on; keywords set the task's its_grid etc."""

    def make(**task) -> dict:
        return {
            "name": "its-sub",
            **tiny_pair,
            "device": "cpu",
            "output_dir": str(tmp_path / "runs"),
            "extract": {"batch_size": 4},
            "tasks": [
                arc_task(grid=[4.0, 16.0, 64.0], its=True, controls=["random-direction"], **task)
            ],
        }

    return make


def test_its_votes_over_its_grid_and_lambda_star_over_grid(cfg):
    run = load_run(run_pipeline(validate_config(cfg(its_grid=[4.0, 64.0])), progress=False))
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


def test_its_grid_is_checked_and_old_run_directories_keep_their_hash(cfg):
    with pytest.raises(ConfigError, match="its_grid.*non-empty list"):
        validate_config(cfg(its_grid=[]))
    assert validate_config(cfg(its_grid="paper"))["tasks"][0]["its_grid"] == "paper"
    checked = validate_config(cfg())
    assert checked["tasks"][0]["its_grid"] is None
    before = {
        **checked,
        "tasks": [{k: v for k, v in checked["tasks"][0].items() if k != "its_grid"}],
    }
    assert config_hash(checked) == config_hash(before)  # stamped before its_grid existed
    assert config_hash(validate_config(cfg(its_grid=[4.0]))) != config_hash(checked)
