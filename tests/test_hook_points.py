"""Hook points beyond resid_post: extraction reads them, steering writes them, and each equals a
plain transformers forward hook on the HF module it names (decoder layer input, self_attn output,
mlp output, decoder layer output; for Gemma's sandwich norms the post-attention and
post-feed-forward norms' outputs, what enters the residual stream); the engine steers at the
vectors' own hook point."""

from __future__ import annotations

import pytest
import torch

import lens_steer as ls
from lens_steer.engine.generate import generate
from lens_steer.errors import InputError
from lens_steer.testing import tiny_hf_model, tiny_tokenizer, unit_directions

pytestmark = pytest.mark.usefixtures("one_thread")

TEXT = "The cat sat on the mat and looked at the door"


def _pair(family: str):
    hf = tiny_hf_model(family, 32, 3)
    ref = tiny_hf_model(family, 32, 3)  # the same seed: the same weights, never hooked by us
    return ls.load_model(hf, tokenizer=tiny_tokenizer(), device="cpu"), ref


def _vecs(point: str) -> ls.SteeringVectors:
    meta = {"hook_point": f"hook_{point}"}
    return ls.SteeringVectors(unit_directions(2, 32, seed=7) * 3.0, (0, 2), meta=meta)


def _hf_hooked(ref, point: str, vecs: ls.SteeringVectors, lam: float, ids) -> torch.Tensor:
    """The definition on the HF modules: add λ·v where ``point`` says."""
    handles = []
    for k in vecs.layers:
        layer, v = ref.model.layers[k], lam * vecs[k]
        if point == "resid_pre":

            def pre(module, args, kwargs, v=v):
                if args:
                    return (args[0] + v, *args[1:]), kwargs
                return args, {**kwargs, "hidden_states": kwargs["hidden_states"] + v}

            handles.append(layer.register_forward_pre_hook(pre, with_kwargs=True))
            continue
        # Gemma's sandwich norms: what attention and the MLP add to the residual stream is their
        # post-norm's output, which is where TransformerLens puts hook_attn_out / hook_mlp_out
        sandwich = hasattr(layer, "post_feedforward_layernorm")
        module = {
            "attn_out": layer.post_attention_layernorm if sandwich else layer.self_attn,
            "mlp_out": layer.post_feedforward_layernorm if sandwich else layer.mlp,
            "resid_post": layer,
        }[point]

        def post(module, args, output, v=v):
            if isinstance(output, tuple):
                return (output[0] + v, *output[1:])
            return output + v

        handles.append(module.register_forward_hook(post))
    try:
        with torch.no_grad():
            return ref(ids).logits
    finally:
        for h in handles:
            h.remove()


@pytest.mark.parametrize("family", ["llama", "qwen2", "gemma3"])
@pytest.mark.parametrize("point", ["resid_pre", "attn_out", "mlp_out", "resid_post"])
def test_steering_a_hook_point_equals_a_forward_hook_on_its_module(family, point):
    model, ref = _pair(family)
    vecs = _vecs(point)
    ids = model.tokenizer([TEXT], return_tensors="pt")["input_ids"]
    with torch.no_grad(), ls.steer(model, vecs, lam=1.5):
        ours = model(ids)
    theirs = _hf_hooked(ref, point, vecs, 1.5, ids)
    plain = _hf_hooked(ref, point, vecs, 0.0, ids)
    assert not torch.allclose(theirs, plain, atol=1e-3)
    torch.testing.assert_close(ours, theirs, atol=3e-5, rtol=1e-5)


@pytest.mark.parametrize("point", ["resid_pre", "resid_mid", "attn_out", "mlp_out"])
def test_extract_reads_the_hook_point_and_records_it(point):
    model, _ = _pair("llama")
    pairs = [("a good answer", "a bad result"), ("the right one", "the wrong way"),
             ("yes indeed", "no thanks")]  # fmt: skip
    vecs = ls.extract(model, pairs, hook=point, progress=False)
    assert vecs.meta["hook_point"] == f"hook_{point}"
    acts = ls.last_token_activations(model, [p for p, _ in pairs], [1], hook=point, progress=False)
    _, cache = model.run_with_cache(
        model.tokenizer([pairs[0][0]], return_tensors="pt")["input_ids"]
    )
    torch.testing.assert_close(acts[0, 0], cache[f"blocks.1.hook_{point}"][0, -1].float())


@pytest.mark.parametrize("family", ["llama", "gemma3"])
@pytest.mark.parametrize("point", ["attn_out", "mlp_out", "resid_pre", "resid_mid"])
def test_engine_steers_at_the_vectors_hook_point(family, point):
    """The plain decoder hooks the HF module of every point but resid_mid (no module computes
    it: the bridge's hooks serve it); both equal ls.steer's hook path, λ-batched."""
    model, _ = _pair(family)
    vecs = _vecs(point)
    prompts = ["Once upon a time", "x"]
    engine = "hooks" if point == "resid_mid" else "plain"
    outs = generate(model, prompts, vectors=vecs, lams=[0.0, 4.0, -4.0], max_new_tokens=6,
                    engine=engine, progress=False)  # fmt: skip
    for k, lam in ((1, 4.0), (2, -4.0)):
        with ls.steer(model, vecs, lam=lam):
            inside = generate(model, prompts, max_new_tokens=6, progress=False)
        assert [o[k] for o in outs] == [o[0] for o in inside]
    assert [o[1] for o in outs] != [o[0] for o in outs]  # the steering changed something
    if point == "resid_mid":
        with pytest.raises(ValueError, match="cannot reach hook point"):
            generate(model, prompts, vectors=vecs, lams=[1.0], engine="plain", max_new_tokens=2,
                     progress=False)  # fmt: skip


@pytest.mark.parametrize("op", ["add", "ablate", "clamp"])
@pytest.mark.parametrize("point", ["attn_out", "mlp_out", "resid_pre"])
def test_loglik_on_the_plain_decoder_equals_score_choices_under_steer(point, op):
    from pathlib import Path

    from lens_steer.engine.loglik import score_choices_lams
    from lens_steer.tasks import get_task, score_choices

    model, _ = _pair("gemma3")
    vecs = _vecs(point)
    task = get_task(
        "arc_challenge", data_dir=Path(__file__).parents[2] / "shared/data/arc_challenge"
    )
    exs = task.load("dev")[:4]
    lams = [0.5, 3.0]
    res = score_choices_lams(model, task, exs, vecs, lams, op=op, engine="plain", progress=False)
    for lam, got in zip(lams, res, strict=True):
        with ls.steer(model, vecs, lam=lam, op=op):
            want = score_choices(model, task, exs, batch_size=16)
        for a, b in zip(got.scores, want.scores, strict=True):
            torch.testing.assert_close(torch.tensor(a), torch.tensor(b), atol=2e-4, rtol=1e-5)


def test_relative_lambda_uses_the_norm_at_the_hook_point():
    model, _ = _pair("llama")
    vecs = _vecs("mlp_out")
    texts = ["a few words of text", "another short line"]
    norms = ls.residual_norms(model, texts, vecs.layers, hook="mlp_out")
    with ls.steer(model, vecs, lam=0.1, relative=True, norm_texts=texts) as st:
        pass
    torch.testing.assert_close(st.coefficients[:, 0], 0.1 * norms)
    assert not torch.allclose(norms, ls.residual_norms(model, texts, vecs.layers))


def test_unknown_hook_points_are_refused():
    model, _ = _pair("llama")
    with pytest.raises(InputError, match="hook point"):
        ls.extract(model, [("a b", "c d"), ("e f", "g h")], hook="attn_scores", progress=False)


def test_transfer_keeps_the_hook_point_unless_asked():
    parent, _ = _pair("llama")
    child = ls.load_model(tiny_hf_model("qwen2", 48, 4, seed=1), tokenizer=tiny_tokenizer(),
                          device="cpu")  # fmt: skip
    vecs = _vecs("mlp_out")
    texts = [f"anchor text number {i} about things" for i in range(10)]
    kw = dict(source_model=parent, width="ridge", anchor_texts=texts, progress=False)
    same = ls.transfer(vecs, child, **kw)
    assert same.meta["hook_point"] == "hook_mlp_out" and "source_hook_point" not in same.meta
    moved = ls.transfer(vecs, child, hook="resid_post", **kw)
    assert moved.meta["hook_point"] == "hook_resid_post"
    assert moved.meta["source_hook_point"] == "hook_mlp_out"
    assert not torch.allclose(same.directions, moved.directions)  # fitted on other activations
    with ls.steer(child, same, lam=1.0):  # steers the child's mlp_out
        pass


def test_run_configs_take_an_extraction_hook_and_old_hashes_hold():
    from lens_steer.pipeline.config import config_hash, validate_config

    base = {"parent": "p", "child": "c", "tasks": [{"name": "gsm8k"}]}
    cfg = validate_config(base)
    assert cfg["extract"]["hook"] == "resid_post"
    old = {**cfg, "extract": {k: v for k, v in cfg["extract"].items() if k != "hook"}}
    assert config_hash(cfg) == config_hash(old)
    mlp = validate_config({**base, "extract": {"hook": "mlp_out"}})
    assert config_hash(mlp) != config_hash(cfg)
    with pytest.raises(ValueError, match="hook"):
        validate_config({**base, "extract": {"hook": "attn_pattern"}})


def _foreign(kind: str):
    """Families whose sub-layer outputs are not what the block adds: Granite scales them by
    residual_multiplier; GPT-2's attention is ``attn``, not ``self_attn``."""
    import transformers as tf

    tok = tiny_tokenizer()
    torch.manual_seed(0)
    if kind == "granite":
        cfg = tf.GraniteConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                               num_attention_heads=2, num_key_value_heads=2,
                               vocab_size=len(tok), residual_multiplier=0.25,
                               max_position_embeddings=512)  # fmt: skip
        hf = tf.GraniteForCausalLM(cfg).eval()
    else:
        cfg = tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, vocab_size=len(tok), n_positions=256)
        hf = tf.GPT2LMHeadModel(cfg).eval()
    return ls.load_model(hf, tokenizer=tok, device="cpu")


@pytest.mark.parametrize("kind", ["granite", "gpt2"])
@pytest.mark.parametrize("point", ["attn_out", "mlp_out"])
def test_sublayer_points_of_other_families_steer_through_the_bridge(kind, point):
    from lens_steer.engine.plain import plain_points

    model = _foreign(kind)
    assert f"hook_{point}" not in plain_points(model)
    assert "hook_resid_post" in plain_points(model)
    vecs = ls.SteeringVectors(unit_directions(2, 32, seed=1) * 4.0, (0, 1),
                              meta={"hook_point": f"hook_{point}"})  # fmt: skip
    prompts = ["hello there friend", "the cat"]
    outs = generate(model, prompts, vectors=vecs, lams=[3.0], max_new_tokens=4, progress=False)
    with ls.steer(model, vecs, lam=3.0):
        ref = generate(model, prompts, max_new_tokens=4, progress=False)
    assert [o[0] for o in outs] == [r[0] for r in ref]
    with pytest.raises(ValueError, match="cannot reach hook point"):
        generate(model, prompts, vectors=vecs, lams=[3.0], engine="plain", max_new_tokens=2,
                 progress=False)  # fmt: skip
