"""lens_steer's core API on TransformerLens 3.x ``HookedTransformer`` models.

lens_steer only needs the TransformerLens hook interface (``cfg.n_layers``, ``cfg.d_model``,
``tokenizer``, ``hooks(fwd_hooks=...)``, ``run_with_cache``, forward with ``attention_mask=``).
These tests build small random ``HookedTransformer``s — a rotary Llama-like one (RMSNorm, gated
SiLU MLP, grouped-query attention) and a GPT-2-like one (learned absolute positions, LayerNorm) —
and check extraction, steering, transfer and the steering ratio against hand computations.
"""

import importlib.metadata

import pytest
import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

import lens_steer as ls
from lens_steer.testing import tiny_tokenizer

ARCHS = ("llama", "gpt2")
L = "blocks.{}.hook_resid_post"
PAIRS = [
    ("The answer is 4. Correct.", "The answer is 5. Wrong."),
    ("x = 2, so y = 6", "x = 2, so y = 7"),
    ("hello there, friend", "goodbye"),
    ("A long careful derivation of the value step by step", "A guess"),
    ("yes", "no, not at all, never"),
]
TEXT = "Steer this sentence, please."


def hooked(arch: str, d_model: int = 32, n_layers: int = 3, seed: int = 0) -> HookedTransformer:
    tok = tiny_tokenizer()
    common = dict(
        d_model=d_model,
        n_layers=n_layers,
        d_head=8,
        n_heads=d_model // 8,
        n_ctx=128,
        d_vocab=len(tok),
        seed=seed,
        device="cpu",
        model_name=f"tiny-{arch}-{d_model}x{n_layers}",
    )
    if arch == "llama":
        cfg = HookedTransformerConfig(
            **common,
            d_mlp=2 * d_model,
            act_fn="silu",
            gated_mlp=True,
            normalization_type="RMS",
            final_rms=True,
            positional_embedding_type="rotary",
            rotary_dim=8,
            n_key_value_heads=2,
            original_architecture="LlamaForCausalLM",
        )
    elif arch == "gpt2":
        cfg = HookedTransformerConfig(
            **common,
            d_mlp=4 * d_model,
            act_fn="gelu_new",
            normalization_type="LN",
            positional_embedding_type="standard",
            original_architecture="GPT2LMHeadModel",
        )
    else:
        raise ValueError(arch)
    model = HookedTransformer(cfg, tokenizer=tok)
    return model.eval()


_MODELS: dict = {}


def model_of(arch: str, **kw) -> HookedTransformer:
    key = (arch, tuple(sorted(kw.items())))
    if key not in _MODELS:
        _MODELS[key] = hooked(arch, **kw)
    return _MODELS[key]


@pytest.fixture(params=ARCHS)
def model(request):
    return model_of(request.param)


def unit(n, d, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=gen), dim=-1)


def ids_of(model, text):
    return torch.tensor([model.tokenizer(text)["input_ids"]])


def hook_count(model):
    """Forward hooks on the model's HookPoints; TL's own handle lists must agree with torch's."""
    points = {id(hp): hp for hp in model.hook_dict.values()}.values()
    torch_level = sum(len(hp._forward_hooks) for hp in points)
    assert sum(len(hp.fwd_hooks) for hp in points) == torch_level
    return torch_level


def resid(model, ids, layer):
    _, cache = model.run_with_cache(ids, names_filter=L.format(layer))
    return cache[L.format(layer)][0]


# --------------------------------------------------------------------------- environment


def test_runs_on_transformer_lens_3():
    assert importlib.metadata.version("transformer-lens").startswith("3.")
    m = model_of("llama")
    assert type(m) is HookedTransformer and m.cfg.positional_embedding_type == "rotary"
    assert model_of("gpt2").cfg.positional_embedding_type == "standard"
    assert m.cfg.n_layers == 3 and m.cfg.d_model == 32 and m.cfg.d_vocab == len(m.tokenizer)


# --------------------------------------------------------------------------- (a) extraction


def by_hand_last_token(model, text):
    """hook_resid_post of every layer at the last token, one unpadded prompt at a time."""
    with torch.no_grad():
        _, cache = model.run_with_cache(ids_of(model, text))
    return torch.stack([cache[L.format(i)][0, -1] for i in range(model.cfg.n_layers)])


def test_pairs_really_need_padding(model):
    lengths = {len(model.tokenizer(t)["input_ids"]) for pair in PAIRS for t in pair}
    assert len(lengths) >= 6  # every batch below mixes lengths, so left padding is exercised


def test_batched_left_padded_activations_equal_single_prompts(model):
    texts = [t for pair in PAIRS for t in pair]
    batched = ls.last_token_activations(model, texts, batch_size=4, progress=False)
    hand = torch.stack([by_hand_last_token(model, t) for t in texts])
    assert batched.shape == (len(texts), 3, 32)
    assert torch.allclose(batched, hand, atol=1e-5), (batched - hand).abs().max()
    assert hook_count(model) == 0  # the early stop after the deepest layer left no hook behind


@pytest.mark.parametrize("method", ["svd", "mean-diff"])
def test_extract_equals_by_hand_computation(model, method):
    vecs = ls.extract(model, PAIRS, method=method, batch_size=3, progress=False)
    diffs = torch.stack(
        [by_hand_last_token(model, p) - by_hand_last_token(model, n) for p, n in PAIRS]
    )
    unit_d = diffs / diffs.norm(dim=-1, keepdim=True)
    for layer in range(3):
        d = unit_d[:, layer].double()
        if method == "svd":
            v = torch.linalg.svd(d, full_matrices=False)[2][0]
        else:
            v = d.mean(0)
        v = (v / v.norm()).float()
        if (diffs[:, layer] @ v > 0).float().mean() < 0.5:  # sign: s⁺ above s⁻ on most pairs
            v = -v
        assert torch.allclose(vecs.directions[layer], v, atol=1e-4), layer
        agree = float((diffs[:, layer] @ v > 0).float().mean())
        assert vecs.sign_agreement[layer] == pytest.approx(agree)
    assert vecs.layers == (0, 1, 2)
    assert vecs.meta["model_d_model"] == 32 and vecs.meta["model_n_layers"] == 3
    assert vecs.meta["source_model"] == model.cfg.model_name


def test_extract_pca_on_hand_differences_and_layer_subset(model):
    vecs = ls.extract(model, PAIRS, layers=[2, 0], batch_size=2, progress=False, seed=3)
    diffs = torch.stack(
        [by_hand_last_token(model, p) - by_hand_last_token(model, n) for p, n in PAIRS]
    )
    expected, _, _ = ls.directions_from_differences(diffs[:, [2, 0]], method="pca", seed=3)
    assert vecs.layers == (2, 0)
    assert torch.allclose(vecs.directions, expected, atol=1e-4)
    assert torch.allclose(vecs.directions.norm(dim=-1), torch.ones(2), atol=1e-5)


# --------------------------------------------------------------------------- (b) steering


def test_steering_equals_hand_written_hooks(model):
    vecs = ls.SteeringVectors(unit(2, 32, seed=1), (0, 2))
    lams = [2.0, -1.5]
    ids = ids_of(model, TEXT)

    def adder(row):
        def hook(act, hook):
            return act + lams[row] * vecs.directions[row]

        return hook

    with torch.no_grad():
        expected = model.run_with_hooks(
            ids, fwd_hooks=[(L.format(layer), adder(i)) for i, layer in enumerate(vecs.layers)]
        )
        with ls.steer(model, vecs, lam=lams):
            steered = model(ids)
        plain = model(ids)
    assert torch.allclose(steered, expected, atol=1e-5), (steered - expected).abs().max()
    assert (steered - plain).abs().max() > 1e-3  # the steering really changed the logits


def test_adds_exactly_lambda_v_at_hook_resid_post(model):
    vecs = ls.SteeringVectors(unit(1, 32, seed=2), (1,))
    ids = ids_of(model, TEXT)
    with torch.no_grad():
        base = resid(model, ids, 1)
        with ls.steer(model, vecs, lam=3.0):
            steered = resid(model, ids, 1)
            before = resid(model, ids, 0)
        base0 = resid(model, ids, 0)
    assert torch.allclose(steered - base, 3.0 * vecs.directions[0].expand_as(base), atol=1e-5)
    assert torch.equal(before, base0)  # nothing upstream of the steered layer moves


def test_hooks_removed_on_exit_and_on_error_and_weights_untouched(model):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = ids_of(model, TEXT)
    with torch.no_grad():
        base = model(ids)
    vecs = ls.SteeringVectors(unit(3, 32), (0, 1, 2))
    assert hook_count(model) == 0
    with ls.steer(model, vecs, lam=5.0):
        assert hook_count(model) == 3
    assert hook_count(model) == 0
    with pytest.raises(RuntimeError, match="inside"):
        with ls.steer(model, vecs, lam=5.0):
            assert hook_count(model) == 3
            raise RuntimeError("inside")
    assert hook_count(model) == 0
    with pytest.raises(ValueError, match="per-row λ values for a batch of 2"):
        with torch.no_grad(), ls.steer(model, vecs, lam=torch.tensor([1.0, 2.0, 3.0])):
            model(ids.repeat(2, 1))  # raised from inside a hook, mid-forward
    assert hook_count(model) == 0
    with torch.no_grad():
        assert torch.equal(model(ids), base)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_per_row_lambda_equals_separate_runs(model):
    vecs = ls.SteeringVectors(unit(3, 32, seed=1), (0, 1, 2))
    ids = ids_of(model, TEXT)
    lams = [0.0, 0.5, -3.0]
    with torch.no_grad():
        separate = []
        for lam in lams:
            with ls.steer(model, vecs, lam=lam):
                separate.append(model(ids)[0])
        with ls.steer(model, vecs, lam=torch.tensor(lams)):
            batched = model(ids.repeat(3, 1))
    assert torch.allclose(batched, torch.stack(separate), atol=1e-5)
    assert (separate[2] - separate[0]).abs().max() > 1e-3


def steered_resid(model, vecs, ids, **kw):
    with torch.no_grad(), ls.steer(model, vecs, **kw):
        return resid(model, ids, 0)


def test_positions_in_a_single_pass(model):
    vecs = ls.SteeringVectors(unit(1, 32), (0,))
    ids = ids_of(model, TEXT)
    base = steered_resid(model, vecs, ids, lam=0.0)
    v = vecs.directions[0]
    every = steered_resid(model, vecs, ids, lam=2.0) - base
    assert torch.allclose(every, 2.0 * v.expand_as(base), atol=1e-5)
    last = steered_resid(model, vecs, ids, lam=2.0, positions="last_prompt") - base
    assert torch.allclose(last[-1], 2.0 * v, atol=1e-5) and last[:-1].abs().max() == 0
    generated = steered_resid(model, vecs, ids, lam=2.0, positions="generated") - base
    assert generated.abs().max() == 0  # a prompt-only pass has no generated positions
    tail = steered_resid(model, vecs, ids, lam=2.0, positions="generated", prompt_len=4) - base
    assert tail[:4].abs().max() == 0
    assert torch.allclose(tail[4:], 2.0 * v.expand_as(tail[4:]), atol=1e-5)


def generate(model, ids, use_cache):
    return model.generate(
        ids,
        max_new_tokens=8,
        do_sample=False,
        stop_at_eos=False,
        use_past_kv_cache=use_cache,
        verbose=False,
    )


@pytest.mark.parametrize("positions", ["all", "generated", "last_prompt"])
def test_positions_agree_with_and_without_kv_cache(model, positions):
    vecs = ls.SteeringVectors(unit(3, 32, seed=2), (0, 1, 2))
    ids = ids_of(model, "Once upon a time")
    plen = ids.shape[1]
    with torch.no_grad():
        plain = generate(model, ids, use_cache=True)
        assert torch.equal(plain, generate(model, ids, use_cache=False))  # TL itself agrees
    runs, calls = {}, {}
    for use_cache in (True, False):
        with torch.no_grad(), ls.steer(model, vecs, lam=8.0, positions=positions) as handle:
            runs[use_cache] = generate(model, ids, use_cache)
        assert handle.prompt_len == plen
        calls[use_cache] = (handle.calls, handle.step)
        assert hook_count(model) == 0
    assert calls[True] == (8, 7)  # prefill + 7 single-token decoding steps
    assert calls[False] == (8, 0)  # 8 full passes over prompt + generated tokens
    assert runs[True].shape == (1, plen + 8)
    assert torch.equal(runs[True], runs[False])
    assert not torch.equal(runs[True], plain)  # λ = 8 is strong enough to change the text
    if positions == "generated":  # the first new token still comes from the unsteered prompt
        assert runs[True][0, plen] == plain[0, plen]
    else:  # the prompt's last position is steered, so the first new token already differs
        with torch.no_grad(), ls.steer(model, vecs, lam=8.0, positions=positions):
            first = model(ids)[0, -1].argmax()
        assert runs[True][0, plen] == first


def test_reset_between_prompts(model):
    vecs = ls.SteeringVectors(unit(1, 32), (0,))
    short, long = ids_of(model, "Hi"), ids_of(model, TEXT)
    expected = steered_resid(model, vecs, long, lam=2.0, positions="last_prompt")
    with torch.no_grad(), ls.steer(model, vecs, lam=2.0, positions="last_prompt") as handle:
        model(short)
        handle.reset()
        got = resid(model, long, 0)
    assert torch.allclose(got, expected)


# --------------------------------------------------------------------------- (c) transfer


@pytest.fixture(scope="module")
def parent():
    return model_of("llama", d_model=48, n_layers=4, seed=3)


@pytest.fixture(scope="module")
def child():
    return model_of("gpt2", d_model=32, n_layers=6, seed=4)


@pytest.fixture(scope="module")
def parent_vecs(parent):
    return ls.extract(parent, PAIRS, method="mean-diff", progress=False)


@pytest.mark.parametrize("width", ["ridge", "procrustes"])
def test_transfer_across_width_and_depth_then_steer_the_child(parent, child, parent_vecs, width):
    assert parent_vecs.d_model == 48 and parent_vecs.layers == (0, 1, 2, 3)
    out = ls.transfer(
        parent_vecs, child, source_model=parent, width=width, layer_map="cka", progress=False
    )
    assert out.d_model == 32 and out.layers == tuple(range(6))
    assert torch.allclose(out.directions.norm(dim=-1), torch.ones(6), atol=1e-5)
    assert torch.isfinite(out.directions).all()
    meta = out.meta
    assert meta["width"] == width and meta["layer_map_method"] == "cka"
    assert meta["target_model"] == child.cfg.model_name == "tiny-gpt2-32x6"
    assert meta["source_model"] == parent.cfg.model_name == "tiny-llama-48x4"
    assert [c for c, _ in meta["layer_map"]] == list(range(6))
    assert all(p in parent_vecs.layers for _, p in meta["layer_map"])
    assert len(meta["cka"]) == 6 and all(0 <= c <= 1 + 1e-6 for c in meta["cka"])
    assert len(meta["width_r2"]) == 6 and all(r <= 1 for r in meta["width_r2"])
    raw = ls.transfer(
        parent_vecs,
        child,
        source_model=parent,
        width=width,
        layer_map="cka",
        normalize=False,
        progress=False,
    )
    raw_norms = raw.directions.norm(dim=-1, keepdim=True)
    assert torch.allclose(raw.directions / raw_norms, out.directions, atol=1e-5)
    if width == "procrustes":  # a 48 → 32 map with orthonormal columns can only shrink a vector
        assert (raw_norms <= 1 + 1e-5).all()

    # The child takes the transferred vectors: λ·v lands at every mapped layer's residual.
    ids = ids_of(child, TEXT)
    with torch.no_grad():
        plain = child(ids)
        _, base = child.run_with_cache(ids)
        with ls.steer(child, out, lam=1.5):
            steered = child(ids)
        single = ls.SteeringVectors(out.directions[4:5], (4,))
        with ls.steer(child, single, lam=1.5):
            _, cache = child.run_with_cache(ids)
    delta = cache[L.format(4)][0] - base[L.format(4)][0]
    assert torch.allclose(delta, 1.5 * out.directions[4].expand_as(delta), atol=1e-5)
    assert (steered - plain).abs().max() > 1e-3
    assert hook_count(child) == 0


def test_cka_map_of_a_hooked_model_onto_itself_is_the_identity(parent, parent_vecs):
    out = ls.transfer(parent_vecs, parent, source_model=parent, layer_map="cka", progress=False)
    assert out.meta["layer_map"] == [[0, 0], [1, 1], [2, 2], [3, 3]]
    assert out.meta["cka"] == pytest.approx([1.0] * 4)
    assert torch.allclose(out.directions, parent_vecs.directions)


# --------------------------------------------------------------------------- (d) steering ratio


def test_steering_ratio_matches_by_hand(model):
    vecs = ls.SteeringVectors(unit(2, 32), (0, 2))
    texts = ["one text here", "and another, longer one", "x"]
    ratio = ls.steering_ratio(model, vecs, 0.5, texts, batch_size=2)
    norms = []
    for layer in vecs.layers:
        values = []
        for t in texts:
            with torch.no_grad():
                _, cache = model.run_with_cache(ids_of(model, t))
            values.append(cache[L.format(layer)][0, 1:].norm(dim=-1))  # skip each text's first
        norms.append(torch.cat(values).mean())
    assert ratio.shape == (2,)
    assert torch.allclose(ratio, 0.5 / torch.stack(norms), rtol=1e-4)
    assert torch.allclose(
        ls.steering_ratio(model, vecs, [1.0, -2.0], texts),
        torch.tensor([2.0, 4.0]) * ratio,
        rtol=1e-4,
    )


def test_relative_lambda_scales_by_residual_norm(model):
    vecs = ls.SteeringVectors(unit(2, 32), (1, 2))
    texts = ["one text here", "and another one"]
    norms = ls.residual_norms(model, texts, vecs.layers)
    ids = ids_of(model, TEXT)
    with torch.no_grad():
        with ls.steer(model, vecs, lam=0.1, relative=True, norm_texts=texts) as handle:
            rel = model(ids)
        with ls.steer(model, vecs, lam=(0.1 * norms).tolist()):
            absolute = model(ids)
    assert torch.allclose(handle.coefficients[:, 0], 0.1 * norms)
    assert torch.allclose(rel, absolute, atol=1e-5)
