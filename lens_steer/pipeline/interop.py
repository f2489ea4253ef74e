"""``lens-steer export`` and ``lens-steer info``: vectors out to llama.cpp, lm-eval and IBM
activation-steering, and any of their files (or lens_steer's own) summarised.

    lens-steer export runs/demo/arc_challenge/vectors/child.safetensors -o cv.gguf --lam best
    lens-steer export child.safetensors -o steer.pt --format lm-eval --lam 0.1 --relative \
        --model smollm2-135m-instruct --layers 10-20
    lens-steer info cv.gguf --model smollm2-135m-instruct
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

__all__ = ["add_commands", "cmd_export", "cmd_info", "parse_layers"]


def parse_layers(text: str, available: tuple[int, ...]) -> list[int]:
    """``"A-B"`` (inclusive) or ``"1,3,5"`` → the listed layers present in ``available``."""
    from ..errors import InputError

    try:
        if "-" in text:
            lo, hi = (int(x) for x in text.split("-", 1))
            wanted = list(range(lo, hi + 1))
        else:
            wanted = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InputError(f"--layers {text!r}: give A-B (inclusive) or a comma list") from None
    picked = [layer for layer in wanted if layer in available]
    if not picked:
        raise InputError(f"--layers {text!r} selects none of the vectors' layers {available}")
    return picked


def _run_setting(vectors_path: Path) -> dict[str, Any]:
    """λ*, relative and positions of the run whose ``TASK/vectors/child.safetensors`` this is."""
    from ..errors import InputError

    task_dir = vectors_path.resolve().parent.parent
    tune, config = task_dir / "tune.json", task_dir.parent / "config.json"
    if not tune.is_file() or not config.is_file():
        raise InputError(
            f"--lam best reads the run around {vectors_path} (TASK/tune.json and config.json), "
            "but it is not in a run directory: give --lam NUMBER"
        )
    if vectors_path.name != "child.safetensors":
        raise InputError(
            f"--lam best is the λ* tuned for the run's child vectors (vectors/child.safetensors), "
            f"not {vectors_path.name}: give --lam NUMBER"
        )
    try:
        cfg = json.loads(config.read_text())["config"]
        task = next((t for t in cfg["tasks"] if t["name"] == task_dir.name), {})
        best = json.loads(tune.read_text())["best"]
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"--lam best: cannot read the run's {tune} / {config} ({err!r})") from None
    keys = ("relative", "positions")
    steer = {**cfg.get("steer", {}), **{k: task[k] for k in keys if k in task}}
    if steer.get("op", "add") != "add":
        raise InputError(
            f"--lam best: the run steered with op {steer['op']!r}, but llama.cpp, lm-eval's add "
            "and activation-steering only add vectors; its λ* does not carry over"
        )
    return {"lam": best, "child": cfg.get("child"), **steer}


def _strength(args: argparse.Namespace) -> tuple[Any, bool, str, str | None]:
    """(λ, relative, positions, model spec) from --lam/--relative/--model or the run."""
    from ..errors import InputError

    if args.lam == "best":
        run = _run_setting(Path(args.vectors))
        if args.relative and not run.get("relative"):
            raise InputError("--relative: the run's λ* is absolute (steer.relative is false)")
        spec = args.model or run.get("child")
        return run["lam"], bool(run.get("relative")), run.get("positions", "all"), spec
    try:
        lam: Any = [float(x) for x in args.lam.split(",")]
    except ValueError:
        raise InputError(
            f"--lam {args.lam!r}: a number, one per layer (a,b,...), or 'best'"
        ) from None
    return (lam[0] if len(lam) == 1 else lam), args.relative, args.positions, args.model


def _pick(lam: Any, layers: tuple[int, ...], picked: list[int]) -> Any:
    """The λ of the ``picked`` layers, when λ is one per layer of ``layers``."""
    from ..errors import InputError

    if not isinstance(lam, list):
        return lam
    if len(lam) != len(layers):
        raise InputError(f"{len(lam)} λ values for the file's {len(layers)} layers {layers}")
    by_layer = dict(zip(layers, lam, strict=True))
    return [by_layer[k] for k in picked]


def _resolved(vecs: Any, spec: str | None) -> Any:
    """The model the vectors steer (``spec``, else the one their meta names), resolved from
    metadata only; None when there is none or it cannot be resolved (no hint or depth then:
    export says how to give a hint, write_svec falls back on the meta or warns)."""
    from ..models.specs import resolve_spec

    spec = spec or vecs.meta.get("target_model") or vecs.meta.get("source_model")
    try:
        return resolve_spec(spec) if spec else None
    except Exception:
        return None


def _format(args: argparse.Namespace) -> str:
    from ..errors import InputError
    from ..formats import FORMATS

    fmt = args.format or next(
        (f.name for f in FORMATS.values() if f.suffix == Path(args.out).suffix), None
    )
    if fmt is None or fmt == "safetensors":
        raise InputError(f"say --format {{gguf,lm-eval,svec}}: {args.out} has no export suffix")
    return fmt


def cmd_export(args: argparse.Namespace) -> None:
    from ..formats import FORMATS
    from ..vectors import SteeringVectors

    fmt = _format(args)
    vecs = SteeringVectors.load(args.vectors)
    lam, relative, positions, spec = _strength(args)
    if args.layers:
        picked = parse_layers(args.layers, vecs.layers)
        lam, vecs = _pick(lam, vecs.layers, picked), vecs.select(picked)
    norms = _relative_norms(spec, vecs, args) if relative else None
    target = {}
    if fmt != "lm-eval":
        given = args.model_hint or vecs.meta.get("model_hint")
        found = _resolved(vecs, spec) if fmt == "svec" or not given else None
        target["model_hint"] = given or (found.architecture() if found else None)
        if fmt == "svec":
            target["n_layers"] = found.n_layers() if found else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = vecs.export(
            args.out,
            fmt,
            lam=lam,
            reference_norms=norms,
            positions=positions,
            hookpoint=args.hookpoint,
            **target,
        )
    for w in caught:
        print(f"lens-steer: warning: {w.message}", file=sys.stderr)
    kind = "× mean‖h‖ per layer" if relative else "absolute"
    print(f"wrote {out} ({fmt}, for {FORMATS[fmt].target}): λ = {lam} ({kind})")
    print("use: " + _usage(fmt, out))


def _usage(fmt: str, out: Path) -> str:
    if fmt == "gguf":
        return f"llama-server -m CHILD.gguf --control-vector-scaled {out} 1.0"
    if fmt == "lm-eval":
        return f"lm_eval --model steered --model_args pretrained=CHILD_HF_DIR,steer_path={out} ..."
    keys = json.loads(out.read_text())["directions"]
    return (
        f"MalleableModel.steer(behavior_vector=SteeringVector.load('{out.with_suffix('')}'), "
        f"behavior_layer_ids=[{', '.join(keys)}], behavior_vector_strength=1.0)"
    )


def _relative_norms(spec: str | None, vecs: Any, args: argparse.Namespace) -> Any:
    from ..errors import InputError
    from ..models.load import load_model
    from ..steer import check_fits, relative_norms

    if not spec:
        raise InputError(
            "a relative λ is a fraction of the model's ‖h‖: say which model with --model"
        )
    model = load_model(spec, device=args.device, dtype=args.dtype)
    check_fits(model, vecs)
    return relative_norms(model, vecs, None, None)


def cmd_info(args: argparse.Namespace) -> None:
    from ..formats import detect
    from ..vectors import SteeringVectors

    vecs = SteeringVectors.load(args.vectors)
    norms = vecs.directions.norm(dim=-1).tolist()
    print(f"{args.vectors}: {detect(args.vectors)}")
    print(vecs)
    print(
        "norms: "
        + ", ".join(f"{layer}:{n:.4g}" for layer, n in zip(vecs.layers, norms, strict=True))
    )
    if args.model:
        _check_model(args, vecs)
    print(json.dumps(dict(vecs.meta), indent=2))


def _check_model(args: argparse.Namespace, vecs: Any) -> None:
    from ..models.load import load_model
    from ..models.specs import resolve_spec
    from ..steer import check_fits

    arch, hint = resolve_spec(args.model).architecture(), vecs.meta.get("model_hint")
    if hint and arch and hint.split("_")[0] != arch.split("_")[0]:  # gemma3 ~ gemma3_text
        print(
            f"lens-steer: warning: {args.vectors} names a {hint!r} model, but {args.model} is "
            f"{arch!r} (HF and GGUF names differ for some families: check it is the model meant)",
            file=sys.stderr,
        )
    check_fits(load_model(args.model, device=args.device, dtype=args.dtype), vecs)
    print(f"fits {args.model}")


def add_commands(sub: Any, model_opts: Any) -> None:
    """The ``export`` and ``info`` subcommands."""
    from ..formats import FORMATS, HOOKPOINT
    from ..options import POSITIONS

    q = sub.add_parser("export", help="write vectors for llama.cpp, lm-eval or activation-steering")
    q.add_argument("vectors", help="a vector file (any format `info` reads)")
    q.add_argument("-o", "--out", required=True, help="the file to write")
    q.add_argument(
        "--format",
        choices=[f for f in FORMATS if f != "safetensors"],
        help="default: from the suffix of -o (.gguf, .pt, .svec)",
    )
    q.add_argument(
        "--lam",
        default="1.0",
        help="λ: a number, one per layer (a,b,...), or 'best' = the run's λ* (default 1)",
    )
    q.add_argument(
        "--relative", action="store_true", help="λ is a fraction of mean ‖h‖ (needs --model)"
    )
    q.add_argument("--model", help="the model the vectors steer: for --relative and the model hint")
    q.add_argument(
        "--model-hint", help="architecture name written into gguf/svec (default: from the model)"
    )
    q.add_argument("--layers", help="only these layers: A-B (inclusive) or 1,3,5")
    q.add_argument(
        "--positions",
        default="all",
        choices=POSITIONS,
        help="only 'all' can be exported: the targets steer every position",
    )
    q.add_argument(
        "--hookpoint", default=HOOKPOINT, help=f"lm-eval module name (default {HOOKPOINT})"
    )
    model_opts(q)
    q.set_defaults(func=cmd_export)

    q = sub.add_parser("info", help="print a vector file's format, summary and provenance")
    q.add_argument("vectors")
    q.add_argument("--model", help="also check that the vectors fit this model")
    model_opts(q)
    q.set_defaults(func=cmd_info)
