"""Core lens_steer tests on TransformerLens 3.x ``HookedTransformer`` models (see scripts/tl3_env.sh).

Run with the TL 3 venv: ``bash scripts/tl3_env.sh && LENS_STEER_TL3=1 .venv-tl3/bin/python -m pytest tests/tl3``
(the default ``pytest`` run leaves this folder out: see tests/conftest.py).
"""

import os

# Set before transformers / TransformerLens are imported: nothing here may reach the HF hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"


import pytest  # noqa: E402
import torch  # noqa: E402

# The models here are tiny: one thread is ~10× faster than two fighting over a busy 2-core machine.
torch.set_num_threads(1)


def pytest_configure(config):
    # TL 3.9 announces HookedTransformer's deprecation on every construction; that is the point here.
    config.addinivalue_line(
        "filterwarnings", "ignore:HookedTransformer is deprecated:DeprecationWarning"
    )


@pytest.fixture(params=("llama", "gpt2"))
def model(request):
    from tl3_models import model_of

    return model_of(request.param)
