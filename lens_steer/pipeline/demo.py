"""The offline demo: gemma-3-270m (parent, 18 layers, d 640) → SmolLM2-135M-Instruct (child, 30
layers, d 576) on small slices of ARC-Challenge (log-likelihood) and GSM8K (generation)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .config import ConfigError, validate_config

__all__ = ["demo_config", "find_data_root"]

_NEEDED = ("arc_challenge", "gsm8k")


def find_data_root(explicit: str | Path | None = None) -> Path:
    """``explicit``, else ``$LENS_STEER_DATA``, else a ``shared/data`` folder near here."""
    here = Path(__file__).resolve().parent.parent
    candidates = [explicit, os.environ.get("LENS_STEER_DATA")]
    candidates += [
        base / "shared" / "data" for base in (Path.cwd(), Path.cwd().parent, here.parent)
    ]
    for c in candidates:
        if c and all((Path(c) / name).is_dir() for name in _NEEDED):
            return Path(c).resolve()
    raise ConfigError(
        "no benchmark data found: pass --data-dir (a folder holding arc_challenge/ and gsm8k/) "
        "or set LENS_STEER_DATA"
    )


def demo_config(data_root: str | Path | None = None, output_dir: str = "runs") -> dict[str, Any]:
    """The validated demo config; ``configs/demo.yaml`` holds the same (a test keeps them equal)."""
    root = find_data_root(data_root)
    raw = {
        "name": "demo",
        "parent": "gemma-3-270m",
        "child": "smollm2-135m-instruct",
        "output_dir": output_dir,
        "device": "cpu",
        "extract": {"method": "pca", "batch_size": 8},
        "transfer": {"layer_map": "greedy", "width": "ridge", "n_anchor": 48},
        "tasks": [
            {
                "name": "arc_challenge",
                "data_dir": str(root / "arc_challenge"),
                "scoring": "loglik",
                "pairs": {"strategy": "corrupted-answer", "n": 32},
                "n_val": 24,
                "n_test": 48,
                "grid": [0.02, 0.05, 0.1, 0.5, 1.0],
                "its": True,
                "controls": ["random-direction"],
                "batch_size": 64,
            },
            {
                "name": "gsm8k",
                "data_dir": str(root / "gsm8k"),
                "scoring": "generate",
                "pairs": {"strategy": "corrupted-answer", "n": 16},
                "n_val": 8,
                "n_test": 12,
                "grid": [0.05, 0.2, 1.0],
                "its": True,
                "controls": ["random-direction"],
                "zero_shot": True,
                "max_new_tokens": 64,
                "batch_size": 48,
            },
        ],
    }
    return validate_config(raw)
