"""``lens-steer``: the method's steps from the shell.

    lens-steer models                                   # offline aliases and whether installed
    lens-steer extract --model gemma-3-270m --task gsm8k --data-dir ../shared/data/gsm8k -o p.safetensors
    lens-steer transfer p.safetensors --child smollm2-135m-instruct --source-model gemma-3-270m \
        --width ridge -o c.safetensors
    lens-steer info c.safetensors                        # any format: .safetensors .gguf .pt .svec
    lens-steer export c.safetensors -o cv.gguf --lam 0.5 # for llama.cpp (also lm-eval .pt, .svec)
    lens-steer run configs/demo.yaml                     # the whole loop, resumable
    lens-steer demo                                      # offline demo run
    lens-steer report runs/demo                          # runs/demo/report.html, opens offline
    lens-steer sweep configs/sweeps/tiny.yaml [--ray]    # a grid of runs; `report` its folder
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["main", "Interrupted"]


class Interrupted(KeyboardInterrupt):
    """SIGTERM, turned into what Ctrl-C raises so a run unwinds the same way (temporary files
    removed, the open SQLite transaction rolled back, the lock released)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """While a run is in progress, SIGTERM raises :class:`Interrupted` instead of killing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _load(spec: str, args: argparse.Namespace):
    from ..models.load import load_model

    return load_model(spec, device=args.device, dtype=args.dtype)


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    from ..tasks.loading import DataError, read_jsonl

    pairs = []
    for row, where in read_jsonl(path):
        if not isinstance(row.get("positive"), str) or not isinstance(row.get("negative"), str):
            raise DataError(
                f"{where}: expected a JSON object with 'positive' and 'negative' strings"
            )
        pairs.append((row["positive"], row["negative"]))
    return pairs


def cmd_models(args: argparse.Namespace) -> None:
    from ..models.offline import alias_gguf, hf_directory, list_aliases

    if args.gguf or args.hf_dir:  # one path, for scripts: $(lens-steer models --gguf ALIAS)
        print(alias_gguf(args.gguf) if args.gguf else hf_directory(args.hf_dir))
        return
    for row in list_aliases():
        state = "installed" if row["installed"] else f"missing: {row['pip']}"
        cached = " (cached)" if row["cached"] else ""
        print(f"{row['name']:<30} {row['arch']:<8} {state}{cached}")


def cmd_extract(args: argparse.Namespace) -> None:
    from ..extract import extract

    if args.pairs:
        pairs = _read_pairs(Path(args.pairs))
    else:
        from ..tasks import contrastive_pairs, get_task

        task = get_task(args.task, data_dir=args.data_dir)
        train = task.splits(seed=args.seed, n_val=args.n_val).train
        pairs = contrastive_pairs(task, train, strategy=args.strategy, n=args.n, seed=args.seed)
    model = _load(args.model, args)
    vecs = extract(
        model, pairs, method=args.method, batch_size=args.batch_size, seed=args.seed, hook=args.hook
    )
    print(f"{vecs} → {vecs.save(args.out)}")


def cmd_transfer(args: argparse.Namespace) -> None:
    from ..transfer import transfer
    from ..vectors import SteeringVectors

    vecs = SteeringVectors.load(args.vectors)
    child = _load(args.child, args)
    parent = _load(args.source_model, args) if args.source_model else None
    out = transfer(
        vecs,
        child,
        source_model=parent,
        layer_map=args.layer_map,
        width=args.width,
        seed=args.seed,
        batch_size=args.batch_size,
    )
    r2 = out.meta.get("width_r2")
    if r2:
        print(f"held-out R² per layer: {', '.join(f'{x:.2f}' for x in r2)}")
    print(f"{out} → {out.save(args.out)}")


def _no_library_bars() -> None:
    """``--quiet`` also silences transformers' per-load "Loading weights" bars on stderr, so
    stderr holds only what lens-steer itself has to say (this process is the CLI's own)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def cmd_run(args: argparse.Namespace) -> None:
    from .config import load_config
    from .run import run_pipeline

    cfg = load_config(args.config)
    if args.output_dir:
        cfg["output_dir"] = args.output_dir
    args.run_dir = Path(cfg["output_dir"]).expanduser() / cfg["name"]
    if args.quiet:
        _no_library_bars()
    with _sigterm_unwinds():
        print(f"run directory: {run_pipeline(cfg, progress=not args.quiet)}")


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import demo_config
    from .run import run_pipeline

    cfg = demo_config(data_root=args.data_dir, output_dir=args.output_dir)
    args.run_dir = Path(cfg["output_dir"]).expanduser() / cfg["name"]
    if args.quiet:
        _no_library_bars()
    with _sigterm_unwinds():
        print(f"run directory: {run_pipeline(cfg, progress=not args.quiet)}")


def cmd_report(args: argparse.Namespace) -> None:
    from ..analysis import report_figures, write_report
    from ..analysis.export import IMAGE_FORMATS, save_figures
    from ..errors import InputError

    if args.figures and args.format not in IMAGE_FORMATS:  # before the report is written
        raise InputError(f"--format {args.format!r}: choose one of {', '.join(IMAGE_FORMATS)}")
    if args.out is None and len(args.run_dirs) > 1:  # one sweep directory needs no -o
        raise InputError(
            f"{len(args.run_dirs)} run directories given: say where the combined report goes "
            "with -o REPORT.html"
        )
    figures = report_figures(args.run_dirs) if args.figures else None  # drawn once, for both
    print(f"report: {write_report(args.run_dirs, args.out, figures)}")
    if figures is not None:
        paths = save_figures(figures, args.figures, args.format)
        print(f"figures: {len(paths)} {args.format} files in {args.figures}")


def _parser() -> argparse.ArgumentParser:
    from ..extract import METHODS
    from ..models.load import HOOK_POINTS
    from ..transfer.layer_maps import LAYER_MAPS
    from ..transfer.width_maps import WIDTH_METHODS
    from .interop import add_commands
    from .sweep import add_sweep_command

    p = argparse.ArgumentParser(prog="lens-steer", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    def model_opts(q: argparse.ArgumentParser) -> None:
        q.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
        q.add_argument("--dtype", default="float32", help="float32, bfloat16, float16")
        q.add_argument("--batch-size", type=int, default=8)
        q.add_argument("--seed", type=int, default=0)

    q = sub.add_parser("models", help="list offline model aliases (or print one's files)")
    q.add_argument("--gguf", metavar="ALIAS", help="print the alias's GGUF file (for llama.cpp)")
    q.add_argument("--hf-dir", metavar="ALIAS", help="print its cached HF directory (for lm-eval)")
    q.set_defaults(func=cmd_models)

    q = sub.add_parser("extract", help="Algorithm 1: steering vectors from a parent model")
    q.add_argument("--model", required=True, help="alias, .gguf file, HF directory or hub id")
    src = q.add_mutually_exclusive_group(required=True)
    src.add_argument("--task", help="gsm8k, math, math500, arc_challenge, arc_easy")
    src.add_argument("--pairs", help="JSONL file of {'positive': ..., 'negative': ...}")
    q.add_argument("--data-dir", help="the task's local data folder (default: the hub)")
    q.add_argument("--strategy", default="corrupted-answer")
    q.add_argument("--n", type=int, default=128, help="number of contrastive pairs")
    q.add_argument("--n-val", type=int, default=200)
    q.add_argument("--method", default="pca", choices=METHODS)
    q.add_argument("--hook", default="resid_post", choices=HOOK_POINTS, help="where to read")
    q.add_argument("-o", "--out", required=True)
    model_opts(q)
    q.set_defaults(func=cmd_extract)

    q = sub.add_parser("transfer", help="map parent vectors onto a child model")
    q.add_argument("vectors")
    q.add_argument("--child", required=True)
    q.add_argument("--source-model", help="the parent (needed by ridge, procrustes and cka)")
    q.add_argument("--layer-map", default="greedy", choices=LAYER_MAPS)
    q.add_argument("--width", default=None, choices=WIDTH_METHODS)
    q.add_argument("-o", "--out", required=True)
    model_opts(q)
    q.set_defaults(func=cmd_transfer)

    q = sub.add_parser("run", help="extract → transfer → tune → test from a YAML config")
    q.add_argument("config")
    q.add_argument("--output-dir", help="override the config's output_dir")
    q.add_argument("--quiet", action="store_true", help="no progress bars")
    q.set_defaults(func=cmd_run)

    q = sub.add_parser("demo", help="a small offline run: gemma-3-270m → SmolLM2-135M")
    q.add_argument("--data-dir", help="folder with arc_challenge/ and gsm8k/ (default: search)")
    q.add_argument("--output-dir", default="runs")
    q.add_argument("--quiet", action="store_true")
    q.set_defaults(func=cmd_demo)

    q = sub.add_parser("report", help="self-contained report.html of run or sweep directories")
    q.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="run directories, or a sweep's output directory (all its finished runs)")  # fmt: skip
    q.add_argument("-o", "--out", help="output HTML (default: DIR/report.html for one directory)")
    q.add_argument("--figures", metavar="FOLDER",
                   help="also write each figure as an image file there (needs kaleido + Chrome)")  # fmt: skip
    q.add_argument("--format", default="png", help="--figures' format: png, svg, pdf, jpg, webp")
    q.set_defaults(func=cmd_report)

    add_commands(sub, model_opts)
    add_sweep_command(sub)
    return p


def _known_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that are the user's to fix; anything else is a bug and keeps its traceback."""
    from ..errors import LensSteerError
    from ..tasks.base import DataError

    # FileNotFoundError: a missing config, data or model file (also NotARunError);
    # NotADirectoryError/IsADirectoryError/FileExistsError/PermissionError: an output path that
    # is a file, a folder, or not writable; ModuleNotFoundError: an offline alias whose weight
    # package is not installed
    return (
        LensSteerError,
        DataError,
        FileNotFoundError,
        NotADirectoryError,
        IsADirectoryError,
        FileExistsError,
        PermissionError,
        ModuleNotFoundError,
    )


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a known error is one ``lens-steer: error: ...`` line and exit 2."""
    args = _parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt as err:
        run_dir = getattr(args, "run_dir", None)
        kept = (
            f": the state of {run_dir} is kept and the same command resumes it"
            if run_dir is not None
            else ""
        )
        how = f" by {err.args[0]}" if isinstance(err, Interrupted) else ""
        print(f"lens-steer: interrupted{how}{kept}", file=sys.stderr)
        return 128 + (err.signum if isinstance(err, Interrupted) else signal.SIGINT)
    except _known_errors() as err:
        print(f"lens-steer: error: {_one_line(err)}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
