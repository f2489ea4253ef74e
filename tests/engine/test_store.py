"""GenerationCache: SQLite/WAL store, content keys, and generate's read-first / write-per-batch use."""

import multiprocessing as mp
import sqlite3

import pytest

import lens_steer as ls
from lens_steer.engine import decode as decoder
from lens_steer.engine.generate import generate
from lens_steer.engine.store import (
    GenerationCache,
    content_key,
    model_fingerprint,
    vectors_fingerprint,
)
from lens_steer.testing import tiny_model
from lens_steer.testing import unit_directions as unit

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matrices: see conftest

PROMPTS = ["Once upon a time", "The cat sat", "Hello world", "x", "Another prompt here"]


@pytest.fixture(scope="module")
def model():
    return tiny_model("llama")


@pytest.fixture
def counted(monkeypatch):
    """Count the rows that reach the decoder."""
    seen = []
    real = decoder.decode_batch

    def wrapper(backend, rows, *args, **kwargs):
        seen.append(len(rows))
        return real(backend, rows, *args, **kwargs)

    monkeypatch.setattr(decoder, "decode_batch", wrapper)
    return seen


def test_store_roundtrip_wal_and_persistence(tmp_path):
    path = tmp_path / "gen.sqlite"
    with GenerationCache(path) as c:
        c.put_many({"a": ("text a", {"n": 1}), "b": ("text b", {})})
        c.put("c", "ünïcode ✓")
        assert len(c) == 3 and "a" in c and "z" not in c
        assert c.get_many(["a", "z", "c"]) == {"a": "text a", "c": "ünïcode ✓"}
        assert c.meta("a") == {"n": 1}
    again = GenerationCache(path)
    assert again.get("b") == "text b"
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal"


def test_readers_see_committed_data_while_a_writer_holds_a_transaction(tmp_path):
    path = tmp_path / "gen.sqlite"
    writer = GenerationCache(path)
    writer.put("old", "committed")
    conn = writer._connect()
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO generations VALUES ('new', 'pending', '{}', 0)")
    reader = GenerationCache(path, timeout=1)
    assert reader.get_many(["old", "new"]) == {"old": "committed"}  # no lock wait, no dirty read
    conn.execute("COMMIT")
    assert reader.get("new") == "pending"


def _read_in_child(path, queue):
    queue.put(GenerationCache(path).get_many(["k1", "k2"]))


def test_another_process_reads(tmp_path):
    path = tmp_path / "gen.sqlite"
    GenerationCache(path).put_many({"k1": ("one", {}), "k2": ("two", {})})
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_read_in_child, args=(str(path), queue))
    proc.start()
    got = queue.get(timeout=120)
    proc.join(timeout=60)
    assert got == {"k1": "one", "k2": "two"}


def test_fingerprints():
    a, b, c = tiny_model("llama", seed=0), tiny_model("llama", seed=0), tiny_model("llama", seed=1)
    assert model_fingerprint(a) == model_fingerprint(b) != model_fingerprint(c)
    assert model_fingerprint(a) is model_fingerprint(a)  # memoised
    v1 = ls.SteeringVectors(unit(2, 32), (0, 1))
    v2 = ls.SteeringVectors(unit(2, 32), (0, 2))
    v3 = ls.SteeringVectors(unit(2, 32, seed=5), (0, 1))
    assert len({vectors_fingerprint(v) for v in (v1, v2, v3)}) == 3
    assert content_key({"a": 1, "b": 0.1}) == content_key({"b": 0.1, "a": 1})
    assert content_key({"a": 1.0}) != content_key({"a": 1})


def test_generate_reads_first_and_decodes_only_misses(model, tmp_path, counted):
    vecs = ls.SteeringVectors(unit(3, 32, seed=1), (0, 1, 2))
    kw = dict(vectors=vecs, lams=[0.0, 3.0], max_new_tokens=6, batch_size=4, progress=False)
    fresh = generate(model, PROMPTS, **kw)
    counted.clear()
    cache = GenerationCache(tmp_path / "gen.sqlite")
    first = generate(model, PROMPTS[:3], cache=cache, **kw)
    assert first == fresh[:3] and len(cache) == 6 and sum(counted) == 6
    counted.clear()
    again = generate(model, PROMPTS, cache=str(tmp_path / "gen.sqlite"), **kw)
    assert again == fresh and sum(counted) == 4  # only the two new prompts × two λ
    counted.clear()
    generate(model, PROMPTS, cache=cache, **kw)
    assert counted == []
    # λ = 0 is the unsteered model: the unsteered column is served from the same entries.
    plain = generate(model, PROMPTS, max_new_tokens=6, cache=cache, progress=False)
    assert counted == [] and [p[0] for p in plain] == [f[0] for f in fresh]


def test_keys_cover_the_settings(model, tmp_path, counted):
    cache = GenerationCache(tmp_path / "gen.sqlite")
    vecs = ls.SteeringVectors(unit(3, 32, seed=1), (0, 1, 2))
    other = ls.SteeringVectors(unit(3, 32, seed=2), (0, 1, 2))
    base = dict(vectors=vecs, lams=[2.0], max_new_tokens=4, progress=False, cache=cache)
    variants = [
        {},
        dict(lams=[2.5]),
        dict(vectors=other),
        dict(positions="generated"),
        dict(relative=True),
        dict(max_new_tokens=5),
        dict(stop_sequences=["zz"]),
        dict(temperature=0.7),
        dict(temperature=0.7, seed=1),
    ]
    for extra in variants:
        counted.clear()
        generate(model, PROMPTS[:1], **{**base, **extra})
        assert sum(counted) == 1, extra
    counted.clear()
    generate(model, PROMPTS[:1], **{**base, "temperature": 0.7, "n_samples": 2})
    assert sum(counted) == 1  # sample 0 is cached, sample 1 is new


def test_a_killed_run_keeps_its_finished_batches(model, tmp_path, monkeypatch):
    cache = GenerationCache(tmp_path / "gen.sqlite")
    real, calls = decoder.decode_batch, []

    def dies_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(decoder, "decode_batch", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        generate(model, PROMPTS, max_new_tokens=4, batch_size=2, cache=cache, progress=False)
    assert len(cache) == 2
    monkeypatch.setattr(decoder, "decode_batch", real)
    full = generate(model, PROMPTS, max_new_tokens=4, batch_size=2, cache=cache, progress=False)
    assert full == generate(model, PROMPTS, max_new_tokens=4, progress=False) and len(cache) == 5


def test_cache_is_bypassed_inside_steer(model, tmp_path, counted):
    cache = GenerationCache(tmp_path / "gen.sqlite")
    generate(model, PROMPTS[:2], max_new_tokens=4, cache=cache, progress=False)
    vecs = ls.SteeringVectors(unit(1, 32), (0,))
    counted.clear()
    with ls.steer(model, vecs, lam=5.0), pytest.warns(UserWarning, match="bypassed"):
        generate(model, PROMPTS[:2], max_new_tokens=4, cache=cache, progress=False)
    assert sum(counted) == 2 and len(cache) == 2


def test_corrupt_store_names_the_file_and_the_remedy(tmp_path):
    from lens_steer.engine.store import CacheError

    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all " * 200)
    with pytest.raises(CacheError, match=r"junk\.sqlite is truncated or corrupt .*deleting it"):
        GenerationCache(junk)
    db = tmp_path / "cut.sqlite"
    with GenerationCache(db) as cache:
        cache.put_many({f"k{i}": ("x" * 2000, {"i": i}) for i in range(200)})
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.stat().st_size
    with open(db, "r+b") as fh:  # a disk-full or killed copy: the second half is gone
        fh.truncate(size // 2)
    with pytest.raises(CacheError, match=r"cut\.sqlite .*malformed") as err:
        GenerationCache(db)
    assert isinstance(err.value, sqlite3.DatabaseError)  # callers catching sqlite errors still do
