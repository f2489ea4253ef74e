"""Figure titles wrap (plotly never breaks a title, and one naming a study's runs ran off the
figure), and the layer-search figure puts every greedy round's candidates in its column."""

import plotly.graph_objects as go

from lens_steer.analysis.layer_search import layer_search_figure
from lens_steer.analysis.plots import TITLE_WIDTH, fit_legend, log_ticks, style, wrap_title

LABEL = "qwen2.5-coder-1.5b-instruct → smollm2-135m-instruct (setting=paper)"


def test_a_long_title_breaks_at_spaces_into_lines_that_fit():
    title = f"arc_challenge: PC1 cosine, {LABEL} vs {LABEL}"
    lines = wrap_title(title).split("<br>")
    assert len(lines) == 2 and all(len(x) <= TITLE_WIDTH for x in lines)
    assert " ".join(lines) == title  # nothing lost, nothing added


def test_short_titles_given_breaks_and_long_words_stay_as_they_are():
    assert wrap_title("accuracy vs λ") == "accuracy vs λ"
    assert wrap_title("a<br>b") == "a<br>b"
    word = "x" * (TITLE_WIDTH + 5)
    assert wrap_title(f"{word} y") == f"{word}<br>y"


def test_each_extra_title_line_adds_its_height_and_the_legend_keeps_it():
    short = style(go.Figure(), "short")
    wrapped = style(go.Figure(), f"{LABEL} vs {LABEL}")
    assert wrapped.layout.height == short.layout.height + 24
    assert wrapped.layout.margin.t == short.layout.margin.t + 24
    assert fit_legend(wrapped).layout.height == fit_legend(short).layout.height + 24


def test_the_layer_search_title_of_a_study_run_wraps():
    rec = {"strategy": "greedy-forward", "lam": 0.4, "best": [],
           "steps": [{"layers": [], "accuracy": 0.24, "ci95": [0.19, 0.29], "n_correct": 71,
                      "n": 299}]}  # fmt: skip
    text = layer_search_figure(rec, f"arc_challenge ({LABEL})").layout.title.text
    assert "<br>" in text and all(len(x) <= TITLE_WIDTH for x in text.split("<br>"))
    assert "best: no layer (unsteered)" in text.replace("<br>", " ")  # not "best: []"


def _step(layers, n_correct):
    return {"layers": layers, "accuracy": n_correct / 100, "ci95": [0.1, 0.5],
            "n_correct": n_correct, "n": 100}  # fmt: skip


def _round(base, counts, best, kept):
    return {"base": base, "n": 100, "best": best, "delta": [0.05, 0.01 if kept else -0.01, 0.1],
            "kept": kept, "candidates": [{"added": k, "n_correct": c} for k, c in counts]}  # fmt: skip


def test_each_rounds_candidates_sit_in_the_column_of_the_step_it_decided():
    rec = {"strategy": "greedy-forward", "lam": 1.0, "best": [0, 2], "stopped": "ci",
           "steps": [_step([], 20), _step([2], 30), _step([0, 2], 36)],
           "rounds": [_round([], [(0, 22), (1, 21), (2, 30), (3, 20)], 2, True),
                      _round([2], [(0, 36), (1, 31), (3, 30)], 0, True),
                      _round([0, 2], [(1, 37), (3, 36)], 1, False)]}  # fmt: skip
    fig = layer_search_figure(rec)
    assert fig.layout.title.text.endswith("best: L0, L2")
    path, grey = fig.data[0], fig.data[1]
    assert list(path.x) == ["none", "+L2", "+L0"]
    assert list(grey.x) == ["+L2"] * 4 + ["+L0"] * 3 + ["stop"] * 2
    assert list(grey.y) == [0.22, 0.21, 0.30, 0.20, 0.36, 0.31, 0.30, 0.37, 0.36]


def test_records_without_rounds_and_maps_draw_no_candidates():
    old = {"strategy": "greedy-forward", "lam": 1.0, "best": [2],
           "steps": [_step([], 20), _step([2], 30)]}  # fmt: skip
    single = {"strategy": "single", "lam": 1.0, "best": [1],
              "steps": [_step([], 20), _step([0], 22), _step([1], 25)]}  # fmt: skip
    for rec in (old, single):
        names = [t.name for t in layer_search_figure(rec).data]
        assert names == ["validation (searched)", "best set"]


def test_a_log_axis_is_ticked_at_one_two_five_and_labelled_in_full():
    """The study's steering ratios span 0.0017–0.02: ticks 0.001 … 0.05, each written out."""
    axis = log_ticks([0.0017, 0.0086, 0.01, 0.02])
    assert axis["type"] == "log" and axis["tickmode"] == "array"
    assert axis["tickvals"] == [0.001, 0.002, 0.005, 0.01, 0.02, 0.05]
    assert axis["ticktext"] == ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05"]
    assert log_ticks([]) == {"type": "log"}  # nothing drawn: plotly's own ticks
    assert log_ticks([0.0, -1.0, float("inf"), float("nan")]) == {"type": "log"}
    one = log_ticks([0.01, float("inf")])["tickvals"]  # one value: round steps around it
    assert one == [0.008, 0.01, 0.012]


def test_narrow_wide_and_tiny_ranges_still_get_readable_ticks():
    narrow = log_ticks([0.0012, 0.0018])  # less than a factor 3: some tick among the values
    assert any(0.0012 <= t <= 0.0018 for t in narrow["tickvals"])
    assert narrow["ticktext"] == ["0.001", "0.0012", "0.0014", "0.0016", "0.0018", "0.002"]
    wide = log_ticks([1e-4, 10.0])  # five decades: powers of ten only
    assert wide["ticktext"] == ["0.0001", "0.001", "0.01", "0.1", "1", "10"]
    assert log_ticks([2e-5, 9e-5])["ticktext"][:3] == ["0.00001", "0.00002", "0.00005"]
    assert log_ticks([0.003, 0.02])["ticktext"] == ["0.002", "0.005", "0.01", "0.02", "0.05"]


def test_breaks_written_any_way_are_kept_and_counted():
    assert wrap_title("a<br/>b<BR />c") == "a<br>b<br>c"
    assert wrap_title(None) == ""
    fig = style(go.Figure(), "one<br/>two")
    assert fig.layout.height == 480 + 24 and fit_legend(fig).layout.height == 480 + 24


def test_the_steering_ratio_figure_uses_those_ticks(runs):
    from lens_steer.analysis.figures import steering_ratio_figure

    fig = steering_ratio_figure(runs)
    ys = [y for t in fig.data for y in t.y]
    ticks = fig.layout.yaxis.tickvals
    assert fig.layout.yaxis.type == "log" and ticks[0] <= min(ys) and ticks[-1] >= max(ys)
    labels = dict(zip(ticks, fig.layout.yaxis.ticktext, strict=True))
    assert all(labels[v] == w for v, w in [(0.01, "0.01"), (0.02, "0.02"), (0.05, "0.05")]
               if v in labels)  # fmt: skip
    assert all("e" not in w for w in labels.values())
