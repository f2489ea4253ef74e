"""HTML reports draw their plotly figures in a real (headless) browser, without console errors.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). A missing browser
fails these tests with the install command instead of skipping them: a skipped check would let a
report with blank figures through CI unnoticed.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import pytest
from browser import BrowserCheck, BrowserUnavailableError, check_html
from plotly.offline import get_plotlyjs

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check(path: Path, **kwargs) -> BrowserCheck:
    try:
        return check_html(path, **kwargs)
    except BrowserUnavailableError as err:
        pytest.fail(str(err))


def _page(body: str, head: str = "") -> str:
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<script>{get_plotlyjs()}</script>{head}</head><body>{body}</body></html>"
    )


def _figure_divs() -> str:
    bar = go.Figure(go.Bar(x=[0, 1, 2], y=[0.4, 0.2, 0.1]), layout_title="explained variance")
    line = go.Figure(
        go.Scatter(x=[0.0, 0.1, 0.5], y=[0.3, 0.35, 0.2], mode="lines+markers"),
        layout_title="accuracy vs λ",
    )
    return "".join(
        f'<div class="ls-figure">{f.to_html(full_html=False, include_plotlyjs=False)}</div>'
        for f in (bar, line)
    )


def test_two_figures_draw_without_console_errors(tmp_path: Path) -> None:
    page = tmp_path / "good.html"
    page.write_text(_page(_figure_divs()), encoding="utf-8")
    res = _check(page, screenshot=tmp_path / "good.png")
    assert (res.figures, res.drawn) == (2, 2), res.summary()
    assert not res.severe, res.summary()
    assert res.ok
    png = res.screenshot.read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 5_000


def test_broken_page_is_caught(tmp_path: Path) -> None:
    """A JavaScript error and a figure that never draws must both be reported."""
    body = _figure_divs() + '<div class="ls-figure"><div id="never"></div></div>'
    page = tmp_path / "broken.html"
    page.write_text(_page(body, head="<script>undefinedPlotHelper();</script>"), encoding="utf-8")
    res = _check(page, timeout=3.0)
    assert (res.figures, res.drawn) == (3, 2), res.summary()
    assert any("undefinedPlotHelper" in msg for msg in res.severe), res.summary()
    assert not res.ok


def _tiny_model(path: Path, family: str, d_model: int, n_layers: int, seed: int) -> str:
    from lens_steer.testing import tiny_hf_model, tiny_tokenizer

    tiny_hf_model(family, d_model, n_layers, seed).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return str(path)


def _tiny_run(root: Path) -> Path:
    """A complete run directory from tiny random models, as tests/pipeline/test_run.py builds one."""
    from lens_steer.pipeline.config import validate_config
    from lens_steer.pipeline.run import run_pipeline

    # Zero-shot prompts, few tokens and one batch per sweep keep it to seconds of model time.
    common = {
        "pairs": {"n": 4},
        "n_val": 3,
        "n_test": 4,
        "grid": [0.5, 2.0, 8.0],
        "zero_shot": True,
        "batch_size": 16,
    }
    cfg = {
        "name": "tiny",
        "parent": _tiny_model(root / "parent", "gemma3", 48, 4, 1),
        "child": _tiny_model(root / "child", "llama", 32, 6, 2),
        "device": "cpu",
        "output_dir": str(root / "runs"),
        "extract": {"batch_size": 4},
        "transfer": {"width": "ridge", "n_anchor": 16},
        "tasks": [
            {"name": "arc_challenge", "data_dir": str(DATA / "arc_challenge"), "scoring": "loglik"}
            | common,
            {
                "name": "gsm8k",
                "data_dir": str(DATA / "gsm8k"),
                "max_new_tokens": 6,
                "controls": ["random-direction"],
            }
            | common,
        ],
    }
    return run_pipeline(validate_config(cfg), progress=False)


def test_run_report_draws_every_figure(tmp_path: Path) -> None:
    from lens_steer.analysis.report import write_report

    run_dir = _tiny_run(tmp_path)
    out = Path(write_report([run_dir], tmp_path / "report.html"))
    assert out.is_file(), f"write_report returned {out}, which does not exist"
    res = _check(out, screenshot=tmp_path / "report.png")
    assert res.figures > 0, f"no .ls-figure container in {out}"
    assert res.drawn == res.figures, res.summary()
    assert not res.severe, res.summary()
