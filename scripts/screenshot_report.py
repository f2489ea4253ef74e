"""Save a full-page PNG of an HTML report as headless Chromium draws it (e.g. docs/demo-report.png).

    .venv/bin/python scripts/screenshot_report.py runs/demo/report.html docs/demo-report.png

Uses the same browser check as the tests (``tests/analysis/browser.py``): it waits for every ``.ls-figure``
to draw, and exits non-zero, after saving the picture, when a figure stayed blank or the console
shows an error, so a broken report is never published as a pretty picture by accident.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "analysis"))

from browser import BrowserUnavailableError, check_html  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the report's HTML file")
    parser.add_argument("out", type=Path, help="where to write the PNG")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for figures")
    args = parser.parse_args(argv)
    try:
        res = check_html(args.report, screenshot=args.out, timeout=args.timeout)
    except (BrowserUnavailableError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(res.summary())
    print(f"screenshot: {res.screenshot}")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
