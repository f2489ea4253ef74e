"""Shared fixtures. The hub is never reachable in CI, so fail fast instead of retrying for minutes."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# tests/tl3 runs in its own TransformerLens 3.9 environment (scripts/tl3_env.sh), which sets
# LENS_STEER_TL3=1; the default run leaves it out.
collect_ignore = [] if os.environ.get("LENS_STEER_TL3") else ["tl3"]

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SMOLLM2 = "smollm2-135m-instruct"
GEMMA = "gemma-3-270m"


@pytest.fixture(scope="session")
def lens_steer_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$LENS_STEER_CACHE`` when set (reuse a warm cache across runs), else a session tmp dir."""
    env = os.environ.get("LENS_STEER_CACHE")
    return Path(env) if env else tmp_path_factory.mktemp("lens_steer_cache")


def _load_alias(alias: str, cache: Path):
    from lens_steer.models import load_model
    from lens_steer.models.offline import AliasNotInstalledError

    start = time.perf_counter()
    try:
        bridge = load_model(alias, device="cpu", dtype="float32", cache_dir=cache)
    except AliasNotInstalledError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(err))
    bridge.lens_steer_load_s = time.perf_counter() - start
    return bridge


@pytest.fixture(scope="session")
def gemma(lens_steer_cache: Path):
    """gemma-3-270m (base, 18 layers, d_model 640) as a bridge: the integration tests' parent."""
    return _load_alias(GEMMA, lens_steer_cache)


@pytest.fixture(scope="session")
def smollm2(lens_steer_cache: Path):
    """SmolLM2-135M-Instruct as a TransformerBridge (fp32, CPU), dequantised at most once.

    Skipped with the pip command when its package is missing, except under CI where that is a
    setup bug and must fail. ``bridge.lens_steer_load_s`` records how long the load took.
    """
    return _load_alias(SMOLLM2, lens_steer_cache)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module of tiny-model tests.

    Their matrices are so small that two OpenMP threads only contend, which on a busy 2-core
    machine makes them many times slower. Modules opt in with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def arc_task():
    """Build a tiny ARC-Challenge task entry (12 Dev, 12 test questions); keywords override."""

    def make(**extra) -> dict:
        return {
            "name": "arc_challenge",
            "data_dir": str(DATA / "arc_challenge"),
            "scoring": "loglik",
            "pairs": {"n": 6},
            "n_val": 12,
            "n_test": 12,
            "grid": [16.0, 64.0],
            "its": False,
            "controls": [],
            "batch_size": 16,
            **extra,
        }

    return make


@pytest.fixture(scope="session")
def gsm8k_task():
    """Build a tiny zero-shot GSM8K task entry (4 Dev, 6 test questions, 12 new tokens);
    keywords override."""

    def make(**extra) -> dict:
        return {
            "name": "gsm8k",
            "data_dir": str(DATA / "gsm8k"),
            "pairs": {"n": 4},
            "n_val": 4,
            "n_test": 6,
            "grid": [0.5, 2.0, 8.0],
            "controls": ["random-direction"],
            "zero_shot": True,
            "max_new_tokens": 12,
            "batch_size": 4,
            **extra,
        }

    return make
