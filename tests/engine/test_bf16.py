"""The whole loop in bfloat16 (on CPU here; the same code path runs on CUDA): nothing upcasts the
model, reductions that need fp32 do it on small tensors, and results stay close to fp32's."""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

import lens_steer as ls
from lens_steer.pipeline.config import validate_config
from lens_steer.pipeline.run import run_pipeline
from lens_steer.testing import tiny_hf_model, tiny_tokenizer

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny matrices: see conftest

FIX = Path(__file__).resolve().parents[1] / "data" / "tasks"
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _load(family: str, d_model: int, n_layers: int, seed: int, dtype: str):
    hf = tiny_hf_model(family, d_model, n_layers, seed)
    return ls.load_model(hf, tokenizer=tiny_tokenizer(), device="cpu", dtype=dtype)


def _dtypes(model) -> set[torch.dtype]:
    return {p.dtype for p in model.parameters()}


PAIRS = [
    (
        f"Question {i}: what is {i} plus {i}? Answer: {2 * i}",
        f"Question {i}: what is {i} plus {i}? Answer: {2 * i + 3}",
    )
    for i in range(1, 9)
]


def test_extract_transfer_steer_generate_in_bf16() -> None:
    parent = _load("gemma3", 48, 4, 1, "bfloat16")
    child = _load("llama", 32, 6, 2, "bfloat16")
    assert _dtypes(parent) == _dtypes(child) == {torch.bfloat16}
    vecs = ls.extract(parent, PAIRS, method="pca", batch_size=4, progress=False)
    assert vecs.directions.dtype == torch.float32  # PCA in fp32/fp64 on a small matrix
    norms = vecs.directions.norm(dim=-1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    mapped = ls.transfer(
        vecs,
        child,
        source_model=parent,
        width="ridge",
        anchor_texts=[p for p, _ in PAIRS] * 2,
        progress=False,
    )
    assert mapped.directions.shape == (4, 32)  # greedy n→n: child layers 0-3
    prompts = ["Question 3: what is 3 plus 3? Answer:", "Question 5: what is 5 plus 5? Answer:"]
    outs = ls.generate(
        child, prompts, vectors=mapped, lams=[0.0, 4.0], max_new_tokens=6, progress=False
    )
    hooks = ls.generate(
        child,
        prompts,
        vectors=mapped,
        lams=[0.0, 4.0],
        max_new_tokens=6,
        progress=False,
        engine="hooks",
    )
    assert outs == hooks  # the fast path and TransformerLens hook points agree in bf16 too
    with ls.steer(child, mapped, lam=4.0):
        logits = child(child.tokenizer(prompts[0], return_tensors="pt")["input_ids"])
    assert logits.dtype == torch.bfloat16
    assert _dtypes(parent) == _dtypes(child) == {torch.bfloat16}  # nothing was upcast


def test_loglik_bf16_close_to_fp32() -> None:
    task = ls.get_task("arc_challenge", data_dir=FIX / "arc_challenge")
    exs = task.load("test")
    scores = {}
    for dtype in ("float32", "bfloat16"):
        model = _load("llama", 32, 3, 0, dtype)
        g = torch.Generator().manual_seed(0)
        dirs = torch.nn.functional.normalize(torch.randn(3, 32, generator=g), dim=-1)
        vecs = ls.SteeringVectors(dirs, (0, 1, 2))
        scores[dtype] = ls.score_choices_lams(model, task, exs, vecs, [0.0, 2.0], progress=False)
    for a, b in zip(scores["float32"], scores["bfloat16"], strict=True):
        for x, y in zip(a.logprobs, b.logprobs, strict=True):
            assert x == pytest.approx(y, rel=0.05, abs=0.3)


def test_run_pipeline_bf16(tmp_path) -> None:
    root = tmp_path / "models"
    paths = {}
    for name, (fam, d, n, seed) in {
        "parent": ("gemma3", 48, 4, 1),
        "child": ("llama", 32, 6, 2),
    }.items():
        tiny_hf_model(fam, d, n, seed).save_pretrained(root / name)
        tiny_tokenizer().save_pretrained(root / name)
        paths[name] = str(root / name)
    cfg = validate_config(
        {
            "name": "bf16",
            "parent": paths["parent"],
            "child": paths["child"],
            "output_dir": str(tmp_path / "runs"),
            "device": "auto",
            "dtype": "bfloat16",
            "extract": {"batch_size": 4},
            "transfer": {"width": "ridge", "n_anchor": 16},
            "tasks": [
                {
                    "name": "arc_challenge",
                    "data_dir": str(DATA / "arc_challenge"),
                    "scoring": "loglik",
                    "pairs": {"n": 4},
                    "n_val": 4,
                    "n_test": 6,
                    "grid": [0.5, 4.0],
                    "controls": ["random-direction"],
                    "batch_size": 16,
                }
            ],
        }
    )
    run_dir = run_pipeline(cfg, progress=False)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    env = metrics["environment"]
    assert env["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")
    assert env["torch"] == torch.__version__ and env["transformers"]
    cond = metrics["tasks"]["arc_challenge"]["test"]["conditions"]
    assert cond["baseline"]["n"] == 6 and 0 <= cond["steered"]["accuracy"] <= 1
