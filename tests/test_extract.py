import pytest
import torch

import lens_steer as ls
from lens_steer.extract import directions_from_differences
from lens_steer.testing import FAMILIES, tiny_model

PAIRS = [
    ("The answer is 4. Correct.", "The answer is 5. Wrong."),
    ("x = 2, so y = 6", "x = 2, so y = 7"),
    ("hello there, friend", "goodbye"),
    ("A long careful derivation of the value step by step", "A guess"),
]


def planted(n_pairs=64, d=64, n_layers=3, noise=0.3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    u = torch.nn.functional.normalize(torch.randn(n_layers, d, generator=gen), dim=-1)
    scale = 1.0 + torch.rand(n_pairs, n_layers, 1, generator=gen)
    diffs = scale * u + noise * torch.randn(n_pairs, n_layers, d, generator=gen) / d**0.5
    return diffs, u


@pytest.mark.parametrize("method", ["pca", "svd", "mean-diff"])
def test_planted_direction_recovered_with_sign(method):
    diffs, u = planted()
    dirs, evr, agree = directions_from_differences(diffs, method=method, seed=1)
    cos = (dirs * u).sum(-1)
    assert (cos >= 0.99).all(), cos  # right direction and right sign
    assert (agree == 1.0).all()
    assert ((evr > 0) & (evr <= 1)).all()


def test_pca_with_sign_flips_keeps_the_mean_difference():
    # Every pair agrees, so the concept lives in the mean; plain centred PCA would lose it.
    diffs, u = planted(noise=1.0, d=32)
    x = torch.nn.functional.normalize(diffs[:, 0], dim=-1)
    plain = torch.linalg.svd(x - x.mean(0), full_matrices=False)[2][0]
    dirs, _, _ = directions_from_differences(diffs, method="pca")
    assert abs(float(plain @ u[0])) < 0.9
    assert float(dirs[0] @ u[0]) > 0.98


def test_sign_follows_majority_of_pairs():
    diffs, u = planted(n_pairs=40)
    diffs[:10] *= -1  # a minority of pairs disagree
    dirs, _, agree = directions_from_differences(diffs, method="svd")
    assert (dirs * u).sum(-1).min() > 0.95
    assert torch.allclose(agree, torch.full_like(agree, 0.75))


@pytest.mark.parametrize("family", FAMILIES)
def test_extraction_matches_run_with_cache_by_hand(family):
    model = tiny_model(family)
    vecs = ls.extract(model, PAIRS, method="svd", batch_size=3, progress=False)
    rows = []
    for pos, neg in PAIRS:
        acts = []
        for text in (pos, neg):
            ids = model.tokenizer(text, return_tensors="pt").input_ids
            _, cache = model.run_with_cache(ids)
            acts.append(
                torch.stack([cache[f"blocks.{i}.hook_resid_post"][0, -1] for i in range(3)])
            )
        rows.append(acts[0] - acts[1])
    expected, _, _ = directions_from_differences(torch.stack(rows), method="svd")
    assert torch.allclose(vecs.directions, expected, atol=1e-5)


def test_left_padded_batches_equal_single_prompts():
    model = tiny_model("qwen2")
    texts = [p for pair in PAIRS for p in pair]
    batched = ls.last_token_activations(model, texts, batch_size=8, progress=False)
    single = torch.cat([ls.last_token_activations(model, [t], progress=False) for t in texts])
    assert batched.shape == (8, 3, 32)
    assert torch.allclose(batched, single, atol=1e-5)


def test_extract_records_provenance_and_accepts_pair_objects():
    class Pair:
        def __init__(self, a, b):
            self.positive, self.negative, self.strategy = a, b, "corrupted-answer"

    model = tiny_model("llama")
    vecs = ls.extract(model, [Pair(*p) for p in PAIRS], layers=[0, 2], progress=False)
    assert vecs.layers == (0, 2) and vecs.directions.shape == (2, 32)
    assert torch.allclose(vecs.directions.norm(dim=-1), torch.ones(2))
    meta = vecs.meta
    assert meta["method"] == "pca" and meta["pair_strategy"] == "corrupted-answer"
    assert meta["hook_point"] == "hook_resid_post" and meta["coordinates"] == "raw"
    assert meta["n_pairs"] == 4 and len(meta["data_hash"]) == 16
    assert vecs.explained_variance.shape == (2,) and vecs.sign_agreement.min() >= 0.5


@pytest.mark.parametrize(
    "pairs, error, message",
    [
        ([], ValueError, "no contrastive pairs"),
        ([("a", "b")], ValueError, "at least two"),
        ([("a", "a"), ("b", "c")], ValueError, "identical"),
        ([("a", "b"), ("c",)], TypeError, "expected"),
        ([("a", "b"), ("c", 3)], TypeError, "strings"),
    ],
)
def test_bad_pairs(pairs, error, message):
    with pytest.raises(error, match=message):
        ls.extract(tiny_model("llama"), pairs, progress=False)


def test_bad_method_and_layers():
    model = tiny_model("llama")
    with pytest.raises(ValueError, match="unknown method"):
        ls.extract(model, PAIRS, method="ica")
    with pytest.raises(ValueError, match="out of range"):
        ls.extract(model, PAIRS, layers=[5], progress=False)


def test_text_already_starting_with_bos_gets_no_second_bos():
    from lens_steer.activations import encode_text

    tok = tiny_model("llama").tokenizer
    plain = encode_text(tok, "hi there")
    assert plain[0] == tok.bos_token_id and plain.count(tok.bos_token_id) == 1
    assert encode_text(tok, tok.bos_token + "hi there") == plain


def test_cancelling_pairs_give_an_error_not_a_zero_vector():
    """(a, b) and (b, a): the mean difference is exactly zero at every layer."""
    a, b = PAIRS[0]
    c, d = PAIRS[1]
    pairs = [(a, b), (b, a), (c, d), (d, c)]
    with pytest.raises(ValueError, match=r"mean-diff direction is zero at layers \[0, 1, 2\]"):
        ls.extract(tiny_model("llama"), pairs, method="mean-diff", progress=False)


def test_identical_activations_name_the_layers(monkeypatch):
    import importlib

    ex = importlib.import_module("lens_steer.extract")  # ls.extract is the function

    real = ex.last_token_activations

    def same_at_layer_1(model, texts, layers, *args):
        acts = real(model, texts, layers, *args)
        acts[:, 1] = 1.0  # layer 1 cannot tell positive from negative
        return acts

    monkeypatch.setattr(ex, "last_token_activations", same_at_layer_1)
    with pytest.raises(ValueError, match=r"identical last-token activations at layers \[1\]"):
        ls.extract(tiny_model("llama"), PAIRS, progress=False)
