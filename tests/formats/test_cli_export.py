"""``lens-steer export`` and ``info`` end to end: a run's λ*, a relative λ measured on the model,
a layer range, the model hint, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lens_steer import SteeringVectors
from lens_steer.pipeline import cli
from lens_steer.steer import relative_norms
from lens_steer.testing import tiny_hf_model, tiny_model, tiny_tokenizer, unit_directions


@pytest.fixture(scope="module")
def child_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("child")
    tiny_hf_model("llama", 32, 4).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


@pytest.fixture
def run_vectors(tmp_path, child_dir) -> Path:
    """A run directory as ``lens-steer run`` leaves it: config.json, TASK/tune.json, TASK/vectors."""
    vecs = SteeringVectors(
        unit_directions(4, 32), (0, 1, 2, 3), meta={"model_n_layers": 4, "target_model": "x"}
    )
    task = tmp_path / "run" / "arc_challenge"
    path = vecs.save(task / "vectors" / "child.safetensors")
    (task / "tune.json").write_text(json.dumps({"best": 0.25}))
    config = {
        "child": str(child_dir),
        "steer": {"positions": "all", "relative": True},
        "tasks": [{"name": "arc_challenge"}],
    }
    (tmp_path / "run" / "config.json").write_text(json.dumps({"config": config}))
    return path


def test_export_best_reads_the_runs_lambda_and_relative_norms(
    run_vectors, child_dir, tmp_path, capsys
):
    out = tmp_path / "steer.pt"
    args = ["export", str(run_vectors), "-o", str(out), "--lam", "best", "--device", "cpu"]
    assert cli.main(args) == 0
    assert "λ = 0.25 (× mean‖h‖ per layer)" in capsys.readouterr().out
    back = SteeringVectors.load(out)
    model = tiny_model("llama", 32, 4)  # the same seed-0 weights as child_dir
    norms = relative_norms(model, SteeringVectors.load(run_vectors), None, None)
    assert back.meta["coefficients"] == pytest.approx((0.25 * norms).tolist(), rel=1e-5)


def test_export_layer_range_and_hint_from_the_model(run_vectors, child_dir, tmp_path, capsys):
    out = tmp_path / "cv.gguf"
    args = ["export", str(run_vectors), "-o", str(out), "--lam", "0.5", "--layers", "1-2"]
    assert cli.main([*args, "--model", str(child_dir)]) == 0
    back = SteeringVectors.load(out)
    assert back.layers == (1, 2) and back.meta["model_hint"] == "llama"
    src = SteeringVectors.load(run_vectors)
    assert torch.equal(back.directions, 0.5 * src.select([1, 2]).directions)
    assert "--control-vector-scaled" in capsys.readouterr().out


def test_export_layer_zero_warns_on_one_line(run_vectors, child_dir, tmp_path, capsys):
    out = tmp_path / "cv.gguf"
    assert cli.main(["export", str(run_vectors), "-o", str(out), "--model-hint", "llama"]) == 0
    assert "lens-steer: warning:" in capsys.readouterr().err
    assert SteeringVectors.load(out).layers == (1, 2, 3)


def test_info_reads_any_format_and_checks_the_model(run_vectors, child_dir, tmp_path, capsys):
    pt = SteeringVectors.load(run_vectors).export(tmp_path / "s.pt", "lm-eval", lam=2.0)
    assert cli.main(["info", str(pt), "--model", str(child_dir), "--device", "cpu"]) == 0
    shown = capsys.readouterr().out
    assert "lm-eval" in shown and "0:2" in shown and f"fits {child_dir}" in shown
    wide = SteeringVectors(unit_directions(2, 48), (1, 2)).export(tmp_path / "w.pt", "lm-eval")
    assert cli.main(["info", str(wide), "--model", str(child_dir), "--device", "cpu"]) == 2
    assert "width 48" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--lam", "best"], "not in a run directory"),
        (["--lam", "x"], "'best'"),
        (["--layers", "7-9"], "selects none"),
        (["--relative"], "--model"),
        (["--positions", "generated", "--model-hint", "llama"], "every position"),
        (["--lam", "1,2,3"], "one number per layer (2)"),
        (["--lam", "1,2,3", "--layers", "1"], "3 λ values for the file's 2 layers"),
    ],
)
def test_export_errors_are_one_line(tmp_path, capsys, extra, match):
    src = SteeringVectors(unit_directions(2, 8), (1, 2)).save(tmp_path / "v.safetensors")
    out = tmp_path / "cv.gguf"
    assert cli.main(["export", str(src), "-o", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lens-steer: error:") and match in err and err.count("\n") == 1
    assert not out.exists()


def test_info_warns_of_a_file_made_for_another_architecture(child_dir, tmp_path, capsys):
    vecs = SteeringVectors(unit_directions(2, 32), (1, 2))
    cv = vecs.export(tmp_path / "g.gguf", "gguf", model_hint="gemma3")
    assert cli.main(["info", str(cv), "--model", str(child_dir), "--device", "cpu"]) == 0
    assert "names a 'gemma3' model, but" in capsys.readouterr().err


def test_best_per_layer_lambda_follows_the_selected_layers(run_vectors, tmp_path, capsys):
    tune = run_vectors.parent.parent / "tune.json"
    tune.write_text(json.dumps({"best": [1.0, 2.0, 3.0, 4.0]}))
    config = run_vectors.parent.parent.parent / "config.json"
    cfg = json.loads(config.read_text())
    cfg["config"]["steer"]["relative"] = False
    config.write_text(json.dumps(cfg))
    out = tmp_path / "s.pt"
    args = ["export", str(run_vectors), "-o", str(out), "--lam", "best", "--layers", "3,1"]
    assert cli.main(args) == 0
    back = SteeringVectors.load(out)
    assert back.layers == (3, 1) and back.meta["coefficients"] == [4.0, 2.0]
    assert cli.main([*args, "--relative"]) == 2
    assert "the run's λ* is absolute" in capsys.readouterr().err


def test_best_is_the_childs_lambda_only(run_vectors, tmp_path, capsys):
    parent = SteeringVectors.load(run_vectors).save(run_vectors.with_name("parent.safetensors"))
    assert cli.main(["export", str(parent), "-o", str(tmp_path / "p.pt"), "--lam", "best"]) == 2
    assert "not parent.safetensors" in capsys.readouterr().err
    (run_vectors.parent.parent / "tune.json").write_text("{}")
    assert (
        cli.main(["export", str(run_vectors), "-o", str(tmp_path / "c.pt"), "--lam", "best"]) == 2
    )
    assert "cannot read the run" in capsys.readouterr().err


def test_svec_export_prints_the_layer_ids_to_steer(run_vectors, child_dir, tmp_path, capsys):
    out = tmp_path / "v.svec"
    args = ["export", str(run_vectors), "-o", str(out), "--model", str(child_dir)]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    assert "behavior_layer_ids=[1, 2, 3]" in captured.out  # layer 3 is the last block: dropped
    assert "layer 3 dropped" in captured.err


def test_best_refuses_a_run_that_did_not_add(run_vectors, tmp_path, capsys):
    config = run_vectors.parent.parent.parent / "config.json"
    cfg = json.loads(config.read_text())
    cfg["config"]["steer"]["op"] = "ablate"
    config.write_text(json.dumps(cfg))
    assert (
        cli.main(["export", str(run_vectors), "-o", str(tmp_path / "c.pt"), "--lam", "best"]) == 2
    )
    assert "op 'ablate'" in capsys.readouterr().err
