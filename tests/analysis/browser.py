"""Open a local HTML report in headless Chromium and check that its plotly figures really draw.

Parsing the HTML cannot tell whether a figure renders: a JavaScript error, a missing plotly.js or a
malformed figure spec all leave a perfectly well-formed file with an empty ``<div>``. So the page is
loaded in a real browser (Debian's ``chromium`` + ``chromium-driver``, driven by selenium, no
network), every ``.ls-figure`` container is waited on until it holds a drawn plot (a
``.main-svg`` with a non-zero size, or a WebGL/2-D canvas), and the browser console is collected:
an uncaught exception or a failed resource load shows up there as a SEVERE message.

Used by ``tests/analysis/test_report_browser.py`` and ``scripts/screenshot_report.py``.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["BrowserCheck", "BrowserUnavailableError", "check_html", "chromium"]

CHROMIUM = os.environ.get("LENS_STEER_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LENS_STEER_CHROMEDRIVER", "/usr/bin/chromedriver")
INSTALL_HINT = (
    "install Debian's headless browser: apt-get install -y --no-install-recommends "
    "chromium chromium-driver (.ci/run does this), and `pip install -e '.[dev]'` for selenium; "
    "LENS_STEER_CHROMIUM / LENS_STEER_CHROMEDRIVER point elsewhere"
)

# Per .ls-figure: is there a plotly SVG or a canvas with a non-zero drawn size?
_DRAWN_JS = """
return Array.from(document.querySelectorAll('.ls-figure')).map(function (fig) {
  var els = Array.from(fig.querySelectorAll('svg.main-svg, canvas'));
  return els.some(function (el) {
    var r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0;
  });
});
"""


class BrowserUnavailableError(RuntimeError):
    """Chromium, chromedriver or selenium is missing: a setup problem, never a passing check."""


@dataclass(frozen=True)
class BrowserCheck:
    """What the browser saw: figure containers, how many drew, and the console's SEVERE lines."""

    path: Path
    figures: int
    drawn: int
    severe: tuple[str, ...]
    console: tuple[dict[str, Any], ...] = field(repr=False, default=())
    screenshot: Path | None = None

    @property
    def ok(self) -> bool:
        """Every figure drawn, at least one figure, and no SEVERE console message."""
        return self.figures > 0 and self.drawn == self.figures and not self.severe

    def summary(self) -> str:
        lines = [f"{self.path.name}: {self.drawn}/{self.figures} figures drawn"]
        lines += [f"  SEVERE: {msg}" for msg in self.severe]
        return "\n".join(lines)


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium webdriver that keeps every console message; quits on exit."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError as err:
        raise BrowserUnavailableError(f"selenium is not installed ({err}): {INSTALL_HINT}") from err
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not os.access(exe, os.X_OK):
            raise BrowserUnavailableError(f"{exe} not found: {INSTALL_HINT}")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI containers run as root, where the sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",  # small /dev/shm in containers crashes tabs
        "--allow-file-access-from-files",
        f"--window-size={width},{height}",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path keeps Selenium Manager from looking for (or downloading) a driver.
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_drawn(driver: Any, timeout: float) -> list[bool]:
    """Poll until the page has loaded and every figure drew, or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        ready = driver.execute_script("return document.readyState") == "complete"
        drawn = [bool(x) for x in driver.execute_script(_DRAWN_JS)]
        if (ready and all(drawn)) or time.monotonic() > deadline:
            return drawn
        time.sleep(0.1)


def _full_page_png(driver: Any, out: Path) -> Path:
    """The whole page, not just the viewport (Chromium's DevTools protocol can do that)."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True, "fromSurface": True, "clip": clip},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    return out


def check_html(
    path: str | Path,
    screenshot: str | Path | None = None,
    *,
    timeout: float = 30.0,
    settle: float = 0.5,
) -> BrowserCheck:
    """Load ``path`` (a local HTML file) headless, wait for its ``.ls-figure`` plots, report.

    ``timeout`` bounds the wait for the figures; ``settle`` seconds more let late errors (a
    callback after the first draw) reach the console. ``screenshot`` saves a full-page PNG.
    Raises :class:`BrowserUnavailableError` when Chromium, chromedriver or selenium is missing.
    """
    page = Path(path).resolve()
    if not page.is_file():
        raise FileNotFoundError(f"no HTML file at {page}")
    with chromium() as driver:
        driver.get(page.as_uri())
        drawn = _wait_drawn(driver, timeout)
        time.sleep(settle)
        console = tuple(driver.get_log("browser"))
        shot = _full_page_png(driver, Path(screenshot)) if screenshot is not None else None
    severe = tuple(str(e.get("message", e)) for e in console if e.get("level") == "SEVERE")
    return BrowserCheck(
        path=page,
        figures=len(drawn),
        drawn=sum(drawn),
        severe=severe,
        console=console,
        screenshot=shot,
    )
