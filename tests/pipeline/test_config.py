import json
from pathlib import Path

import pytest

from lens_steer.pipeline.config import ConfigError, config_hash, load_config, validate_config
from lens_steer.pipeline.run_dir import RunDirectoryError, claim

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def base(**task):
    return {
        "parent": "gemma-3-270m",
        "child": "smollm2-135m-instruct",
        "tasks": [{"name": "arc_challenge", "data_dir": str(DATA / "arc_challenge"), **task}],
    }


def test_defaults_are_filled_in():
    cfg = validate_config(base())
    assert cfg["name"] == "gemma-3-270m-to-smollm2-135m-instruct"
    assert cfg["transfer"] == {
        "layer_map": "greedy",
        "width": "ridge",
        "n_anchor": 64,
        "normalize": True,
    }
    assert cfg["steer"] == {"positions": "all", "relative": False, "op": "add"}
    task = cfg["tasks"][0]
    assert task["grid"] == "paper" and task["its"] is True and task["pairs"]["n"] == 64
    assert task["controls"] == ["random-direction"]


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"grd": "paper"}, r"tasks\[0\]: unknown key 'grd' .*did you mean 'grid'"),
        ({"grid": []}, "non-empty list"),
        ({"grid": [0.1, float("nan")]}, "not finite"),
        ({"grid": [0.1, "big"]}, "not a number"),
        ({"scoring": "vibes"}, r"'vibes' is not one of \['generate', 'loglik'\]"),
        ({"controls": ["placebo"]}, "unknown controls"),
        ({"n_val": 0}, "must be ≥ 1"),
        ({"its": "yes"}, "expected bool"),
        ({"max_new_tokens": True}, "got a bool"),
        ({"pairs": {"strategy": "random"}}, "is not one of"),
        ({"data_dir": "/nonexistent/folder"}, "no directory at /nonexistent/folder"),
    ],
)
def test_task_errors(patch, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(base(**patch))


@pytest.mark.parametrize(
    "name", ["../escape", "a/b", "/tmp/abs", ".", "..", "", "  ", " padded", "a\\b", "tab\there"]
)
def test_run_name_must_be_one_path_component(name):
    """config.json and run.log go to output_dir/name: a path there would write elsewhere."""
    with pytest.raises(ConfigError, match=r"^name: .*(single folder name|must not be empty)"):
        validate_config({**base(), "name": name})


def test_run_names_that_are_one_component_pass():
    for name in ("my-run_2.v1", "<script>alert(1)<", "ünïcode λ=0.1", "..hidden"):
        assert validate_config({**base(), "name": name})["name"] == name


@pytest.mark.parametrize("device", ["bogus", "gpu0", "cuda:", "CUDA:0 "])
def test_unknown_device_is_a_config_error(device):
    with pytest.raises(
        ConfigError, match=r"^device: unknown device .*cpu, cuda, cuda:N, mps, xpu, auto"
    ):
        validate_config({**base(), "device": device})
    for ok in ("cpu", "cuda", "cuda:3", "mps", "auto"):
        assert validate_config({**base(), "device": ok})["device"] == ok


def test_top_level_errors():
    with pytest.raises(ConfigError, match="parent: required"):
        validate_config({"child": "x", "tasks": [{"name": "gsm8k"}]})
    with pytest.raises(ConfigError, match="unknown key 'wdith'"):
        validate_config({**base(), "transfer": {"wdith": "ridge"}})
    with pytest.raises(ConfigError, match="tasks: must be a non-empty list"):
        validate_config({**base(), "tasks": []})
    with pytest.raises(ConfigError, match=r"listed more than once"):
        cfg = base()
        validate_config({**cfg, "tasks": cfg["tasks"] * 2})
    with pytest.raises(ConfigError, match="needs a multiple-choice task"):
        validate_config(
            {
                **base(),
                "tasks": [{"name": "gsm8k", "data_dir": str(DATA / "gsm8k"), "scoring": "loglik"}],
            }
        )


def test_data_dir_missing_files(tmp_path):
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "train.jsonl").write_text("")
    cfg = {**base(), "tasks": [{"name": "gsm8k", "data_dir": str(tmp_path / "gsm8k")}]}
    with pytest.raises(ConfigError, match=r"tasks\[0\]\.data_dir"):
        validate_config(cfg)


def test_yaml_file_and_relative_data_dir(tmp_path):
    import yaml

    cfg = base()
    cfg["tasks"][0]["data_dir"] = "data/arc_challenge"  # relative to the config file
    (tmp_path / "data").symlink_to(DATA)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    loaded = load_config(path)
    assert loaded["tasks"][0]["data_dir"] == str((DATA / "arc_challenge").resolve())
    bad = tmp_path / "bad.yaml"
    bad.write_text("tasks: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no config file"):
        load_config(tmp_path / "missing.yaml")


def test_run_directory_of_another_config_is_refused(tmp_path):
    a = validate_config(base())
    b = validate_config(base(n_val=10))
    claim(tmp_path / "run", a)
    claim(tmp_path / "run", a)  # the same config may resume
    stamp = json.loads((tmp_path / "run" / "config.json").read_text())
    assert stamp["config_hash"] == config_hash(a)
    with pytest.raises(RunDirectoryError, match="differs in: tasks"):
        claim(tmp_path / "run", b)


def test_hash_ignores_output_dir_only():
    a = validate_config(base())
    assert config_hash(a) == config_hash({**a, "output_dir": "elsewhere"})
    assert config_hash(a) != config_hash({**a, "seed": 1})
