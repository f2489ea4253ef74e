"""Shared fixtures. The hub is never reachable in CI, so fail fast instead of retrying for minutes."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"

import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

# tests/tl3 runs in its own TransformerLens 3.9 environment (scripts/tl3_env.sh), which sets
# LENS_STEER_TL3=1; the default run leaves it out.
collect_ignore = [] if os.environ.get("LENS_STEER_TL3") else ["tl3"]

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
