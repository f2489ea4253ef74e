"""Table 1: baseline / λ* / ITS accuracy per parent → child pair and task, with 95% CIs, paired
Δ and McNemar p, from run directories. Prints Markdown; writes HTML (or Markdown for ``.md``).

    python analyses/table1.py runs/a runs/b -o table1.html
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lens_steer.analysis import table1


def main(argv: Sequence[str] | None = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("-o", "--out", default="table1.html", help=".html or .md")
    args = p.parse_args(argv)
    table = table1(args.run_dirs)
    print(table.to_markdown())
    print(f"wrote {table.write(args.out)}")
    return table.figure()


if __name__ == "__main__":
    main()
