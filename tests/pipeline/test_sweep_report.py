"""A sweep's folder reads as one set of runs: `lens-steer sweep` ends with Table 1 over every
finished run, and `lens-steer report SWEEP_DIR` draws one report (the sweep's runs with their
status, Table 1 with each run's varied values, λ curves per child, PC1 heatmaps once per distinct
parent extraction)."""

from __future__ import annotations

import html
import json
import re
import shutil

import pytest
import yaml

from lens_steer.analysis import its_gains, load_runs, table1
from lens_steer.analysis.plots import legend_rows, line
from lens_steer.analysis.report import report_figures, report_html
from lens_steer.pipeline.cli import main as cli
from lens_steer.testing import save_tiny_model

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def swept(sweep_base, tmp_path_factory):
    """A finished 2 children × 2 width maps sweep, plus one child that fails to load."""
    root = tmp_path_factory.mktemp("swept")
    other = save_tiny_model(root / "qwen", "qwen2", 32, 3, 5)
    path = root / "sweep.yaml"
    vary = {"child": [sweep_base["child"], other, str(root / "absent")],
            "transfer.width": ["truncate", "ridge"]}  # fmt: skip
    path.write_text(
        yaml.safe_dump({"base": sweep_base, "vary": vary, "output_dir": str(root / "out")})
    )
    return path, root / "out"


def test_the_sweep_ends_with_table1_over_its_finished_runs(swept, capsys):
    path, out = swept
    assert cli(["sweep", str(path), "--quiet"]) == 2  # the absent child's two runs failed
    printed = capsys.readouterr().out
    assert "Table 1 over the sweep's 4 finished runs" in printed
    assert len(re.findall(r"^\| parent \| child \(width=(truncate|ridge)\) \|", printed, re.M)) == 2
    assert len(re.findall(r"^\| parent \| qwen \(width=(truncate|ridge)\) \|", printed, re.M)) == 2
    assert f"report: lens-steer report {out}" in printed


def test_report_of_a_sweep_dir_is_one_combined_report(swept, capsys):
    path, out = swept
    if not (out / "sweep.json").is_file():
        cli(["sweep", str(path), "--quiet"])
    assert cli(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    record = json.loads((out / "sweep.json").read_text())["runs"]
    assert all(name in page for name in record)
    failed = [e for e in record.values() if e["status"] == "failed"]
    assert len(failed) == 2 and all("absent" in e["error"] for e in failed)
    assert page.count("<td>failed</td>") == 2 and "sweep out (4 finished run(s))" in page

    runs = load_runs([out, out / "tiny__child=qwen__width=ridge"])  # the run counts once
    assert [r.arm for r in runs] == ["child (width=truncate)", "child (width=ridge)",
                                     "qwen (width=truncate)", "qwen (width=ridge)"]  # fmt: skip
    assert [row.child for row in table1(out).rows] == [r.arm for r in runs]
    assert f"lens_steer report: {html.escape(runs[0].label)}" in report_html(runs[0])  # one Run
    kinds = [(f.kind, f.title) for f in report_figures(runs)]
    curves = [t for k, t in kinds if k == "lambda-curve"]
    assert curves == ["arc_challenge: accuracy vs λ, child child",
                      "arc_challenge: accuracy vs λ, child qwen"]  # fmt: skip
    # the four runs share one parent extraction: its heatmap is drawn once, no self-comparison
    assert [k for k, _ in kinds].count("pc1-self") == 1
    assert [k for k, _ in kinds].count("pc1-cross") == 0


def test_a_sweep_dir_without_finished_runs_is_refused_clearly(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": {"a": {"status": "failed"}}}))
    with pytest.raises(FileNotFoundError, match="lists no finished run yet"):
        load_runs(tmp_path)


def test_lambda_curves_never_share_an_axis_across_units_and_stay_readable(swept, tmp_path):
    """A study-sized sweep (one child, λ absolute in some runs and relative to ‖h‖ in others):
    relative and absolute λ get figures of their own, at most four runs each."""
    path, out = swept
    if not (out / "sweep.json").is_file():
        cli(["sweep", str(path), "--quiet"])
    source = out / "tiny__child=child__width=ridge"
    grid = tmp_path / "grid"
    record = {}
    for i in range(9):
        name = f"g__run={i}"
        shutil.copytree(source, grid / name, ignore=shutil.ignore_patterns("*.sqlite", "*.lock"))
        if i % 3 == 0:  # runs 0, 3, 6 steer with λ relative to ‖h‖
            stamp = json.loads((grid / name / "config.json").read_text())
            stamp["config"]["steer"]["relative"] = True
            (grid / name / "config.json").write_text(json.dumps(stamp))
        record[name] = {"values": {"run": i}, "status": "done"}
    (grid / "sweep.json").write_text(json.dumps({"runs": record}))
    curves = [f for f in report_figures(load_runs(grid)) if f.kind == "lambda-curve"]
    assert [f.title for f in curves] == [
        "arc_challenge: accuracy vs λ, λ relative to ‖h‖",
        "arc_challenge: accuracy vs λ (1 of 2)",
        "arc_challenge: accuracy vs λ (2 of 2)",
    ]
    groups = [{t.legendgroup for t in f.figure.data if "run=" in (t.legendgroup or "")}
              for f in curves]  # fmt: skip
    runs_in = [sorted(int(n.split("run=")[1].rstrip(")")) for n in ns) for ns in groups]
    assert runs_in == [[0, 3, 6], [1, 2, 4, 5], [7, 8]]
    assert curves[0].figure.layout.xaxis.title.text == "λ (fraction of the layer's mean ‖h‖)"
    assert curves[1].figure.layout.xaxis.title.text == "λ"
    assert len({f.key for f in curves}) == 3
    # the legend: one entry per kind of curve (its line style) and one per run (its colour,
    # toggling every curve of the run), not one per run × kind
    kinds = ["steered (test)", "random direction (test)", "steered (validation)",
             "baseline (test)", "λ* (test)"]  # fmt: skip
    for f, group in zip(curves, groups, strict=True):
        drawn = {t.name.split(": ", 1)[1] for t in f.figure.data if ": " in (t.name or "")}
        assert {"steered (validation)", "baseline (test)", "λ* (test)"} <= drawn  # (no ITS)
        shown = [t for t in f.figure.data if t.showlegend is not False]
        key = [k for k in kinds if k in drawn]
        assert [t.name for t in shown] == key + sorted(group, key=lambda g: g[-2])
        assert all(t.legendgroup == t.name for t in shown[len(key) :])
        rows = legend_rows(f.figure)
        assert rows <= 4 and f.figure.layout.height == 480  # four runs fit the plain height
    gains = its_gains(load_runs(grid))
    assert list(gains.data[0].x[1]) == [str(i) for i in range(9)]  # one child, one key: values
    assert gains.layout.xaxis.title.text.endswith(": parent and run")


def test_legend_rows_wrap_as_plotly_wraps():
    import plotly.graph_objects as go

    def fig(names):
        return go.Figure([go.Scatter(x=[0], y=[0], name=n) for n in names])

    assert legend_rows(fig(["x" * 100] * 10)) == 10  # 750 px each: one a row at 900 px
    assert legend_rows(fig(["steered", "random"])) == 1
    assert legend_rows(fig(["x" * 50] * 4)) == 2  # 400 px each: two a row
    hidden = fig(["x" * 100] * 3)
    hidden.data[1].showlegend = False
    assert legend_rows(hidden) == 2
    assert legend_rows(go.Figure()) == 0


def test_line_styles_do_not_repeat_within_forty():
    """A study's 14 runs or the paper's 19 λ: past the palette's ten colours the dash changes."""
    styles = [tuple(line(i).values()) for i in range(40)]
    assert len(set(styles)) == 40 and styles[0] == (styles[10][0], "solid")
    assert styles[10][1] == "dash" and line(40) == line(0)
