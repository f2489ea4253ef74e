"""`lens-steer` on bad input: one `lens-steer: error: ...` line, exit 2, and nothing written.

Every case here fails before a model loads, so each test takes well under a second once the
tiny model folders exist. Interrupted and resumed runs are in test_run.py.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import save_file

from lens_steer.pipeline import cli, interop
from lens_steer.pipeline.config import load_config
from lens_steer.pipeline.preflight import preflight
from lens_steer.pipeline.run import run_pipeline
from lens_steer.pipeline.run_dir import LockError
from lens_steer.testing import save_tiny_model

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("models")
    return {
        "parent": save_tiny_model(root / "parent", "gemma3", 48, 4),
        "child": save_tiny_model(root / "child", "llama", 32, 6),
    }


@pytest.fixture
def config(models, tmp_path):
    """Write a run config (patched by keyword) to a YAML file; returns its path."""

    def make(**patch) -> str:
        raw = {
            "name": "tiny",
            **models,
            "device": "cpu",
            "output_dir": str(tmp_path / "runs"),
            "tasks": [
                {"name": "gsm8k", "data_dir": str(DATA / "gsm8k"), "pairs": {"n": 4}, "n_val": 4}
            ],
            **patch,
        }
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(raw))
        return str(path)

    return make


def _fails(capsys, argv: list[str], *needles: str) -> str:
    """Run the CLI in-process; it must exit 2 with exactly one error line containing needles."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lens-steer: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


@pytest.mark.parametrize("name", ["../escape", "/tmp/abs-run", "a/b", "..", "."])
def test_unsafe_run_name_writes_nothing(config, tmp_path, capsys, name):
    _fails(capsys, ["run", config(name=name)], "name: ", "single folder name")
    assert _files(tmp_path) == ["run.yaml"]
    assert not Path("/tmp/abs-run").exists()


def test_output_dir_that_is_a_file_is_one_line(config, tmp_path, capsys):
    blocker = tmp_path / "afile"
    blocker.write_text("not a folder")
    _fails(capsys, ["run", config(), "--output-dir", str(blocker)], "afile")
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize(
    "patch, needles",
    [
        ({"child": "smollm2-135m-instrcut"}, ["unknown model alias", "Did you mean"]),
        ({"child": "./models/chld"}, ["no such model file or directory"]),
        ({"parent": "missing.gguf"}, ["GGUF file not found"]),
        (
            {"child": "nobody-here/no-such-model"},
            [
                "'nobody-here/no-such-model' is not an offline alias and the hub is unreachable",
                "(`lens-steer models`",
                "a local directory or a .gguf file",
            ],
        ),
        (
            {"device": "bogus"},
            ["device: unknown device 'bogus'", "cpu, cuda, cuda:N, mps, xpu, auto"],
        ),
    ],
)
def test_bad_model_or_device_claims_no_run_directory(config, tmp_path, capsys, patch, needles):
    """Fixing the typo must not then be refused as 'a different config'."""
    _fails(capsys, ["run", config(**patch)], *needles)
    assert _files(tmp_path) == ["run.yaml"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_absent_gpu_claims_no_run_directory(config, tmp_path, capsys):
    _fails(capsys, ["run", config(device="cuda:0")], "no CUDA GPU", "'cpu' or 'auto'")
    assert _files(tmp_path) == ["run.yaml"]


def test_per_layer_grid_of_the_wrong_length_fails_before_loading(config, tmp_path, capsys):
    # greedy maps min(4 parent, 6 child) = 4 layers, read from the folders' config.json
    task = {"name": "gsm8k", "data_dir": str(DATA / "gsm8k"), "grid": [0.1, [0.1] * 6]}
    _fails(
        capsys,
        ["run", config(tasks=[task])],
        "tasks[0].grid[1]: 6 per-layer λ values",
        "steers 4 layers",
    )
    task.update(grid=[0.1], its_grid=[0.1, [0.1] * 6])  # ITS's own grid is checked alike
    _fails(capsys, ["run", config(tasks=[task])], "tasks[0].its_grid[1]: 6 per-layer λ values")
    task.update(grid=[[0.1] * 6], its_grid=None)
    path = config(tasks=[task], transfer={"layer_map": "proportional"})
    assert preflight(load_config(path)).grids_checked  # 6 = every child layer: fine
    assert _files(tmp_path) == ["run.yaml"]


def test_grid_length_without_metadata_is_checked_before_extraction(config, tmp_path, monkeypatch):
    """When the depth is not in any metadata it is read from the loaded models, still before
    extraction and before config.json claims the directory."""
    from lens_steer.models.specs import ResolvedSpec
    from lens_steer.pipeline.config import ConfigError

    monkeypatch.setattr(ResolvedSpec, "n_layers", lambda self: None)
    task = {"name": "gsm8k", "data_dir": str(DATA / "gsm8k"), "grid": [[0.1] * 3]}
    cfg = load_config(config(tasks=[task]))
    assert not preflight(cfg).grids_checked
    with pytest.raises(ConfigError, match=r"3 per-layer λ values, .* steers 4 layers"):
        run_pipeline(cfg, progress=False)
    run_dir = tmp_path / "runs" / "tiny"
    assert _files(run_dir) == ["generations.sqlite", "run.lock", "run.log"]
    log = (run_dir / "run.log").read_text()  # how the attempt ended, with its traceback
    assert "ERROR lens_steer.run failed: ConfigError: tasks[0].grid" in log and "Traceback" in log


@pytest.mark.parametrize(
    "stamp, needles",
    [
        ("", ["config.json is empty", "not a lens-steer run stamp"]),
        ("{not json", ["config.json is not valid JSON"]),
        ("[1, 2]", ["holds a JSON list"]),
        ('{"config": {}}', ["holds a JSON dict, not a mapping with 'config_hash'"]),
    ],
)
def test_unreadable_run_stamp_is_one_line(config, tmp_path, capsys, stamp, needles):
    run_dir = tmp_path / "runs" / "tiny"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(stamp)
    _fails(capsys, ["run", config()], *needles, "delete that directory")
    assert (run_dir / "config.json").read_text() == stamp  # left as found
    assert _files(run_dir) == ["config.json", "run.lock"]


def test_corrupt_generation_store_is_one_line(config, tmp_path, capsys):
    run_dir = tmp_path / "runs" / "tiny"
    run_dir.mkdir(parents=True)
    (run_dir / "generations.sqlite").write_bytes(b"definitely not SQLite " * 100)
    line = _fails(capsys, ["run", config()], "generations.sqlite", "deleting it")
    assert str(run_dir / "generations.sqlite") in line
    assert not (run_dir / "config.json").exists()


def test_second_run_on_a_locked_directory_stops_at_once(config, tmp_path, capsys):
    """A real second process holds the lock, as a concurrent `lens-steer run` would."""
    run_dir = tmp_path / "runs" / "tiny"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from lens_steer.pipeline.run_dir import locked\n"
            f"with locked(Path({str(run_dir)!r})):\n"
            "    print('held', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        _fails(capsys, ["run", config()], f"pid {holder.pid}", "in use by another lens-steer run")
        with pytest.raises(LockError, match=f"pid {holder.pid}"):
            run_pipeline(load_config(config()))
        # the refused runs wrote nothing: no stamp, no log, and above all no generation store
        assert _files(run_dir) == ["run.lock"]
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert holder.returncode == 0


def test_bad_vector_files_are_one_line(tmp_path, capsys):
    good = torch.nn.functional.normalize(torch.ones(2, 4), dim=-1)
    listed = tmp_path / "list.safetensors"
    save_file({"directions": good, "layers": torch.tensor([0, 1])}, listed, {"lens_steer": "[]"})
    _fails(capsys, ["info", str(listed)], "list.safetensors", "JSON list")
    newer = tmp_path / "v99.safetensors"
    meta = {"lens_steer": "{}", "format_version": "99"}
    save_file({"directions": good, "layers": torch.tensor([0, 1])}, newer, meta)
    _fails(capsys, ["info", str(newer)], "format_version '99'", "reads format_version 1")


def test_pairs_file_errors_name_the_line(tmp_path, capsys):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_bytes(b'{"positive": "a", "negative": "b"}\n{"positive": "\xff"}\n')
    argv = ["extract", "--model", "smollm2-135m-instruct", "--pairs", str(pairs), "-o", "x"]
    _fails(capsys, argv, "pairs.jsonl:2: not valid UTF-8")
    pairs.write_text('{"positive": "a", "negative": "b"}\n{"positive": "c"}\n')
    _fails(capsys, argv, "pairs.jsonl:2: expected a JSON object with 'positive' and 'negative'")


def test_a_bug_keeps_its_traceback(monkeypatch):
    """Only the project's known error types become one line; anything else is a bug."""

    def broken(args):
        raise ValueError("an internal invariant failed")

    monkeypatch.setattr(interop, "cmd_info", broken)
    with pytest.raises(ValueError, match="internal invariant"):
        cli.main(["info", "whatever.safetensors"])


def test_subprocess_error_is_one_line_on_stderr(config, tmp_path):
    """The console entry point, not just main(): stderr is exactly one line, exit code 2."""
    done = subprocess.run(
        [sys.executable, "-m", "lens_steer.pipeline.cli", "run", config(device="bogus")],
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "lens-steer: error: device: unknown device 'bogus': use one of cpu, cuda, cuda:N, mps, xpu, auto"
    ]
    assert _files(tmp_path) == ["run.yaml"]
