"""The experiment tests' tiny Llama, made once per module on one torch thread, and random unit
steering vectors for it."""

import pytest

from lens_steer.testing import tiny_model, unit_directions
from lens_steer.vectors import SteeringVectors


@pytest.fixture(scope="module")
def tiny(one_thread):
    """A tiny random Llama bridge with a tokenizer (lens_steer.testing.tiny_model)."""
    return tiny_model("llama")


@pytest.fixture(scope="session")
def tiny_vectors():
    """``make(model, seed)``: a random unit vector on every layer of ``model``."""

    def make(model, seed: int) -> SteeringVectors:
        n = model.cfg.n_layers
        return SteeringVectors(unit_directions(n, model.cfg.d_model, seed=seed), tuple(range(n)))

    return make
