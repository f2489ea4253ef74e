"""Load any supported model as a TransformerLens 4 ``TransformerBridge`` in raw coordinates.

Everything downstream needs only the hook interface (``cfg.n_layers``, ``cfg.d_model``,
``tokenizer``, ``run_with_cache``, ``hooks``, forward), so a TL 3 ``HookedTransformer`` works too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import torch

__all__ = ["load_model", "resolve_device", "resolve_dtype", "hook_name", "model_name"]

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/None → CUDA when present, else CPU; anything else is taken as given."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}: use one of {sorted(set(_DTYPES))}") from None


def hook_name(layer: int, point: str = "hook_resid_post") -> str:
    """The TransformerLens hook name of the residual stream after block ``layer``."""
    return f"blocks.{layer}.{point}"


def model_name(model: Any) -> str:
    """A human-readable name for provenance records."""
    cfg = getattr(model, "cfg", None)
    for attr in ("lens_steer_name", "model_name", "name_or_path"):
        name = getattr(cfg, attr, None)
        if name:
            return str(name)
    return type(model).__name__


def _reopenable_tokenizer(tokenizer: Any) -> Any:
    """TransformerLens re-opens the tokenizer by ``name_or_path``: make sure it can."""
    from transformers import AutoTokenizer

    name = getattr(tokenizer, "init_kwargs", {}).get("name_or_path")
    if name and Path(str(name)).exists():
        return tokenizer
    tmp = tempfile.mkdtemp(prefix="lens_steer_tok_")
    tokenizer.save_pretrained(tmp)
    return AutoTokenizer.from_pretrained(tmp)


def _tl_version() -> str:
    from importlib.metadata import version

    return version("transformer-lens")


def boot_bridge(
    hf_model: Any,
    tokenizer: Any,
    *,
    device: str | torch.device | None = "auto",
    dtype: str | torch.dtype = "float32",
    processed: bool = False,
    name: str | None = None,
) -> Any:
    """Wrap an in-memory HF causal LM in a ``TransformerBridge``.

    The bridge shares the HF model's weights (no copy) and switches it to eager attention so
    every hook fires. ``processed=True`` folds layer norms and centres weights (TL's
    compatibility mode); the default keeps raw coordinates so vectors also apply to plain HF.
    """
    from transformer_lens.model_bridge import TransformerBridge

    if tokenizer is None:
        raise ValueError(
            "load_model(hf_model) needs the model's tokenizer: pass tokenizer=AutoTokenizer..."
        )
    dev, dt = resolve_device(device), resolve_dtype(dtype)
    hf_model = hf_model.to(device=dev, dtype=dt).eval()
    tokenizer = _reopenable_tokenizer(tokenizer)
    if not getattr(hf_model.config, "architectures", None):
        # GGUF-loaded and from_config models carry no architectures list; TL dispatches on it.
        hf_model.config.architectures = [type(hf_model).__name__]
    arch = hf_model.config.architectures[0]
    boot_name = (
        getattr(hf_model.config, "_name_or_path", "") or tokenizer.init_kwargs["name_or_path"]
    )
    try:
        bridge = TransformerBridge.boot_transformers(
            str(boot_name), hf_model=hf_model, tokenizer=tokenizer, device=dev, dtype=dt
        )
    except ValueError as err:
        if "Could not determine supported architecture" in str(err):
            raise ValueError(
                f"unsupported architecture {arch!r}: TransformerLens {_tl_version()} has no "
                "adapter for it (TransformerBridge.list_supported_models() lists those it has)"
            ) from None
        raise
    bridge.eval()
    if processed:
        bridge.enable_compatibility_mode()
    bridge.cfg.lens_steer_processed = processed
    cfg = hf_model.config
    bridge.cfg.lens_steer_name = (
        name
        or getattr(cfg, "_name_or_path", "")
        or (f"{arch}(d_model={bridge.cfg.d_model}, n_layers={bridge.cfg.n_layers})")
    )
    return bridge


def load_model(
    spec: Any,
    *,
    tokenizer: Any = None,
    device: str | torch.device | None = "auto",
    dtype: str | torch.dtype = "float32",
    processed: bool = False,
    cache_dir: str | Path | None = None,
) -> Any:
    """Load ``spec`` as a TransformerBridge.

    ``spec`` is an in-memory HF model (with ``tokenizer=``), an offline alias
    (``lens_steer.offline.ALIASES``), a ``.gguf`` file, a local HF directory, or a hub id.
    """
    if not isinstance(spec, (str, Path)):
        return boot_bridge(spec, tokenizer, device=device, dtype=dtype, processed=processed)
    from . import offline

    hf_model, tok = offline.load_hf(str(spec), tokenizer=tokenizer, cache_dir=cache_dir)
    return boot_bridge(
        hf_model, tok, device=device, dtype=dtype, processed=processed, name=str(spec)
    )
