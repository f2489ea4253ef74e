"""`lens-steer sweep` in this process: a sweep file expands to validated runs named by their
values; each run's metrics equal `run_pipeline` on the expanded config; sweep.json records every
run; a finished sweep does no work again and a changed one runs only its new runs; one failing
run is recorded and the others finish."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from lens_steer.errors import InputError
from lens_steer.models import load as load_module
from lens_steer.pipeline.cli import main as cli
from lens_steer.pipeline.config import ConfigError
from lens_steer.pipeline.run import run_pipeline
from lens_steer.pipeline.sweep import load_sweep, parse_sweep, run_sweep, select_runs

pytestmark = pytest.mark.usefixtures("one_thread")


def test_expansion_names_and_validates_every_run(sweep_base, tmp_path):
    sweep = parse_sweep(
        {
            "base": sweep_base,
            "vary": {
                "seed": [0, 1],
                "transfer.width": ["truncate", "ridge"],
                "tasks.0.n_test": [6],
            },
        },  # fmt: skip
        base_dir=tmp_path,
    )
    names = [r.name for r in sweep.runs]
    assert names[0] == "tiny__seed=0__width=truncate__n_test=6" and len(names) == 4
    assert [r.config["transfer"]["width"] for r in sweep.runs] == ["truncate", "ridge"] * 2
    assert all(r.config["tasks"][0]["n_test"] == 6 for r in sweep.runs)
    assert all(r.config["extract"]["method"] == "pca" for r in sweep.runs)  # defaults filled


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"vary": {"transfer.widht": ["ridge"]}}, "did you mean 'width'"),
        ({"vary": {}}, "vary must map"),
        ({"vary": {"seed": []}}, "non-empty list"),
        ({"vary": {"seed": [0]}, "resorces": {}}, "unknown key 'resorces'"),
        ({"vary": {"tasks.3.n_test": [4]}}, "list of 1"),
        ({"vary": {"seed": [0, "x"]}}, "1 run\\(s\\) invalid: tiny__seed=x: seed: expected int"),
    ],
)
def test_bad_sweeps_fail_before_anything_runs(sweep_base, tmp_path, sweep, message):
    with pytest.raises(ConfigError, match=message):
        parse_sweep({"base": sweep_base, **sweep}, base_dir=tmp_path)
    assert not (tmp_path / "out").exists()


def test_a_sweep_runs_resumes_and_grows(sweep_file, sweep_base, tmp_path, capsys, monkeypatch):
    loaded = []
    real = load_module.load_model
    monkeypatch.setattr(
        load_module, "load_model", lambda spec, **kw: loaded.append(spec) or real(spec, **kw)
    )
    path = sweep_file({"seed": [0, 1]})
    assert cli(["sweep", str(path), "--quiet"]) == 0
    assert "sweep: 2 of 2 runs done" in capsys.readouterr().out
    assert loaded == [sweep_base["child"], sweep_base["parent"]]  # once each, for both runs
    out = tmp_path / "out"
    record = json.loads((out / "sweep.json").read_text())["runs"]
    assert list(record) == ["tiny__seed=0", "tiny__seed=1"]
    assert all(r["status"] == "done" and not r.get("reused") for r in record.values())
    # each run equals `lens-steer run` on its expanded config, alone
    alone = load_sweep(path).runs[1].config
    single = run_pipeline(dict(alone, output_dir=str(tmp_path / "alone")), progress=False)
    ours = json.loads((out / "tiny__seed=1" / "metrics.json").read_text())
    assert ours["tasks"] == json.loads((single / "metrics.json").read_text())["tasks"]
    stamp = (out / "tiny__seed=0" / "metrics.json").stat().st_mtime_ns
    # a finished sweep does no work; a grown one runs only its new run
    grown = sweep_file({"seed": [0, 1, 2]})
    root, failed = run_sweep(load_sweep(grown), progress=True)
    assert root == out and not failed
    lines = capsys.readouterr().out
    assert "sweep: 3 runs, 2 already done" in lines
    assert "queued   [3/3] tiny__seed=2" in lines and "running  [3/3] tiny__seed=2" in lines
    assert re.search(r"done     \[3/3\] tiny__seed=2  [0-9.]+ s", lines)
    record = json.loads((out / "sweep.json").read_text())["runs"]
    assert [bool(r.get("reused")) for r in record.values()] == [True, True, False]
    assert (out / "tiny__seed=0" / "metrics.json").stat().st_mtime_ns == stamp


def test_a_failing_run_is_recorded_and_the_others_finish(sweep_file, sweep_base, tmp_path, capsys):
    path = sweep_file({"child": [sweep_base["child"], str(tmp_path / "missing")]})
    assert cli(["sweep", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "1 run(s) failed: tiny__child=missing" in err
    record = json.loads((tmp_path / "out" / "sweep.json").read_text())["runs"]
    ok, bad = record["tiny__child=child"], record["tiny__child=missing"]
    assert ok["status"] == "done" and (tmp_path / "out" / ok["metrics"]).is_file()
    assert ok["run_dir"] == "tiny__child=child"  # relative: the folder can move
    assert bad["status"] == "failed" and "missing" in bad["error"]
    # one finished run: the sweep's report is still the sweep's, in its folder
    assert cli(["report", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert "sweep out (1 finished run(s))" in page and "tiny__child=missing" in page


def test_names_tell_apart_paths_that_end_alike_and_default_folder(sweep_base, tmp_path):
    path = tmp_path / "grid.yaml"
    base = {k: v for k, v in sweep_base.items() if k != "output_dir"}
    vary = {"child": ["org1/model-x", "org2/model-x", "other"], "tasks.0.n_test": [6]}
    path.write_text(yaml.safe_dump({"base": base, "vary": vary}))
    sweep = load_sweep(path)
    assert [r.name for r in sweep.runs] == [
        "tiny__child=org1_model-x__n_test=6",
        "tiny__child=org2_model-x__n_test=6",
        "tiny__child=other__n_test=6",
    ]
    assert sweep.output_dir == str(Path("runs") / "grid")  # the sweep file's stem
    both = {"seed": [0], "transfer.n_anchor": [16], "tasks.0.pairs.n": [4]}
    names = [r.name for r in parse_sweep({"base": base, "vary": both}, base_dir=tmp_path).runs]
    assert names == ["tiny__seed=0__n_anchor=16__n=4"]
    same_end = {"tasks.0.n_test": [6], "tasks.0.n_val": [4], "extract.batch_size": [4]}
    sweep = parse_sweep({"base": base, "vary": same_end}, base_dir=tmp_path)
    assert sweep.runs[0].name == "tiny__n_test=6__n_val=4__batch_size=4"


def test_a_sweep_file_given_to_run_and_bad_parallelism_are_refused(sweep_file, tmp_path, capsys):
    path = sweep_file({"seed": [0]})
    assert cli(["run", str(path)]) == 2
    assert (
        "is a sweep file (base + vary): run it with `lens-steer sweep`" in capsys.readouterr().err
    )
    with pytest.raises(SystemExit):
        cli(["sweep", str(path), "--ray", "--max-parallel", "0"])
    assert "'0' is not a positive whole number" in capsys.readouterr().err
    with pytest.raises(InputError, match="with --ray"):
        run_sweep(load_sweep(path), max_parallel=2, progress=False)
    assert not (tmp_path / "out").exists()


def test_ray_missing_is_a_clear_error(sweep_base, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    sweep = parse_sweep({"base": sweep_base, "vary": {"seed": [0]}}, base_dir=tmp_path)
    with pytest.raises(InputError, match=r"--ray needs Ray: pip install -e '.\[cluster\]'"):
        run_sweep(sweep, tmp_path / "out", ray="local", progress=False)
    assert not (tmp_path / "out").exists()


def test_ray_is_imported_only_for_ray_sweeps(sweep_file):
    import subprocess

    path = sweep_file({"seed": [0]})
    code = (
        "import sys\nfrom lens_steer.pipeline.cli import main\n"
        f"rc = main(['sweep', {str(path)!r}, '--quiet'])\n"
        "print(rc, 'ray' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["0", "False"]


def test_named_bundles_set_several_keys_together(sweep_base, tmp_path):
    settings = [
        {"name": "base"},
        {"name": "paper", "transfer.width": "truncate"},
        {"name": "relative", "steer.relative": True, "tasks.0.grid": [0.01, 0.1]},
    ]
    sweep = parse_sweep(
        {"base": sweep_base, "vary": {"seed": [0, 1], "setting": settings}}, base_dir=tmp_path
    )
    assert [r.name for r in sweep.runs] == [
        "tiny__seed=0__setting=base",
        "tiny__seed=0__setting=paper",
        "tiny__seed=0__setting=relative",
        "tiny__seed=1__setting=base",
        "tiny__seed=1__setting=paper",
        "tiny__seed=1__setting=relative",
    ]
    assert sweep.runs[2].values == {"seed": 0, "setting": "relative"}
    base, paper, relative = (r.config for r in sweep.runs[:3])
    assert base["transfer"] == {**paper["transfer"], "width": "ridge"}  # a name alone: the base
    assert paper["transfer"]["width"] == "truncate" and not paper["steer"]["relative"]
    assert relative["steer"]["relative"] and relative["tasks"][0]["grid"] == [0.01, 0.1]
    assert relative["transfer"]["width"] == "ridge"  # the base's, untouched by the other bundle
    assert "setting" not in relative


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ([{"transfer.width": "ridge"}], "each with its own 'name'"),
        ([{"name": "a", "seed": 1}, {"name": "a", "seed": 2}], "each with its own 'name'"),
        ([{"name": "a", "seed": 1}, "b"], "a mapping per item"),
        ([{"name": "typo", "transfer.widht": "ridge"}], "did you mean 'width'"),
    ],
)
def test_bad_bundles_are_refused(sweep_base, tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message):
        parse_sweep({"base": sweep_base, "vary": {"setting": settings}}, base_dir=tmp_path)


def test_mappings_under_a_config_key_are_values_and_overlaps_are_refused(sweep_base, tmp_path):
    task = sweep_base["tasks"][0]
    other = {**task, "n_test": 4}
    sweep = parse_sweep({"base": sweep_base, "vary": {"tasks.0": [task, other]}}, base_dir=tmp_path)
    assert [r.config["tasks"][0]["n_test"] for r in sweep.runs] == [6, 4]
    clash = {"transfer.width": ["ridge"], "setting": [{"name": "a", "transfer.width": "truncate"}]}
    with pytest.raises(
        ConfigError, match="vary.transfer.width and vary.setting both set transfer.width"
    ):
        parse_sweep({"base": sweep_base, "vary": clash}, base_dir=tmp_path)
    nested = {"transfer": [{"width": "ridge"}], "setting": [{"name": "s", "transfer.width": "x"}]}
    with pytest.raises(ConfigError, match="both set transfer"):
        parse_sweep({"base": sweep_base, "vary": nested}, base_dir=tmp_path)


def test_only_selects_runs_by_their_varied_values(sweep_base, tmp_path):
    settings = [{"name": "paper"}, {"name": "relative", "steer.relative": True}]
    sweep = parse_sweep(
        {"base": sweep_base, "vary": {"seed": [0, 1], "setting": settings}}, base_dir=tmp_path
    )

    def names(*only: str) -> list[str]:
        return [r.name for r in select_runs(sweep, only).runs]

    assert names("seed=1") == ["tiny__seed=1__setting=paper", "tiny__seed=1__setting=relative"]
    assert names("seed=1", "setting=relative") == ["tiny__seed=1__setting=relative"]
    assert len(names("seed=0", "seed=1")) == 4  # a label given twice: either value
    widths = parse_sweep(
        {"base": sweep_base, "vary": {"transfer.width": ["ridge", "truncate"]}}, base_dir=tmp_path
    )
    picked = [r.name for r in select_runs(widths, ["width=truncate"]).runs]  # as in the name
    assert picked == [r.name for r in select_runs(widths, ["transfer.width=truncate"]).runs]
    assert picked == ["tiny__width=truncate"]
    one = select_runs(sweep, ["setting=paper", "seed=0"])
    assert one.runs[0].config["steer"]["relative"] is False
    assert one.file_runs == sweep.runs
    for only, message in [
        ("seed", "give LABEL=VALUE, LABEL one of \\['seed', 'setting'\\]"),
        ("sede=1", "LABEL one of"),
        ("seed=2", "matches no value: seed takes one of \\['0', '1'\\]"),
        ("setting=ridge", "setting takes one of \\['paper', 'relative'\\]"),
    ]:
        with pytest.raises(InputError, match=message):
            select_runs(sweep, [only])


def test_only_matches_values_as_written_or_as_named_never_by_a_path_s_end(sweep_base, tmp_path):
    base = {k: v for k, v in sweep_base.items() if k != "output_dir"}
    vary = {"child": ["org1/model-x", "org2/model-x", "other/c"], "steer.relative": [True],
            "tasks.0.grid": [[0.1, 1.0]]}  # fmt: skip
    sweep = parse_sweep({"base": base, "vary": vary}, base_dir=tmp_path)

    def names(*only: str) -> list[str]:
        return [r.name.split("__")[1] for r in select_runs(sweep, only).runs]

    assert names("child=org1_model-x") == ["child=org1_model-x"]  # as in the run's name
    assert names("child=org2/model-x") == ["child=org2_model-x"]  # as in the sweep file
    assert names("child=c") == names("child=other/c") == ["child=c"]
    with pytest.raises(InputError, match="'child=model-x' matches no value"):
        select_runs(sweep, ["child=model-x"])  # two paths end so: named whole, not by the end
    assert len(names("relative=true")) == len(names("relative=True")) == 3  # YAML's spelling
    assert len(names("grid=[0.10, 1]")) == 3  # typed as YAML reads it


def test_one_run_alone_keeps_the_others_records(sweep_file, sweep_base, tmp_path, capsys):
    path = sweep_file({"seed": [0, 1]})
    out = tmp_path / "out"
    assert cli(["sweep", str(path), "--quiet", "--only", "seed=1"]) == 0
    printed = capsys.readouterr().out
    assert "sweep: 1 of 1 runs done" in printed and "(--only: 1 of the file's 2 runs" in printed
    record = json.loads((out / "sweep.json").read_text())["runs"]
    assert {n: e["status"] for n, e in record.items()} == {"tiny__seed=0": "queued",
                                                          "tiny__seed=1": "done"}  # fmt: skip
    assert not (out / "tiny__seed=0").exists()
    # a stale "running" record of a run left out (a hard kill) neither crashes nor survives
    record["tiny__seed=0"]["status"] = "running"
    (out / "sweep.json").write_text(json.dumps({"runs": record}))
    assert cli(["sweep", str(path), "--quiet", "--only", "seed=0"]) == 0
    printed = capsys.readouterr().out
    assert "Table 1 over the sweep's 2 finished runs" in printed
    record = json.loads((out / "sweep.json").read_text())["runs"]
    assert list(record) == ["tiny__seed=0", "tiny__seed=1"]  # the file's order, both kept
    assert [r["status"] for r in record.values()] == ["done", "done"]
    assert record["tiny__seed=1"]["reused"]  # checked against its config, not copied
    alone = run_pipeline(
        dict(load_sweep(path).runs[0].config, output_dir=str(tmp_path / "alone")), progress=False
    )
    ours = json.loads((out / "tiny__seed=0" / "metrics.json").read_text())
    assert ours["tasks"] == json.loads((alone / "metrics.json").read_text())["tasks"]
    assert cli(["sweep", str(path), "--quiet"]) == 0  # the whole sweep: both reused
    assert "sweep: 2 of 2 runs done" in capsys.readouterr().out
    assert cli(["sweep", str(path), "--only", "seed=3"]) == 2
    assert "seed takes one of ['0', '1']" in capsys.readouterr().err
    # a changed sweep: a left-out run made with the old config is not reported as done
    task = {**sweep_base["tasks"][0], "n_test": 5}
    changed = sweep_file({"seed": [0, 1]}, base={**sweep_base, "tasks": [task]})
    shutil.rmtree(out / "tiny__seed=1")
    assert cli(["sweep", str(changed), "--quiet", "--only", "seed=1"]) == 0
    record = json.loads((out / "sweep.json").read_text())["runs"]
    assert record["tiny__seed=0"]["status"] == "queued"  # its folder holds the old config's run
    assert cli(["report", str(out)]) == 0  # the report reads the one finished run
