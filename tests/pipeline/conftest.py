"""Fixtures shared by the pipeline tests: tiny saved models and tiny ARC run configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lens_steer.testing import save_tiny_model


@pytest.fixture(scope="module")
def sweep_base(tmp_path_factory, arc_task):
    root = tmp_path_factory.mktemp("sweep_models")
    return {
        "name": "tiny",
        "parent": save_tiny_model(root / "parent", "gemma3", 48, 3, 1),
        "child": save_tiny_model(root / "child", "llama", 32, 4, 2),
        "device": "cpu",
        "extract": {"batch_size": 4},
        "transfer": {"width": "ridge", "n_anchor": 16},
        "tasks": [arc_task(pairs={"n": 4}, n_val=4, n_test=6, grid=[2.0, 8.0])],
    }


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory) -> dict[str, str]:
    """A tiny Gemma 3 parent (d 48, 4 layers) and Llama child (d 32, 5 layers), saved once."""
    root = tmp_path_factory.mktemp("tiny_pair")
    return {
        "parent": save_tiny_model(root / "parent", "gemma3", 48, 4, 1),
        "child": save_tiny_model(root / "child", "llama", 32, 5, 2),
    }


@pytest.fixture
def sweep_file(tmp_path, sweep_base):
    """Write a sweep file varying ``vary`` over ``sweep_base`` (or ``base``), output in
    ``tmp_path / "out"``; returns its path."""

    def make(vary: dict, name: str = "sweep.yaml", base: dict | None = None) -> Path:
        path = tmp_path / name
        sweep = {
            "base": sweep_base if base is None else base,
            "vary": vary,
            "output_dir": str(tmp_path / "out"),
        }
        path.write_text(yaml.safe_dump(sweep))
        return path

    return make
