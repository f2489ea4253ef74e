"""What ``lens-steer run`` checks before it writes anything or loads any weights.

The device, both model specs and every per-layer λ grid are checked from names and metadata
alone (milliseconds), so a typo fails in one line instead of after minutes of model loading,
and leaves no run directory behind that a corrected run would then refuse as foreign.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..models.load import resolve_device
from ..models.specs import ResolvedSpec, resolve_spec
from .config import ConfigError

__all__ = ["Preflight", "preflight", "steered_layer_count", "check_grids"]


@dataclass(frozen=True)
class Preflight:
    """The resolved parent and child specs, and whether the λ grids could be checked yet."""

    parent: ResolvedSpec
    child: ResolvedSpec
    grids_checked: bool


def steered_layer_count(layer_map: str, n_parent: int | None, n_child: int) -> int | None:
    """How many child layers a run steers (parent vectors exist for every parent layer).

    ``greedy`` pairs layer n with layer n, so the shallower model decides; ``proportional`` and
    ``cka`` give every child layer a parent layer. None when the parent depth is needed but
    unknown.
    """
    if layer_map == "greedy":
        return None if n_parent is None else min(n_parent, n_child)
    return n_child


def check_grids(cfg: Mapping[str, Any], n_parent: int | None, n_child: int | None) -> bool:
    """Refuse per-layer λ entries of the wrong length; False when the depth is not known yet."""
    per_layer = [
        (f"tasks[{i}].{key}[{k}]", entry)
        for i, task in enumerate(cfg["tasks"])
        for key in ("grid", "its_grid")
        if isinstance(task.get(key), list)
        for k, entry in enumerate(task[key])
        if isinstance(entry, list)
    ]
    if not per_layer:
        return True
    layer_map = cfg["transfer"]["layer_map"]
    n = None if n_child is None else steered_layer_count(layer_map, n_parent, n_child)
    if n is None:
        return False
    for where, entry in per_layer:
        if len(entry) != n:
            raise ConfigError(
                f"{where}: {len(entry)} per-layer λ values, but layer_map "
                f"{layer_map!r} steers {n} layers of the child ({n_child} layers; parent "
                f"{n_parent if n_parent is not None else '?'}): give {n} values, one per steered "
                "child layer in order, or a single number"
            )
    return True


def preflight(cfg: Mapping[str, Any]) -> Preflight:
    """Check the device, resolve both model specs and check the λ grids; writes nothing."""
    resolve_device(cfg["device"])
    parent, child = resolve_spec(cfg["parent"]), resolve_spec(cfg["child"])
    return Preflight(parent, child, check_grids(cfg, parent.n_layers(), child.n_layers()))
