"""lens_steer's steering and steering ratio on TransformerLens 3.x ``HookedTransformer`` models:
hand-written hooks, positions with and without a KV cache, hook removal, per-row λ.
"""

import pytest
import torch
from tl3_models import TEXT, L, hook_count, ids_of, resid, unit

import lens_steer as ls


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
