"""Shared models and vectors of the transfer tests: a 4-layer, 48-wide parent of one family and a
6-layer, 32-wide child of another, so every map has depth and width to bridge."""

import pytest
import torch

import lens_steer as ls
from lens_steer.testing import tiny_model


@pytest.fixture(scope="module")
def parent():
    return tiny_model("gemma3", d_model=48, n_layers=4, seed=3)


@pytest.fixture(scope="module")
def child():
    return tiny_model("llama", d_model=32, n_layers=6, seed=4)


@pytest.fixture(scope="module")
def vecs():
    torch.manual_seed(0)
    d = torch.nn.functional.normalize(torch.randn(4, 48), dim=-1)
    return ls.SteeringVectors(d, (0, 1, 2, 3), meta={"source_model": "p", "model_n_layers": 4})
