"""Load any supported model as a TransformerLens 4 ``TransformerBridge`` in raw coordinates.

Everything downstream needs only the hook interface (``cfg.n_layers``, ``cfg.d_model``,
``tokenizer``, ``run_with_cache``, ``hooks``, forward), so a TL 3 ``HookedTransformer`` works too.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError, ModelSpecError

__all__ = [
    "load_model",
    "resolve_device",
    "resolve_dtype",
    "device_problem",
    "hook_name",
    "hook_point",
    "HOOK_POINTS",
    "model_name",
    "DEVICES",
]

DEVICES = "cpu, cuda, cuda:N, mps, xpu, auto"
_DEVICE_NAME = re.compile(r"(auto|cpu|mps|(cuda|xpu)(:\d+)?)")

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


def device_problem(device: Any) -> str | None:
    """Why ``device`` is not a device name lens_steer accepts, or None (no hardware check)."""
    if device is None or isinstance(device, torch.device):
        return None
    if isinstance(device, str) and _DEVICE_NAME.fullmatch(device.strip()):
        return None
    return f"unknown device {device!r}: use one of {DEVICES}"


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``"auto"``/None → CUDA when present, else CPU; otherwise the named device, checked.

    Checked here, before any weights move, so a typo or a GPU that is not there fails in one
    line instead of deep inside ``.to()``.
    """
    problem = device_problem(device)
    if problem:
        raise InputError(problem)
    if device is None or (isinstance(device, str) and device.strip() == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device.strip() if isinstance(device, str) else device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                f"device {str(device)!r}: torch {torch.__version__} sees no CUDA GPU here; "
                "use device 'cpu' or 'auto'"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise InputError(
                f"device {str(device)!r}: only {count} CUDA device(s) here (cuda:0..cuda:{count - 1})"
            )
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device {str(device)!r}: MPS is not available here; use 'cpu' or 'auto'")
    return dev


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    try:
        return _DTYPES[str(dtype).lower()]
    except KeyError:
        raise InputError(f"unknown dtype {dtype!r}: use one of {sorted(set(_DTYPES))}") from None


#: The hook points steering vectors can be read at and written to, TransformerLens' names less
#: "hook_": block input, after attention's residual add, block output, attention and MLP outputs.
HOOK_POINTS = ("resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out")


def hook_point(name: str) -> str:
    """``"mlp_out"`` or ``"hook_mlp_out"`` → ``"hook_mlp_out"``, checked against HOOK_POINTS."""
    from ..errors import InputError

    short = name[5:] if isinstance(name, str) and name.startswith("hook_") else name
    if short not in HOOK_POINTS:
        raise InputError(f"unknown hook point {name!r}: choose one of {HOOK_POINTS}")
    return f"hook_{short}"


def hook_name(layer: int, point: str = "hook_resid_post") -> str:
    """The TransformerLens hook name of ``point`` (default: the residual stream after block
    ``layer``) in block ``layer``."""
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
        raise InputError(
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
            raise ModelSpecError(
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

    The bridge keeps raw (unfolded) coordinates by default, so vectors extracted from it also
    apply to the plain HF model.

    Args:
        spec: an in-memory HF causal LM (needs ``tokenizer``; it is moved, cast and set to eval
            in place, and the bridge shares its weights), or a string / path, resolved in this
            order: an offline alias (``lens_steer.models.offline.ALIASES``), a ``.gguf`` file,
            a local HF directory with ``config.json``, or an ``org/name`` hub id.
        tokenizer: the tokenizer; required with an in-memory model, and for a string spec it
            replaces the model's own. None uses the spec's own tokenizer.
        device: "auto" or None (CUDA when present, else CPU), "cpu", "cuda", "cuda:N", "mps",
            "xpu", or a ``torch.device``; checked before any weights are read.
        dtype: "float32"/"fp32", "float16"/"fp16", "bfloat16"/"bf16", or a ``torch.dtype``.
        processed: fold layer norms and centre weights (TransformerLens compatibility mode);
            vectors then live in processed coordinates.
        cache_dir: where offline aliases are assembled and cached; None means
            ``$LENS_STEER_CACHE``, else ``~/.cache/lens_steer``. Unused for in-memory models.

    Returns:
        The ``TransformerBridge`` in eval mode, on ``device`` in ``dtype``, with
        ``cfg.lens_steer_name`` (the spec, or the HF model's name) and
        ``cfg.lens_steer_processed`` set.

    Raises:
        InputError: an unknown device or dtype, a device that is not available here, or an
            in-memory model without ``tokenizer``.
        ModelSpecError: a spec that cannot be resolved (unknown alias, a directory without
            ``config.json``, an unreachable hub id) or an architecture TransformerLens has no
            adapter for.
        FileNotFoundError: a ``.gguf`` file or path-like spec that does not exist.
        AliasNotInstalledError: an alias whose weight packages are not installed (the message
            carries the pip command).
    """
    if not isinstance(spec, (str, Path)):
        return boot_bridge(spec, tokenizer, device=device, dtype=dtype, processed=processed)
    from . import offline

    resolve_device(device)  # a bad device or dtype fails before any weights are read
    resolve_dtype(dtype)

    hf_model, tok = offline.load_hf(str(spec), tokenizer=tokenizer, cache_dir=cache_dir)
    return boot_bridge(
        hf_model, tok, device=device, dtype=dtype, processed=processed, name=str(spec)
    )
