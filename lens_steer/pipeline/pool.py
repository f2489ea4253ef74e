"""Models shared by the runs of an in-process sweep, so a grid loads each model once.

A sweep that varies the child keeps its parent loaded, and one that varies options (width map,
seed, λ grid) keeps both. The pool holds the ``capacity`` most recently used models (a parent and
a child by default) and frees the oldest beyond that, so a grid over many children does not hold
every one of them in memory. A run does not change a model's weights or config (hooks come and
go with context managers; the engines' plain copy and buffers are caches keyed by the model), so
a shared model gives the same ``metrics.json`` as a freshly loaded one.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

__all__ = ["ModelPool"]

log = logging.getLogger("lens_steer.run")


class ModelPool:
    """An LRU of loaded models keyed by (spec, device, dtype); ``load`` has ``load_model``'s
    signature for the keys the pipeline passes."""

    def __init__(self, capacity: int = 2) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.loads = 0
        self.hits = 0
        self._models: OrderedDict[tuple[str, str, str], Any] = OrderedDict()

    def load(self, spec: Any, *, device: Any, dtype: Any) -> Any:
        from ..models.load import load_model

        key = (str(spec), str(device), str(dtype))
        if key in self._models:
            self.hits += 1
            self._models.move_to_end(key)
            log.info("reusing %s (loaded by an earlier run of this sweep)", spec)
            return self._models[key]
        while len(self._models) >= self.capacity:
            _free(self._models.popitem(last=False)[1])
        model = load_model(spec, device=device, dtype=dtype)
        self.loads += 1
        self._models[key] = model
        return model

    def __len__(self) -> int:
        return len(self._models)


def _free(model: Any) -> None:
    """Release an evicted model now, not at the next garbage collection: a bridge sits in
    reference cycles, and its decoder buffers would otherwise stack under the next model."""
    import gc

    import torch

    from ..engine import free_decoder_memory

    free_decoder_memory(model)
    del model
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
