"""Fixtures shared by the pipeline tests: tiny saved models and a tiny ARC run config."""

from __future__ import annotations

from pathlib import Path

import pytest

from lens_steer.testing import tiny_hf_model, tiny_tokenizer

ARC = Path(__file__).resolve().parents[3] / "shared" / "data" / "arc_challenge"


def _save(path: Path, family: str, d_model: int, n_layers: int, seed: int) -> str:
    tiny_hf_model(family, d_model, n_layers, seed).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def sweep_base(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep_models")
    return {
        "name": "tiny",
        "parent": _save(root / "parent", "gemma3", 48, 3, 1),
        "child": _save(root / "child", "llama", 32, 4, 2),
        "device": "cpu",
        "extract": {"batch_size": 4},
        "transfer": {"width": "ridge", "n_anchor": 16},
        "tasks": [
            {
                "name": "arc_challenge",
                "data_dir": str(ARC),
                "scoring": "loglik",
                "pairs": {"n": 4},
                "n_val": 4,
                "n_test": 6,
                "grid": [2.0, 8.0],
                "its": False,
                "controls": [],
                "batch_size": 16,
            }
        ],
    }
