import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from lens_steer import SteeringVectors


def make(n=3, d=8, **kw):
    torch.manual_seed(0)
    dirs = torch.nn.functional.normalize(torch.randn(n, d), dim=-1)
    return SteeringVectors(
        dirs, tuple(range(2, 2 + n)), torch.rand(n), torch.rand(n), {"method": "pca", **kw}
    )


def test_roundtrip_preserves_everything(tmp_path):
    v = make(note="x")
    path = v.save(tmp_path / "v.safetensors")
    w = SteeringVectors.load(path)
    assert torch.equal(w.directions, v.directions)
    assert w.layers == v.layers
    assert torch.equal(w.explained_variance, v.explained_variance)
    assert torch.equal(w.sign_agreement, v.sign_agreement)
    assert dict(w.meta) == dict(v.meta)


def test_file_is_plain_safetensors_with_json_metadata(tmp_path):
    path = make().save(tmp_path / "v.safetensors")
    raw = path.read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    assert json.loads(header["__metadata__"]["lens_steer"])["method"] == "pca"
    assert set(header) - {"__metadata__"} == {
        "directions",
        "layers",
        "explained_variance",
        "sign_agreement",
    }


def test_views_and_replace_merge_meta():
    v = make()
    assert len(v) == 3 and v.d_model == 8
    assert torch.equal(v[3], v.directions[1])
    with pytest.raises(KeyError, match="layers present"):
        v[0]
    sub = v.select([4, 2])
    assert sub.layers == (4, 2) and torch.equal(sub.directions[0], v.directions[2])
    r = v.replace(meta={"extra": 1})
    assert r.meta["method"] == "pca" and r.meta["extra"] == 1
    assert "extra" not in v.meta
    with pytest.raises(TypeError):
        v.meta["method"] = "x"  # read-only view


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(directions=torch.zeros(3)), "2-D"),
        (dict(directions=torch.zeros(2, 4, dtype=torch.long)), "floating point"),
        (dict(directions=torch.full((2, 4), float("nan"))), "NaN"),
        (dict(layers=(0,)), "layer indices for"),
        (dict(layers=(1, 1)), "distinct"),
        (dict(explained_variance=torch.zeros(3)), "explained_variance"),
    ],
)
def test_constructor_validates(kwargs, message):
    args = dict(directions=torch.ones(2, 4), layers=(0, 1))
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        SteeringVectors(**args)


def test_meta_must_be_json():
    with pytest.raises(TypeError):
        SteeringVectors(torch.ones(1, 4), (0,), meta={"bad": object()})


def test_load_rejects_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        SteeringVectors.load(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 40)
    with pytest.raises(ValueError, match="not a readable safetensors"):
        SteeringVectors.load(junk)
    bare = tmp_path / "bare.safetensors"
    save_file({"directions": torch.ones(1, 4)}, bare)
    with pytest.raises(ValueError, match="no lens_steer metadata"):
        SteeringVectors.load(bare)
    nan = tmp_path / "nan.safetensors"
    save_file(
        {"directions": torch.full((1, 4), float("nan")), "layers": torch.tensor([0])},
        nan,
        metadata={"lens_steer": "{}"},
    )
    with pytest.raises(ValueError, match="NaN"):
        SteeringVectors.load(nan)
    shape = tmp_path / "shape.safetensors"
    save_file(
        {"directions": torch.ones(2, 4), "layers": torch.tensor([0])},
        shape,
        metadata={"lens_steer": "{}"},
    )
    with pytest.raises(ValueError, match="layer indices for 2 directions"):
        SteeringVectors.load(shape)


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    import safetensors.torch

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        make().save(tmp_path / "v.safetensors")
    assert list(tmp_path.iterdir()) == []


def _raw(path, directions, layers, meta="{}", **header):
    save_file(
        {"directions": directions, "layers": torch.tensor(layers)},
        path,
        metadata={"lens_steer": meta, **header},
    )
    return path


def test_load_names_what_is_wrong_with_a_file(tmp_path):
    from lens_steer.errors import InputError

    ok = torch.nn.functional.normalize(torch.randn(2, 4), dim=-1)
    cases = [
        (_raw(tmp_path / "list.safetensors", ok, [0, 1], meta="[1, 2]"), "is a JSON list"),
        (
            _raw(tmp_path / "v99.safetensors", ok, [0, 1], format_version="99"),
            "format_version '99'.*reads format_version 1 only",
        ),
        (
            _raw(tmp_path / "zero.safetensors", torch.cat([ok[:1], torch.zeros(1, 4)]), [3, 5]),
            r"layers \[5\] are all zero",
        ),
        (
            _raw(tmp_path / "deep.safetensors", ok, [0, 999], meta='{"model_n_layers": 30}'),
            r"layer indices \[999\] do not exist.*model_n_layers=30",
        ),
    ]
    for path, message in cases:
        with pytest.raises(InputError, match=message) as err:
            SteeringVectors.load(path)
        assert str(path) in str(err.value)  # every message names the file


def test_constructor_names_non_finite_layers_and_checks_depth():
    d = torch.nn.functional.normalize(torch.randn(3, 4), dim=-1)
    d[1, 0] = float("inf")
    with pytest.raises(ValueError, match=r"layers \[6\] contain NaN or inf"):
        SteeringVectors(d, (4, 6, 8))
    with pytest.raises(ValueError, match=r"layer indices \[999\] do not exist"):
        SteeringVectors(d[:1].abs(), (999,), meta={"model_n_layers": 18})
    with pytest.raises(ValueError, match="meta must be a mapping"):
        SteeringVectors(d[:1].abs(), (0,), meta=[1, 2])


def test_save_refuses_what_load_would_refuse(tmp_path):
    """An all-zero direction cannot steer and load rejects it, so save refuses it up front and
    writes nothing (a file that cannot be read back is worse than an error now)."""
    from lens_steer.errors import InputError

    vecs = SteeringVectors(torch.cat([torch.eye(1, 4), torch.zeros(1, 4)]), (3, 5))
    with pytest.raises(InputError, match=r"layers \[5\] are all zero.*select"):
        vecs.save(tmp_path / "v.safetensors")
    assert list(tmp_path.iterdir()) == []
    vecs.select([3]).save(tmp_path / "v.safetensors")
    assert SteeringVectors.load(tmp_path / "v.safetensors").layers == (3,)


def test_select_keeps_per_layer_meta_aligned():
    meta = {
        "probe_accuracy": [0.5, 0.75, 1.0],
        "layer_map": [[4, 0], [5, 2], [6, 3]],
        "width_r2": [0.1, 0.2, 0.3],
        "cka": [0.9, 0.8, 0.7],
        "n_pairs": 3,
        "parent": {"probe_accuracy": [0.9, 0.8]},  # another model's layers: left alone
    }
    vecs = SteeringVectors(torch.eye(3, 5), (4, 5, 6), meta=meta)
    picked = vecs.select([6, 4])
    assert picked.meta["probe_accuracy"] == [1.0, 0.5]
    assert picked.meta["layer_map"] == [[6, 3], [4, 0]]
    assert picked.meta["width_r2"] == [0.3, 0.1] and picked.meta["cka"] == [0.7, 0.9]
    assert picked.meta["n_pairs"] == 3 and picked.meta["parent"] == meta["parent"]
    assert vecs.meta["probe_accuracy"] == [0.5, 0.75, 1.0]  # the original is untouched
