"""The static decoder (``engine="graph"``) on CPU, where its steps run eagerly: the same tokens as
transformers and as the plain engine when rows end at different steps and the batch shrinks by
buckets, with sliding windows that bind, sampling, ``min_new_tokens`` and stop sequences; and the
capture logic, driven through a stand-in for ``torch.cuda``'s graph API (a real capture needs a
GPU: tests/engine/test_gpu.py)."""

import contextlib
import copy

import pytest
import torch

import lens_steer as ls
from lens_steer.activations import encode_text
from lens_steer.engine import decoder_stats, free_decoder_memory
from lens_steer.engine import graph as graph_decoder
from lens_steer.engine.generate import generate
from lens_steer.testing import tiny_hf_model, tiny_tokenizer
from lens_steer.testing import unit_directions as unit

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matrices: see conftest

PROMPTS = [
    "Once upon a time",
    "The cat sat on the mat and looked at the door",
    "Hello world",
    "x",
    "A much longer prompt, so that the left padding is wide here",
    "1 2 3 4",
    "Why is the sky blue?",
]


def pair(family, **config):
    hf = tiny_hf_model(family, **config)
    reference = copy.deepcopy(hf)
    return ls.load_model(hf, tokenizer=tiny_tokenizer(), device="cpu"), reference


def hf_greedy(reference, tok, prompts, n, **kw):
    out = []
    for p in prompts:
        ids = torch.tensor([encode_text(tok, p)])
        with torch.no_grad():
            seq = reference.generate(ids, max_new_tokens=n, do_sample=False, pad_token_id=0, **kw)
        new = seq[0, ids.shape[1] :].tolist()
        eos = reference.generation_config.eos_token_id
        new = new[: new.index(eos)] if eos in new else new
        out.append(tok.decode(new, skip_special_tokens=True))
    return out


def test_buckets():
    assert [graph_decoder.bucket(n) for n in (1, 2, 3, 4, 5, 7, 9, 13, 17, 33, 49, 64, 65)] == [
        1, 2, 3, 4, 6, 8, 12, 16, 24, 48, 64, 64, 96,
    ]  # fmt: skip
    assert all(
        graph_decoder.bucket(n) >= n and graph_decoder.bucket(n) <= 1.5 * n + 1
        for n in range(1, 300)
    )


def _eos_midway(model, reference, prompts, n, **steering):
    """Make a character of the free output the EOS token, so rows end at different steps."""
    free = generate(model, prompts, max_new_tokens=n, progress=False, engine="plain", **steering)
    texts = [text for row in free for text in row]
    best = max(sorted(set("".join(texts))), key=lambda c: len({t.find(c) for t in texts}))
    eos = model.tokenizer.convert_tokens_to_ids(best)
    for m in (model.original_model, reference):
        m.generation_config.eos_token_id = eos
    return eos


def test_rows_ending_early_shrink_the_batch_and_keep_the_tokens(monkeypatch):
    model, reference = pair("qwen3")
    _eos_midway(model, reference, PROMPTS, 20)
    expected = hf_greedy(reference, model.tokenizer, PROMPTS, 20)
    assert len({len(e) for e in expected}) > 2
    sizes = []
    real = graph_decoder.StaticDecoder.gather
    monkeypatch.setattr(
        graph_decoder.StaticDecoder,
        "gather",
        lambda self, rows: (sizes.append(len(rows)), real(self, rows)),
    )
    outs = generate(model, PROMPTS, max_new_tokens=20, batch_size=7, progress=False, engine="graph")
    assert [o[0] for o in outs] == expected
    assert sizes[0] == 8 and len(sizes) > 1 and sizes == sorted(sizes, reverse=True)  # 7 → 8 → …
    # Steered rows of three λ end at different steps too: their deltas must move with them.
    # (λ is small: this tiny Qwen3 locks into one repeated character from λ ≈ 0.2.)
    vecs = ls.SteeringVectors(unit(2, 32, seed=5), (0, 2))
    kw = dict(vectors=vecs, lams=[0.0, 0.1, -0.1], max_new_tokens=20, batch_size=16, progress=False)
    _eos_midway(model, reference, PROMPTS, 20, **{k: kw[k] for k in ("vectors", "lams")})
    plain = generate(model, PROMPTS, engine="plain", **kw)
    assert len({len(t) for row in plain for t in row}) > 5
    assert generate(model, PROMPTS, engine="graph", **kw) == plain


@pytest.mark.parametrize("family", ["gemma3", "mistral", "gemma2"])
def test_sliding_windows_that_bind(family):
    """A 5-token window on prompts of up to 60 tokens: the window mask over cache slots."""
    model, reference = pair(family, sliding_window=5)
    expected = hf_greedy(reference, model.tokenizer, PROMPTS, 12)
    for engine in ("graph", "plain"):
        outs = generate(
            model, PROMPTS, max_new_tokens=12, batch_size=4, progress=False, engine=engine
        )
        assert [o[0] for o in outs] == expected, engine


def test_sampling_min_new_tokens_and_stops_equal_the_plain_engine():
    model, reference = pair("llama")
    eos = _eos_midway(model, reference, PROMPTS, 16)
    vecs = ls.SteeringVectors(unit(3, 32, seed=2), (0, 1, 2))
    cases = [
        dict(temperature=0.9, n_samples=2, seed=3),
        dict(min_new_tokens=6),
        dict(min_new_tokens=1),
        dict(stop_sequences=["e", "o "]),
    ]
    for extra in cases:
        kw = dict(vectors=vecs, lams=[0.0, 2.0], max_new_tokens=13, batch_size=5, progress=False)
        graph = generate(model, PROMPTS, engine="graph", **kw, **extra)
        assert graph == generate(model, PROMPTS, engine="plain", **kw, **extra), extra
    expected = hf_greedy(reference, model.tokenizer, PROMPTS, 13, min_new_tokens=6)
    outs = generate(
        model, PROMPTS, max_new_tokens=13, min_new_tokens=6, progress=False, engine="graph"
    )
    assert [o[0] for o in outs] == expected
    assert model.tokenizer.convert_ids_to_tokens(eos) not in "".join(expected[:1])[:6]


def test_a_new_lambda_grid_or_new_vectors_reuse_the_buffers():
    model, _ = pair("llama")
    kw = dict(max_new_tokens=9, batch_size=8, progress=False, engine="graph")
    generate(model, PROMPTS, **kw)
    decoder = graph_decoder.static_decoder(_decode_backend(model))
    keys = decoder.keys[0]
    for seed, lams in ((1, [1.0, -2.0]), (2, [0.3])):
        vecs = ls.SteeringVectors(unit(2, 32, seed=seed), (1, 2))
        outs = generate(model, PROMPTS, vectors=vecs, lams=lams, **kw)
        assert outs == generate(
            model, PROMPTS, vectors=vecs, lams=lams, **{**kw, "engine": "plain"}
        )
        assert decoder.keys[0] is keys  # same capacity, fewer rows: the same buffers
    generate(model, [p * 6 for p in PROMPTS], **kw)  # longer prompts: a larger capacity
    assert decoder.keys[0] is not keys and decoder.capacity % graph_decoder.CAPACITY_STEP == 0
    assert decoder_stats(model)["graphs"] is False  # CPU: eager steps, nothing captured
    assert free_decoder_memory(model) and not free_decoder_memory(model)
    assert decoder_stats(model) == {
        "graphs": None, "captured": [], "capture_s": 0.0, "buffer_bytes": 0,
    }  # fmt: skip
    assert graph_decoder.static_decoder(_decode_backend(model)) is not decoder  # a fresh one
    assert generate(model, PROMPTS, **kw) == generate(model, PROMPTS, **{**kw, "engine": "plain"})


def _decode_backend(model):
    from lens_steer.engine import decode as decoder

    return decoder.make_backend(model, "graph")


class _FakeCuda:
    """Enough of ``torch.cuda``'s stream and graph API to drive ``StaticDecoder._capture`` on CPU.

    A fake graph records the step that ran inside ``torch.cuda.graph`` and ``replay()`` runs it
    again with the steering hooks on (what a captured graph replays); ``broken=True`` replays it
    without them, as a graph that lost the steering would.
    """

    def __init__(self, monkeypatch, broken=False):
        self.captures, self.replays, self.recording = [], 0, None
        fake = self

        class Graph:
            def __init__(self):
                self.call = None

            def replay(self):
                fake.replays += 1
                dec, b, greedy = self.call
                hooks = contextlib.nullcontext() if broken else dec._steering(b)
                with hooks:
                    real_step(dec, b, greedy)

            def pool(self):
                return None

        @contextlib.contextmanager
        def graph(g, pool=None):
            self.recording = g
            try:
                yield
            finally:
                self.recording = None

        real_step = graph_decoder.StaticDecoder._step

        def step(dec, b, greedy):
            if self.recording is not None:
                self.recording.call = (dec, b, greedy)
                self.captures.append(b)
            return real_step(dec, b, greedy)

        class Stream:
            def __init__(self, *a):
                pass

            def wait_stream(self, other):
                pass

        monkeypatch.setattr(graph_decoder.StaticDecoder, "_step", step)
        monkeypatch.setattr(torch.cuda, "Stream", Stream)
        monkeypatch.setattr(torch.cuda, "current_stream", lambda *a: Stream())
        monkeypatch.setattr(torch.cuda, "stream", lambda s: contextlib.nullcontext())
        monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
        monkeypatch.setattr(torch.cuda, "graph", graph)


def _graph_run(model, **kw):
    decoder = graph_decoder.static_decoder(_decode_backend(model))
    decoder.use_graphs = True
    return generate(model, PROMPTS, engine="graph", progress=False, **kw), decoder


def test_capture_restores_the_live_state_and_is_paid_once_per_shape(monkeypatch):
    model, reference = pair("qwen3")
    _eos_midway(model, reference, PROMPTS, 20)
    vecs = ls.SteeringVectors(unit(2, 32, seed=7), (0, 1))
    kw = dict(vectors=vecs, lams=[0.0, 4.0], max_new_tokens=20, batch_size=14)
    expected = generate(model, PROMPTS, engine="plain", progress=False, **kw)
    fake = _FakeCuda(monkeypatch)
    outs, decoder = _graph_run(model, **kw)
    assert outs == expected and decoder.use_graphs and fake.replays > 0
    assert len(fake.captures) == len(set(fake.captures)) > 1  # one capture per bucket
    assert decoder.capture_s > 0
    held = decoder_stats(model)
    assert held["graphs"] is True and held["capture_s"] == decoder.capture_s
    assert [b for b, _ in held["captured"]] == sorted(set(fake.captures))
    assert held["buffer_bytes"] > sum(k.numel() * 4 for k in decoder.keys)
    captured = len(fake.captures)
    again, _ = _graph_run(model, **{**kw, "lams": [1.0, -1.0]})  # a new λ grid: no new capture
    assert len(fake.captures) == captured
    assert again == generate(
        model, PROMPTS, engine="plain", progress=False, **{**kw, "lams": [1.0, -1.0]}
    )


def test_a_replay_that_loses_the_steering_falls_back_to_eager_steps(monkeypatch):
    model, _ = pair("llama")
    vecs = ls.SteeringVectors(unit(2, 32, seed=8), (0, 2))
    kw = dict(vectors=vecs, lams=[6.0], max_new_tokens=10, batch_size=8)
    expected = generate(model, PROMPTS, engine="plain", progress=False, **kw)
    _FakeCuda(monkeypatch, broken=True)
    with pytest.warns(UserWarning, match="replay differs from the eager step"):
        outs, decoder = _graph_run(model, **kw)
    assert outs == expected and decoder.use_graphs is False and not decoder.graphs


def test_grouped_decode_attention_equals_repeated_kv_heads():
    from transformers.integrations.sdpa_attention import repeat_kv

    from lens_steer.engine import attention as gqa

    gen = torch.Generator().manual_seed(0)
    b, kv, groups, length, d = 3, 2, 4, 11, 8
    q = torch.randn(b, kv * groups, 1, d, generator=gen)
    k, v = torch.randn(2, b, kv, length, d, generator=gen)
    mask = torch.rand(b, 1, 1, length, generator=gen) > 0.3
    mask[:, ..., -1] = True
    module = torch.nn.Module()
    module.num_key_value_groups = groups
    out, _ = gqa.grouped_decode_sdpa(module, q, k, v, mask, scaling=0.5)
    ref = torch.nn.functional.scaled_dot_product_attention(
        q, repeat_kv(k, groups), repeat_kv(v, groups), attn_mask=mask, scale=0.5
    )
    assert out.shape == (b, 1, kv * groups, d)
    torch.testing.assert_close(out, ref.transpose(1, 2), rtol=1e-6, atol=1e-6)
    # A prompt pass (several query tokens) goes to transformers' own sdpa.
    q5 = torch.randn(b, kv * groups, 5, d, generator=gen)
    mask5 = torch.ones(b, 1, 5, length, dtype=torch.bool)
    out5, _ = gqa.grouped_decode_sdpa(module, q5, k, v, mask5, scaling=0.5)
    ref5 = torch.nn.functional.scaled_dot_product_attention(
        q5, repeat_kv(k, groups), repeat_kv(v, groups), attn_mask=mask5, scale=0.5
    )
    torch.testing.assert_close(out5, ref5.transpose(1, 2), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("family", "kernel"), [("qwen3", "lens_steer_sdpa"), ("gemma2", "eager")])
def test_the_graph_engine_runs_grouped_attention_unless_soft_capping_needs_eager(family, kernel):
    model, _ = pair(family)
    assert _decode_backend(model).hf.config._attn_implementation == kernel
    assert model.original_model.config._attn_implementation != "lens_steer_sdpa"  # a copy's


def test_pushing_tokens_in_chunks_ends_rows_where_one_at_a_time_does():
    import random

    from lens_steer.engine.stopping import Finisher
    from lens_steer.engine.types import Settings

    tok = tiny_tokenizer()
    stoppy = tok.convert_tokens_to_ids(list("ab Q:\n")) + [2]  # 2: EOS
    plain = tok.convert_tokens_to_ids(list("a Q"))  # can never form a stop sequence
    settings = Settings(max_new_tokens=30, stop_sequences=("ab", "Q:", "\n\n"), eos_ids=(2,))
    rnd = random.Random(0)
    ends = set()
    for trial in range(300):
        alphabet = plain if trial % 5 == 0 else stoppy
        stream = [rnd.choice(alphabet) for _ in range(40)]
        one, chunked = Finisher(1, settings, tok), Finisher(1, settings, tok)
        for tid in stream:
            if one.push(0, tid):
                break
        size = 1 + trial % 9
        for i in range(0, len(stream), size):
            if chunked.push_many(0, stream[i : i + size]):
                break
        assert one.done() == chunked.done() and one.n_tokens == chunked.n_tokens
        ends.add(one.done()[0].finish)
    assert ends == {"eos", "stop", "length"}


def test_a_run_logs_what_the_graph_engine_held(tmp_path, monkeypatch):
    """run.log gets generate's lines and a summary of the graph engine; metrics.json no timings."""
    import json
    import sys

    from test_gpu import run_config

    from lens_steer.pipeline.config import validate_config
    from lens_steer.pipeline.run import run_pipeline

    module = sys.modules["lens_steer.engine.generate"]
    real = module.pick_engine
    monkeypatch.setattr(module, "pick_engine", lambda m, e: "graph" if e == "auto" else real(m, e))
    run_dir = run_pipeline(validate_config(run_config(tmp_path, "cpu")), progress=False)
    log = (run_dir / "run.log").read_text()
    assert "lens_steer.run graph engine: eager steps" in log
    assert "capture" not in json.dumps(json.loads((run_dir / "metrics.json").read_text()))


def test_state_left_by_one_call_never_reaches_the_next():
    """EOS suppression (min_new_tokens) ending with the call, and non-finite K/V that an earlier
    batch left in masked slots (masked slots still enter attention as 0 × value)."""
    model, reference = pair("llama")
    _eos_midway(model, reference, PROMPTS, 12)
    kw = dict(max_new_tokens=12, batch_size=8, progress=False)
    plain = generate(model, PROMPTS, engine="plain", **kw)
    assert len({len(o[0]) for o in plain}) > 2  # rows end at EOS at different steps
    generate(model, PROMPTS, engine="graph", min_new_tokens=12, **kw)  # suppressed to the end
    assert generate(model, PROMPTS, engine="graph", **kw) == plain
    decoder = graph_decoder.static_decoder(_decode_backend(model))
    with torch.inference_mode():
        decoder.values[0][:, :, -1] = float("inf")  # a slot no later row reaches
    assert generate(model, PROMPTS, engine="graph", **kw) == plain


def test_a_capture_while_eos_is_suppressed_is_kept(monkeypatch):
    """-inf logits on both sides of the replay check are equal, not a NaN gap."""
    model, _ = pair("qwen3")
    kw = dict(max_new_tokens=10, min_new_tokens=6, batch_size=8)
    expected = generate(model, PROMPTS, engine="plain", progress=False, **kw)
    fake = _FakeCuda(monkeypatch)
    outs, decoder = _graph_run(model, **kw)
    assert outs == expected and decoder.use_graphs and fake.captures


def test_the_decoder_goes_with_its_model():
    import gc
    import weakref

    model, _ = pair("llama")
    generate(model, PROMPTS, max_new_tokens=4, progress=False, engine="graph")
    weight = weakref.ref(next(model.original_model.parameters()))
    keys = weakref.ref(graph_decoder.static_decoder(_decode_backend(model)).keys[0])
    del model
    gc.collect()
    assert weight() is None and keys() is None
