"""`lens-steer sweep` in this process: a sweep file expands to validated runs named by their
values; each run's metrics equal `run_pipeline` on the expanded config; sweep.json records every
run; a finished sweep does no work again and a changed one runs only its new runs; one failing
run is recorded and the others finish."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from lens_steer.pipeline.cli import main as cli
from lens_steer.pipeline.config import ConfigError
from lens_steer.pipeline.run import run_pipeline
from lens_steer.pipeline.sweep import load_sweep, parse_sweep, run_sweep
from lens_steer.testing import tiny_hf_model, tiny_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")

ARC = Path(__file__).resolve().parents[3] / "shared" / "data" / "arc_challenge"


def _save(path: Path, family: str, d_model: int, n_layers: int, seed: int) -> str:
    tiny_hf_model(family, d_model, n_layers, seed).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep_models")
    return {
        "name": "tiny",
        "parent": _save(root / "parent", "gemma3", 48, 3, 1),
        "child": _save(root / "child", "llama", 32, 4, 2),
        "device": "cpu",
        "extract": {"batch_size": 4},
        "transfer": {"width": "ridge", "n_anchor": 16},
        "tasks": [
            {
                "name": "arc_challenge",
                "data_dir": str(ARC),
                "scoring": "loglik",
                "pairs": {"n": 4},
                "n_val": 4,
                "n_test": 6,
                "grid": [2.0, 8.0],
                "its": False,
                "controls": [],
                "batch_size": 16,
            }
        ],
    }


def _sweep_file(tmp_path: Path, base, vary, name="sweep.yaml") -> Path:
    path = tmp_path / name
    out = str(tmp_path / "out")
    path.write_text(yaml.safe_dump({"base": base, "vary": vary, "output_dir": out}))
    return path


def test_expansion_names_and_validates_every_run(base, tmp_path):
    sweep = parse_sweep(
        {
            "base": base,
            "vary": {
                "seed": [0, 1],
                "transfer.width": ["truncate", "ridge"],
                "tasks.0.n_test": [6],
            },
        },  # fmt: skip
        base_dir=tmp_path,
    )
    names = [r.name for r in sweep.runs]
    assert names[0] == "tiny__seed=0__width=truncate__n_test=6" and len(names) == 4
    assert [r.config["transfer"]["width"] for r in sweep.runs] == ["truncate", "ridge"] * 2
    assert all(r.config["tasks"][0]["n_test"] == 6 for r in sweep.runs)
    assert all(r.config["extract"]["method"] == "pca" for r in sweep.runs)  # defaults filled


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"vary": {"transfer.widht": ["ridge"]}}, "did you mean 'width'"),
        ({"vary": {}}, "vary must map"),
        ({"vary": {"seed": []}}, "non-empty list"),
        ({"vary": {"seed": [0]}, "resorces": {}}, "unknown key 'resorces'"),
        ({"vary": {"tasks.3.n_test": [4]}}, "list of 1"),
        ({"vary": {"seed": [0, "x"]}}, "1 run\\(s\\) invalid: tiny__seed=x: seed: expected int"),
    ],
)
def test_bad_sweeps_fail_before_anything_runs(base, tmp_path, sweep, message):
    with pytest.raises(ConfigError, match=message):
        parse_sweep({"base": base, **sweep}, base_dir=tmp_path)
    assert not (tmp_path / "out").exists()


def test_a_sweep_runs_resumes_and_grows(base, tmp_path, capsys):
    path = _sweep_file(tmp_path, base, {"seed": [0, 1]})
    assert cli(["sweep", str(path), "--quiet"]) == 0
    assert "sweep: 2 of 2 runs done" in capsys.readouterr().out
    out = tmp_path / "out"
    record = json.loads((out / "sweep.json").read_text())["runs"]
    assert list(record) == ["tiny__seed=0", "tiny__seed=1"]
    assert all(r["status"] == "done" and not r.get("reused") for r in record.values())
    # each run equals `lens-steer run` on its expanded config, alone
    alone = load_sweep(path).runs[1].config
    single = run_pipeline(dict(alone, output_dir=str(tmp_path / "alone")), progress=False)
    ours = json.loads((out / "tiny__seed=1" / "metrics.json").read_text())
    assert ours["tasks"] == json.loads((single / "metrics.json").read_text())["tasks"]
    stamp = (out / "tiny__seed=0" / "metrics.json").stat().st_mtime_ns
    # a finished sweep does no work; a grown one runs only its new run
    grown = _sweep_file(tmp_path, base, {"seed": [0, 1, 2]})
    root, failed = run_sweep(load_sweep(grown), progress=False)
    assert root == out and not failed
    record = json.loads((out / "sweep.json").read_text())["runs"]
    assert [bool(r.get("reused")) for r in record.values()] == [True, True, False]
    assert (out / "tiny__seed=0" / "metrics.json").stat().st_mtime_ns == stamp


def test_a_failing_run_is_recorded_and_the_others_finish(base, tmp_path, capsys):
    path = _sweep_file(tmp_path, base, {"child": [base["child"], str(tmp_path / "missing")]})
    assert cli(["sweep", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "1 run(s) failed: tiny__child=missing" in err
    record = json.loads((tmp_path / "out" / "sweep.json").read_text())["runs"]
    ok, bad = record["tiny__child=child"], record["tiny__child=missing"]
    assert ok["status"] == "done" and Path(ok["metrics"]).is_file()
    assert bad["status"] == "failed" and "missing" in bad["error"]
