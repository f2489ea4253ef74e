"""`tasks[].layer_search` in a run config, end to end on tiny models: the search runs on validation
at λ*, its chosen set is tested on the test split against ls.steer through the hook path, the run
records it in metrics.json and layer_search.json, the report draws it, and the analyses/ script
re-runs it on the run directory. Also the README's walkthrough in a config: an mlp_out probe
direction from the parent, transferred, ablated in the child."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import lens_steer as ls
from lens_steer.analysis import load_run, report_figures, run_layer_search
from lens_steer.experiment.layer_search import describe_stop
from lens_steer.models.load import load_model
from lens_steer.pipeline.config import ConfigError, config_hash, validate_config
from lens_steer.pipeline.run import run_pipeline
from lens_steer.tasks import get_task, score_choices

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[2]
ARC = ROOT.parent / "shared" / "data" / "arc_challenge"


@pytest.fixture(scope="module")
def base(tmp_path_factory, tiny_pair):
    return {
        **tiny_pair,
        "device": "cpu",
        "output_dir": str(tmp_path_factory.mktemp("layer_search_runs")),
        "extract": {"batch_size": 4},
        "transfer": {"width": "ridge", "n_anchor": 16},
    }


@pytest.fixture(scope="module")
def greedy_run(base, arc_task):
    cfg = {
        **base,
        "name": "greedy",
        "tasks": [
            arc_task(
                layer_search={"strategy": "greedy-forward", "max_layers": 2},
                controls=["random-direction"],
            )
        ],
    }
    return load_run(run_pipeline(validate_config(cfg), progress=False))


def _steered_accuracy(run, layers, lam, split, op="add") -> float:
    """The chosen set steered through ls.steer's hook path and scored with score_choices."""
    cfg, tcfg = run.config, run.task("arc_challenge").config
    task = get_task("arc_challenge", data_dir=ARC)
    sp = task.splits(seed=cfg["seed"], n_val=tcfg["n_val"])
    exs = list(sp.val) if split == "val" else list(sp.test)[: tcfg["n_test"]]
    model = load_model(cfg["child"], device="cpu")
    vecs = run.task("arc_challenge").vectors("child")
    if not layers:
        return float(np.mean(score_choices(model, task, exs, batch_size=16).correct))
    with ls.steer(model, vecs.select(layers), lam=lam, op=op):
        return float(np.mean(score_choices(model, task, exs, batch_size=16).correct))


def test_the_run_records_the_search_and_tests_the_chosen_set(greedy_run):
    tr = greedy_run.task("arc_challenge")
    search = tr.metrics["layer_search"]
    on_disk = json.loads((tr.path / "layer_search.json").read_text())
    assert search == on_disk
    assert search["strategy"] == "greedy-forward" and search["lam"] == tr.best_lambda
    steps = search["steps"]
    assert steps[0]["layers"] == [] and 1 <= len(steps) <= 3
    assert all(len(s["layers"]) == i for i, s in enumerate(steps))
    for s in steps:
        want = _steered_accuracy(greedy_run, s["layers"], tr.best_lambda, "val")
        assert s["accuracy"] == pytest.approx(want, abs=1e-6)
    best = search["best"]
    assert best in [s["layers"] for s in steps]
    rounds = search["rounds"]  # a kept round's best candidate is the next step, counts and all
    assert len(rounds) == len(steps) - 1 + (search["stopped"] == "ci")
    for rnd, nxt in zip(rounds, steps[1:], strict=False):
        assert rnd["kept"] and sorted([*rnd["base"], rnd["best"]]) == nxt["layers"]
        added = [c["added"] for c in rnd["candidates"]]
        assert rnd["candidates"][added.index(rnd["best"])]["n_correct"] == nxt["n_correct"]
    assert search["stopped"] in ("ci", "max_layers", "exhausted")
    assert (search["stopped"] == "ci") == (not rounds[-1]["kept"])
    assert f"best {best} ({describe_stop(search)})" in (greedy_run.path / "run.log").read_text()
    if best:
        test = search["test"]
        assert test["baseline"] == tr.conditions["baseline"]  # same test items, same answers
        want = _steered_accuracy(greedy_run, best, tr.best_lambda, "test")
        assert test["best"]["accuracy"] == pytest.approx(want, abs=1e-6)
        assert test["best"]["vs_baseline"]["ci95"][0] <= test["best"]["vs_baseline"]["delta"]
        control = test["random-direction"]  # the run's control, on the chosen layers at λ*
        assert control["n"] == test["best"]["n"] and "random" in control["description"]
        assert control["lam"] == tr.best_lambda and control["vs_baseline"]
    else:
        assert search["test"] is None


def test_the_report_draws_the_search_and_the_script_reruns_it(greedy_run, tmp_path, capsys):
    figs = [f for f in report_figures([greedy_run]) if f.kind == "layer-search"]
    assert len(figs) == 1
    search = greedy_run.task("arc_challenge").metrics["layer_search"]
    path = figs[0].figure.data[0]
    assert list(path.y) == [s["accuracy"] for s in search["steps"]]
    assert list(path.x)[0] == "none"
    grey = figs[0].figure.data[1]  # every candidate each round scored
    assert grey.name == "candidates of each round"
    assert len(grey.y) == sum(len(r["candidates"]) for r in search["rounds"])
    assert ("stop" in list(grey.x)) == (search["stopped"] == "ci")
    again = run_layer_search(greedy_run, "arc_challenge", max_layers=2)
    assert again.to_dict() == {k: v for k, v in search.items() if k != "test"}
    spec = importlib.util.spec_from_file_location("ls_script", ROOT / "analyses/layer_search.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "search.html"
    fig = mod.main(
        [str(greedy_run.path), "--task", "arc_challenge", "--strategy", "single", "-o", str(out)]
    )
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "best:" in printed
    n_layers = len(greedy_run.task("arc_challenge").vectors("child"))
    assert list(fig.data[0].x) == ["none", *[f"L{k}" for k in range(n_layers)]]


def test_probe_at_mlp_out_transferred_and_ablated(base, arc_task):
    """The README walkthrough as a config: parent mlp_out probe → child → ablate, single map."""
    cfg = {
        **base,
        "name": "ablate-probe",
        "extract": {"method": "probe", "hook": "mlp_out", "batch_size": 4},
        "steer": {"op": "ablate"},
        "tasks": [
            arc_task(
                grid=[0.5, 1.0],
                layer_search={"strategy": "leave-one-out"},
                controls=["random-direction"],
            )
        ],
    }
    run = load_run(run_pipeline(validate_config(cfg), progress=False))
    tr = run.task("arc_challenge")
    parent, child = tr.vectors("parent"), tr.vectors("child")
    assert parent.hook_point == child.hook_point == "hook_mlp_out"
    assert parent.meta["method"] == "probe" and len(parent.meta["probe_accuracy"]) == 4
    assert tr.conditions["steered"]["description"]  # the ablated child was tested
    assert run.config["steer"]["op"] == "ablate" and tr.metrics["steering_ratio"] is None
    search, full = tr.metrics["layer_search"], list(child.layers)
    assert [s["layers"] for s in search["steps"]] == [full] + [
        [k for k in full if k != drop] for drop in full
    ]
    lam = tr.best_lambda
    for s in search["steps"][:3]:
        want = _steered_accuracy(run, s["layers"], lam, "val", op="ablate")
        assert s["accuracy"] == pytest.approx(want, abs=1e-6)
    # a leave-one-out set always wins ties with the full set (fewer layers): it is tested
    assert len(search["best"]) == len(full) - 1
    want = _steered_accuracy(run, search["best"], lam, "test", op="ablate")
    assert search["test"]["best"]["accuracy"] == pytest.approx(want, abs=1e-6)
    assert search["test"]["baseline"] == tr.conditions["baseline"]
    control = search["test"]["random-direction"]  # random directions ablated on the same set
    assert control["n"] == search["test"]["best"]["n"] and control["lam"] == lam
    assert "random" in control["description"] and "vs_baseline" in control


def test_a_generation_task_searches_by_its_graded_answers(base):
    """GSM8K: the search generates each set's answers in one λ-batched call per step."""
    task = {
        "name": "gsm8k",
        "data_dir": str(ARC.parent / "gsm8k"),
        "pairs": {"n": 4},
        "n_val": 4,
        "n_test": 4,
        "grid": [4.0],
        "its": False,
        "controls": [],
        "zero_shot": True,
        "max_new_tokens": 8,
        "batch_size": 8,
        "layer_search": {"strategy": "leave-one-out"},
    }
    run = load_run(run_pipeline(validate_config({**base, "name": "gen", "tasks": [task]}),
                                progress=False))  # fmt: skip
    tr = run.task("gsm8k")
    search, layers = tr.metrics["layer_search"], list(tr.vectors("child").layers)
    assert [s["layers"] for s in search["steps"]][0] == layers
    assert len(search["steps"]) == len(layers) + 1 and all(s["n"] == 4 for s in search["steps"])
    assert search["test"]["baseline"] == tr.conditions["baseline"]
    assert search["test"]["best"]["n"] == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"layer_search": {"max_layers": 2}}, "max_layers without a strategy"),
        ({"layer_search": {"strategy": "single", "max_layers": 2}}, "only the greedy-forward"),
        ({"grid": [[1.0, 0.0, 1.0, 0.0, 1.0]]}, "per-layer entries"),
        ({"layer_search": {"strategy": "greedy"}}, "not one of"),
    ],
)
def test_bad_layer_search_configs_fail_before_any_model_loads(change, message, arc_task):
    task = arc_task(layer_search={"strategy": "greedy-forward"})
    task.update(change)
    with pytest.raises(ConfigError, match=message):
        validate_config({"parent": "p", "child": "c", "tasks": [task]})


def test_clamp_cannot_search_and_an_unsearched_config_keeps_its_hash(arc_task):
    task = arc_task(layer_search={"strategy": "single"})
    with pytest.raises(ConfigError, match="use steer.op add/ablate"):
        validate_config({"parent": "p", "child": "c", "steer": {"op": "clamp"}, "tasks": [task]})
    cfg = validate_config({"parent": "p", "child": "c", "tasks": [arc_task()]})
    before = {**cfg, "tasks": [{k: v for k, v in cfg["tasks"][0].items() if k != "layer_search"}]}
    assert config_hash(cfg) == config_hash(before)  # run directories made before it resume
    searched = validate_config({"parent": "p", "child": "c", "tasks": [task]})
    assert config_hash(searched) != config_hash(cfg)
