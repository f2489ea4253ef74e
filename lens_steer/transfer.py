"""Carry parent-space steering vectors into a child model of another width and depth.

Two independent choices: which parent layer feeds each child layer (:mod:`.layer_maps`), and how
a d_parent vector becomes a d_child one (:mod:`.width_maps`). Both are recorded in the result's
``meta`` so a transferred vector can always say how it got there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from . import layer_maps as lm
from . import width_maps as wm
from .activations import last_token_activations
from .anchors import ANCHOR_TEXTS
from .errors import InputError
from .models import model_name
from .vectors import SteeringVectors

__all__ = ["transfer"]


def _validate(vectors, child, source_model, layer_map, width) -> tuple[int, int]:
    d_parent, d_child = vectors.d_model, int(child.cfg.d_model)
    if width is None and d_parent != d_child:
        raise InputError(
            f"vector width {d_parent} ≠ child d_model {d_child}: pass width='ridge', "
            "'procrustes', 'truncate' or 'random'"
        )
    if width is not None and width not in wm.WIDTH_METHODS:
        raise InputError(f"unknown width method {width!r}: choose one of {wm.WIDTH_METHODS}")
    if not isinstance(layer_map, Mapping) and layer_map not in lm.LAYER_MAPS:
        raise InputError(
            f"unknown layer_map {layer_map!r}: choose one of {lm.LAYER_MAPS} "
            "or pass a {child_layer: parent_layer} dict"
        )
    needs_parent = width in ("ridge", "procrustes") or layer_map == "cka"
    if needs_parent and source_model is None:
        raise InputError(
            f"width={width!r} / layer_map={layer_map!r} fit on activations of both models: "
            "pass source_model=<the parent model the vectors came from>"
        )
    if source_model is not None and int(source_model.cfg.d_model) != d_parent:
        raise InputError(
            f"source_model d_model {source_model.cfg.d_model} ≠ vector width {d_parent}: "
            "is it the model these vectors were extracted from?"
        )
    if source_model is not None:  # else the constructor checked meta["model_n_layers"]
        depth = int(source_model.cfg.n_layers)
        bad = [layer for layer in vectors.layers if layer >= depth]
        if bad:
            raise InputError(
                f"vector layers {bad} do not exist in the source model {model_name(source_model)}, "
                f"which has {depth} layers (0..{depth - 1}): is it the model these vectors were "
                "extracted from?"
            )
    return d_parent, d_child


def _parent_depth(vectors: SteeringVectors, source_model: Any) -> int:
    if source_model is not None:
        return int(source_model.cfg.n_layers)
    return int(vectors.meta.get("model_n_layers", max(vectors.layers) + 1))


def transfer(
    vectors: SteeringVectors,
    child: Any,
    *,
    source_model: Any = None,
    layer_map: str | Mapping[int, int] = "greedy",
    width: str | None = None,
    anchor_texts: Sequence[str] | None = None,
    normalize: bool = True,
    seed: int = 0,
    batch_size: int = 8,
    progress: bool = True,
) -> SteeringVectors:
    """Map ``vectors`` (parent space) onto ``child``'s layers and width.

    ``width=None`` is only allowed when the widths already agree. ``ridge``, ``procrustes`` and
    ``layer_map="cka"`` read both models on ``anchor_texts`` (default: a small built-in set; the
    pipeline passes the task's train questions). The mapped vectors are re-normalised to unit
    norm unless ``normalize=False``.
    """
    d_parent, d_child = _validate(vectors, child, source_model, layer_map, width)
    n_child = int(child.cfg.n_layers)
    texts = list(anchor_texts) if anchor_texts is not None else list(ANCHOR_TEXTS)
    needs_acts = width in ("ridge", "procrustes") or layer_map == "cka"
    if needs_acts:
        if len(texts) < 8:
            raise InputError(f"need at least 8 anchor texts to fit maps, got {len(texts)}")
        h_parent = last_token_activations(source_model, texts, vectors.layers, batch_size, progress)
        h_child = last_token_activations(child, texts, None, batch_size, progress)

    meta: dict[str, Any] = {
        "layer_map_method": layer_map if isinstance(layer_map, str) else "explicit"
    }
    if isinstance(layer_map, Mapping):
        pairs = lm.explicit_map(layer_map, vectors.layers, n_child)
    elif layer_map == "greedy":
        pairs = lm.greedy_map(vectors.layers, n_child)
    elif layer_map == "proportional":
        pairs = lm.proportional_map(vectors.layers, _parent_depth(vectors, source_model), n_child)
    else:
        full = torch.full((n_child, max(vectors.layers) + 1), float("nan"))
        full[:, list(vectors.layers)] = lm.cka_matrix(h_child, h_parent)
        pairs = lm.cka_map(full.nan_to_num(float("-inf")), vectors.layers)
        meta["cka"] = [round(float(full[c, p]), 6) for c, p in pairs]
    if not pairs:
        raise InputError(f"layer map {layer_map!r} maps no parent layer onto the child")

    rows, r2s, alphas = [], [], []
    row_of = {layer: i for i, layer in enumerate(vectors.layers)}
    for c, p in pairs:
        v = vectors.directions[row_of[p]].double()
        r2 = alpha = None
        if width is None:
            mapped = v
        elif width == "truncate":
            mapped = v @ wm.truncate_map(d_parent, d_child).double()
        elif width == "random":
            mapped = v @ wm.random_map(d_parent, d_child, seed * 100_003 + c).double()
        elif width == "ridge":
            m, r2, alpha = wm.ridge_map(h_parent[:, row_of[p]], h_child[:, c], seed)
            mapped = v @ m.double()
        else:
            m, r2 = wm.procrustes_map(h_parent[:, row_of[p]], h_child[:, c], seed)
            mapped = v @ m.double()
        norm = float(mapped.norm())
        if norm < 1e-8:
            raise InputError(
                f"the {width} map sends parent layer {p}'s vector to zero at child layer {c}; "
                "try another width method"
            )
        rows.append(mapped / norm if normalize else mapped)
        r2s.append(r2)
        alphas.append(alpha)

    pick = torch.tensor([row_of[p] for _, p in pairs])

    def carried(t):
        return None if t is None else t[pick]

    meta.update(
        kind="transferred",
        parent=dict(vectors.meta),
        source_model=vectors.meta.get("source_model", "?"),
        method=vectors.meta.get("method"),
        target_model=model_name(child),
        model_d_model=d_child,
        model_n_layers=n_child,
        hook_point="hook_resid_post",
        coordinates=vectors.meta.get("coordinates", "raw"),
        layer_map=[[c, p] for c, p in pairs],
        width=width or "identity",
        width_r2=r2s if width in ("ridge", "procrustes") else None,
        ridge_alpha=alphas if width == "ridge" else None,
        normalized=normalize,
        n_anchor_texts=len(texts) if needs_acts else 0,
        anchor_hash=hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
        if needs_acts
        else None,
        seed=seed,
    )
    return SteeringVectors(
        torch.stack(rows).float(),
        tuple(c for c, _ in pairs),
        carried(vectors.explained_variance),
        carried(vectors.sign_agreement),
        meta,
    )
