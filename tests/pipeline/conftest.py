"""Fixtures shared by the pipeline tests: tiny saved models and a tiny ARC run config."""

from __future__ import annotations

from pathlib import Path

import pytest

from lens_steer.testing import save_tiny_model

ARC = Path(__file__).resolve().parents[3] / "shared" / "data" / "arc_challenge"


@pytest.fixture(scope="module")
def sweep_base(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep_models")
    return {
        "name": "tiny",
        "parent": save_tiny_model(root / "parent", "gemma3", 48, 3, 1),
        "child": save_tiny_model(root / "child", "llama", 32, 4, 2),
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
