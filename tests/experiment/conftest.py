"""The experiment tests' tiny Llama, made once per module on one torch thread."""

import pytest

from lens_steer.testing import tiny_model


@pytest.fixture(scope="module")
def tiny(one_thread):
    """A tiny random Llama bridge with a tokenizer (lens_steer.testing.tiny_model)."""
    return tiny_model("llama")
