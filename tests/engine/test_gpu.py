"""The GPU path on CUDA: captured graphs give transformers' and the plain engine's tokens, repeated
calls agree, the steering is really applied, and bf16 runs through. Skipped, with the reason
printed, where there is no CUDA device (CI has none); run on the GPU machine — the command and the
last result are in benchmarks/RESULTS.md. Everything else these tests cover also runs on CPU
(tests/engine/test_graph.py, tests/engine/test_bf16.py)."""

from __future__ import annotations

import copy

import pytest
import torch

import lens_steer as ls
from lens_steer.activations import encode_text
from lens_steer.engine import decode as batch_decoder
from lens_steer.engine import graph as graph_decoder
from lens_steer.engine.generate import generate
from lens_steer.testing import FAMILIES, tiny_hf_model, tiny_tokenizer
from lens_steer.testing import unit_directions as unit

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="no CUDA device here: the GPU path is checked on the GPU machine "
        "(benchmarks/RESULTS.md); its CPU counterparts are tests/engine/test_graph.py",
    ),
]

PROMPTS = [
    "Once upon a time",
    "The cat sat on the mat and looked at the door",
    "Hello world",
    "x",
    "A much longer prompt, so that the left padding is wide here",
]


def cuda_pair(family, dtype="float32", d_model=32):
    hf = tiny_hf_model(family, d_model=d_model)
    reference = copy.deepcopy(hf).to("cuda")
    return ls.load_model(hf, tokenizer=tiny_tokenizer(), device="cuda", dtype=dtype), reference


def hf_greedy(reference, tok, prompts, n):
    out = []
    for p in prompts:
        ids = torch.tensor([encode_text(tok, p)], device="cuda")
        with torch.no_grad():
            seq = reference.generate(ids, max_new_tokens=n, do_sample=False, pad_token_id=0)
        new = seq[0, ids.shape[1] :].tolist()
        eos = reference.generation_config.eos_token_id
        out.append(
            tok.decode(new[: new.index(eos)] if eos in new else new, skip_special_tokens=True)
        )
    return out


def decoder(model):
    return graph_decoder.static_decoder(batch_decoder.make_backend(model, "graph"))


@pytest.mark.parametrize("family", FAMILIES)
def test_captured_graphs_equal_transformers_and_the_plain_engine(family):
    model, reference = cuda_pair(family)
    expected = hf_greedy(reference, model.tokenizer, PROMPTS, 12)
    outs = generate(model, PROMPTS, max_new_tokens=12, batch_size=5, progress=False)  # auto
    dec = decoder(model)
    assert dec.use_graphs and dec.graphs, "auto on CUDA must capture graphs"
    assert [o[0] for o in outs] == expected
    vecs = ls.SteeringVectors(unit(2, 32, seed=1), (0, 2))
    kw = dict(vectors=vecs, lams=[0.0, 0.5, 4.0], max_new_tokens=12, batch_size=8, progress=False)
    graph = generate(model, PROMPTS, engine="graph", **kw)
    assert graph == generate(model, PROMPTS, engine="graph", **kw)  # repeated calls agree
    assert graph == generate(model, PROMPTS, engine="plain", **kw)  # fp32: the same tokens
    assert [o[0] for o in graph] == expected  # λ = 0 is the unsteered model
    assert any(o[2] != o[0] for o in graph)  # the steering is applied
    assert dec.use_graphs


def test_bf16_graphs_repeat_and_steer():
    model, _ = cuda_pair("qwen3", dtype="bfloat16", d_model=64)
    vecs = ls.SteeringVectors(unit(3, 64, seed=2), (0, 1, 2))
    kw = dict(vectors=vecs, lams=[0.0, 8.0], max_new_tokens=16, batch_size=10, progress=False)
    graph = generate(model, PROMPTS * 2, engine="graph", **kw)
    assert decoder(model).use_graphs
    assert graph == generate(model, PROMPTS * 2, engine="graph", **kw)
    plain = generate(model, PROMPTS * 2, engine="plain", **kw)
    same = sum(
        a == b for ra, rb in zip(graph, plain, strict=True) for a, b in zip(ra, rb, strict=True)
    )
    assert same >= 0.8 * 2 * len(PROMPTS) * 2  # bf16 sums over padded slots may round apart
    assert any(o[1] != o[0] for o in graph)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def run_config(tmp_path, device: str) -> dict:
    """Tiny models saved to disk and a config that runs GSM8K (generation) and ARC (loglik)."""
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "data" / "tasks"  # travels with the checkout
    paths = {}
    for name, (family, d, n, seed) in {
        "parent": ("gemma3", 48, 4, 1),
        "child": ("qwen3", 32, 6, 2),
    }.items():
        tiny_hf_model(family, d, n, seed).save_pretrained(tmp_path / name)
        tiny_tokenizer().save_pretrained(tmp_path / name)
        paths[name] = str(tmp_path / name)
    common = dict(pairs={"n": 4}, n_val=3, n_test=4, grid=[0.5, 4.0], batch_size=8)
    return {
        "name": "gpu",
        **paths,
        "output_dir": str(tmp_path / "runs"),
        "device": device,
        "dtype": "bfloat16",
        "extract": {"batch_size": 4},
        "transfer": {"width": "truncate"},  # ridge needs ≥ 8 anchors; the fixtures are tiny
        "tasks": [
            {
                "name": "gsm8k",
                "data_dir": str(data / "gsm8k"),
                "zero_shot": True,
                "max_new_tokens": 16,
                **common,
            },  # fmt: skip
            {
                "name": "arc_challenge",
                "data_dir": str(data / "arc_challenge"),
                "scoring": "loglik",
                **common,
            },  # fmt: skip
        ],
    }


def test_the_whole_loop_runs_on_cuda_in_bf16(tmp_path):
    import json

    from lens_steer.pipeline.config import validate_config
    from lens_steer.pipeline.run import run_pipeline

    run_dir = run_pipeline(validate_config(run_config(tmp_path, "cuda")), progress=False)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["environment"]["device"].startswith("cuda")
    assert "graph engine: CUDA graphs" in (run_dir / "run.log").read_text()
    for task in ("gsm8k", "arc_challenge"):
        conditions = metrics["tasks"][task]["test"]["conditions"]
        assert conditions["baseline"]["n"] == 4 and "its" in conditions
