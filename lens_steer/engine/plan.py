"""Which decoder runs a call, and what it adds: the engine choice, the steering spec the decoders
apply, and the fields that identify a steering in a cache key. Shared by :mod:`.generate` and
:mod:`.loglik`, so neither imports the other."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jaxtyping import Float
from torch import Tensor

from ..activations import model_device
from ..anchors import ANCHOR_TEXTS
from ..steer import active_steerings, check_op, relative_norms, unit_directions
from ..vectors import SteeringVectors
from .store import GenerationCache, content_key, vectors_fingerprint
from .types import SteerSpec

__all__ = [
    "ENGINES",
    "has_hooks",
    "pick_engine",
    "usable_cache",
    "eos_ids",
    "steer_spec",
    "steering_key_fields",
    "unsteered",
    "steering_engine",
]

ENGINES = ("auto", "graph", "plain", "hooks")


def has_hooks(model: Any) -> bool:
    """Whether a ``steer`` block is open on ``model`` or any hook point carries a hook.

    Only ``HookPoint``s count: the bridge itself keeps internal pre-hooks on some HF modules.
    """
    if active_steerings(model):
        return True
    from transformer_lens.hook_points import HookPoint

    return any(
        isinstance(m, HookPoint) and (m._forward_hooks or m._forward_pre_hooks)
        for m in model.modules()
    )


def usable_cache(cache: GenerationCache | str | Path | None, model: Any) -> GenerationCache | None:
    """The cache to read and write: a path opened as a :class:`GenerationCache`, and none while
    hooks are on the model, which change outputs in ways a cache key cannot see."""
    if isinstance(cache, (str, Path)):
        cache = GenerationCache(cache)
    return None if cache is not None and has_hooks(model) else cache


def eos_ids(model: Any) -> tuple[int, ...]:
    """The token ids that end a row: the HF generation config's, else the tokenizer's."""
    hf = getattr(model, "original_model", None)
    for source in (getattr(hf, "generation_config", None), getattr(hf, "config", None)):
        eos = getattr(source, "eos_token_id", None)
        if eos is not None:
            return tuple(int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos]))
    eos = getattr(model.tokenizer, "eos_token_id", None)
    return () if eos is None else (int(eos),)


def pick_engine(model: Any, engine: str) -> str:
    """The decoder to use for ``engine`` on ``model`` (``"auto"`` resolved; shared with loglik).

    Hooks on the model force the hook engine, since the plain and graph decoders would bypass
    them; a processed (fold-ln) bridge has no raw HF modules to run, so it takes hooks too.
    """
    from .plain import supports_plain

    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {ENGINES}")
    if getattr(model, "original_model", None) is None:
        raise TypeError(
            "generate needs a TransformerBridge (ls.load_model) with its HF model; "
            f"got {type(model).__name__}"
        )
    hooked = has_hooks(model)
    if engine in ("plain", "graph") and hooked:
        raise ValueError(f"engine={engine!r} would bypass the hooks on this model; use 'hooks'")
    if engine in ("plain", "graph") and not supports_plain(model):
        raise ValueError(
            f"engine={engine!r} needs a raw-coordinate bridge (processed=False); use 'hooks'"
        )
    if engine == "auto":
        if hooked or not supports_plain(model):
            return "hooks"
        return "graph" if model_device(model).type == "cuda" else "plain"
    return engine


def steering_key_fields(
    vectors: SteeringVectors,
    positions: str,
    relative: bool,
    reference_norms: Tensor | None,
    norm_texts: Sequence[str] | None,
    op: str = "add",
) -> dict[str, Any]:
    """What identifies a steering in a cache key (λ aside), without running the model: relative
    norms are named by their values when given, else by the texts they will be measured on; the
    op only when it is not "add", so keys written before ops existed still hit."""
    norm_src = None
    if relative:
        norm_src = (
            [float(x) for x in reference_norms.reshape(-1).tolist()]
            if reference_norms is not None
            else content_key({"texts": list(norm_texts or ANCHOR_TEXTS)})
        )
    fields = dict(
        vectors=vectors_fingerprint(vectors), positions=positions, relative=relative, norms=norm_src
    )
    if op != "add":
        fields["op"] = op
    if vectors.hook_point != "hook_resid_post":
        fields["hook"] = vectors.hook_point
    return fields


def unsteered(lam: float | tuple[float, ...] | None, op: str) -> bool:
    """Whether a row at ``lam`` (one λ, or one per layer) is the plain model: λ = 0 adds or
    ablates nothing, but ``clamp`` at 0 sets the direction's component to 0, a steering."""
    if lam is None:
        return True
    if op == "clamp":
        return False
    return not any(lam) if isinstance(lam, tuple) else not lam


def steering_engine(
    engine: str,
    requested: str,
    vectors: SteeringVectors | None,
    lams: Sequence[Any],
    op: str,
    model: Any = None,
) -> tuple[bool, str]:
    """Whether any of ``lams`` steers (see :func:`unsteered`), and the decoder for that.

    ``engine`` is :func:`pick_engine`'s choice for the ``requested`` one. Only a steering
    narrows it: the CUDA-graph decoder bakes additive deltas into block outputs, so other ops and
    hook points decode plainly; the plain decoder hooks the HF module computing the vectors' hook
    point (:func:`.plain.steered_module`; on ``model``'s family, :func:`.plain.plain_points`), and
    ``resid_mid``, which none computes, steers through the bridge's own hook points. An explicit
    request that cannot serve the steering is refused.
    """
    from .plain import PLAIN_POINTS, plain_points

    steered = vectors is not None and any(not unsteered(lam, op) for lam in lams)
    if not steered or engine == "hooks":
        return steered, engine
    point = vectors.hook_point  # type: ignore[union-attr]
    if point not in (PLAIN_POINTS if model is None else plain_points(model)):
        if requested in ("plain", "graph"):
            raise ValueError(
                f"engine={requested!r} cannot reach hook point {point!r} (no HF module computes "
                "it); use engine='hooks' (or 'auto')"
            )
        return True, "hooks"
    if engine == "plain" or (op == "add" and point == "hook_resid_post"):
        return True, engine
    if requested == "graph":
        raise ValueError(
            "engine='graph' adds at block outputs only; op "
            f"{op!r} at {point!r} needs 'plain' or 'hooks'"
        )
    return True, "plain"


def steer_spec(
    model: Any,
    vectors: SteeringVectors,
    positions: str,
    relative: bool,
    reference_norms: Float[Tensor, " layer"] | None,
    norm_texts: Sequence[str] | None,
    op: str = "add",
) -> SteerSpec:
    """What the decoders do per layer: ``op`` with the directions it uses, where, and
    (``relative``) the mean residual norms that turn λ into a fraction of ‖h‖ (measured on
    ``norm_texts`` if not given)."""
    check_op(op, relative)
    norms = relative_norms(model, vectors, reference_norms, norm_texts) if relative else None
    directions = unit_directions(vectors, op)
    return SteerSpec(directions, tuple(vectors.layers), norms, positions, op, vectors.hook_point)
