"""`lens-steer run` end to end on tiny local models: run directory contents, refusal of a foreign
config, and a run killed mid-way that resumes to the same metrics.json, byte for byte."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lens_steer.pipeline.config import validate_config
from lens_steer.pipeline.run import RunDirectoryError, run_pipeline
from lens_steer.testing import save_tiny_model


@pytest.fixture(scope="module")
def raw_config(tmp_path_factory, gsm8k_task):
    root = tmp_path_factory.mktemp("models")
    return {
        "name": "tiny",
        "parent": save_tiny_model(root / "parent", "gemma3", 48, 4, 1),
        "child": save_tiny_model(root / "child", "llama", 32, 6, 2),
        "device": "cpu",
        "extract": {"batch_size": 4},
        "transfer": {"width": "ridge", "n_anchor": 16},
        "tasks": [gsm8k_task()],
    }


def test_run_directory_contents(raw_config, tmp_path):
    cfg = validate_config({**raw_config, "output_dir": str(tmp_path)})
    run_dir = run_pipeline(cfg, progress=False)
    names = {p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()}
    for expected in (
        "config.json",
        "run.log",
        "metrics.json",
        "generations.sqlite",
        "gsm8k/tune.json",
        "gsm8k/predictions.json",
        "gsm8k/vectors/parent.safetensors",
        "gsm8k/vectors/child.safetensors",
    ):
        assert expected in names
    metrics = json.loads((run_dir / "metrics.json").read_text())
    test = metrics["tasks"]["gsm8k"]["test"]
    assert set(test["conditions"]) >= {"baseline", "steered", "its", "random-direction"}
    assert test["conditions"]["baseline"]["n"] == 6
    assert metrics["environment"]["torch"]
    tune = json.loads((run_dir / "gsm8k" / "tune.json").read_text())
    assert [row["lam"] for row in tune["table"]] == [0.5, 2.0, 8.0]
    preds = (run_dir / "gsm8k" / "predictions.json").read_text()
    assert preds.count("\n") == 1 and '", "' not in preds  # compact: one line, no padding
    assert json.loads(preds)["conditions"]["baseline"]["n"] == 6
    umask = os.umask(0)
    os.umask(umask)
    for name in ("metrics.json", "config.json", "gsm8k/predictions.json"):  # atomic, yet shared
        assert (run_dir / name).stat().st_mode & 0o777 == 0o666 & ~umask, name
    other = validate_config({**raw_config, "output_dir": str(tmp_path), "seed": 1})
    with pytest.raises(RunDirectoryError, match="differs in: seed"):
        run_pipeline(other, progress=False)


def _rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=1) as con:
            return con.execute("select count(*) from generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_killed_run_resumes_to_identical_metrics(raw_config, tmp_path):
    whole = run_pipeline(
        validate_config({**raw_config, "output_dir": str(tmp_path / "a")}), progress=False
    )
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**raw_config, "output_dir": str(tmp_path / "b")}))
    cmd = [sys.executable, "-m", "lens_steer.pipeline.cli", "run", str(path), "--quiet"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = tmp_path / "b" / "tiny" / "generations.sqlite"
    deadline = time.time() + 300
    while _rows(db) == 0 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _rows(db)
    assert 0 < partial and not (tmp_path / "b" / "tiny" / "metrics.json").exists()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "run directory:" in done.stdout
    resumed = (tmp_path / "b" / "tiny" / "metrics.json").read_bytes()
    assert resumed == (whole / "metrics.json").read_bytes()
