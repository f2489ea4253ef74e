"""The analysis tests' shared runs: two tiny run directories, made once."""

import pytest
import torch

from lens_steer.analysis import load_run
from lens_steer.pipeline.config import validate_config
from lens_steer.pipeline.run import run_pipeline
from lens_steer.testing import save_tiny_model


@pytest.fixture(scope="package")
def runs(tmp_path_factory, arc_task, gsm8k_task):
    """Two runs sharing a child (d 32) with parents of widths 48 and 40, made once for the
    package on one torch thread (tiny matrices: see tests/conftest.py's one_thread)."""
    root = tmp_path_factory.mktemp("analysis")
    child = save_tiny_model(root / "child", "llama", 32, 6, 2)
    base = {
        "child": child,
        "device": "cpu",
        "output_dir": str(root / "runs"),
        "extract": {"batch_size": 4},
        "transfer": {"width": "ridge", "n_anchor": 16},
    }
    arc = arc_task(
        pairs={"n": 4},
        n_val=4,
        n_test=8,
        grid=[0.5, 4.0],
        its=True,
        controls=["random-direction"],
        batch_size=8,
    )
    a = {
        **base,
        "name": "a",
        "parent": save_tiny_model(root / "parent_a", "gemma3", 48, 4, 1),
        "tasks": [gsm8k_task(controls=["random-direction", "self-consistency"]), arc],
    }
    b = {
        **base,
        "name": "b",
        "parent": save_tiny_model(root / "parent_b", "qwen2", 40, 5, 3),
        "tasks": [gsm8k_task()],
    }
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return tuple(load_run(run_pipeline(validate_config(c), progress=False)) for c in (a, b))
    finally:
        torch.set_num_threads(before)
