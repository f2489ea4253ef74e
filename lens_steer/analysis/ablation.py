"""Per-layer ablation: which steered layers carry the effect of λ?

The paper steers every mapped layer with one λ. Steering one layer at a time (``only``) shows
where a nudge helps or hurts on its own; steering every layer but one (``all-but-one``) shows which
layer the full effect needs. Both run through :func:`lens_steer.tune_lambda` with per-layer λ
entries (λ on the chosen layers, 0 elsewhere), so they score exactly like the λ sweep, on the same
examples, next to the baseline (λ = 0) and all layers at λ; scored by log-likelihood, every entry
is a row of one λ-batched pass. With ``lams`` the ``only`` ablation is
repeated at each λ: a layer × λ map of Δ accuracy vs baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ..experiment.tune import TuneResult, TuneRow, tune_lambda
from ..options import Options
from ..tasks.base import Example, Task
from ..vectors import SteeringVectors
from .plots import band, color, heatmap, style

__all__ = [
    "MODES",
    "AblationResult",
    "RunSetting",
    "ablation_entries",
    "layer_ablation",
    "run_layer_ablation",
    "run_setting",
]

MODES = ("only", "all-but-one")


def ablation_entries(
    n_layers: int, lam: float, modes: Sequence[str] = MODES
) -> list[tuple[str, int | None, float | tuple[float, ...]]]:
    """``(mode, steered-layer row, λ entry)`` for the baseline, all layers and each ablation."""
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ValueError(f"unknown ablation modes {bad}: choose from {list(MODES)}")
    out: list[tuple[str, int | None, float | tuple[float, ...]]] = [
        ("baseline", None, 0.0),
        ("all", None, float(lam)),
    ]
    for mode in modes:
        for i in range(n_layers):
            if mode == "only":
                entry = tuple(float(lam) if j == i else 0.0 for j in range(n_layers))
            else:
                entry = tuple(0.0 if j == i else float(lam) for j in range(n_layers))
            out.append((mode, i, entry))
    return out


@dataclass(frozen=True, eq=False)
class AblationResult:
    """Accuracy (Wilson 95 % CI) per layer and mode at ``lam``; ``grid`` is Δ vs baseline of
    steering only layer ``layers[i]`` at ``lams[k]`` (rows), with all layers as a last row."""

    task: str
    lam: float
    layers: tuple[int, ...]
    baseline: TuneRow
    all_layers: TuneRow
    per_layer: dict[str, tuple[TuneRow, ...]]
    lams: tuple[float, ...]
    grid: np.ndarray | None
    sweep: TuneResult

    def figure(self) -> go.Figure:
        """Accuracy per layer for each mode (error bars), baseline and all-layers bands."""
        fig = go.Figure()
        x_all = list(self.layers)
        for k, (name, row) in enumerate(
            (("baseline", self.baseline), ("all layers", self.all_layers))
        ):
            hue = "#555555" if k == 0 else "#000000"
            fig.add_trace(band([x_all[0], x_all[-1]], [row.lo] * 2, [row.hi] * 2, hue, name))
            fig.add_trace(
                go.Scatter(
                    x=[x_all[0], x_all[-1]],
                    y=[row.accuracy] * 2,
                    mode="lines",
                    line={"color": hue, "dash": "longdash" if k == 0 else "dot"},
                    name=f"{name}: {row.accuracy:.3f} [{row.lo:.3f}, {row.hi:.3f}]",
                    legendgroup=name,
                )
            )
        for k, (mode, rows) in enumerate(self.per_layer.items()):
            fig.add_trace(
                go.Scatter(
                    x=x_all,
                    y=[r.accuracy for r in rows],
                    mode="markers+lines",
                    marker={"color": color(k), "size": 9},
                    line={"color": color(k), "width": 1},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": [r.hi - r.accuracy for r in rows],
                        "arrayminus": [r.accuracy - r.lo for r in rows],
                    },
                    name=f"steer {mode} layer" if mode == "only" else "steer all but this layer",
                )
            )
        fig.update_xaxes(title_text="child layer", tickmode="array", tickvals=x_all)
        fig.update_yaxes(title_text="accuracy")
        n = self.baseline.n
        return style(fig, f"{self.task}: per-layer ablation at λ={self.lam:g} (n={n}, 95% CI)")

    def heatmap_figure(self) -> go.Figure:
        """Δ accuracy vs baseline of steering one layer at each λ (needs ``lams``)."""
        if self.grid is None:
            raise ValueError("no layer × λ grid: call layer_ablation(..., lams=[...])")
        rows = [str(x) for x in self.layers] + ["all"]
        span = 100 * float(np.nanmax(np.abs(self.grid))) or 100.0
        fig = go.Figure(
            heatmap(
                100 * self.grid,
                [f"{x:g}" for x in self.lams],
                rows,
                title="Δ accuracy",
                xlabel="λ",
                ylabel="steered layer",
                zlabel="Δ acc (pp)",
                zmin=-span,
                zmax=span,
            )
        )
        fig.update_xaxes(title_text="λ", type="category")
        fig.update_yaxes(title_text="steered child layer", type="category")
        return style(fig, f"{self.task}: Δ accuracy vs baseline, one layer steered at a time")

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "lam": self.lam,
            "layers": list(self.layers),
            "baseline": self.baseline.to_dict(),
            "all_layers": self.all_layers.to_dict(),
            "per_layer": {m: [r.to_dict() for r in rows] for m, rows in self.per_layer.items()},
            "lams": list(self.lams),
            "grid": None if self.grid is None else np.round(self.grid, 6).tolist(),
        }


def layer_ablation(
    model: Any,
    vectors: SteeringVectors,
    task: Task,
    examples: Sequence[Example],
    lam: float,
    *,
    modes: Sequence[str] = MODES,
    lams: Sequence[float] | None = None,
    **tune_kwargs: Any,
) -> AblationResult:
    """Accuracy on ``examples`` steering each layer alone / all but each layer at ``lam``.

    Layers are switched off by a per-layer λ of 0, which only ``op="add"`` reads: other ops are
    refused (``InputError``) before any work.

    ``tune_kwargs`` go to :func:`lens_steer.tune_lambda` (``scoring``, ``options`` or any of its
    fields: ``fewshot``, ``relative``, ``max_new_tokens``, ``cache``, ...): use the run's settings
    to compare with it.
    """
    n = len(vectors)
    entries = ablation_entries(n, lam, modes)
    extra: list[tuple[int | None, float, float | tuple[float, ...]]] = []
    for lam_k in lams or ():
        extra.extend((i, float(lam_k), e) for _, i, e in ablation_entries(n, lam_k, ("only",))[2:])
        extra.append((None, float(lam_k), float(lam_k)))
    grid = [e for _, _, e in entries] + [e for _, _, e in extra]
    sweep = tune_lambda(model, vectors, task, examples, grid, **tune_kwargs)
    rows = sweep.table
    per_layer: dict[str, list[TuneRow]] = {m: [] for m in modes}
    for (mode, _, _), row in zip(entries[2:], rows[2 : len(entries)], strict=True):
        per_layer[mode].append(row)
    table = None
    if lams:
        table = np.full((n + 1, len(lams)), np.nan)
        for (i, lam_k, _), row in zip(extra, rows[len(entries) :], strict=True):
            table[n if i is None else i, list(map(float, lams)).index(lam_k)] = (
                row.accuracy - rows[0].accuracy
            )
    return AblationResult(
        task=task.name,
        lam=float(lam),
        layers=tuple(vectors.layers),
        baseline=rows[0],
        all_layers=rows[1],
        per_layer={m: tuple(r) for m, r in per_layer.items()},
        lams=tuple(float(x) for x in lams or ()),
        grid=table,
        sweep=sweep,
    )


@dataclass(frozen=True)
class RunSetting:
    """What re-scoring a run's child vectors needs: the run's child, vectors, task, examples,
    λ and options (its prompts, positions, relative λ, op, batching and generation cache)."""

    model: Any
    vectors: SteeringVectors
    task: Task
    examples: list[Example]
    lam: float
    scoring: str
    options: Options


def run_setting(
    run: Any,
    task: str,
    *,
    lam: float | None = None,
    split: str = "val",
    n: int | None = None,
    model: Any = None,
    progress: bool = False,
) -> RunSetting:
    """A run directory's setting for ``task`` on its ``split`` (``val`` or ``test``, first ``n``).

    ``lam`` defaults to the run's λ*; ``model`` to the run's child, loaded as the run loaded it.
    Generations go through the run's cache, so the baseline and repeated calls cost nothing.
    """
    from ..engine.store import GenerationCache
    from ..models.load import load_model
    from ..tasks import get_task
    from .rundir import load_run

    r = run if hasattr(run, "tasks") else load_run(run)
    tr = r.task(task)
    if lam is None:
        lam = tr.best_lambda
        if not isinstance(lam, (int, float)):
            raise ValueError(f"the run's λ* is per-layer ({lam}); pass a scalar lam")
    if split not in ("val", "test"):
        raise ValueError(f"split must be 'val' or 'test', got {split!r}")
    cfg, tcfg = r.config, tr.config
    t = get_task(task, data_dir=tcfg.get("data_dir"))
    sp = t.splits(seed=cfg.get("seed", 0), n_val=tcfg.get("n_val"))
    if model is None:
        model = load_model(
            cfg["child"], device=cfg.get("device", "auto"), dtype=cfg.get("dtype", "float32")
        )
    steer_cfg = cfg.get("steer", {})
    options = Options(
        fewshot=sp.fewshot,
        zero_shot=tcfg.get("zero_shot", False),
        positions=steer_cfg.get("positions", "all"),
        relative=steer_cfg.get("relative", False),
        op=steer_cfg.get("op", "add"),
        max_new_tokens=tcfg.get("max_new_tokens", 256),
        batch_size=tcfg.get("batch_size", 16),
        cache=GenerationCache(r.path / "generations.sqlite"),
        progress=progress,
    )
    examples = list(sp.val if split == "val" else sp.test)[:n]
    scoring = tcfg.get("scoring", "generate")
    return RunSetting(model, tr.vectors("child"), t, examples, float(lam), scoring, options)


def run_layer_ablation(
    run: Any,
    task: str,
    *,
    lam: float | None = None,
    lams: Sequence[float] | None = None,
    modes: Sequence[str] = MODES,
    split: str = "val",
    n: int | None = None,
    model: Any = None,
    progress: bool = False,
) -> AblationResult:
    """:func:`layer_ablation` of a run directory's child vectors, with the run's own settings
    (see :func:`run_setting`)."""
    s = run_setting(run, task, lam=lam, split=split, n=n, model=model, progress=progress)
    return layer_ablation(
        s.model, s.vectors, s.task, s.examples, s.lam, modes=modes, lams=lams,
        scoring=s.scoring, options=s.options,
    )  # fmt: skip
