"""``lens-steer run``: extract → transfer → tune λ → test (± ITS, controls), resumably.

The run directory holds the resolved config, the vectors, every prediction, ``metrics.json`` and
a log. Generations go through a SQLite cache keyed by their content, so killing the process and
running the same command again redoes at most one batch and ends with the same ``metrics.json``,
byte for byte. A run directory made by a different config is refused, never mixed.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from ..options import Options
from .config import config_hash
from .pool import ModelPool
from .preflight import Preflight, check_grids, preflight
from .run_dir import RunDirectoryError, check_stamp, claim, locked, write_json

if TYPE_CHECKING:
    from ..experiment.layer_search import LayerSearch

__all__ = ["run_pipeline", "write_json", "RunDirectoryError"]

log = logging.getLogger("lens_steer.run")


def _environment(model: Any) -> dict[str, Any]:
    import torch
    import transformers

    from ..activations import model_device

    device = model_device(model)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return {
        "device": str(device),
        "device_name": name or platform.machine(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


def _vectors(path: Path, make) -> Any:
    from ..vectors import SteeringVectors

    if path.exists():
        log.info("reusing %s", path)
        return SteeringVectors.load(path)
    vecs = make()
    vecs.save(path)
    return vecs


def _steering_ratio(
    child: Any, vecs: Any, best: Any, relative: bool, op: str = "add"
) -> dict[str, Any] | None:
    """‖λ*·v‖ / mean‖h‖ per steered child layer (6 significant digits, for stable bytes).

    A relative λ is already a fraction of the mean norm, so its ratio is |λ|·‖v‖ exactly. Clamp
    sets the component along v̂ to λ, so its ratio is that of the unit vector; ablate's λ is a
    share of the direction, which has no such ratio (None).
    """
    from ..experiment.lambda_sweep import entry_json
    from ..steer import steering_ratio

    if op == "ablate":
        return None
    if op == "clamp":
        vecs = vecs.normalized()

    if relative:
        lam = [abs(x) for x in best] if isinstance(best, tuple) else [abs(best)] * len(vecs)
        ratio = [
            a * float(v) for a, v in zip(lam, vecs.directions.float().norm(dim=-1), strict=True)
        ]
    else:
        ratio = steering_ratio(child, vecs, best).tolist()
    return {
        "lambda": entry_json(best),
        "layers": list(vecs.layers),
        "ratio": [float(f"{r:.6g}") for r in ratio],
    }


def _parent_vectors(cfg, tcfg, task, sp, parent_loader, path: Path, progress: bool):
    """Algorithm 1 on the parent (or the vectors a previous attempt saved at ``path``)."""
    from ..extract import extract
    from ..tasks import contrastive_pairs

    def make():
        seed, ex = cfg["seed"], cfg["extract"]
        pairs = contrastive_pairs(
            task, sp.train, strategy=tcfg["pairs"]["strategy"], n=tcfg["pairs"]["n"], seed=seed
        )
        return extract(
            parent_loader(),
            pairs,
            method=ex["method"],
            batch_size=ex["batch_size"],
            seed=seed,
            progress=progress,
            hook=ex["hook"],
        )

    return _vectors(path, make)


def _child_vectors(cfg, sp, parent_vecs, parent_loader, child, path: Path, progress: bool):
    """The parent's vectors carried into the child (or those saved at ``path``)."""
    from ..transfer import needs_source_activations, transfer

    def make():
        tr = cfg["transfer"]
        anchors = [ex.question for ex in sp.train[: tr["n_anchor"]]]
        needs_parent = needs_source_activations(tr["layer_map"], tr["width"])
        return transfer(
            parent_vecs,
            child,
            source_model=parent_loader() if needs_parent else None,
            layer_map=tr["layer_map"],
            width=tr["width"],
            anchor_texts=anchors,
            normalize=tr["normalize"],
            seed=cfg["seed"],
            progress=progress,
        )

    return _vectors(path, make)


def _options(cfg, tcfg, sp, cache, progress: bool) -> Options:
    """The one set of prompting, steering and decoding options tuning and testing share."""
    return Options(
        fewshot=sp.fewshot,
        zero_shot=tcfg["zero_shot"],
        positions=cfg["steer"]["positions"],
        relative=cfg["steer"]["relative"],
        op=cfg["steer"]["op"],
        max_new_tokens=tcfg["max_new_tokens"],
        batch_size=tcfg["batch_size"],
        cache=cache,
        progress=progress,
    )


def _task_run(cfg, tcfg, parent_loader, child, run_dir: Path, cache, progress: bool):
    """One task: pairs → parent vectors → child vectors → λ* on val → test conditions."""
    from ..experiment.evaluate import evaluate
    from ..experiment.tune import PAPER_LAMBDA_GRID, tune_lambda
    from ..tasks import get_task

    seed = cfg["seed"]
    task = get_task(tcfg["name"], data_dir=tcfg["data_dir"])
    sp = task.splits(seed=seed, n_val=tcfg["n_val"])
    test = list(sp.test)[: tcfg["n_test"]] if tcfg["n_test"] else list(sp.test)
    out = run_dir / tcfg["name"]
    log.info("%s: %s; testing on %d", tcfg["name"], sp, len(test))
    vec_dir = out / "vectors"
    parent_vecs = _parent_vectors(
        cfg, tcfg, task, sp, parent_loader, vec_dir / "parent.safetensors", progress
    )
    child_vecs = _child_vectors(
        cfg, sp, parent_vecs, parent_loader, child, vec_dir / "child.safetensors", progress
    )
    grid, its_grid = (
        PAPER_LAMBDA_GRID if g == "paper" else g for g in (tcfg["grid"], tcfg["its_grid"])
    )
    its_grid = grid if its_grid is None else its_grid
    opts = _options(cfg, tcfg, sp, cache, progress)
    tuned = tune_lambda(
        child, child_vecs, task, sp.val, grid, scoring=tcfg["scoring"], options=opts
    )
    write_json(out / "tune.json", tuned.to_dict())
    log.info("%s λ sweep on validation:\n%s", tcfg["name"], tuned.summary_table())
    report = evaluate(
        child,
        task,
        test,
        vectors=child_vecs,
        lam=tuned.best,
        its=tcfg["its"],
        grid=its_grid,
        controls=tcfg["controls"],
        scoring=tcfg["scoring"],
        seed=seed,
        options=opts,
    )
    write_json(out / "predictions.json", report.to_dict(predictions=True), compact=True)
    log.info("%s test:\n%s", tcfg["name"], report.summary_table())
    result = _task_result(sp, tuned, report, parent_vecs, child_vecs, child, cfg)
    if tcfg["layer_search"]["strategy"] is not None:
        result["layer_search"] = _layer_search(child, child_vecs, task, sp, test, tuned, tcfg, opts)
        write_json(out / "layer_search.json", result["layer_search"])
    return result, report


def _layer_search(child, vecs, task, sp, test, tuned, tcfg, opts) -> dict[str, Any]:
    """Which of the steered layers carry the effect at λ*: searched on validation, the chosen
    set then tested once on the test split beside the baseline (the search never saw it)."""
    from ..experiment.evaluate import evaluate
    from ..experiment.layer_search import search_layers

    cfg = tcfg["layer_search"]
    lam = float(tuned.best)
    found = search_layers(
        child, vecs, task, sp.val, lam,
        strategy=cfg["strategy"], max_layers=cfg["max_layers"], scoring=tcfg["scoring"],
        options=opts,
    )  # fmt: skip
    out = found.to_dict()
    log.info("%s layer search (%s) on validation: best %s%s", tcfg["name"], cfg["strategy"],
             list(found.best), _stop_reason(found))  # fmt: skip
    if not found.best:  # the plain model won on validation: nothing to steer on test
        out["test"] = None
        return out
    control = ("random-direction",) if "random-direction" in tcfg["controls"] else ()
    rep = evaluate(
        child, task, test, vectors=vecs.select(found.best), lam=lam, its=False, controls=control,
        scoring=tcfg["scoring"], options=opts,
    )  # fmt: skip
    conditions = rep.to_dict(predictions=False)["conditions"]
    out["test"] = {"baseline": conditions["baseline"], "best": conditions["steered"]}
    if control:  # random directions on the chosen layers at λ*, as the run's own control
        out["test"]["random-direction"] = conditions["random-direction"]
    return out


def _stop_reason(found: LayerSearch) -> str:
    """Why a greedy search stopped where it did, for the log (the nearest miss when its CI
    decided)."""
    from ..experiment.layer_search import describe_stop

    words = describe_stop(found.to_dict())
    return f" ({words})" if words else ""


def _task_result(sp, tuned, report, parent_vecs, child_vecs, child, cfg) -> dict[str, Any]:
    """The task's section of ``metrics.json``."""
    return {
        "splits": sp.sizes() if hasattr(sp, "sizes") else {},
        "best_lambda": tuned.to_dict(outputs=False)["best"],
        "tune": tuned.to_dict(outputs=False),
        "test": report.to_dict(predictions=False),
        "vectors": {
            "parent_explained_variance": [
                round(float(x), 6) for x in parent_vecs.explained_variance
            ],
            "layer_map": child_vecs.meta.get("layer_map"),
            "width_r2": child_vecs.meta.get("width_r2"),
        },
        "steering_ratio": _steering_ratio(
            child, child_vecs, tuned.best, cfg["steer"]["relative"], cfg["steer"]["op"]
        ),
    }


@contextmanager
def _run_log(run_dir: Path) -> Iterator[None]:
    """Send the whole ``lens_steer`` logger (generate's capture lines too) to ``run.log``."""
    handler = logging.FileHandler(run_dir / "run.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    package = logging.getLogger("lens_steer")
    saved_level = package.level
    package.addHandler(handler)
    package.setLevel(logging.INFO)
    try:
        yield
    finally:
        package.removeHandler(handler)
        package.setLevel(saved_level)
        handler.close()


def run_pipeline(
    cfg: Mapping[str, Any], *, progress: bool = True, models: ModelPool | None = None
) -> Path:
    """Run (or resume) the validated config ``cfg``; returns the run directory.

    Everything that can be checked without weights is checked first and nothing is written
    until it passes; the run then holds the directory's lock to the end, so a second process
    on the same directory stops at once instead of writing the same files. ``models``: a
    :class:`ModelPool` shared with other runs (an in-process sweep); None loads afresh.
    """
    checked = preflight(cfg)
    run_dir = Path(cfg["output_dir"]).expanduser() / cfg["name"]
    with locked(run_dir):
        check_stamp(run_dir, cfg)  # a foreign config is refused before anything is written
        with _run_log(run_dir):
            try:
                return _run_locked(cfg, run_dir, checked, progress, models)
            except KeyboardInterrupt:
                log.warning("interrupted: finished batches are kept; the same command resumes")
                raise
            except Exception as err:  # the log says how the attempt ended, with the traceback
                log.exception("failed: %s: %s", type(err).__name__, err)
                raise


def _run_locked(
    cfg: Mapping[str, Any], run_dir: Path, checked: Preflight, progress: bool, models: Any
) -> Path:
    """The run itself, inside the lock: models, config stamp, every task, metrics.json."""
    from ..engine.store import GenerationCache
    from ..models.load import load_model as load_fresh

    load_model = load_fresh if models is None else models.load  # a sweep shares its models

    cache = GenerationCache(run_dir / "generations.sqlite")  # unreadable: fail before loading
    try:
        load = dict(device=cfg["device"], dtype=cfg["dtype"])
        parent_holder: dict[str, Any] = {}

        def parent_loader():
            if "model" not in parent_holder:
                log.info("loading parent %s", cfg["parent"])
                parent_holder["model"] = load_model(cfg["parent"], **load)
            return parent_holder["model"]

        log.info("loading child %s", cfg["child"])
        child = load_model(cfg["child"], **load)
        if not checked.grids_checked:  # the depth was not in the metadata: check it now
            n_parent = checked.parent.n_layers()
            if n_parent is None and cfg["transfer"]["layer_map"] == "greedy":
                n_parent = int(parent_loader().cfg.n_layers)
            check_grids(cfg, n_parent, int(child.cfg.n_layers))
        claim(run_dir, cfg)  # only now, so a model that fails to load claims nothing
        metrics: dict[str, Any] = {"config_hash": config_hash(cfg), "tasks": {}}
        summaries = []
        for tcfg in cfg["tasks"]:
            result, report = _task_run(cfg, tcfg, parent_loader, child, run_dir, cache, progress)
            metrics["tasks"][tcfg["name"]] = result
            summaries.append(report.summary_table())
        metrics["environment"] = _environment(child)
        write_json(run_dir / "metrics.json", metrics)
        _log_decoder(child)
        tqdm.write("\n\n".join(summaries))  # above a sweep's bar, if one is showing
        log.info("done: %s", run_dir)
        return run_dir
    finally:
        cache.close()


def _log_decoder(child: Any) -> None:
    """What the graph engine held; timings go to the log so metrics.json stays reproducible."""
    from ..engine.generate import decoder_stats

    held = decoder_stats(child)
    if held["graphs"] is not None:
        log.info(
            "graph engine: %s, %d shapes captured in %.1f s, buffers %.2f GB",
            "CUDA graphs" if held["graphs"] else "eager steps",
            len(held["captured"]),
            held["capture_s"],
            held["buffer_bytes"] / 2**30,
        )
