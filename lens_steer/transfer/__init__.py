"""Carry parent-space steering vectors into a child model of another width and depth.

Two independent choices: which parent layer feeds each child layer (:mod:`.layer_maps`), and how
a d_parent vector becomes a d_child one (:mod:`.width_maps`). Both are registries of small
functions, each knowing whether it reads activations of both models; this module only looks the
names up, reads activations when some map asks, and records in ``meta`` how the vectors got here.

``lens_steer.transfer`` the attribute is this function (``ls.transfer(...)``); the registries are
imported by name: ``from lens_steer.transfer import LAYER_MAPS, WIDTH_MAPS``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ..activations import last_token_activations
from ..anchors import ANCHOR_TEXTS
from ..errors import InputError
from ..models.load import hook_point, model_name
from ..vectors import SteeringVectors
from . import layer_maps as lm
from . import width_maps as wm
from .layer_maps import LAYER_MAPS
from .width_maps import WIDTH_MAPS

__all__ = ["transfer", "needs_source_activations", "LAYER_MAPS", "WIDTH_MAPS"]


def _width_spec(width: str | None) -> wm.WidthMapSpec | None:
    if width is None:
        return None
    if not isinstance(width, str) or width not in wm.WIDTH_MAPS:
        raise InputError(f"unknown width method {width!r}: choose one of {tuple(wm.WIDTH_MAPS)}")
    return wm.WIDTH_MAPS[width]


def _layer_spec(layer_map: str | Mapping[int, int]) -> lm.LayerMapSpec:
    if isinstance(layer_map, Mapping):
        return lm.explicit_spec(layer_map)
    if not isinstance(layer_map, str) or layer_map not in lm.LAYER_MAPS:
        raise InputError(
            f"unknown layer_map {layer_map!r}: choose one of {tuple(lm.LAYER_MAPS)} "
            "or pass a {child_layer: parent_layer} dict"
        )
    return lm.LAYER_MAPS[layer_map]


def needs_source_activations(layer_map: str | Mapping[int, int], width: str | None) -> bool:
    """Whether :func:`transfer` with these maps must read the source (parent) model.

    The answer lives on the registered maps, so a caller (e.g. the pipeline deciding whether to
    load the parent) never repeats the list of fitted maps. Unknown names raise ``InputError``.
    """
    width_spec = _width_spec(width)  # width first: its error is the one users saw first
    layer_spec = _layer_spec(layer_map)
    return layer_spec.needs_activations or (width_spec is not None and width_spec.needs_activations)


def _validate(
    vectors: SteeringVectors,
    child: Any,
    source_model: Any,
    layer_map: str | Mapping[int, int],
    width: str | None,
) -> None:
    """Every argument error before any model is run, in the order users have always seen them."""
    d_parent, d_child = vectors.d_model, int(child.cfg.d_model)
    if width is None and d_parent != d_child:
        raise InputError(
            f"vector width {d_parent} ≠ child d_model {d_child}: pass width='ridge', "
            "'procrustes', 'truncate' or 'random'"
        )
    if needs_source_activations(layer_map, width) and source_model is None:
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


def _anchor_activations(
    vectors: SteeringVectors,
    child: Any,
    source_model: Any,
    texts: list[str],
    batch: int,
    bar: bool,
    target: str,
) -> tuple[Tensor, Tensor]:
    """Last-token activations of both models on the same texts, the parent at the vectors' hook
    point and the child at ``target``: what fitted maps learn from."""
    if len(texts) < 8:
        raise InputError(f"need at least 8 anchor texts to fit maps, got {len(texts)}")
    point = vectors.hook_point
    h_parent = last_token_activations(source_model, texts, vectors.layers, batch, bar, point)
    h_child = last_token_activations(child, texts, None, batch, bar, target)
    return h_parent, h_child


def _map_rows(
    vectors: SteeringVectors,
    pairs: lm.LayerMap,
    width: str | None,
    d_child: int,
    seed: int,
    acts: tuple[Tensor, Tensor] | None,
    normalize: bool,
) -> tuple[list[Tensor], list[wm.WidthFit | None]]:
    """Each pair's parent vector through its own width map (None: identity, no fit)."""
    spec = _width_spec(width)
    row_of = {layer: i for i, layer in enumerate(vectors.layers)}
    rows, fits = [], []
    for c, p in pairs:
        v = vectors.directions[row_of[p]].double()
        fit = None
        if spec is not None:
            h = (acts[0][:, row_of[p]], acts[1][:, c]) if acts is not None else (None, None)
            fit = spec.fn(wm.WidthMapInputs(vectors.d_model, d_child, c, seed, *h))
        mapped = v if fit is None else v @ fit.matrix.double()
        norm = float(mapped.norm())
        if norm < 1e-8:
            raise InputError(
                f"the {width} map sends parent layer {p}'s vector to zero at child layer {c}; "
                "try another width method"
            )
        rows.append(mapped / norm if normalize else mapped)
        fits.append(fit)
    return rows, fits


def _reported(values: list[Any]) -> list[Any] | None:
    """A per-layer list for meta, or None when the map reports no such value (as before)."""
    return values if any(v is not None for v in values) else None


def _meta(
    vectors: SteeringVectors,
    child: Any,
    layer_map: str | Mapping[int, int],
    width: str | None,
    pairs: lm.LayerMap,
    extra: dict[str, Any],
    fits: list[wm.WidthFit | None],
    anchors: list[str] | None,
    normalize: bool,
    seed: int,
) -> dict[str, Any]:
    """Provenance: enough to tell how each transferred vector got here (and to redo it)."""
    return {
        "layer_map_method": layer_map if isinstance(layer_map, str) else "explicit",
        **extra,  # what the layer map chose to record, e.g. the CKA of each chosen pair
        "kind": "transferred",
        "parent": dict(vectors.meta),
        "source_model": vectors.meta.get("source_model", "?"),
        "method": vectors.meta.get("method"),
        "target_model": model_name(child),
        "model_d_model": int(child.cfg.d_model),
        "model_n_layers": int(child.cfg.n_layers),
        "coordinates": vectors.meta.get("coordinates", "raw"),
        "layer_map": [[c, p] for c, p in pairs],
        "width": width or "identity",
        "width_r2": _reported([None if f is None else f.r2 for f in fits]),
        "ridge_alpha": _reported([None if f is None else f.ridge_alpha for f in fits]),
        "normalized": normalize,
        "n_anchor_texts": len(anchors) if anchors is not None else 0,
        "anchor_hash": hashlib.sha256(json.dumps(anchors).encode()).hexdigest()[:16]
        if anchors is not None
        else None,
        "seed": seed,
    }


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
    hook: str | None = None,
) -> SteeringVectors:
    """Map ``vectors`` (parent space) onto ``child``'s layers and width.

    Maps that fit on activations (see :func:`needs_source_activations`: ``ridge``,
    ``procrustes``, ``layer_map="cka"``) read both models on the same anchor texts, so
    different tokenizers do not matter. Every argument is checked before any model is run.

    Args:
        vectors: the parent's steering vectors.
        child: the model to steer (needs ``cfg.d_model``, ``cfg.n_layers``; a tokenizer and
            hooks when a map reads activations).
        source_model: the parent the vectors came from; required by fitted maps, and when
            given its width and depth are checked against the vectors.
        layer_map: "greedy" (child layer n ← parent layer n, for each vector layer the child
            has), "proportional" or "cka" (every child layer gets the vector layer at the same
            relative depth / with the highest linear CKA), or an explicit
            ``{child_layer: parent_layer}`` dict.
        width: None (identity; only when the widths agree), "truncate" (first d_child
            coordinates, or zero-padded), "ridge", "procrustes" or "random" (a seeded
            semi-orthogonal control).
        anchor_texts: texts the fitted maps read, at least 8; None for the small built-in set
            (the pipeline passes the task's train questions). Unused by the other maps.
        normalize: rescale each mapped vector to unit norm; False keeps the norm the map gave.
        seed: seeds the "random" map (differently per child layer) and the 5-fold CV splits
            of "ridge" / "procrustes".
        batch_size: texts per forward pass when reading anchor activations.
        progress: show progress bars while reading them.
        hook: the child hook point the vectors will steer; None keeps the vectors' own (an
            ``mlp_out`` vector maps onto the child's ``mlp_out``). Another point must be asked
            for here explicitly; fitted maps then read the parent at the vectors' point and the
            child at this one, and ``meta["source_hook_point"]`` records the change.

    Returns:
        New :class:`~lens_steer.SteeringVectors` on the child's layers (ascending), with the
        parent's explained variance and sign agreement carried over per mapped layer and the
        full provenance in ``meta`` (layer map, width, fit R², the parent's own ``meta``).

    Raises:
        InputError: an unknown ``layer_map`` or ``width``; ``width=None`` with different
            widths; a fitted map without ``source_model``; a ``source_model`` whose width or
            depth does not fit the vectors; an explicit map naming a child layer out of range
            or a parent layer without a vector; fewer than 8 anchor texts for a fitted map; a
            layer map that maps nothing; a width map that sends a vector to zero.
    """
    _validate(vectors, child, source_model, layer_map, width)
    d_child, n_child = int(child.cfg.d_model), int(child.cfg.n_layers)
    texts = list(anchor_texts) if anchor_texts is not None else list(ANCHOR_TEXTS)
    needs_acts = needs_source_activations(layer_map, width)
    target = vectors.hook_point if hook is None else hook_point(hook)
    reading = (texts, batch_size, progress, target)
    acts = _anchor_activations(vectors, child, source_model, *reading) if needs_acts else None
    h_parent, h_child = acts if acts is not None else (None, None)
    source_depth = None if source_model is None else int(source_model.cfg.n_layers)
    layer_in = lm.LayerMapInputs(
        tuple(vectors.layers), n_child, source_depth, vectors.meta, h_parent, h_child
    )
    pairs, extra = _layer_spec(layer_map).fn(layer_in)
    if not pairs:
        raise InputError(f"layer map {layer_map!r} maps no parent layer onto the child")
    rows, fits = _map_rows(vectors, pairs, width, d_child, seed, acts, normalize)
    row_of = {layer: i for i, layer in enumerate(vectors.layers)}
    pick = torch.tensor([row_of[p] for _, p in pairs])

    def carried(t):
        return None if t is None else t[pick]

    anchors = texts if needs_acts else None
    meta = _meta(vectors, child, layer_map, width, pairs, extra, fits, anchors, normalize, seed)
    meta["hook_point"] = target
    if target != vectors.hook_point:
        meta["source_hook_point"] = vectors.hook_point
    return SteeringVectors(
        torch.stack(rows).float(),
        tuple(c for c, _ in pairs),
        carried(vectors.explained_variance),
        carried(vectors.sign_agreement),
        meta,
    )
