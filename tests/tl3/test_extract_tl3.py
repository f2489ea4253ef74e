"""lens_steer's extraction on TransformerLens 3.x ``HookedTransformer`` models, against hand
computations (lens_steer only needs the TL hook interface: ``cfg``, ``tokenizer``, ``hooks``,
``run_with_cache``, forward with ``attention_mask=``).
"""

import importlib.metadata

import pytest
import torch
from tl3_models import PAIRS, L, hook_count, ids_of, model_of
from transformer_lens import HookedTransformer

import lens_steer as ls
from lens_steer.extract import directions_from_differences


def test_runs_on_transformer_lens_3():
    assert importlib.metadata.version("transformer-lens").startswith("3.")
    m = model_of("llama")
    assert type(m) is HookedTransformer and m.cfg.positional_embedding_type == "rotary"
    assert model_of("gpt2").cfg.positional_embedding_type == "standard"
    assert m.cfg.n_layers == 3 and m.cfg.d_model == 32 and m.cfg.d_vocab == len(m.tokenizer)


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
    expected, _, _ = directions_from_differences(diffs[:, [2, 0]], method="pca", seed=3)
    assert vecs.layers == (2, 0)
    assert torch.allclose(vecs.directions, expected, atol=1e-4)
    assert torch.allclose(vecs.directions.norm(dim=-1), torch.ones(2), atol=1e-5)
