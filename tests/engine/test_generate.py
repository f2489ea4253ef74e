"""ls.generate on tiny models of every family: equal to transformers' greedy generate, λ-batched
output equal to ``with ls.steer(...)``, the fast path equal to the hook path, stops and EOS."""

import copy

import pytest
import torch

import lens_steer as ls
from lens_steer import testing
from lens_steer.activations import encode_text
from lens_steer.engine.generate import generate
from lens_steer.engine.types import SteerSpec
from lens_steer.testing import FAMILIES, tiny_hf_model, tiny_tokenizer
from lens_steer.testing import unit_directions as unit

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matrices: see conftest

PROMPTS = [
    "Once upon a time",
    "<s>The cat sat on the",  # starts with the BOS text, like a chat rendering: no second BOS
    "Hello world, this is a somewhat longer prompt",
    "x",
]
SYSTEM = "<s><|system|>Answer briefly and kindly.</s><|user|>"
SHARED = [SYSTEM + q for q in ("What is 2+2?", "Name a colour", "Why?", "Count to five, please")]
LAMS = [0.0, 4.0, -6.0]


def pair(family):
    """(bridge, untouched HF copy of the same weights)."""
    hf = tiny_hf_model(family)
    reference = copy.deepcopy(hf)
    return ls.load_model(hf, tokenizer=tiny_tokenizer(), device="cpu"), reference


def hf_greedy(reference, tok, prompts, n):
    """transformers' own generate, one prompt at a time (no padding), new tokens decoded."""
    out = []
    for p in prompts:
        ids = torch.tensor([encode_text(tok, p)])
        with torch.no_grad():
            seq = reference.generate(ids, max_new_tokens=n, do_sample=False, pad_token_id=0)
        new = seq[0, ids.shape[1] :].tolist()
        eos = reference.generation_config.eos_token_id
        new = new[: new.index(eos)] if eos in new else new  # generate ends a row at EOS, unshown
        out.append(tok.decode(new, skip_special_tokens=True))
    return out


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_equals_transformers_generate(family):
    model, reference = pair(family)
    for prompts in (PROMPTS, SHARED):  # SHARED: the prefix is computed once (fast path)
        expected = hf_greedy(reference, model.tokenizer, prompts, 10)
        for engine in ("graph", "plain", "hooks"):
            outs = generate(
                model, prompts, max_new_tokens=10, batch_size=3, progress=False, engine=engine
            )
            assert [o[0] for o in outs] == expected, engine


def test_shared_prefix_is_computed_once(monkeypatch):
    from lens_steer.engine import prefill as prefill_step

    model, _ = pair("llama")
    seen = []
    real = prefill_step.prefill

    def spy(*args, **kwargs):
        out = real(*args, **kwargs)
        seen.append(out.shared)
        return out

    monkeypatch.setattr(prefill_step, "prefill", spy)
    monkeypatch.setattr(_decode_module(), "prefill", spy)
    generate(model, SHARED, max_new_tokens=3, progress=False)
    generate(model, PROMPTS, max_new_tokens=3, progress=False)
    assert seen[0] == len(encode_text(model.tokenizer, SYSTEM)) and seen[1] == 0


def _decode_module():
    from lens_steer.engine import decode as decoder

    return decoder


def test_eos_ends_rows_and_finished_rows_leave_the_batch():
    model, reference = pair("llama")
    tok = model.tokenizer
    free = generate(model, PROMPTS, max_new_tokens=12, progress=False)
    # Make a character that appears mid-output the EOS token: rows stop at different steps.
    eos_char = free[0][0][4]
    eos_id = tok.convert_tokens_to_ids(eos_char)
    for m in (model.original_model, reference):
        m.generation_config.eos_token_id = eos_id
    expected = hf_greedy(reference, tok, PROMPTS, 12)
    assert len(expected[0]) == 4 and len({len(e) for e in expected}) > 1
    for engine in ("graph", "plain", "hooks"):
        outs = generate(
            model, PROMPTS, max_new_tokens=12, batch_size=4, progress=False, engine=engine
        )
        assert [o[0] for o in outs] == expected, engine


def test_stop_sequences_cut_the_text():
    model, _ = pair("llama")
    free = generate(model, PROMPTS, max_new_tokens=16, progress=False)
    stop = free[0][0][5:7]
    outs = generate(model, PROMPTS, max_new_tokens=16, stop_sequences=[stop], progress=False)
    for f, o in zip(free, outs, strict=True):
        cut = f[0].find(stop)
        assert o[0] == (f[0] if cut == -1 else f[0][:cut])
    assert len(outs[0][0]) <= 5


@pytest.mark.parametrize("family", ["llama", "gemma3"])
@pytest.mark.parametrize("positions", ["all", "generated", "last_prompt"])
def test_lambda_batching_equals_steer_context(family, positions):
    model, _ = pair(family)
    vecs = ls.SteeringVectors(unit(3, 32, seed=4), (0, 1, 2))
    for prompts in (PROMPTS, SHARED):
        outs = generate(
            model,
            prompts,
            vectors=vecs,
            lams=LAMS,
            positions=positions,
            max_new_tokens=8,
            batch_size=5,
            progress=False,
        )
        assert len(outs) == len(prompts) and all(len(o) == len(LAMS) for o in outs)
        for k, lam in enumerate(LAMS):
            with ls.steer(model, vecs, lam=lam, positions=positions):
                inside = generate(model, prompts, max_new_tokens=8, batch_size=3, progress=False)
            assert [o[k] for o in outs] == [o[0] for o in inside], (lam, prompts)
        plain = generate(model, prompts, max_new_tokens=8, progress=False)
        assert [o[0] for o in outs] == [o[0] for o in plain]  # λ = 0 is the unsteered model
        assert any(o[1] != o[0] for o in outs)  # λ = 4 on unit vectors changes the text


@pytest.mark.parametrize("family", FAMILIES)
def test_fast_path_equals_hook_path(family):
    """The plain-module engine (forward hooks on HF layers, own KV cache) and the static decoder
    (delta buffers, fixed-shape steps) = the bridge's hooks, at every positions rule."""
    model, _ = pair(family)
    vecs = ls.SteeringVectors(unit(2, 32, seed=1), (0, 2))
    kw = dict(vectors=vecs, lams=[0.5, 5.0], max_new_tokens=8, batch_size=3, progress=False)
    for prompts in (PROMPTS, SHARED):
        for positions in ("all", "generated", "last_prompt"):
            slow = generate(model, prompts, engine="hooks", positions=positions, **kw)
            for engine in ("plain", "graph"):
                assert generate(model, prompts, engine=engine, positions=positions, **kw) == slow


def test_fast_path_logits_equal_hook_path_per_step():
    from lens_steer.engine import decode as decoder

    model, _ = pair("mistral")
    vecs = ls.SteeringVectors(unit(3, 32, seed=2), (0, 1, 2))
    spec = SteerSpec(vecs.directions, vecs.layers, None, "all")
    seqs = []
    for engine in ("plain", "hooks"):
        backend = decoder.make_backend(model, engine, attn="eager")
        ids = torch.tensor([encode_text(model.tokenizer, PROMPTS[2])]).repeat(2, 1)
        mask = torch.ones_like(ids)
        pos = torch.arange(ids.shape[1]).repeat(2, 1)
        adder = decoder.Adder(spec, [0.0, 3.0], torch.device("cpu"), torch.float32)
        cache = backend.new_cache(ids.shape[1] + 4)
        with torch.no_grad(), backend.attach(adder):
            out = [backend.forward(ids, mask, pos, cache)]
            adder.phase = "decode"
            tok = out[-1].argmax(-1)
            for step in range(3):
                m = torch.ones(2, ids.shape[1] + step + 1, dtype=torch.long)
                p = torch.full((2, 1), ids.shape[1] + step)
                out.append(backend.forward(tok[:, None], m, p, cache))
                tok = out[-1].argmax(-1)
        seqs.append(torch.stack(out))
    assert torch.equal(seqs[0], seqs[1])  # same kernels (eager): bit-identical


def test_relative_lambda_matches_steer():
    model, _ = pair("phi3")
    vecs = ls.SteeringVectors(unit(2, 32, seed=3), (1, 2))
    texts = ["one text here", "and another one"]
    outs = generate(
        model,
        PROMPTS[:2],
        vectors=vecs,
        lams=[0.5],
        relative=True,
        norm_texts=texts,
        max_new_tokens=6,
        progress=False,
    )
    with ls.steer(model, vecs, lam=0.5, relative=True, norm_texts=texts):
        inside = generate(model, PROMPTS[:2], max_new_tokens=6, progress=False)
    assert outs == inside


def test_sampling_is_seeded_and_batch_independent():
    model, _ = pair("llama")
    kw = dict(max_new_tokens=8, temperature=1.0, n_samples=3, progress=False)
    a = generate(model, PROMPTS, seed=1, batch_size=4, **kw)
    b = generate(model, PROMPTS, seed=1, batch_size=1, **kw)
    c = generate(model, PROMPTS, seed=2, batch_size=4, **kw)
    assert a == b and a != c
    assert all(len(row) == 3 for row in a) and any(len(set(row)) > 1 for row in a)


def test_bad_arguments():
    model, _ = pair("llama")
    vecs = ls.SteeringVectors(unit(1, 32), (0,))
    cases = [
        (dict(lams=[1.0]), "without vectors"),
        (dict(vectors=vecs, lams=[float("nan")]), "finite"),
        (dict(vectors=vecs, lams=[[1.0, 2.0]]), "per-layer"),
        (dict(n_samples=2), "temperature"),
        (dict(positions="middle"), "unknown positions"),
        (dict(stop_sequences=[""]), "non-empty"),
        (dict(engine="turbo"), "unknown engine"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            generate(model, PROMPTS, progress=False, **kwargs)
    with pytest.raises(TypeError, match="single string"):
        generate(model, "one prompt")
    for engine in ("plain", "graph"):
        with ls.steer(model, vecs, lam=1.0), pytest.raises(ValueError, match="bypass"):
            generate(model, PROMPTS, engine=engine, progress=False)
    with pytest.raises(ValueError, match="vector width"):
        generate(model, PROMPTS, vectors=ls.SteeringVectors(unit(1, 48), (0,)), lams=[1.0])
    assert generate(model, [], progress=False) == []


def test_engine_choice(monkeypatch):
    from lens_steer.engine import plan
    from lens_steer.engine.plan import pick_engine

    model, _ = pair("llama")
    assert pick_engine(model, "auto") == "plain"  # CPU: no graphs to capture
    with monkeypatch.context() as m:
        m.setattr(plan, "model_device", lambda _: torch.device("cuda"))
        assert pick_engine(model, "auto") == "graph"
    with ls.steer(model, ls.SteeringVectors(unit(1, 32), (0,)), lam=1.0):
        assert pick_engine(model, "auto") == "hooks"
    assert pick_engine(model, "auto") == "plain"
    processed = testing.tiny_model("llama", processed=True)  # folded weights: HF modules differ
    assert pick_engine(processed, "auto") == "hooks"
    with pytest.raises(ValueError, match="raw-coordinate"):
        pick_engine(processed, "graph")
    assert len(generate(processed, PROMPTS[:2], max_new_tokens=4, progress=False)) == 2
    with pytest.raises(TypeError, match="TransformerBridge"):
        generate(torch.nn.Linear(2, 2), PROMPTS)
