"""Shared pieces of the format tests: small vectors, and the real tools they are checked in."""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType

import pytest
import torch

from lens_steer import SteeringVectors
from lens_steer.testing import unit_directions


def _tool(module: str, load: Callable[[], ModuleType] | None = None) -> ModuleType:
    """Import a real tool the formats are checked against (``bash scripts/interop_env.sh``
    installs llama_cpp and repeng) with ``load`` or a plain import; skipped where it is missing,
    a failure under CI."""
    try:
        return load() if load else importlib.import_module(module)
    except ImportError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{module} is not installed ({err}): run `bash scripts/interop_env.sh`")


@pytest.fixture(scope="session")
def tool():
    """``tool("llama_cpp")``: the module, or a skip saying how to install it (a failure in CI)."""
    return _tool


@pytest.fixture
def vecs() -> SteeringVectors:
    """Five non-unit directions of width 16 for layers 0..4 of a 6-layer model, with extras."""
    d = unit_directions(5, 16, seed=3) * torch.tensor([[1.0], [2.0], [0.5], [3.0], [1.5]])
    return SteeringVectors(
        d,
        (0, 1, 2, 3, 4),
        explained_variance=torch.tensor([0.5, 0.25, 0.125, 0.3, 0.7]),
        sign_agreement=torch.tensor([1.0, 0.75, 0.875, 0.5, 1.0]),
        meta={"kind": "extracted", "source_model": "tiny", "model_n_layers": 6, "method": "pca"},
    )


@pytest.fixture(scope="session")
def interop():
    """benchmarks/interop_agreement.py: the real-tool comparisons these tests hold to bounds."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "interop_agreement.py"
    spec = importlib.util.spec_from_file_location("interop_agreement", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["interop_agreement"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def concept(smollm2, interop):
    """SmolLM2's own concept vectors at layers 8-13 (8 ARC contrastive pairs)."""
    return interop.concept_vectors(smollm2)
