"""Figures with a study's worth of runs, rendered for real (kaleido, as `--figures` renders them):
a long legend is drawn whole, and neither it nor long bar-group labels squeeze the plot.

The oracle is plotly's own layout engine: each figure is exported as SVG and the legend's box,
its rows and the plot's clip rectangle are read back from it. (Plotly caps a horizontal legend
at half the figure and clips the rest; a study's 13 runs lost their last legend row so.)"""

import re
from dataclasses import replace

import plotly.graph_objects as go
import plotly.io as pio
import pytest

from lens_steer.analysis import its_gains
from lens_steer.analysis.plots import LEGEND_ROW_PX, fit_legend, style

NAME = "qwen2.5-coder-1.5b-instruct → smollm2-135m-instruct (setting=relative) (λ*=0.02)"


def _svg(fig: go.Figure) -> str:
    """The figure as kaleido renders it (once more if kaleido ran before its page had loaded,
    as ``write_figures`` does)."""
    try:
        return pio.to_image(fig, format="svg", width=1000, height=fig.layout.height).decode()
    except Exception:  # noqa: BLE001 - kaleido's JavascriptError is private
        return pio.to_image(fig, format="svg", width=1000, height=fig.layout.height).decode()


def _geometry(fig: go.Figure) -> dict[str, float]:
    """The rendered figure's height, the plot's height, the legend's top and box height, and
    how far down the box its last entry reaches."""
    svg = _svg(fig)
    legend = re.search(r'class="legend"[^>]*translate\([\d.]+,\s*([\d.]+)\)">'
                       r'<rect class="bg"[^>]*height="([\d.]+)"', svg)  # fmt: skip
    plot = re.search(r'class="plotclip"><rect width="[\d.]+" height="([\d.]+)"', svg)
    assert legend and plot, "plotly's SVG no longer has the legend / plot clip it had"
    groups = [0.0] + [float(y) for y in re.findall(r'class="groups" transform="translate\(0,([\d.]+)\)"', svg)]  # fmt: skip
    rows = [float(y) for y in re.findall(r'class="traces" transform="translate\(0,([\d.]+)\)"', svg)]  # fmt: skip
    return {
        "height": float(re.search(r'<svg[^>]*height="([\d.]+)"', svg).group(1)),
        "plot": float(plot.group(1)),
        "legend_top": float(legend.group(1)),
        "legend_box": float(legend.group(2)),
        "last_entry": max(groups) + max(rows) + LEGEND_ROW_PX / 2,
    }


def _runs_figure(n: int, grouped: bool) -> go.Figure:
    fig = style(go.Figure(), "a study's runs")
    for i in range(n):
        group = {"legendgroup": f"run {i}"} if grouped else {}
        fig.add_trace(go.Scatter(x=[0, 1], y=[i, i + 1], name=f"{i}: {NAME}", **group))
    return fit_legend(fig)


@pytest.mark.parametrize("grouped", [True, False])
def test_a_long_legend_is_drawn_whole_beside_a_plot_of_one_height(grouped):
    seen = {
        n: _geometry(_runs_figure(n, grouped)) for n in (2, 4, 9, 14, 30)
    }  # (one trace: no legend)
    for n, g in seen.items():
        assert g["last_entry"] <= g["legend_box"] + 1, f"{n} runs: the legend's last row is clipped"
        assert g["legend_top"] + g["legend_box"] <= g["height"] + 1, (
            f"{n} runs: legend off the figure"
        )
    plots = {n: g["plot"] for n, g in seen.items() if n >= 4}
    assert max(plots.values()) - min(plots.values()) <= 2, plots  # grown, not squeezed
    assert seen[2]["plot"] >= plots[4] and plots[4] > 200


def test_bars_of_another_child_name_it_and_long_labels_grow_the_figure(runs, tmp_path):
    """A study's sibling pair has another child: named in its own bar-group label (the child
    the other runs share is named once, in the axis title), and its long label, stood on end,
    makes the figure taller rather than the plot shorter."""
    short = [replace(r, varied={"setting": s}) for r, s in zip(runs, ("paper", "ridge"), strict=True)]  # fmt: skip
    sibling = {**runs[1].config, "child": "qwen2.5-coder-0.5b-instruct"}
    sib = replace(short[1], config=sibling, path=tmp_path / "sibling")
    fig = its_gains([*short, sib], "gsm8k")
    assert list(fig.data[0].x[1]) == ["paper", "ridge", "ridge, child qwen2.5-coder-0.5b-instruct"]
    assert fig.layout.xaxis.title.text == "child child unless named: parent and setting"
    other = replace(sib, config={**sibling, "child": "another"}, path=tmp_path / "other")
    tie = its_gains([sib, other], "gsm8k")  # no child is shared: each bar names its own
    assert list(tie.data[0].x[1]) == [
        "ridge, child qwen2.5-coder-0.5b-instruct",
        "ridge, child another",
    ]
    assert tie.layout.xaxis.title.text == "parent and setting"
    many = [replace(short[0], varied={"setting": f"s{i}"}, path=tmp_path / f"s{i}") for i in range(12)]  # fmt: skip
    plain, long = its_gains(many, "gsm8k"), its_gains([*many, sib], "gsm8k")
    assert long.layout.height > plain.layout.height
    assert _geometry(long)["plot"] >= 0.9 * _geometry(plain)["plot"]
