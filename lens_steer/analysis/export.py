"""The report's figures as image files (PNG, SVG, PDF) for a paper or a Markdown page.

plotly renders images through kaleido, which drives a Chrome or Chromium it finds on the machine
(``pip install 'lens-steer[images]'``; Debian: ``apt install chromium``). The figures are the
report's own (:func:`~lens_steer.analysis.report_figures`), named by their report keys, so a
``docs/`` page and the HTML report show the same thing. All of them are rendered before any is
moved into place: a failure leaves the folder as it was. A small manifest in the folder records
what the exports wrote (name and sha256), so exporting again removes the images of figures the runs
no longer have (a curve split in two, a run left out), but never a file it did not write or one
changed since. A file named like a figure (``<key>.<fmt>``) is replaced.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..errors import InputError
from ..formats import atomic_write
from .gallery import ReportFigure, report_figures
from .rundir import Run

__all__ = ["IMAGE_FORMATS", "MANIFEST", "save_figures", "write_figures"]

_log = logging.getLogger(__name__)

IMAGE_FORMATS = ("png", "svg", "pdf", "jpg", "webp")
#: The file in an export folder that lists the images lens_steer wrote there.
MANIFEST = ".lens-steer-figures.json"
_IMAGE_NAME = re.compile(r"[^./\\\x00][^/\\\x00]*\.(?:png|svg|pdf|jpg|webp)")
_HOW = (
    "image export needs kaleido >= 1 (pip install 'lens-steer[images]') and a Chrome or Chromium "
    "it can find (Debian: apt install chromium; or run `kaleido_get_chrome` once)"
)


def _need_kaleido() -> None:
    if importlib.util.find_spec("kaleido") is None:
        raise InputError(f"kaleido is not installed: {_HOW}")


def write_figures(
    runs: Sequence[Run | str | Path] | str | Path,
    folder: str | Path,
    fmt: str = "png",
    *,
    width: int = 1000,
    scale: float = 2.0,
) -> list[Path]:
    """Write every figure of the runs' report to ``folder/<key>.<fmt>``; returns the paths.

    ``width`` is in layout pixels (each figure keeps its own height); ``scale`` multiplies the
    pixels of raster formats (2: sharp on high-density screens and in print).
    """
    return save_figures(report_figures(runs), folder, fmt, width=width, scale=scale)


def save_figures(
    figures: Sequence[ReportFigure],
    folder: str | Path,
    fmt: str = "png",
    *,
    width: int = 1000,
    scale: float = 2.0,
) -> list[Path]:
    """:func:`write_figures` for figures already drawn (:func:`report_figures`), e.g. the ones
    a report was just written with."""
    if fmt not in IMAGE_FORMATS:
        raise InputError(f"image format {fmt!r}: choose one of {', '.join(IMAGE_FORMATS)}")
    if not figures:
        raise InputError("these runs have no figures to export (see their report.html)")
    _need_kaleido()
    folder = Path(folder).expanduser()
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=folder, prefix=".figures-") as tmp:
            drafts = [Path(tmp) / f"{f.key}.{fmt}" for f in figures]
            _render(figures, drafts, fmt, width, scale)
            new = {d.name: _sha256(d) for d in drafts}
            old = _manifest(folder)
            _record(folder, {**old, **new})  # listed before they land: an interruption loses none
            paths = [folder / d.name for d in drafts]
            for draft, path in zip(drafts, paths, strict=True):
                os.replace(draft, path)
        _record(folder, {**_prune(folder, old, new, fmt), **new})
    except InputError:
        if created and not any(folder.iterdir()):
            folder.rmdir()
        raise
    return paths


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(folder: Path) -> dict[str, str]:
    """Image name → sha256 of what the folder's exports wrote; empty when there is no manifest
    or it is damaged (then nothing is removed), and names that are not plain image file names
    (a hand-edited ``../x``) are left out."""
    try:
        files = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if not isinstance(files, dict):
        return {}
    return {n: h for n, h in files.items() if isinstance(h, str) and _IMAGE_NAME.fullmatch(n)}


def _record(folder: Path, files: dict[str, str]) -> None:
    text = json.dumps({"files": dict(sorted(files.items()))}, indent=1) + "\n"
    atomic_write(folder / MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _ours(path: Path, digest: str) -> bool:
    """Whether ``path`` is still the image an export wrote (not replaced or edited since)."""
    try:
        return path.is_file() and not path.is_symlink() and _sha256(path) == digest
    except OSError:
        return False


def _prune(folder: Path, old: dict[str, str], new: dict[str, str], fmt: str) -> dict[str, str]:
    """Remove the images of this format that an earlier export wrote and this one did not; return
    the earlier entries still on disk as written (other formats' images: a PNG and an SVG export
    can share a folder). A file changed since it was written is the user's: kept, unlisted."""
    kept = {}
    for name, digest in old.items():
        if name in new or not _ours(folder / name, digest):
            continue
        if Path(name).suffix == f".{fmt}":
            try:
                (folder / name).unlink()
                continue
            except OSError:
                pass  # left listed: the next export tries again
        kept[name] = digest
    return kept


def _render(
    figures: Sequence[ReportFigure], drafts: list[Path], fmt: str, width: int, scale: float
) -> None:
    """All figures to their draft files, or InputError after a second try: on a busy machine
    kaleido now and then runs its script before its page has loaded (a ReferenceError, or a
    figure left out), and the same call a moment later renders."""
    for attempt in (1, 2):
        for draft in drafts:  # a failed try's files must not pass for the next one's
            draft.unlink(missing_ok=True)
        try:
            return _render_once(figures, drafts, fmt, width, scale)
        except InputError as err:
            if attempt == 2:
                raise
            cause = err.__cause__ or "a figure left out"
            _log.warning("kaleido failed (%s); trying once more", cause)


def _render_once(
    figures: Sequence[ReportFigure], drafts: list[Path], fmt: str, width: int, scale: float
) -> None:
    """All figures to their draft files, or InputError. kaleido reports a figure that fails to
    render by leaving its file out (plotly does not raise), so every draft is checked."""
    import plotly.io as pio

    heights = [f.figure.layout.height for f in figures]
    try:
        pio.write_images([f.figure for f in figures], drafts, format=fmt, width=width,
                         height=heights, scale=scale)  # fmt: skip
    except Exception as err:  # noqa: BLE001 - kaleido's errors name Chrome, not the fix
        raise InputError(
            f"rendering the figures failed ({type(err).__name__}: {err}); {_HOW}"
        ) from err
    missing = [d.stem for d in drafts if not d.is_file()]
    if missing:
        raise InputError(
            f"kaleido did not render {', '.join(missing)}; nothing was written; {_HOW}"
        )
