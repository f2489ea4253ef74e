"""The issue's end-to-end path on real offline models: gemma-3-270m (18 layers, d 640) → SmolLM2-135M
(30 layers, d 576), GSM8K contrastive pairs from the real data, every width method."""

from pathlib import Path

import pytest
import torch

import lens_steer as ls

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "gsm8k"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gsm8k():
    task = ls.get_task("gsm8k", data_dir=DATA)
    sp = task.splits(seed=0, n_val=50)
    return task, sp


@pytest.fixture(scope="module")
def parent_vectors(gemma, gsm8k):
    task, sp = gsm8k
    pairs = ls.contrastive_pairs(task, sp.train, strategy="corrupted-answer", n=16, seed=0)
    return ls.extract(gemma, pairs, batch_size=8, progress=False)


def test_parent_vectors(parent_vectors, gemma):
    assert parent_vectors.directions.shape == (18, 640)
    assert parent_vectors.meta["pair_strategy"] == "corrupted-answer"
    assert torch.allclose(parent_vectors.directions.norm(dim=-1), torch.ones(18), atol=1e-5)
    assert parent_vectors.sign_agreement.min() >= 0.5


@pytest.mark.parametrize("width", ["truncate", "ridge", "procrustes", "random"])
def test_transferred_vectors_change_the_childs_generation(
    width, parent_vectors, gemma, smollm2, gsm8k
):
    task, sp = gsm8k
    anchors = [ex.question for ex in sp.train[:48]]
    mapped = ls.transfer(
        parent_vectors,
        smollm2,
        source_model=gemma,
        width=width,
        anchor_texts=anchors,
        progress=False,
    )
    assert mapped.d_model == 576 and mapped.layers == tuple(range(18))
    if width in ("ridge", "procrustes"):
        assert len(mapped.meta["width_r2"]) == 18
    prompt = task.prompt(
        sp.test[0], tokenizer=smollm2.tokenizer, fewshot=sp.fewshot, zero_shot=True
    )
    ids = smollm2.tokenizer(prompt, return_tensors="pt", add_special_tokens=False).input_ids

    def generate():
        with torch.no_grad():
            out = smollm2.original_model.generate(ids, max_new_tokens=12, do_sample=False)
        return out[0, ids.shape[1] :]

    plain = generate()
    with ls.steer(smollm2, mapped, lam=0.5, relative=True, norm_texts=anchors[:8]):
        steered = generate()
    assert not torch.equal(plain, steered), smollm2.tokenizer.decode(steered)
    assert torch.equal(generate(), plain)  # hooks are gone again
