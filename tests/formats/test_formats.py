"""Each format's write → read keeps every number, puts each layer where its tool adds it, bakes
λ in, and refuses what it cannot express; bad files fail with one error naming the file."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from lens_steer import SteeringVectors
from lens_steer.errors import InputError
from lens_steer.formats import FORMATS, detect


def _quiet_export(vecs, path, fmt, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = vecs.export(path, fmt, **kw)
    return out, [str(w.message) for w in caught]


def test_gguf_round_trip_bakes_lambda_and_drops_layer_zero(vecs, tmp_path):
    lam = [0.5, 2.0, -1.5, 0.25, 3.0]
    out, said = _quiet_export(vecs, tmp_path / "cv.gguf", "gguf", lam=lam, model_hint="llama")
    assert any("layer 0 dropped" in s for s in said)
    back = SteeringVectors.load(out)
    assert back.layers == (1, 2, 3, 4)
    expected = vecs.directions[1:] * torch.tensor(lam[1:]).reshape(-1, 1)
    assert torch.equal(back.directions, expected)
    assert torch.equal(back.explained_variance, vecs.explained_variance[1:])
    assert torch.equal(back.sign_agreement, vecs.sign_agreement[1:])
    assert back.meta["source_format"] == "gguf" and back.meta["model_hint"] == "llama"
    assert back.meta["method"] == "pca" and back.meta["model_n_layers"] == 6
    assert back.meta["kind"] == "imported" and back.meta["exported"]["kind"] == "extracted"
    assert back.meta["exported"]["lam"] == lam
    assert back.meta["original_norms"] == pytest.approx(expected.norm(dim=-1).tolist())


def test_gguf_file_is_what_llama_cpp_reads(vecs, tmp_path):
    """The keys and tensors llama.cpp's loader looks at, read with gguf-py (llama.cpp's own)."""
    import gguf

    out, _ = _quiet_export(vecs, tmp_path / "cv.gguf", "gguf", lam=2.0, model_hint="llama")
    reader = gguf.GGUFReader(str(out))

    def field(key):
        f = reader.get_field(key)
        return f.parts[f.data[0]]

    assert bytes(field("general.architecture")).decode() == "controlvector"
    assert bytes(field("controlvector.model_hint")).decode() == "llama"
    assert int(field("controlvector.layer_count")[0]) == 4
    names = [t.name for t in reader.tensors]
    assert names == ["direction.1", "direction.2", "direction.3", "direction.4"]
    for t in reader.tensors:
        assert t.tensor_type == gguf.GGMLQuantizationType.F32 and list(t.shape) == [16]
    np.testing.assert_array_equal(reader.tensors[2].data, (2.0 * vecs[3]).numpy())


def test_lm_eval_round_trip_keeps_vector_and_coefficient(vecs, tmp_path):
    out = vecs.export(tmp_path / "s.pt", "lm-eval", lam=[1.0, 2.0, 3.0, 4.0, 5.0])
    raw = torch.load(out, weights_only=True)  # what lm-eval's steered model reads
    assert list(raw) == [f"layers.{k}" for k in range(5)]
    entry = raw["layers.3"]
    assert torch.equal(entry["steering_vector"], vecs[3])
    assert entry["steering_coefficient"] == 4.0 and entry["action"] == "add"
    assert entry["bias"] is None and entry["head_index"] is None
    back = SteeringVectors.load(out)
    assert back.layers == vecs.layers
    assert torch.equal(back.directions, vecs.directions * torch.arange(1.0, 6.0).reshape(-1, 1))
    assert back.meta["coefficients"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert back.meta["original_norms"] == pytest.approx(vecs.directions.norm(dim=-1).tolist())
    assert torch.equal(back.explained_variance, vecs.explained_variance)
    at_one = SteeringVectors.load(vecs.export(tmp_path / "one.pt", "lm-eval"))
    assert torch.equal(at_one.directions, vecs.directions)


def test_svec_shifts_one_block_each_way(vecs, tmp_path):
    """IBM adds directions[L] at block L's input = lens_steer layer L-1's output."""
    six = vecs.replace(meta={"model_n_layers": 5})  # layer 4 is then the last block
    out, said = _quiet_export(six, tmp_path / "v.svec", "svec", lam=2.0, model_hint="llama")
    assert any("layer 4 dropped" in s for s in said)
    body = json.loads(out.read_text())
    assert sorted(body["directions"], key=int) == ["1", "2", "3", "4"]
    assert body["model_type"] == "llama"
    np.testing.assert_array_equal(np.float32(body["directions"]["1"]), (2.0 * vecs[0]).numpy())
    assert body["explained_variances"]["2"] == pytest.approx(0.25)
    back = SteeringVectors.load(out)
    assert back.layers == (0, 1, 2, 3)
    assert torch.equal(back.directions, 2.0 * vecs.directions[:4])
    assert back.meta["source_layer_keys"] == [1, 2, 3, 4]


def test_foreign_svec_key_zero_is_the_embeddings(tmp_path):
    path = tmp_path / "ibm.svec"
    body = {"model_type": "llama", "directions": {"0": [1.0, 0.0], "2": [0.0, 3.0]}}
    path.write_text(json.dumps({**body, "explained_variances": {"0": 0.5, "2": 0.25}}))
    with pytest.warns(UserWarning, match="embeddings"):
        back = SteeringVectors.load(path)
    assert back.layers == (1,) and back.directions.tolist() == [[0.0, 3.0]]
    assert back.meta["source_format"] == "svec" and back.meta["kind"] == "imported"


def test_relative_lambda_multiplies_the_reference_norms(vecs, tmp_path):
    norms = torch.tensor([10.0, 20.0, 30.0, 40.0, 50.0])
    out = vecs.export(tmp_path / "r.pt", "lm-eval", lam=0.1, reference_norms=norms)
    back = SteeringVectors.load(out)
    assert back.meta["coefficients"] == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])
    assert back.meta["exported"]["relative"] is True
    assert back.meta["exported"]["reference_norms"] == norms.tolist()


def test_safetensors_export_is_save(vecs, tmp_path):
    out = vecs.export(tmp_path / "v.safetensors", "safetensors")
    back = SteeringVectors.load(out)
    assert torch.equal(back.directions, vecs.directions) and dict(back.meta) == dict(vecs.meta)
    with pytest.raises(InputError, match="without λ"):
        vecs.export(tmp_path / "w.safetensors", "safetensors", lam=2.0)


def test_detect_reads_content_not_the_name(vecs, tmp_path):
    out, _ = _quiet_export(vecs, tmp_path / "cv.gguf", "gguf", model_hint="llama")
    renamed = out.rename(tmp_path / "vector.bin")
    assert detect(renamed) == "gguf"
    pt = vecs.export(tmp_path / "s.pt", "lm-eval").rename(tmp_path / "steer.data")
    assert detect(pt) == "lm-eval"
    assert set(FORMATS) == {"safetensors", "gguf", "lm-eval", "svec"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"format": "onnx"}, "unknown format"),
        ({"format": "gguf", "positions": "generated"}, "every position"),
        ({"format": "gguf"}, "model_hint"),
        ({"format": "svec", "lam": [1.0, 2.0]}, "one number per layer"),
        ({"format": "lm-eval", "lam": float("nan")}, "finite"),
        ({"format": "lm-eval", "lam": [1.0, 0.0, 1.0, 1.0, 1.0]}, "λ is 0 at layers \\[1\\]"),
        ({"format": "lm-eval", "reference_norms": [1.0, 0.0, 1.0, 1.0, 1.0]}, "positive"),
        ({"format": "lm-eval", "hookpoint": "layers"}, "must contain"),
    ],
)
def test_export_refuses_what_the_target_cannot_express(vecs, tmp_path, kwargs, match):
    fmt = kwargs.pop("format")
    with pytest.raises(InputError, match=match):
        vecs.export(tmp_path / "out", fmt, **kwargs)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_export_refuses_another_hook_point(vecs, tmp_path):
    attn = vecs.replace(meta={"hook_point": "hook_attn_out"})
    with pytest.raises(InputError, match="hook_attn_out"):
        attn.export(tmp_path / "cv.gguf", "gguf", model_hint="llama")


def test_failed_write_leaves_the_old_file(vecs, tmp_path, monkeypatch):
    target = tmp_path / "s.pt"
    target.write_bytes(b"old")

    def boom(obj, f):
        open(f, "wb").write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        vecs.export(target, "lm-eval")
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]


class Payload:  # an arbitrary object: weights_only loading must refuse to build it
    def __reduce__(self):
        return (print, ("unpickled!",))


def _model_gguf(path):
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _bad_files(tmp_path, vecs):
    cv, _ = _quiet_export(vecs, tmp_path / "cv.gguf", "gguf", model_hint="llama")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(cv.read_bytes()[: cv.stat().st_size // 2])
    model = tmp_path / "model.gguf"
    _model_gguf(model)
    evil = tmp_path / "evil.pt"
    torch.save({"layers.1": {"steering_vector": Payload()}}, evil)
    clamp = tmp_path / "clamp.pt"
    torch.save({"layers.1": {"steering_vector": torch.ones(4), "action": "clamp"}}, clamp)
    mlp = tmp_path / "mlp.pt"
    torch.save({"layers.1.mlp": {"steering_vector": torch.ones(4), "action": "add"}}, mlp)
    nan = tmp_path / "nan.svec"
    nan.write_text(json.dumps({"model_type": "llama", "directions": {"2": [1.0, float("nan")]}}))
    ragged = tmp_path / "ragged.svec"
    ragged.write_text(json.dumps({"directions": {"1": [1.0, 2.0], "2": [1.0]}}))
    zero = tmp_path / "zero.pt"
    torch.save({"layers.2": {"steering_vector": torch.zeros(4), "action": "add"}}, zero)
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00junk" * 10)
    return {
        cut: "not a readable GGUF",
        model: "not a control vector",
        evil: "weights-only",
        clamp: "'add' only",
        mlp: "not a decoder block",
        nan: "NaN",
        ragged: "one width",
        zero: "all zero",
        junk: "not a steering-vector file",
    }


def test_bad_files_fail_with_one_error_naming_the_file(vecs, tmp_path, capsys):
    for path, match in _bad_files(tmp_path, vecs).items():
        with pytest.raises(InputError, match=match) as err:
            SteeringVectors.load(path)
        assert str(path) in str(err.value), path
    assert "unpickled!" not in capsys.readouterr().out
    with pytest.raises(FileNotFoundError):
        SteeringVectors.load(tmp_path / "missing.gguf")


def test_the_refused_payload_would_run_under_a_full_unpickle(tmp_path, capsys):
    """The weights_only refusal above is not vacuous: lm-eval's own full unpickle runs it."""
    evil = tmp_path / "evil.pt"
    torch.save({"layers.1": {"steering_vector": Payload()}}, evil)
    torch.load(evil, weights_only=False)
    assert "unpickled!" in capsys.readouterr().out


def test_easysteer_style_gguf_with_extra_keys_loads(tmp_path):
    """EasySteer's export_gguf writes repeng's layout plus float32 controlvector.* metadata."""
    import gguf

    path = tmp_path / "easysteer.gguf"
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", "qwen2")
    writer.add_string("controlvector.method", "diffmean")
    writer.add_uint32("controlvector.layer_count", 2)
    writer.add_float32("controlvector.explained_variance.3", 0.5)
    writer.add_tensor("direction.3", np.full(8, 0.5, np.float32))
    writer.add_tensor("direction.5", np.full(8, -2.0, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    back = SteeringVectors.load(path)
    assert back.layers == (3, 5) and back.meta["model_hint"] == "qwen2"
    assert back.directions[1].tolist() == [-2.0] * 8
    assert back.meta["original_norms"] == pytest.approx([0.5 * 8**0.5, 2.0 * 8**0.5])


@pytest.mark.parametrize("fmt", ["gguf", "lm-eval", "svec"])
def test_unsorted_layers_keep_lambda_and_extras_on_their_layer(vecs, tmp_path, fmt):
    shuffled = vecs.select([4, 1, 2]).replace(meta={"model_n_layers": 6})
    lam = [4.0, 1.0, 2.0]
    out, _ = _quiet_export(shuffled, tmp_path / f"v.{fmt}", fmt, lam=lam, model_hint="llama")
    back = SteeringVectors.load(out)
    for layer, scale in zip((4, 1, 2), lam, strict=True):
        assert torch.equal(back[layer], scale * vecs[layer]), (fmt, layer)
        row = back.layers.index(layer)
        assert back.explained_variance[row] == vecs.explained_variance[vecs.layers.index(layer)]
        assert back.sign_agreement[row] == vecs.sign_agreement[vecs.layers.index(layer)]


def test_reexport_of_an_import_drops_stale_import_keys(vecs, tmp_path):
    first = SteeringVectors.load(vecs.export(tmp_path / "a.pt", "lm-eval", lam=2.0))
    again = SteeringVectors.load(first.export(tmp_path / "b.pt", "lm-eval", lam=3.0))
    assert again.meta["coefficients"] == [3.0] * 5 and again.meta["source_file"].endswith("b.pt")
    assert torch.equal(again.directions, 6.0 * vecs.directions)
    assert again.meta["exported"]["kind"] == "imported"


def test_svec_needs_the_depth_to_drop_the_last_layer(vecs, tmp_path):
    bare = SteeringVectors(vecs.directions[3:], (3, 4))
    with pytest.warns(UserWarning, match="depth is unknown"):
        bare.export(tmp_path / "a.svec", "svec", model_hint="llama")
    with pytest.warns(UserWarning, match="layer 4 dropped"):
        out = bare.export(tmp_path / "b.svec", "svec", model_hint="llama", n_layers=5)
    assert list(json.loads(out.read_text())["directions"]) == ["4"]


def test_zero_layers_of_another_tools_file_are_dropped(tmp_path):
    path = tmp_path / "off.pt"
    torch.save(
        {
            "layers.2": {"steering_vector": torch.ones(4), "steering_coefficient": 0.0},
            "layers.3": {"steering_vector": torch.ones(4), "steering_coefficient": 2.0},
        },
        path,
    )
    with pytest.warns(UserWarning, match=r"layers \[2\] have zero vectors"):
        back = SteeringVectors.load(path)
    assert back.layers == (3,) and back.meta["coefficients"] == [2.0]
    assert back.meta["original_norms"] == [2.0]


def test_detect_svec_and_safetensors_by_content(vecs, tmp_path):
    svec = tmp_path / "x"
    svec.write_text('{"dirs":{"a":1}, "directions": {"3": [1.0, 2.0]}}')  # byte 8 is '{'
    assert detect(svec) == "svec"
    native = vecs.save(tmp_path / "v.safetensors").rename(tmp_path / "v.data")
    assert detect(native) == "safetensors"
    assert SteeringVectors.load(svec).layers == (2,)


def _malformed(tmp_path, vecs):
    bad_key = tmp_path / "key.svec"
    bad_key.write_text(json.dumps({"directions": {"01": [1.0]}}))
    bad_prov = tmp_path / "prov.svec"
    bad_prov.write_text(json.dumps({"directions": {"2": [1.0]}, "lens_steer": "{oops"}))
    list_prov = tmp_path / "list.svec"
    list_prov.write_text(json.dumps({"directions": {"2": [1.0]}, "lens_steer": {"meta": [1]}}))
    coef = tmp_path / "coef.pt"
    torch.save({"layers.1": {"steering_vector": torch.ones(4), "steering_coefficient": "x"}}, coef)
    flat = tmp_path / "flat.pt"
    torch.save({"layers.1": {"steering_vector": torch.ones(2, 4)}}, flat)
    short = tmp_path / "short.pt"
    cfg = torch.load(vecs.export(tmp_path / "ok.pt", "lm-eval"), weights_only=True)
    prov = json.loads(cfg["layers.0"]["lens_steer"])
    cfg["layers.0"]["lens_steer"] = json.dumps({**prov, "sign_agreement": [1.0]})
    torch.save(cfg, short)
    return {
        bad_key: "layer numbers",
        bad_prov: "corrupt lens_steer provenance",
        list_prov: "not a JSON object",
        coef: "not a number",
        flat: "1-D tensor",
        short: "one value per layer",
    }


def test_malformed_files_fail_naming_the_file(vecs, tmp_path):
    for path, match in _malformed(tmp_path, vecs).items():
        with pytest.raises(InputError, match=match) as err:
            SteeringVectors.load(path)
        assert str(path) in str(err.value), path


def test_nothing_to_export(tmp_path):
    empty = SteeringVectors(torch.zeros(0, 4), ())
    with pytest.raises(InputError, match="no layers"):
        empty.export(tmp_path / "e.pt", "lm-eval")


def test_atomic_write_reads_the_umask_without_changing_it(tmp_path, monkeypatch):
    """The file gets the mode an ordinary new file would; the umask is read, not set and reset
    (another thread creating a file meanwhile would get the wrong mode), wherever /proc allows."""
    import builtins
    import os

    from lens_steer.formats import common

    before = os.umask(0o027)
    try:
        calls = []
        real = os.umask
        monkeypatch.setattr(os, "umask", lambda m: calls.append(m) or real(m))
        common.atomic_write(tmp_path / "a.json", lambda p: p.write_text("{}"))
        assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640
        assert calls == [] or not os.path.exists("/proc/self/status")
        opened = builtins.open

        def no_proc(path, *a, **k):  # elsewhere: the set-and-reset fallback, same answer
            if str(path).startswith("/proc/"):
                raise OSError("no /proc here")
            return opened(path, *a, **k)

        monkeypatch.setattr(builtins, "open", no_proc)
        assert common._umask() == 0o027 and calls == [0, 0o027]
    finally:
        monkeypatch.undo()
        os.umask(before)
