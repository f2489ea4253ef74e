"""A tiny run, interrupted every way a person or a scheduler interrupts one (Ctrl-C, SIGTERM,
kill -9), resumes with the same command to a metrics.json byte-identical to an uninterrupted
run's; and its report.html escapes every string that came from a config, the data or a log.

The interruption point is made deterministic: a wrapper pauses the run right after its first
batch of generations is stored, so the signal always lands mid-run, never after the end.
test_run.py kills a run at a racing point instead, with a larger config.
"""

import html
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lens_steer.analysis import write_report
from lens_steer.pipeline import cli
from lens_steer.pipeline.config import validate_config
from lens_steer.pipeline.run import run_pipeline
from lens_steer.testing import save_tiny_model
from lens_steer.vectors import SteeringVectors

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matrices: see conftest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

# Stores one batch, says so through a flag file, then waits to be interrupted.
PAUSE_AFTER_FIRST_BATCH = """
import signal, sys, time
from pathlib import Path
from lens_steer.engine import store as cache
from lens_steer.pipeline import cli
signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
real = cache.GenerationCache.put_many
def put_then_wait(self, items):
    real(self, items)
    Path(sys.argv[1]).touch()
    time.sleep(120)
cache.GenerationCache.put_many = put_then_wait
sys.exit(cli.main(sys.argv[2:]))
"""


@pytest.fixture(scope="module")
def raw_config(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("models")
    return {
        "name": "tiny",
        "parent": save_tiny_model(root / "parent", "gemma3", 48, 2, 1),
        "child": save_tiny_model(root / "child", "llama", 32, 3, 2),
        "device": "cpu",
        "transfer": {"width": "truncate"},
        "tasks": [
            {
                "name": "gsm8k",
                "data_dir": str(DATA / "gsm8k"),
                "pairs": {"n": 2},
                "n_val": 2,
                "n_test": 4,
                "grid": [0.5, 4.0],
                "its": False,
                "controls": [],
                "zero_shot": True,
                "max_new_tokens": 8,
                "batch_size": 2,
            }
        ],
    }


@pytest.fixture(scope="module")
def whole(raw_config, tmp_path_factory) -> Path:
    """The same config, run once without interruption."""
    out = tmp_path_factory.mktemp("whole")
    return run_pipeline(validate_config({**raw_config, "output_dir": str(out)}), progress=False)


def _rows(db: Path) -> int:
    with sqlite3.connect(db, timeout=5) as con:
        return con.execute("select count(*) from generations").fetchone()[0]


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: signal.Signals(s).name
)
def test_interrupted_run_resumes_to_identical_metrics(raw_config, whole, tmp_path, sig):
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({**raw_config, "output_dir": str(tmp_path / "out")}))
    flag, run_dir = tmp_path / "one-batch-stored", tmp_path / "out" / "tiny"
    argv = ["run", str(config), "--quiet"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", PAUSE_AFTER_FIRST_BATCH, str(flag), *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while not flag.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert flag.exists(), proc.stderr.read() if proc.poll() is not None else "no batch in 120 s"
    proc.send_signal(sig)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == (-sig if sig == signal.SIGKILL else 128 + sig), err
    if sig != signal.SIGKILL:  # one line, no traceback, and the run.log says so too
        name = signal.Signals(sig).name
        how = "" if sig == signal.SIGINT else f" by {name}"
        assert err.strip().splitlines() == [
            f"lens-steer: interrupted{how}: the state of {run_dir} is kept and the same "
            "command resumes it"
        ]
        assert "interrupted: finished batches are kept" in (run_dir / "run.log").read_text()
        assert not [p.name for p in run_dir.rglob("*.tmp")]  # no half-written file left
    assert _rows(run_dir / "generations.sqlite") >= 1
    assert not (run_dir / "metrics.json").exists()

    assert cli.main(argv) == 0  # the same command, now uninterrupted
    assert (run_dir / "metrics.json").read_bytes() == (whole / "metrics.json").read_bytes()


EVIL = "</script><script>alert('xss')</script><img src=x onerror=alert(1)>"


def _inject(run_dir: Path) -> None:
    """Put EVIL into every free-text field a report shows: config, metrics, vectors, log."""
    stamp = json.loads((run_dir / "config.json").read_text())
    cfg = stamp["config"]
    cfg["name"] = "<script>alert('name')<"  # a run name cannot hold '/': this is the worst it gets
    cfg["parent"], cfg["child"] = f"/x/{EVIL}/parent", EVIL
    cfg["tasks"][0]["data_dir"] = EVIL
    (run_dir / "config.json").write_text(json.dumps(stamp))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["environment"]["device_name"] = EVIL
    for cond in metrics["tasks"]["gsm8k"]["test"]["conditions"].values():
        cond["description"] = EVIL
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    for which in ("parent", "child"):
        path = run_dir / "gsm8k" / "vectors" / f"{which}.safetensors"
        vecs = SteeringVectors.load(path)
        vecs.replace(meta={"source_model": EVIL, "method": EVIL}).save(path)
    with open(run_dir / "run.log", "a") as log:
        log.write(f"2025-01-01 INFO lens_steer.run {EVIL}\n")


def test_report_escapes_config_data_and_log_strings(whole, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(whole, run_dir)
    _inject(run_dir)
    page = write_report([run_dir]).read_text()
    for raw in ("<script>alert", "<img src=x", "alert('xss')</script>"):
        assert raw not in page
    # the only scripts are plotly.js and one per figure (5 for a task without ITS or controls)
    assert page.count("<script") == 1 + 5
    assert html.escape(EVIL) in page  # shown, as text
    assert html.escape("<script>alert('name')<") in page
