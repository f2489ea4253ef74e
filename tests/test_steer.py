import copy

import numpy as np
import pytest
import torch

import lens_steer as ls
from lens_steer import errors as ls_errors
from lens_steer.testing import FAMILIES, tiny_hf_model, tiny_model, tiny_tokenizer
from lens_steer.testing import unit_directions as unit

TEXT = "Steer this sentence, please."


def ids_of(model, texts):
    return model.tokenizer(texts, return_tensors="pt").input_ids


@pytest.mark.parametrize("family", FAMILIES)
def test_bridge_steering_equals_hf_forward_hooks(family):
    hf = tiny_hf_model(family)
    reference = copy.deepcopy(hf)
    model = ls.load_model(hf, tokenizer=tiny_tokenizer(), device="cpu")
    vecs = ls.SteeringVectors(unit(2, 32), (0, 2))
    lams = [2.0, -1.5]
    ids = ids_of(model, [TEXT])
    with torch.no_grad(), ls.steer(model, vecs, lam=lams):
        steered = model(ids)

    def adder(row):
        def hook(module, args, output):
            delta = lams[row] * vecs.directions[row]
            if isinstance(output, tuple):
                return (output[0] + delta, *output[1:])
            return output + delta

        return hook

    handles = [
        reference.model.layers[layer].register_forward_hook(adder(i))
        for i, layer in enumerate(vecs.layers)
    ]
    try:
        with torch.no_grad():
            expected = reference(ids).logits
    finally:
        for h in handles:
            h.remove()
    assert (steered - expected).abs().max() < 1e-4
    with torch.no_grad():
        assert (model(ids) - steered).abs().max() > 1e-3  # steering really changed something


def hook_count(model):
    unique = {id(hp): hp for hp in model.hook_dict.values()}  # aliases share a HookPoint
    return sum(len(hp._forward_hooks) for hp in unique.values())


def test_hooks_removed_on_exit_and_on_error_and_weights_untouched():
    model = tiny_model("llama")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    ids = ids_of(model, [TEXT])
    with torch.no_grad():
        base = model(ids)
    vecs = ls.SteeringVectors(unit(3, 32), (0, 1, 2))
    with ls.steer(model, vecs, lam=5.0):
        assert hook_count(model) == 3
    assert hook_count(model) == 0
    with pytest.raises(RuntimeError, match="inside"):
        with ls.steer(model, vecs, lam=5.0):
            raise RuntimeError("inside")
    assert hook_count(model) == 0
    with torch.no_grad():
        assert torch.equal(model(ids), base)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_per_row_lambda_equals_separate_runs():
    model = tiny_model("qwen2")
    vecs = ls.SteeringVectors(unit(3, 32, seed=1), (0, 1, 2))
    ids = ids_of(model, [TEXT])
    lams = [0.0, 0.5, 3.0]
    with torch.no_grad():
        separate = []
        for lam in lams:
            with ls.steer(model, vecs, lam=lam):
                separate.append(model(ids)[0])
        with ls.steer(model, vecs, lam=torch.tensor(lams)):
            batched = model(ids.repeat(3, 1))
    assert torch.allclose(batched, torch.stack(separate), atol=1e-5)
    with pytest.raises(ValueError, match="per-row λ values for a batch of 2"):
        with torch.no_grad(), ls.steer(model, vecs, lam=torch.tensor(lams)):
            model(ids.repeat(2, 1))


def resid_after(model, vecs, ids, **kw):
    with torch.no_grad(), ls.steer(model, vecs, **kw):
        _, cache = model.run_with_cache(ids, names_filter="blocks.0.hook_resid_post")
    return cache["blocks.0.hook_resid_post"][0]


def test_positions_in_a_single_pass():
    model = tiny_model("llama")
    vecs = ls.SteeringVectors(unit(1, 32), (0,))
    ids = ids_of(model, [TEXT])
    base = resid_after(model, vecs, ids, lam=0.0)
    every = resid_after(model, vecs, ids, lam=2.0)
    assert torch.allclose(every - base, 2.0 * vecs.directions[0].expand_as(base), atol=1e-5)
    last = resid_after(model, vecs, ids, lam=2.0, positions="last_prompt") - base
    assert torch.allclose(last[-1], 2.0 * vecs.directions[0], atol=1e-5)
    assert last[:-1].abs().max() == 0
    generated = resid_after(model, vecs, ids, lam=2.0, positions="generated") - base
    assert generated.abs().max() == 0  # a prompt-only pass has no generated positions
    tail = resid_after(model, vecs, ids, lam=2.0, positions="generated", prompt_len=4) - base
    assert tail[:4].abs().max() == 0 and tail[4:].abs().min() > 0


@pytest.mark.parametrize("positions", ["all", "generated", "last_prompt"])
def test_positions_agree_with_and_without_kv_cache(positions):
    model = tiny_model("mistral")
    vecs = ls.SteeringVectors(unit(3, 32, seed=2), (0, 1, 2))
    ids = ids_of(model, ["Once upon a time"])
    runs = {}
    for use_cache in (True, False):
        with torch.no_grad(), ls.steer(model, vecs, lam=8.0, positions=positions) as handle:
            runs[use_cache] = model.original_model.generate(
                ids, max_new_tokens=6, do_sample=False, use_cache=use_cache, pad_token_id=0
            )
        assert handle.prompt_len == ids.shape[1]
    with torch.no_grad():
        plain = model.original_model.generate(
            ids, max_new_tokens=6, do_sample=False, pad_token_id=0
        )
    assert torch.equal(runs[True], runs[False])
    assert not torch.equal(runs[True], plain)  # λ = 8 is strong enough to change the text
    if positions == "generated":  # the first new token comes from the unsteered prompt
        assert runs[True][0, ids.shape[1]] == plain[0, ids.shape[1]]


def test_reset_between_prompts():
    model = tiny_model("llama")
    vecs = ls.SteeringVectors(unit(1, 32), (0,))
    short, long = ids_of(model, ["Hi"]), ids_of(model, [TEXT])
    expected = resid_after(model, vecs, long, lam=2.0, positions="last_prompt")
    with torch.no_grad(), ls.steer(model, vecs, lam=2.0, positions="last_prompt") as handle:
        model(short)
        handle.reset()
        _, cache = model.run_with_cache(long, names_filter="blocks.0.hook_resid_post")
    assert torch.allclose(cache["blocks.0.hook_resid_post"][0], expected)


def test_relative_lambda_scales_by_residual_norm():
    model = tiny_model("phi3")
    vecs = ls.SteeringVectors(unit(2, 32), (1, 2))
    texts = ["one text here", "and another one"]
    norms = ls.residual_norms(model, texts, vecs.layers, progress=False)
    ids = ids_of(model, [TEXT])
    with torch.no_grad():
        with ls.steer(model, vecs, lam=0.1, relative=True, norm_texts=texts):
            rel = model(ids)
        with ls.steer(model, vecs, lam=(0.1 * norms).tolist()):
            absolute = model(ids)
        with ls.steer(model, vecs, lam=0.1, relative=True, reference_norms=norms):
            given = model(ids)
    assert torch.allclose(rel, absolute, atol=1e-5) and torch.allclose(given, absolute, atol=1e-5)


def test_steering_ratio_matches_by_hand():
    model = tiny_model("gemma2")
    vecs = ls.SteeringVectors(unit(2, 32), (0, 2))
    texts = ["one text here", "and another one"]
    ratio = ls.steering_ratio(model, vecs, 0.5, texts)
    norms = []
    for layer in vecs.layers:
        values = []
        for t in texts:
            _, cache = model.run_with_cache(ids_of(model, [t]))
            values.append(cache[f"blocks.{layer}.hook_resid_post"][0, 1:].norm(dim=-1))
        norms.append(torch.cat(values).mean())
    assert torch.allclose(ratio, 0.5 / torch.stack(norms), rtol=1e-4)


def test_bad_inputs():
    model = tiny_model("llama")
    with pytest.raises(ValueError, match="vector width 48 ≠ model d_model 32"):
        with ls.steer(model, ls.SteeringVectors(unit(1, 48), (0,))):
            pass
    vecs = ls.SteeringVectors(unit(2, 32), (0, 999))
    with pytest.raises(ValueError, match=r"layers \[999\] do not exist in .* has 3 layers"):
        with ls.steer(model, vecs):
            pass
    vecs = ls.SteeringVectors(unit(2, 32), (0, 1))
    for kwargs, message in [
        (dict(positions="middle"), "unknown positions"),
        (dict(lam=float("nan")), "finite"),
        (dict(lam=[1.0, 2.0, 3.0]), "3 per-layer λ values for 2"),
        (dict(lam=torch.ones(2, 2)), "1-D"),
    ]:
        with pytest.raises(ValueError, match=message):
            with ls.steer(model, vecs, **kwargs):
                pass
    assert hook_count(model) == 0


@pytest.mark.parametrize("lam", ["123", b"12", True, [1.0, True], ["1", "2"], {0: 1.0}])
def test_lambda_of_the_wrong_type_is_refused(lam):
    """A string is a sequence: "123" used to steer with the per-layer λ [1, 2, 3]."""
    model = tiny_model("llama")
    vecs = ls.SteeringVectors(unit(2, 32), (0, 1))
    with pytest.raises(TypeError, match="lam must be a number"):
        with ls.steer(model, vecs, lam=lam):
            pass
    with pytest.raises(TypeError, match="lam must be a number"):
        ls.steering_ratio(model, vecs, lam)
    assert hook_count(model) == 0
    with ls.steer(model, vecs, lam=np.array([0.5, 1.0])) as state:  # arrays still work
        assert state.coefficients[:, 0].tolist() == [0.5, 1.0]


@pytest.mark.parametrize("positions", ["all", "generated", "last_prompt"])
def test_layer_order_of_the_vectors_does_not_matter(positions):
    """Vectors whose layers are not ascending (``select`` keeps the order given) steer exactly as
    the same vectors in ascending order: the first layer a pass reaches sets its positions."""
    model = tiny_model("mistral")
    vecs = ls.SteeringVectors(unit(3, 32, seed=4), (0, 1, 2))
    shuffled = vecs.select([2, 0, 1])
    assert shuffled.layers == (2, 0, 1)
    ids = ids_of(model, ["Once upon a time"])
    runs = []
    for v, lam in ((vecs, [6.0, -4.0, 5.0]), (shuffled, [5.0, 6.0, -4.0])):
        with torch.no_grad(), ls.steer(model, v, lam=lam, positions=positions):
            runs.append(
                model.original_model.generate(
                    ids, max_new_tokens=6, do_sample=False, pad_token_id=0
                )
            )
    with torch.no_grad():
        plain = model.original_model.generate(
            ids, max_new_tokens=6, do_sample=False, pad_token_id=0
        )
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], plain)
    logits = []
    for v, lam in ((vecs, [6.0, -4.0, 5.0]), (shuffled, [5.0, 6.0, -4.0])):
        with torch.no_grad(), ls.steer(model, v, lam=lam, positions=positions):
            logits.append(model(ids))
    assert (logits[0] - logits[1]).abs().max() < 1e-5  # the first pass too


def test_residual_norms_skip_one_token_texts_entirely():
    """A one-token text has no token left once its first is skipped: it must not pull the mean
    down (it used to add nothing to the sum but one to the count), and only such texts is an
    error rather than a silent zero."""
    model = tiny_model("llama")
    texts = ["one text here", "and another one"]
    from lens_steer.activations import encode_text

    one = ""  # BOS only here; on a tokenizer without BOS a single word is one token
    assert len(encode_text(model.tokenizer, one)) == 1
    base = ls.residual_norms(model, texts, [0, 1], progress=False)
    with_one = ls.residual_norms(model, [*texts, one], [0, 1], progress=False)
    assert torch.allclose(base, with_one) and (base > 0).all()
    with pytest.raises(ValueError, match="one token long"):
        ls.residual_norms(model, [one, one], [0], progress=False)


def test_steering_ratio_and_norms_refuse_what_they_cannot_mean():
    model = tiny_model("llama")
    vecs = ls.SteeringVectors(unit(2, 32), (0, 1))
    one = ls.steering_ratio(model, vecs, torch.tensor([0.5]))  # one λ as a 1-element tensor
    assert torch.allclose(one, ls.steering_ratio(model, vecs, 0.5))
    with pytest.raises(ls_errors.InputError, match="per-row values; call it once per λ"):
        ls.steering_ratio(model, vecs, torch.tensor([0.5, 1.0]))  # used to report λ = 0.5 only
    with pytest.raises(ValueError, match="no texts"):
        ls.residual_norms(model, [], [0])
    with pytest.raises(ValueError, match="no texts"):
        ls.last_token_activations(model, [], [0])
