"""Analyses of real (tiny) run directories (the `runs` fixture, conftest.py): loading, λ curves,
ITS gains, steering ratio, Table 1, the self-contained report, `lens-steer report` and the
analyses/ scripts."""

import importlib.util
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

import lens_steer as ls
from lens_steer.analysis import (
    NotARunError,
    its_gains,
    lambda_curve,
    lambda_curves,
    load_run,
    report_figures,
    steering_ratio_figure,
    table1,
    write_report,
)
from lens_steer.analysis.curves import per_lambda_correct
from lens_steer.analysis.plots import covered_by
from lens_steer.experiment import stats
from lens_steer.pipeline.cli import main as cli

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matrices: see conftest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def test_load_run(runs):
    a, b = runs
    stamp = json.loads((a.path / "config.json").read_text())
    assert a.config_hash == stamp["config_hash"] and a.config == stamp["config"]
    assert list(a.tasks) == ["gsm8k", "arc_challenge"] and list(b.tasks) == ["gsm8k"]
    assert (a.parent, a.child, b.parent) == ("parent_a", "child", "parent_b")
    tr = a.task("gsm8k")
    assert tr.tune["best"] == tr.best_lambda
    assert set(tr.predictions["conditions"]) == set(tr.conditions)
    assert tr.vectors("parent").d_model == 48 and tr.vectors("child").d_model == 32
    with pytest.raises(KeyError, match="has no task 'math'"):
        a.task("math")


def test_not_a_run_names_the_missing_file(runs, tmp_path):
    with pytest.raises(NotARunError, match="config.json is missing"):
        load_run(tmp_path)
    shutil.copy(runs[0].path / "config.json", tmp_path / "config.json")
    with pytest.raises(NotARunError, match="metrics.json is missing.*run the same"):
        load_run(tmp_path)
    with pytest.raises(NotARunError, match="no run directory"):
        load_run(tmp_path / "absent")


@pytest.mark.parametrize("task", ["gsm8k", "arc_challenge"])
def test_test_curve_at_lambda_star_equals_the_steered_condition(runs, task):
    run = runs[0]
    c = lambda_curves(run, task)
    grid = run.task(task).config["grid"]
    assert [p.lam for p in c.test] == sorted(grid) == [p.lam for p in c.random]
    conds = run.task(task).conditions
    at = {p.lam: p for p in c.test}[c.best_lambda]
    assert at.accuracy == conds["steered"]["accuracy"] and at.n == conds["steered"]["n"]
    rand = {p.lam: p for p in c.random}[c.best_lambda]
    assert rand.accuracy == conds["random-direction"]["accuracy"]
    assert all(p.lo <= p.accuracy <= p.hi for p in c.test + c.random + c.validation)
    table = run.task(task).metrics["tune"]["table"]
    assert [p.accuracy for p in c.validation] == [row["accuracy"] for row in table]
    assert c.baseline == (conds["baseline"]["accuracy"], *conds["baseline"]["ci95"])


def test_per_lambda_answers_are_graded_in_ascending_lambda_order():
    """Votes are stored by ascending λ while ``lam`` keeps the configured grid order."""
    task = ls.get_task("gsm8k", data_dir=DATA / "gsm8k")
    ex = {"q1": ls.Example("q1", "?", "2"), "q2": ls.Example("q2", "?", "3")}
    cond = {
        "lam": [2.0, 0.5, 8.0],
        "predictions": [
            {"id": "q1", "answers": ["1", "2", None]},
            {"id": "q2", "answers": ["3", "3", "4"]},
        ],
    }
    lams, correct = per_lambda_correct(cond, task, ex)
    assert lams == [0.5, 2.0, 8.0]
    assert correct.tolist() == [[False, True, False], [True, True, False]]
    with pytest.raises(ValueError, match="'q1' is not in the task's test split"):
        per_lambda_correct(cond, task, {"q2": ex["q2"]})


def test_lambda_curve_figure(runs):
    fig = lambda_curve(runs)
    names = {tr.name for tr in fig.data}
    for who in ("parent_a → child", "parent_b → child"):
        assert f"{who}: steered (test)" in names
        assert f"{who}: random direction (test)" in names
        assert f"{who}: baseline (test)" in names
    assert sum(tr.fill == "toself" for tr in fig.data) >= 6  # CI bands
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis2.type == "log"
    base = next(tr for tr in fig.data if tr.name == "parent_b → child: baseline (test)")
    assert list(base.y) == [runs[1].task("gsm8k").conditions["baseline"]["accuracy"]] * 2


def test_its_gains_bars_are_the_metrics(runs):
    fig = its_gains(runs, "gsm8k")
    bars = {tr.name: tr for tr in fig.data if tr.type == "bar"}
    assert set(bars) == {
        "steered",
        "random-direction",
        "its",
        "random-direction-its",
        "self-consistency",
    }
    assert [list(x) for x in bars["its"].x] == [["parent_a", "parent_b"], ["child", "child"]]
    for k, run in enumerate(runs):
        vs = run.task("gsm8k").conditions["its"]["vs_baseline"]
        assert bars["its"].y[k] == pytest.approx(100 * vs["delta"])
        assert bars["its"].error_y.array[k] == pytest.approx(100 * (vs["ci95"][1] - vs["delta"]))
    assert bars["self-consistency"].y[1] is None  # run b has no self-consistency control
    assert bars["self-consistency"].marker.pattern.shape == "/"


def test_steering_ratio_is_recorded_and_plotted(runs):
    run = runs[0]
    sr = run.task("gsm8k").metrics["steering_ratio"]
    child = ls.load_model(run.config["child"], device="cpu")
    vecs = run.task("gsm8k").vectors("child")
    expected = ls.steering_ratio(child, vecs, sr["lambda"])
    assert sr["layers"] == list(vecs.layers)
    assert sr["ratio"] == pytest.approx(expected.tolist(), rel=1e-5)
    fig = steering_ratio_figure(run, "gsm8k")
    assert list(fig.data[0].y) == sr["ratio"]


def test_a_line_a_later_run_repeats_is_drawn_wider_underneath(runs, tmp_path):
    # a study's runs at the same λ on the same child have the same ratios: the later one hid the
    # earlier (gemma-3-270m's under SmolLM2's own at 0.01·‖h‖)
    # another run, same ratios
    copy = replace(runs[0], varied={"copy": "again"}, path=tmp_path / "again")
    fig = steering_ratio_figure([runs[0], copy], "gsm8k")
    assert list(fig.data[0].y) == list(fig.data[1].y)
    assert fig.data[0].line.width > fig.data[1].line.width == 2
    assert fig.data[0].marker.size > fig.data[1].marker.size
    assert fig.data[1].name.startswith("parent_a → child (copy=again)")
    many = [replace(runs[0], varied={"i": f"v{i}"}, path=tmp_path / f"v{i}") for i in range(5)]
    widths = [t.line.width for t in steering_ratio_figure(many, "gsm8k").data]
    assert widths == [10, 10, 10, 6, 2]  # at most two rings: wider would only hide the plot


def test_covered_by_counts_the_later_series_on_each_one():
    a = ([0, 1, 2], [1.0, 2.0, 3.0])
    shares_two = ([1, 2, 3], [2.0, 3.0, 9.0])  # equal where both have points
    off = ([0], [1.5])
    apart = ([7], [1.0])  # no x in common: not covering
    assert covered_by([a, shares_two, a, off, apart]) == [2, 1, 0, 0, 0]
    assert covered_by([a, ([0, 1, 2], [1.0, 2.0, 3.1])]) == [0, 0]  # 3.3 % apart at one layer
    assert covered_by([a, ([0, 1, 2], [1.0, 2.0, 3.002])]) == [1, 0]  # within rtol 1e-3
    nan = ([0, 1], [1.0, float("nan")])
    assert covered_by([nan, nan, ([1], [1.0])]) == [1, 0, 0]  # NaN lies on NaN, not on 1
    assert covered_by([]) == []


def test_bars_of_a_sweep_varying_one_key_are_labelled_by_its_values(runs):
    one_key = [
        replace(runs[0], varied={"setting": "paper"}),
        replace(runs[1], varied={"setting": "ridge"}),
    ]
    fig = its_gains(one_key, "gsm8k")
    assert list(fig.data[0].x[1]) == ["paper", "ridge"]
    assert fig.layout.xaxis.title.text == "child child: parent and setting"
    listed = [
        replace(runs[0], varied={"layers": "[1, 2]"}),
        replace(runs[1], varied={"layers": "[3]"}),
    ]
    assert list(its_gains(listed, "gsm8k").data[0].x[1]) == ["[1, 2]", "[3]"]
    with_eq = [replace(runs[0], varied={"tag": "a=b"}), replace(runs[1], varied={"tag": "c"})]
    assert list(its_gains(with_eq, "gsm8k").data[0].x[1]) == ["a=b", "c"]  # an "=" stays whole
    cases = (
        ([{"setting": "paper", "seed": "1"}, {}], ["setting=paper, seed=1", "child"]),
        ([{"a": "1"}, {"b": "2"}], ["a=1", "b=2"]),
    )
    for varied, labels in cases:
        fig = its_gains([replace(r, varied=v) for r, v in zip(runs, varied, strict=True)])
        assert list(fig.data[0].x[1]) == labels
        assert fig.layout.xaxis.title.text == "child child: parent and varied values"
    fig = its_gains([replace(r, varied={}) for r in runs], "gsm8k")
    assert fig.layout.xaxis.title.text == "child child: parent"


def test_each_task_column_names_what_its_own_bars_vary(runs):
    # gsm8k has both runs (one outside the sweep: no variant), arc_challenge only the first
    fig = its_gains([replace(runs[0], varied={"setting": "paper"}), runs[1]])
    gsm8k, arc = (fig.layout.xaxis, fig.layout.xaxis2)
    assert gsm8k.title.text == "child child: parent and varied values"
    assert arc.title.text == "child child: parent and setting"
    assert [list(t.x[1]) for t in fig.data if t.xaxis == "x2"][0] == ["paper"]


def test_table1_numbers_are_the_metrics(runs, tmp_path):
    t = table1(list(runs))
    assert [(r.parent, r.task) for r in t.rows] == [
        ("parent_a", "gsm8k"),
        ("parent_a", "arc_challenge"),
        ("parent_b", "gsm8k"),
    ]
    md = t.to_markdown()
    for row, (run, task) in zip(
        t.rows, [(runs[0], "gsm8k"), (runs[0], "arc_challenge"), (runs[1], "gsm8k")], strict=True
    ):
        conds = run.task(task).conditions
        assert row.baseline.accuracy == conds["baseline"]["accuracy"]
        assert (row.steered.lo, row.steered.hi) == tuple(conds["steered"]["ci95"])
        assert row.its.p == conds["its"]["vs_baseline"]["mcnemar_p"]
        assert row.best_lambda == run.task(task).best_lambda
        acc = conds["steered"]["accuracy"]
        assert f"{100 * acc:.2f} [" in md and row.steered.p_text() in md
    assert md.count("\n") == 2 + len(t.rows)
    # Holm: every λ* and ITS comparison of the table is one family
    cells = [c for r in t.rows for c in (r.steered, r.its) if c is not None and c.p is not None]
    assert len(cells) == 2 * len(t.rows)
    assert [c.holm for c in cells] == stats.holm([c.p for c in cells])
    assert all(c.p <= c.holm <= 1 for c in cells) and "| Holm p |" in md
    page = t.write(tmp_path / "t.html").read_text()
    assert page.count('class="ls-group"') == 2 and "parent: parent_b" in page


def _figure_count(html: str) -> int:
    return html.count('<div class="ls-figure"')


def test_report_of_one_run(runs):
    run = runs[0]
    path = write_report([run.path])
    assert path == run.path / "report.html"
    html = path.read_text()
    kinds = [f.kind for f in report_figures([run])]
    # per task: λ curve, gains, steering ratio, vector diagnostics, PC1 across layers
    assert kinds == ["lambda-curve", "its-gains", "steering-ratio", "vectors", "pc1-self"] * 2
    assert _figure_count(html) == len(kinds) == 10
    assert html.count(get_plotlyjs()) == 1
    assert '<script src="http' not in html and "cdn.plot.ly" not in html.replace(get_plotlyjs(), "")
    assert run.config_hash in html and "random-direction-its" in html
    assert write_report([run.path]).read_text() == html  # same runs, same bytes


def test_report_of_two_runs_compares_them_in_child_space(runs, tmp_path):
    with pytest.raises(ValueError, match="2 runs given"):
        write_report([r.path for r in runs])
    html = write_report([r.path for r in runs], tmp_path / "both.html").read_text()
    kinds = [f.kind for f in report_figures(list(runs))]
    assert kinds.count("pc1-cross") == 1 and kinds.count("pc1-self") == 3
    assert _figure_count(html) == len(kinds) == 12
    assert "child space, after transfer" in html
    assert all(r.config_hash in html for r in runs)


def test_cli_report(runs, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert cli(["report", str(runs[0].path), str(runs[1].path), "-o", str(out)]) == 0
    assert f"report: {out}" in capsys.readouterr().out
    assert _figure_count(out.read_text()) == 12
    assert cli(["report", str(runs[0].path), str(runs[1].path)]) == 2
    assert "-o REPORT.html" in capsys.readouterr().err
    assert cli(["report", str(tmp_path)]) == 2
    assert "config.json is missing" in capsys.readouterr().err


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "analyses" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.main


def test_analysis_scripts(runs, tmp_path, capsys):
    dirs = [str(r.path) for r in runs]
    for name in ("lambda_curve", "its_gains", "steering_ratio"):
        out = tmp_path / f"{name}.html"
        fig = _script(name)([*dirs, "--task", "gsm8k", "-o", str(out)])
        assert f"wrote {out}" in capsys.readouterr().out
        assert len(fig.data) > 0 and "Plotly.newPlot" in out.read_text()
    _script("table1")([*dirs, "-o", str(tmp_path / "t1.md")])
    printed = capsys.readouterr().out
    assert (tmp_path / "t1.md").read_text() in printed
    out = tmp_path / "abl.html"
    fig = _script("layer_ablation")(
        [dirs[0], "--task", "arc_challenge", "--n", "4", "--lams", "0.5", "4", "-o", str(out)]
    )
    assert out.is_file() and (tmp_path / "abl_heatmap.html").is_file()
    only = next(tr for tr in fig.data if tr.name == "steer only layer")
    assert len(only.y) == len(runs[0].task("arc_challenge").vectors("child"))


def test_model_scripts_compare_parents_of_different_widths(runs, tmp_path, capsys):
    a, b = runs[0].config["parent"], runs[1].config["parent"]  # widths 48 and 40
    common = ["--task", "gsm8k", "--data-dir", str(DATA / "gsm8k"), "--n-pairs", "6"]
    out = tmp_path / "pc1.html"
    fig = _script("pc1_similarity")(
        ["--parent-a", a, "--parent-b", b, *common, "--device", "cpu", "-o", str(out)]
    )
    assert f"wrote {out}" in capsys.readouterr().out
    heat = [tr for tr in fig.data if tr.type == "heatmap"]
    assert len(heat) == 2  # projection correlation and CKA; no cosine across widths
    assert [len(heat[0].y), len(heat[0].x)] == [4, 5]
    out = tmp_path / "transfer.html"
    fig = _script("transfer_similarity")(
        [
            "--parent",
            a,
            "--child",
            runs[0].config["child"],
            *common,
            "--n-anchor",
            "16",
            "--device",
            "cpu",
            "-o",
            str(out),
        ]
    )
    assert out.is_file() and [tr.type for tr in fig.data] == ["heatmap", "heatmap"]
