"""Algorithm 1: steering vectors from contrastive pairs.

For each pair (s⁺, s⁻) read ``hook_resid_post`` of every layer at the last token, take
d = normalize(h⁺ − h⁻), and per layer take the leading direction of the d's.

``method``:
- ``"pca"`` (default) — representation-engineering PCA: each difference's sign is flipped at random
  (seeded) before the usual centred PCA. Centring the raw d's would subtract their mean, which *is*
  the concept direction when pairs agree; random flips make the mean ≈ 0 so PC1 keeps it.
- ``"svd"`` — uncentred SVD of the d's (PC1 of the second-moment matrix).
- ``"mean-diff"`` — the normalised mean of the d's, a common baseline.
- ``"probe"`` — a supervised direction: scikit-learn's ``LogisticRegression`` with its defaults
  (L2, C = 1) on the raw last-token activations, positives against negatives, per layer, with no
  standardisation so the coefficients live in the model's coordinates; the direction is the
  normalised coefficient vector, and a probe fitted on 75 % of the pairs is scored on the other
  25 % (``meta["probe_accuracy"]``, per layer).
The sign is then set so s⁺ projects above s⁻ on most pairs; the agreement fraction is recorded.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from .activations import last_token_activations
from .errors import InputError
from .models.load import hook_point, model_name
from .vectors import SteeringVectors, zero_layers

__all__ = ["extract", "directions_from_differences", "METHODS"]

METHODS = ("pca", "svd", "mean-diff", "probe")
Method = Literal["pca", "svd", "mean-diff", "probe"]


def pair_texts(pairs: Sequence[Any]) -> tuple[list[str], list[str], str]:
    """Accept ``ContrastivePair``-like objects or ``(positive, negative)`` tuples."""
    if not pairs:
        raise InputError("no contrastive pairs given: extraction needs at least two")
    pos, neg, strategies = [], [], set()
    for i, p in enumerate(pairs):
        if hasattr(p, "positive") and hasattr(p, "negative"):
            a, b = p.positive, p.negative
            strategies.add(str(getattr(p, "strategy", "custom")))
        elif isinstance(p, (tuple, list)) and len(p) == 2:
            a, b = p
            strategies.add("custom")
        else:
            raise TypeError(
                f"pair {i} is {type(p).__name__}: expected (positive, negative) strings"
            )
        if not isinstance(a, str) or not isinstance(b, str):
            raise TypeError(f"pair {i}: positive and negative must be strings")
        if a == b:
            raise InputError(f"pair {i}: positive and negative texts are identical")
        pos.append(a)
        neg.append(b)
    if len(pos) < 2:
        raise InputError("extraction needs at least two pairs to estimate a direction")
    return pos, neg, "+".join(sorted(strategies))


def _leading_direction(
    d: Float[Tensor, "n d"], method: Method, generator: torch.Generator
) -> tuple[Float[Tensor, " d"], float]:
    """Unit direction and the share of variance (or second moment) it explains."""
    if method == "mean-diff":
        v = d.mean(dim=0)
        v = v / v.norm().clamp_min(1e-12)
        return v, float(((d @ v) ** 2).sum() / (d**2).sum().clamp_min(1e-12))
    if method == "pca":
        flips = torch.randint(0, 2, (d.shape[0], 1), generator=generator).float() * 2 - 1
        x = d * flips
        x = x - x.mean(dim=0, keepdim=True)
    elif method == "svd":
        x = d
    else:
        raise InputError(f"unknown method {method!r}: choose one of {METHODS}")
    _, s, vh = torch.linalg.svd(x.double(), full_matrices=False)
    return vh[0].float(), float(s[0] ** 2 / (s**2).sum().clamp_min(1e-30))


def directions_from_differences(
    diffs: Float[Tensor, "n_pairs n_layers d_model"], method: Method = "pca", seed: int = 0
) -> tuple[
    Float[Tensor, "n_layers d_model"], Float[Tensor, " n_layers"], Float[Tensor, " n_layers"]
]:
    """Per-layer unit directions, explained-variance ratios and sign agreement from raw h⁺ − h⁻.

    Pure tensor maths, separated from the model so it can be tested on planted directions.

    Args:
        diffs: the raw differences h⁺ − h⁻, ``[n_pairs ≥ 2, n_layers, d_model]``; each is
            normalised to unit length before the direction is found.
        method: "pca" (random sign flips, then centred PCA), "svd" (uncentred) or "mean-diff";
            see the module docstring.
        seed: seeds the "pca" sign flips (one generator across the layers); unused otherwise.

    Returns:
        ``(directions, explained, agreement)``: unit directions ``[n_layers, d_model]`` (a zero
        row where "mean-diff" differences cancel out); per layer, the share of the unit
        differences' variance ("pca") or second moment ("svd", "mean-diff") along the
        direction; and the fraction of pairs whose raw difference projects above 0 on it,
        always ≥ 0.5 because the sign is flipped to make it so.

    Raises:
        InputError: ``diffs`` not 3-D or with fewer than 2 pairs, or an unknown ``method``.
    """
    if diffs.ndim != 3 or diffs.shape[0] < 2:
        raise InputError(
            f"diffs must be [n_pairs ≥ 2, n_layers, d_model], got {tuple(diffs.shape)}"
        )
    diffs = diffs.float()
    unit = diffs / diffs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    gen = torch.Generator().manual_seed(seed)
    dirs, evr, agree = [], [], []
    for layer in range(diffs.shape[1]):
        v, ratio = _leading_direction(unit[:, layer], method, gen)
        frac = float((diffs[:, layer] @ v > 0).float().mean())
        if frac < 0.5:
            v, frac = -v, 1.0 - frac
        dirs.append(v / v.norm().clamp_min(1e-30))  # a zero mean stays zero: extract refuses it
        evr.append(ratio)
        agree.append(frac)
    return torch.stack(dirs), torch.tensor(evr), torch.tensor(agree)


def _fit_probe(x: Any, y: Any) -> tuple[Any, bool]:
    """scikit-learn's LogisticRegression with its defaults; whether lbfgs converged."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings(record=True) as caught:  # raw activations can need more than
        warnings.simplefilter("always", ConvergenceWarning)  # lbfgs's 100 steps: record it
        probe = LogisticRegression().fit(x, y)
    return probe, not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _warn_unconverged(layers: Sequence[int], converged: Sequence[bool]) -> None:
    """Say so when lbfgs stopped early: a few outlier dimensions of large norm (common in LLM
    residual streams) make raw activations ill-conditioned for it."""
    failed = [layer for layer, ok in zip(layers, converged, strict=True) if not ok]
    if failed:
        warnings.warn(
            f"the logistic-regression probe (scikit-learn defaults: lbfgs, 100 iterations) did "
            f"not converge at layers {failed}: their directions are lbfgs's last iterate, not "
            "the optimum (meta['probe_converged']); compare them with method='mean-diff' or "
            "'pca' before relying on them",
            UserWarning,
            stacklevel=3,
        )


def probe_directions(
    pos: Float[Tensor, "n_pairs n_layers d_model"],
    neg: Float[Tensor, "n_pairs n_layers d_model"],
    seed: int = 0,
) -> tuple[Float[Tensor, "n_layers d_model"], list[float | None], list[bool]]:
    """Per layer: the unit coefficient vector of a logistic-regression probe (positives = 1) on
    all pairs, the held-out accuracy of one fitted on a seeded 75 % of the pairs (None with
    fewer than 4 pairs), and whether the full fit converged."""
    n = pos.shape[0]
    held = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[: max(1, n // 4)]
    train = torch.ones(n, dtype=torch.bool)
    train[held] = False
    y = np.r_[np.ones(n), np.zeros(n)]
    dirs, accuracy, converged = [], [], []
    for layer in range(pos.shape[1]):
        x = torch.cat([pos[:, layer], neg[:, layer]]).double().numpy()
        probe, ok = _fit_probe(x, y)
        coef = torch.from_numpy(probe.coef_[0]).float()
        dirs.append(coef / coef.norm().clamp_min(1e-30))
        converged.append(ok)
        if n < 4:
            accuracy.append(None)
            continue
        both = np.r_[train.numpy(), train.numpy()]
        part, _ = _fit_probe(x[both], y[both])
        accuracy.append(float(part.score(x[~both], y[~both])))
    return torch.stack(dirs), accuracy, converged


def _data_hash(pos: Sequence[str], neg: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps([list(pos), list(neg)]).encode()).hexdigest()[:16]


def extract(
    model: Any,
    pairs: Sequence[Any],
    *,
    method: Method = "pca",
    layers: Sequence[int] | None = None,
    batch_size: int = 8,
    seed: int = 0,
    progress: bool = True,
    hook: str = "resid_post",
) -> SteeringVectors:
    """Algorithm 1 on ``model`` (the parent): one unit steering vector per layer.

    Args:
        model: a TransformerBridge (or HookedTransformer) with a tokenizer.
        pairs: ≥ 2 ``ContrastivePair`` objects or ``(positive, negative)`` string tuples, the
            two texts of a pair different; texts are used as given (render chat templates
            before, if wanted).
        method: "pca" (default), "svd", "mean-diff" or "probe"; see the module docstring.
        layers: model layers to extract at, each in ``0..n_layers-1``; None for every layer.
        batch_size: texts per forward pass.
        seed: seeds the "pca" sign flips and the "probe" held-out split; recorded in ``meta``.
        progress: show a progress bar.
        hook: where to read in each block: "resid_post" (default, the paper), "resid_pre",
            "resid_mid", "attn_out" or "mlp_out"; recorded in ``meta["hook_point"]``, where
            ``steer`` and the engine then write.

    Returns:
        :class:`~lens_steer.SteeringVectors` read at ``hook`` of the last token, one
        unit direction per layer in ``layers`` order, with explained variance, sign agreement
        and provenance (model, method, pair strategy, a hash of the texts) in ``meta``.

    Raises:
        InputError: an unknown method; fewer than 2 pairs or a pair with identical texts; a
            layer where every pair's activations are identical, or where the direction is zero.
        TypeError: a pair that is not a (positive, negative) pair of strings.
        ValueError: a layer out of range, or a text that tokenizes to nothing.
    """
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}: choose one of {METHODS}")
    point = hook_point(hook)
    pos, neg, strategy = pair_texts(pairs)
    layer_list = list(range(int(model.cfg.n_layers))) if layers is None else list(layers)
    acts = last_token_activations(model, pos + neg, layer_list, batch_size, progress, point)
    diffs = acts[: len(pos)] - acts[len(pos) :]
    same = [layer for i, layer in enumerate(layer_list) if not diffs[:, i].abs().any()]
    if same:  # every direction there would be arbitrary (PCA) or zero (mean-diff)
        raise InputError(
            f"positive and negative texts give identical last-token activations at layers "
            f"{same} of {model_name(model)}, so no direction can be found there: leave those "
            "layers out (layers=...) or use pairs whose texts differ nearer their last token"
        )
    extra: dict[str, Any] = {}
    if method == "probe":
        directions, accuracy, converged = probe_directions(acts[: len(pos)], acts[len(pos) :], seed)
        directions, evr, agree = _statistics(diffs, directions)
        extra = {"probe_accuracy": accuracy, "probe_converged": converged}
        _warn_unconverged(layer_list, converged)
    else:
        directions, evr, agree = directions_from_differences(diffs, method, seed)
    zero = zero_layers(directions, layer_list)
    if zero:
        raise InputError(
            f"the {method} direction is zero at layers {zero} (the pair differences cancel "
            "out): use method='pca', or more and more varied pairs"
        )
    meta = {
        "kind": "extracted",
        "source_model": model_name(model),
        "model_d_model": int(model.cfg.d_model),
        "model_n_layers": int(model.cfg.n_layers),
        "hook_point": point,
        "position": "last_token",
        "coordinates": "processed" if getattr(model.cfg, "lens_steer_processed", False) else "raw",
        "method": method,
        "pca_centering": {"pca": "random-sign-flip+centred", "svd": "uncentred"}.get(method),
        "pair_strategy": strategy,
        "n_pairs": len(pos),
        "data_hash": _data_hash(pos, neg),
        "seed": seed,
        **extra,
    }
    return SteeringVectors(directions, tuple(layer_list), evr, agree, meta)


def _statistics(
    diffs: Float[Tensor, "n_pairs n_layers d_model"], directions: Float[Tensor, "n_layers d_model"]
) -> tuple[Float[Tensor, "n_layers d_model"], Tensor, Tensor]:
    """Given directions: each flipped so most pairs' h⁺ − h⁻ project above 0, the share of the
    unit differences' second moment along it, and that agreement fraction."""
    diffs = diffs.float()
    unit = diffs / diffs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    proj = torch.einsum("pld,ld->pl", diffs, directions)
    flip = torch.where((proj > 0).float().mean(0) < 0.5, -1.0, 1.0)
    directions = directions * flip[:, None]
    agree = (proj * flip > 0).float().mean(0)
    along = torch.einsum("pld,ld->pl", unit, directions)
    return directions, (along**2).sum(0) / (unit**2).sum((0, 2)).clamp_min(1e-12), agree
