"""`lens-steer report --figures` / `write_figures`: each report figure as an image file, rendered
for real; failures that leave nothing half-written; a manifest that removes only its own stale
images."""

import importlib.util
import json
from pathlib import Path

import pytest

from lens_steer.analysis import report_figures, write_figures
from lens_steer.analysis.export import MANIFEST, save_figures
from lens_steer.analysis.report import ReportFigure
from lens_steer.errors import InputError
from lens_steer.pipeline.cli import main as cli

pytestmark = pytest.mark.usefixtures("one_thread")


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_report_figures_as_png_files(runs, tmp_path, capsys, monkeypatch):
    """Rendered for real (kaleido in Debian's chromium, as .ci/run installs it): one PNG per
    report figure, named by its report key, at the asked width × scale; the figures are drawn
    once for the page and the images."""
    import lens_steer.analysis as analysis
    from lens_steer.analysis import export as export_module
    from lens_steer.analysis import report as report_module

    drawn = []

    def counted(rs):
        drawn.append(rs)
        return report_figures(rs)

    for module in (analysis, export_module, report_module):  # wherever it is looked up
        monkeypatch.setattr(module, "report_figures", counted)
    folder = tmp_path / "figures"
    out = tmp_path / "r.html"
    assert cli(["report", str(runs[0].path), "-o", str(out), "--figures", str(folder)]) == 0
    assert len(drawn) == 1
    keys = [f.key for f in report_figures([runs[0]])]
    assert f"figures: {len(keys)} png files in {folder}" in capsys.readouterr().out
    images = sorted(p.name for p in folder.iterdir() if p.name != MANIFEST)
    assert images == sorted(f"{k}.png" for k in keys)
    assert sorted(json.loads((folder / MANIFEST).read_text())["files"]) == images
    width, height = _png_size(folder / f"{keys[0]}.png")
    assert width == 2000 and height > 200  # 1000 layout px at scale 2
    svg = write_figures([runs[0]], tmp_path / "svg", "svg", width=640)
    assert svg[0].read_text().startswith("<svg") and 'width="640"' in svg[0].read_text()


@pytest.mark.parametrize("first_try", ["raises", "leaves one out"])
def test_a_render_that_fails_once_is_tried_again(first_try, runs, tmp_path, monkeypatch, caplog):
    """kaleido on a busy machine now and then runs before its page has loaded ("ReferenceError:
    kaleido_scopes is not defined", or a figure left out); the same call again renders."""
    import plotly.io as pio

    tries = []

    def flaky(figs, files, **kwargs):
        tries.append([Path(f).exists() for f in files])
        if len(tries) == 1:
            Path(files[1]).write_bytes(b"stale")  # a first try's file is not kept
            if first_try == "raises":
                raise RuntimeError("ReferenceError: kaleido_scopes is not defined")
            return
        for f in files:
            Path(f).write_bytes(b"png")

    assert len(report_figures([runs[0]])) > 1  # a first try leaves a file and misses others
    monkeypatch.setattr(pio, "write_images", flaky)
    with caplog.at_level("WARNING", logger="lens_steer.analysis.export"):
        paths = write_figures([runs[0]], tmp_path / "figures")
    assert len(tries) == 2 and not any(tries[1])  # the second try starts from no drafts
    assert paths and all(p.read_bytes() == b"png" for p in paths)
    cause = "kaleido_scopes is not defined" if first_try == "raises" else "a figure left out"
    assert "kaleido failed (" in caplog.text and cause in caplog.text
    assert "trying once more" in caplog.text
    assert "apt install" not in caplog.text  # the setup advice is for a failure that stays


def test_figure_export_fails_cleanly(runs, tmp_path, monkeypatch):
    import plotly.io as pio

    folder = tmp_path / "figures"
    folder.mkdir()
    (folder / "mine.txt").write_text("kept")

    def half_then_fail(figs, files, **kwargs):
        Path(files[0]).write_bytes(b"half")
        raise RuntimeError("ChromeNotFoundError")

    monkeypatch.setattr(pio, "write_images", half_then_fail)
    with pytest.raises(InputError, match="rendering the figures failed.*apt install chromium"):
        write_figures([runs[0]], folder)
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]  # nothing half-written is left
    with pytest.raises(InputError, match="choose one of png, svg"):
        write_figures([runs[0]], folder, "gif")

    def one_left_out(figs, files, **kwargs):  # kaleido's way with a figure that fails
        for f in files[1:]:
            Path(f).write_bytes(b"png")

    monkeypatch.setattr(pio, "write_images", one_left_out)
    fresh = tmp_path / "new" / "figures"
    with pytest.raises(InputError, match="kaleido did not render .*nothing was written"):
        write_figures([runs[0]], fresh)
    assert not fresh.exists()  # a folder made for the export goes again
    with pytest.raises(InputError, match="nothing was written"):
        write_figures([runs[0]], folder)
    assert [p.name for p in folder.iterdir()] == ["mine.txt"]
    out = tmp_path / "r.html"
    assert cli(["report", str(runs[0].path), "-o", str(out), "--figures", str(fresh),
                "--format", "gif"]) == 2  # fmt: skip
    assert not out.exists()  # refused before the report is written
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "kaleido" else real(name, *a)
    )
    with pytest.raises(InputError, match="kaleido is not installed.*lens-steer\\[images\\]"):
        write_figures([runs[0]], folder)


def test_figure_export_replaces_its_own_stale_images(tmp_path, monkeypatch):
    """Exporting again removes the images of figures the runs no longer have (here "b" split
    into "b-0"/"b-1"), of the same format only, and never a file the export did not write or one
    changed since it was written."""
    import plotly.graph_objects as go
    import plotly.io as pio

    def placeholder(figs, files, **kwargs):  # the rendering itself is tested above
        for f in files:
            Path(f).write_bytes(b"image " + Path(f).name.encode())

    monkeypatch.setattr(pio, "write_images", placeholder)

    def figs(*keys):
        return [ReportFigure(k, "curve", k, go.Figure()) for k in keys]

    def names():
        return sorted(p.name for p in folder.iterdir() if p.name != MANIFEST)

    def listed():
        return sorted(json.loads((folder / MANIFEST).read_text())["files"])

    folder = tmp_path / "figures"
    folder.mkdir()
    (folder / "b-0.png").write_bytes(b"the user's")  # named like a later figure: replaced
    save_figures(figs("a", "b", "c"), folder)
    (folder / "c.png").write_bytes(b"edited by the user")  # changed since: the user's now
    save_figures(figs("a"), folder, "svg")
    assert names() == ["a.png", "a.svg", "b-0.png", "b.png", "c.png"]  # PNGs outlive an SVG export
    save_figures(figs("a", "b-0", "b-1"), folder)
    assert names() == ["a.png", "a.svg", "b-0.png", "b-1.png", "c.png"]  # b.png removed
    assert (folder / "c.png").read_bytes() == b"edited by the user"
    assert (folder / "b-0.png").read_bytes() == b"image b-0.png"
    assert listed() == ["a.png", "a.svg", "b-0.png", "b-1.png"]
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["files"].update({"../outside.png": "x", "mine.txt": "y", "a.svg": 3})
    (folder / MANIFEST).write_text(json.dumps(manifest))  # hand-edited: bad entries ignored
    (tmp_path / "outside.png").write_bytes(b"elsewhere")
    save_figures(figs("a"), folder)
    assert names() == ["a.png", "a.svg", "c.png"] and (tmp_path / "outside.png").exists()
    assert listed() == ["a.png"]  # the damaged a.svg entry is dropped, its file kept
    (folder / MANIFEST).write_text("not json")  # a damaged manifest removes nothing
    save_figures(figs("b"), folder)
    assert names() == ["a.png", "a.svg", "b.png", "c.png"] and listed() == ["b.png"]
