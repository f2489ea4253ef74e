"""Model loading: every tiny family, local HF dirs, GGUF files, devices and the real packaged model
(the offline aliases: test_offline_aliases.py)."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import pytest
import torch

from lens_steer.models import load_model, offline
from lens_steer.models.offline import ALIASES, load_hf
from lens_steer.testing import FAMILIES, tiny_hf_model, tiny_tokenizer


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_family_matches_hf(logits, prompt_ids, family: str) -> None:
    hf = tiny_hf_model(family)
    ref = copy.deepcopy(hf)
    bridge = load_model(hf, tokenizer=tiny_tokenizer(), device="cpu", dtype="float32")
    assert (logits(bridge) - logits(ref)).abs().max().item() <= 1e-5
    _, cache = bridge.run_with_cache(prompt_ids)
    for layer in range(bridge.cfg.n_layers):
        assert cache[f"blocks.{layer}.hook_resid_post"].shape == (
            1,
            prompt_ids.shape[1],
            bridge.cfg.d_model,
        )


def test_local_hf_directory(logits, tmp_path: Path) -> None:
    hf = tiny_hf_model("qwen2")
    hf.save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    bridge = load_model(str(tmp_path), device="cpu")
    assert (logits(bridge) - logits(hf)).abs().max().item() <= 1e-5
    assert bridge.tokenizer.chat_template is not None


def test_gguf_file_matches_source_model(logits, tiny_gguf) -> None:
    path, ref = tiny_gguf
    hf, tok = load_hf(str(path))
    assert hf.config.architectures == ["LlamaForCausalLM"]
    assert getattr(hf.config, "quantization_config", None) is None
    ids = torch.tensor([tok("the thethe t")["input_ids"]])
    assert ids.shape[1] > 1 and ids.max().item() < ref.config.vocab_size
    bridge = load_model(path, device="cpu", dtype="float32")
    assert (bridge.cfg.n_layers, bridge.cfg.d_model) == (2, 32)
    assert (logits(bridge, ids) - logits(ref, ids)).abs().max().item() <= 1e-5


def test_gguf_unsupported_architecture(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "odd.gguf"
    w = gguf.GGUFWriter(str(path), "rwkv6")
    w.add_block_count(1)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(ValueError, match="rwkv6.*cannot dequantise"):
        load_hf(str(path))


@pytest.mark.parametrize("device", ["bogus", "gpu", "cuda:x", "cpu:0:1", 3])
def test_unknown_device_lists_the_allowed_ones(device) -> None:
    from lens_steer.models import resolve_device

    with pytest.raises(ValueError, match=r"unknown device .*cpu, cuda, cuda:N, mps, xpu, auto"):
        resolve_device(device)
    with pytest.raises(ValueError, match="unknown device"):
        load_model("no-such-alias-either", device=device)  # the device is checked first


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the message on a machine without CUDA"
)
def test_missing_gpu_is_one_clear_error() -> None:
    from lens_steer.models import resolve_device

    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ValueError, match="'cuda:1'.*no CUDA GPU.*'cpu' or 'auto'"):
        resolve_device("cuda:1")


def test_resolve_spec_reads_no_weights(tmp_path, tiny_gguf, monkeypatch) -> None:
    from lens_steer.errors import ModelSpecError
    from lens_steer.models.specs import HubUnreachableError, resolve_spec

    tiny_hf_model("qwen2", n_layers=5).save_pretrained(tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage: weights are never read")
    found = resolve_spec(str(tmp_path / "m"))
    assert (found.kind, found.n_layers()) == ("directory", 5)
    gguf = resolve_spec(str(tiny_gguf[0]))
    assert (gguf.kind, gguf.n_layers()) == ("gguf", 2)
    with pytest.raises(HubUnreachableError) as err:
        resolve_spec("nobody-here/no-such-model")
    msg = str(err.value)
    assert "'nobody-here/no-such-model' is not an offline alias and the hub is unreachable" in msg
    assert "`lens-steer models`" in msg and "a local directory or a .gguf file" in msg
    assert isinstance(err.value, OSError) and isinstance(err.value, ModelSpecError)
    with pytest.raises(ModelSpecError, match="Did you mean 'smollm2-135m-instruct'"):
        resolve_spec("smollm2-135m-instrcut")
    with pytest.raises(FileNotFoundError, match="no such model file or directory"):
        resolve_spec(str(tmp_path / "typo"))
    assert {a.n_layers for a in ALIASES.values()} == {30, 18, 24, 28}


# --- the real packaged model -----------------------------------------------------------------


@pytest.mark.integration
def test_smollm2_alias_matches_transformers_gguf(
    logits, smollm2, lens_steer_cache, monkeypatch
) -> None:
    from transformers import AutoModelForCausalLM

    assert (smollm2.cfg.n_layers, smollm2.cfg.d_model) == (30, 576)
    assert smollm2.tokenizer.chat_template is not None
    gguf_path = offline.alias_gguf("smollm2-135m-instruct")
    ref = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, attn_implementation="eager"
    ).eval()
    ids = smollm2.tokenizer("The capital of France is", return_tensors="pt").input_ids
    assert (logits(smollm2, ids) - logits(ref, ids)).abs().max().item() <= 1e-4
    del ref

    monkeypatch.setattr(offline, "load_gguf", lambda *a, **k: pytest.fail("not from the cache"))
    start = time.perf_counter()
    again = load_model("smollm2-135m-instruct", device="cpu", cache_dir=lens_steer_cache)
    cached_s = time.perf_counter() - start
    print(f"smollm2: first load {smollm2.lens_steer_load_s:.1f}s, cached load {cached_s:.1f}s")
    assert cached_s < 30
    assert (logits(again, ids) - logits(smollm2, ids)).abs().max().item() == 0.0
