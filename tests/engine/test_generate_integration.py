"""ls.generate on the real SmolLM2-135M-Instruct with GSM8K prompts (offline, CPU): every engine
gives transformers' greedy tokens, and λ-batched output equals ``with ls.steer(...)``."""

from pathlib import Path

import pytest
import torch

import lens_steer as ls
from lens_steer.activations import encode_text
from lens_steer.engine.generate import generate
from lens_steer.models import offline

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("one_thread")]

DATA = Path(__file__).resolve().parents[1] / "data" / "tasks" / "gsm8k"
N_NEW = 24


@pytest.fixture(scope="module")
def prompts(smollm2):
    task = ls.get_task("gsm8k", data_dir=DATA)
    exs = task.load("test")[:3]
    return [task.prompt(ex, tokenizer=smollm2.tokenizer, zero_shot=True) for ex in exs]


def test_greedy_equals_transformers_on_gsm8k(smollm2, prompts, lens_steer_cache):
    hf, tok = offline.load_hf("smollm2-135m-instruct", cache_dir=lens_steer_cache)
    hf = hf.float().eval()  # a separately loaded model: booting a bridge rewires its modules
    assert prompts[0].startswith(tok.bos_token)  # the chat template's BOS; no second one
    expected = []
    for p in prompts:
        ids = torch.tensor([encode_text(tok, p)])
        assert ids[0, 0] == tok.bos_token_id != ids[0, 1]  # one BOS at the start, not two
        with torch.inference_mode():
            seq = hf.generate(ids, max_new_tokens=N_NEW, do_sample=False, pad_token_id=2)
        new = seq[0, ids.shape[1] :].tolist()
        new = new[: new.index(tok.eos_token_id)] if tok.eos_token_id in new else new
        expected.append(tok.decode(new, skip_special_tokens=True))
    for engine in ("plain", "graph"):  # graph: static cache, grouped-KV decode attention
        outs = generate(
            smollm2, prompts, max_new_tokens=N_NEW, batch_size=3, progress=False, engine=engine
        )
        assert [o[0] for o in outs] == expected, engine


def test_lambda_batch_equals_steer_on_smollm2(smollm2, prompts):
    gen = torch.Generator().manual_seed(0)
    dirs = torch.nn.functional.normalize(torch.randn(18, 576, generator=gen), dim=-1)
    vecs = ls.SteeringVectors(dirs, tuple(range(18)))
    lams = [0.5, 40.0]
    kw = dict(vectors=vecs, lams=lams, max_new_tokens=N_NEW, progress=False)
    outs = generate(smollm2, prompts, **kw)
    for k, lam in enumerate(lams):
        with ls.steer(smollm2, vecs, lam=lam):
            inside = generate(smollm2, prompts, max_new_tokens=N_NEW, progress=False)
        assert [o[k] for o in outs] == [o[0] for o in inside]
    assert any(o[1] != o[0] for o in outs)  # λ = 40 changes SmolLM2's text
    assert generate(smollm2, prompts, engine="graph", **kw) == outs


def test_graph_engine_equals_plain_on_gemma(gemma, prompts):
    """gemma-3-270m: one KV head for four query heads, sliding and full layers (a dict of masks)."""
    gen = torch.Generator().manual_seed(1)
    dirs = torch.nn.functional.normalize(torch.randn(6, 640, generator=gen), dim=-1)
    vecs = ls.SteeringVectors(dirs, (2, 5, 8, 11, 14, 17))
    kw = dict(vectors=vecs, lams=[0.0, 30.0], max_new_tokens=16, progress=False)
    plain = generate(gemma, prompts[:2], engine="plain", **kw)
    assert generate(gemma, prompts[:2], engine="graph", **kw) == plain
    assert any(o[1] != o[0] for o in plain)
