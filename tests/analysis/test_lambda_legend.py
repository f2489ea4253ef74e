"""The λ-curve legend: a grey key of the kinds of curve drawn and one entry per run drawn, each
run's curves and bands in its legend group, and a figure that grows with a long legend."""

from lens_steer.analysis.curves import CurvePoint, LambdaCurves
from lens_steer.analysis.figures import lambda_curve_figure
from lens_steer.analysis.plots import legend_height, legend_rows


def _points(lams, acc=0.25):
    return tuple(CurvePoint(lam, acc, acc - 0.03, acc + 0.03, 1172) for lam in lams)


def _curves(run, validation=True, test=True, random=True):
    lams = (0.01, 0.1, 1.0)
    return LambdaCurves(
        run=run,
        task="arc_challenge",
        scoring="loglik",
        best_lambda=0.1,
        validation=_points(lams) if validation else (),
        test=_points(lams) if test else None,
        random=_points(lams, 0.24) if random else None,
        baseline=(0.245, 0.22, 0.27),
        steered=(0.25, 0.22, 0.28),
    )


def test_key_and_runs_with_study_sized_labels():
    long = "qwen2.5-coder-1.5b-instruct → smollm2-135m-instruct (setting=paper"
    runs = [f"{long}, k={i})" for i in range(3)] + [f"{long}, note=a: b)"]  # ": " in a label
    curves = [
        _curves(runs[0], random=False),
        _curves(runs[1], validation=False, random=False),  # tested, never tuned
        _curves(runs[2], random=False),
        _curves(runs[3]),  # the only random curve: keyed although its label holds ": "
        LambdaCurves("no sweep", "arc_challenge", "loglik", None, (), None, None, None, None),
    ]
    fig = lambda_curve_figure(curves)
    shown = [t for t in fig.data if t.showlegend is not False]
    assert [t.name for t in shown] == [
        "steered (test)",
        "random direction (test)",
        "steered (validation)",
        "baseline (test)",
        "λ* (test)",
        *runs,
    ]  # fmt: skip  (the run with no λ sweep has a note, not an entry)
    assert all(t.legendgroup == t.name for t in shown[5:])
    hidden = [t for t in fig.data if t.showlegend is False]
    assert {t.legendgroup for t in hidden} == set(runs)  # curves, bands, baselines, stars
    assert not any(t.name.endswith(": steered (validation)") and runs[1] in t.name for t in hidden)
    assert "no sweep / arc_challenge: no λ sweep recorded" in fig.layout.annotations[-1].text
    rows = legend_rows(fig)
    # a row of separate legend groups is 19 + 10 px (rendered: tests/analysis/test_legend_fit.py)
    assert rows > 4 and fig.layout.height == 480 + 29 * (rows - 4) == 480 + legend_height(fig) - 116


def test_only_the_kinds_drawn_are_keyed():
    fig = lambda_curve_figure([_curves("a → b", test=False, random=False)])
    shown = [t.name for t in fig.data if t.showlegend is not False]
    assert shown == ["steered (validation)", "baseline (test)", "λ* (test)", "a → b"]


def test_a_dense_grid_labels_only_its_round_values():
    """The paper's 19 λ on a log axis: a tick at each, a label at 0.01, 0.02, 0.05, 0.1, 0.2, 0.5
    and 1 only (all 19 labels ran into each other); a short grid keeps every label."""
    from lens_steer.experiment.lambda_sweep import PAPER_LAMBDA_GRID

    paper = LambdaCurves("a → b", "arc_challenge", "loglik", 0.4, _points(PAPER_LAMBDA_GRID),
                         _points(PAPER_LAMBDA_GRID), None, (0.245, 0.22, 0.27), None)  # fmt: skip
    axis = lambda_curve_figure([paper]).layout.xaxis
    assert list(axis.tickvals) == list(PAPER_LAMBDA_GRID)
    labelled = [v for v, t in zip(axis.tickvals, axis.ticktext, strict=True) if t]
    assert labelled == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    assert [t for t in axis.ticktext if t] == ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"]
    short = lambda_curve_figure([_curves("a → b")]).layout.xaxis
    assert list(short.ticktext) == ["0.01", "0.1", "1"]
    relative = LambdaCurves("c → d", "arc_challenge", "loglik", 0.02, _points((0.01, 0.03, 0.07)),
                            None, None, (0.245, 0.22, 0.27), None)  # fmt: skip
    assert list(lambda_curve_figure([relative]).layout.xaxis.ticktext) == ["0.01", "0.03", "0.07"]


def _sweep(run, lams, best):
    return LambdaCurves(run, "arc_challenge", "loglik", best, _points(lams), _points(lams), None,
                        (0.245, 0.22, 0.27), None)  # fmt: skip


def test_runs_with_different_grids_in_one_column_tick_every_lambda_drawn():
    from lens_steer.experiment.lambda_sweep import PAPER_LAMBDA_GRID

    for order in (1, -1):  # whichever run comes last
        curves = [
            _sweep("paper", PAPER_LAMBDA_GRID, 0.4),
            _sweep("coarse", (0.01, 0.15, 1.0), 0.15),
        ]
        axis = lambda_curve_figure(curves[::order]).layout.xaxis
        assert list(axis.tickvals) == sorted({*PAPER_LAMBDA_GRID, 0.15})
        assert [t for t in axis.ticktext if t] == ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"]


def test_a_dense_grid_without_round_values_is_labelled_by_spacing():
    import numpy as np

    from lens_steer.analysis.plots import _round_value

    grid = tuple(float(x) for x in np.geomspace(0.03, 3, 9))  # 0.25 decade apart; no 1-2-5
    axis = lambda_curve_figure([_sweep("geo", grid, grid[4])]).layout.xaxis
    labelled = [v for v, t in zip(axis.tickvals, axis.ticktext, strict=True) if t]
    assert labelled[0] == grid[0] and labelled[-1] == grid[-1] and len(labelled) >= 4
    assert _round_value(float(np.float32(0.1))) and _round_value(0.9999999999999999)
    assert not _round_value(0.3) and not _round_value(0.06)
