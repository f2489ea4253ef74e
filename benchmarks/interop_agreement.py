"""lens_steer's exported and imported vectors, run in the real tools: how closely they agree.

    bash scripts/interop_env.sh   # llama-cpp-python (built from source) and repeng
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/interop_agreement.py [--threads 2]

SmolLM2-135M-Instruct, steering vectors extracted on itself from 8 ARC-Challenge contrastive pairs
at layers 8-13, and three comparisons, each against the tool itself:

- llama.cpp (llama-cpp-python 0.3.36): next-token log-probabilities of a prompt with the exported
  control vector (parsed by libggml's GGUF reader, applied by libllama's
  ``llama_set_adapter_cvec``) vs ``ls.steer`` on the same GGUF dequantised to float32; the same with each vector moved one block up or down, to show the
  layer convention is the one that agrees;
- lm-evaluation-harness (0.4.13, ``--model steered``): per-choice log-likelihoods on 30 ARC test
  questions vs ``ls.score_choices`` under ``ls.steer``;
- repeng (0.4.0): a ``ControlVector`` trained by repeng, exported with its ``export_gguf`` and
  imported by lens_steer, vs repeng's ``ControlModel`` on the HF model: last-position logits.

tests/formats/test_in_*.py call these functions and hold each figure to a bound.
"""

from __future__ import annotations

import argparse
import ctypes
import os
from pathlib import Path
from typing import Any

import numpy as np

SMOLLM2 = "smollm2-135m-instruct"
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "arc_challenge"
LAYERS = list(range(8, 14))
PROMPT = "Question: Which gas do plants take in from the air to make food?\nAnswer:"
TOP = 20  # next-token log-probabilities compared on the reference's 20 most likely tokens

TASK_YAML = ROOT / "configs" / "lm_eval" / "lens_steer_arc_challenge.yaml"


def concept_vectors(model: Any, data_dir: Path = DATA, layers: list[int] = LAYERS) -> Any:
    """Unit vectors extracted on ``model`` itself from 8 ARC train contrastive pairs."""
    import lens_steer as ls

    task = ls.get_task("arc_challenge", data_dir=data_dir)
    pairs = ls.contrastive_pairs(task, task.load("train")[:64], strategy="corrupted-answer", n=8)
    return ls.extract(model, pairs, layers=layers, progress=False)


# -- llama.cpp --------------------------------------------------------------------------------
class _GGUFParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.POINTER(ctypes.c_void_p))]


def _libggml() -> Any:
    """llama.cpp's GGUF parser (libggml-base, shipped inside llama-cpp-python), with signatures."""
    import llama_cpp

    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    p, i64, s = ctypes.c_void_p, ctypes.c_int64, ctypes.c_char_p
    for name, res, args in [
        ("gguf_init_from_file", p, [s, _GGUFParams]),
        ("gguf_find_key", i64, [p, s]),
        ("gguf_get_val_str", s, [p, i64]),
        ("gguf_get_n_tensors", i64, [p]),
        ("gguf_get_tensor_name", s, [p, i64]),
        ("gguf_free", None, [p]),
        ("ggml_get_tensor", p, [p, s]),
        ("ggml_nelements", i64, [p]),
        ("ggml_n_dims", ctypes.c_int, [p]),
        ("ggml_get_data_f32", ctypes.POINTER(ctypes.c_float), [p]),
        ("ggml_free", None, [p]),
    ]:
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


def llama_cpp_cvec(path: Path, strength: float, n_embd: int) -> np.ndarray:
    """The buffer llama.cpp's ``common_control_vector_load_one`` builds, from the file as
    llama.cpp's own GGUF parser reads it: ``direction.{k}`` × strength at offset (k − 1)·n_embd;
    layer 0, non-F32 and non-1-D tensors refused. (The parser is libggml's; the loop mirrors
    common.cpp, which llama-cpp-python does not ship.)"""
    lib = _libggml()
    ctx = ctypes.c_void_p()
    gg = lib.gguf_init_from_file(str(path).encode(), _GGUFParams(False, ctypes.pointer(ctx)))
    if not gg:
        raise ValueError(f"llama.cpp cannot parse {path}")
    try:
        key = lib.gguf_find_key(gg, b"general.architecture")
        if key < 0 or lib.gguf_get_val_str(gg, key) != b"controlvector":
            raise ValueError(f"{path}: general.architecture is not controlvector")
        data = np.zeros(0, np.float32)
        for i in range(lib.gguf_get_n_tensors(gg)):
            name = lib.gguf_get_tensor_name(gg, i)
            kind, _, idx = name.decode().partition(".")
            k = int(idx) if kind == "direction" and idx.isdigit() else -1
            t = lib.ggml_get_tensor(ctx, name)
            is_f32 = ctypes.cast(t, ctypes.POINTER(ctypes.c_int32))[0] == 0  # ggml_tensor.type
            if k <= 0 or not is_f32 or lib.ggml_n_dims(t) != 1 or lib.ggml_nelements(t) != n_embd:
                raise ValueError(f"llama.cpp refuses {path}: tensor {name.decode()}")
            row = np.ctypeslib.as_array(lib.ggml_get_data_f32(t), shape=(n_embd,))
            data = np.concatenate([data, np.zeros(max(0, n_embd * k - data.size), np.float32)])
            data[n_embd * (k - 1) : n_embd * k] += row * strength
        return data
    finally:
        lib.gguf_free(gg)
        lib.ggml_free(ctx)


def llama_cpp_logprobs(llm: Any, tokens: list[int], cvec: np.ndarray | None) -> np.ndarray:
    """Next-token log-probabilities from libllama, with ``cvec`` applied to every layer (or none)."""
    import llama_cpp

    n_embd, n_layer = llm.n_embd(), llama_cpp.llama_model_n_layer(llm.model)
    buf = None if cvec is None else (ctypes.c_float * cvec.size)(*cvec)
    size = 0 if cvec is None else cvec.size
    if llama_cpp.llama_set_adapter_cvec(llm._ctx.ctx, buf, size, n_embd, 1, n_layer) != 0:
        raise RuntimeError("llama_set_adapter_cvec refused the control vector")
    llm.reset()
    llm.eval(tokens)
    z = np.asarray(llm.scores[len(tokens) - 1], dtype=np.float64)
    return z - np.logaddexp.reduce(z)


def lens_logprobs(model: Any, tokens: list[int], vecs: Any = None, lam: float = 1.0) -> np.ndarray:
    import torch

    import lens_steer as ls

    with torch.no_grad():
        t = torch.tensor([tokens])
        if vecs is None:
            z = model(t)[0, -1]
        else:
            with ls.steer(model, vecs, lam=lam):
                z = model(t)[0, -1]
    return torch.log_softmax(z.double(), -1).numpy()


def llama_cpp_agreement(model: Any, model_gguf: Path, cv: Path, vecs: Any, lam: float) -> dict:
    """Max |Δ log p| over the top tokens between llama.cpp running control vector ``cv`` at
    strength s and lens_steer steering ``vecs`` at λ = s·``lam``: unsteered, s = 1 and 2, and
    with lens_steer's vectors one block up or down (which must agree worse); and llama.cpp's own
    noise floor, how far its log-probs move when the vector is scaled down to 1e-4."""
    import llama_cpp

    import lens_steer as ls

    llm = llama_cpp.Llama(model_path=str(model_gguf), n_ctx=256, logits_all=True, verbose=False)
    try:
        tokens = list(model.tokenizer(PROMPT)["input_ids"])  # with SmolLM2's leading <|im_start|>
        base_l, base_o = llama_cpp_logprobs(llm, tokens, None), lens_logprobs(model, tokens)
        top = np.argsort(-base_o)[:TOP]

        def gap(a: np.ndarray, b: np.ndarray) -> float:
            return float(np.abs(a[top] - b[top]).max())

        res = {"plain": gap(base_l, base_o)}
        # llama.cpp's own noise: 8-bit activation rounding turns a 1e-4 nudge into ~0.17 nats
        nudge = llama_cpp_logprobs(llm, tokens, llama_cpp_cvec(cv, 1e-4, llm.n_embd()))
        res["llama.cpp noise"] = gap(nudge, base_l)
        for s in (1.0, 2.0):
            steered = llama_cpp_logprobs(llm, tokens, llama_cpp_cvec(cv, s, llm.n_embd()))
            res[f"steered x{s:g}"] = gap(steered, lens_logprobs(model, tokens, vecs, s * lam))
            if s == 1.0:
                res["effect"] = gap(steered, base_l)
                for shift in (-1, 1):
                    layers = tuple(k + shift for k in vecs.layers)
                    if min(layers) < 0 or max(layers) >= model.cfg.n_layers:
                        continue  # no block to move to
                    moved = ls.SteeringVectors(vecs.directions, layers)
                    res[f"shifted {shift:+d}"] = gap(
                        steered, lens_logprobs(model, tokens, moved, lam)
                    )
        return res
    finally:
        llm.close()


# -- lm-evaluation-harness --------------------------------------------------------------------
def lm_eval_logliks(hf_dir: Path, steer_file: Path, work: Path, n: int) -> tuple[list, float]:
    """Per-choice log-likelihoods and accuracy of lm-eval's ``steered`` model on the first ``n``
    ARC test questions, from configs/lm_eval's task in lm-eval's arc_challenge format."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    # the README's task file, with the data path made absolute (lm-eval may run anywhere)
    text = TASK_YAML.read_text().replace(
        "../shared/data/arc_challenge/ARC-Challenge-Test.jsonl",
        str(DATA / "ARC-Challenge-Test.jsonl"),
    )
    if str(DATA) not in text:
        raise ValueError(f"{TASK_YAML} no longer names ../shared/data/arc_challenge's test file")
    (work / "arc.yaml").write_text(text)
    args = {"pretrained": str(hf_dir), "steer_path": str(steer_file), "device": "cpu"}
    # SmolLM2's tokenizer puts <|im_start|> first; lens_steer's bridge does, lm-eval must too
    args.update(dtype="float32", add_bos_token=True)
    out = lm_eval.simple_evaluate(
        model="steered",
        model_args=args,
        tasks=["lens_steer_arc_challenge"],
        task_manager=TaskManager(include_path=str(work)),
        limit=n,
        log_samples=True,
        batch_size=8,
    )
    samples = sorted(out["samples"]["lens_steer_arc_challenge"], key=lambda s: s["doc_id"])
    acc = out["results"]["lens_steer_arc_challenge"]["acc,none"]
    return [[r[0][0] for r in s["resps"]] for s in samples], acc


def lm_eval_agreement(model: Any, hf_dir: Path, vecs: Any, lam: float, work: Path, n: int = 30):
    """lm-eval's steered model vs ``score_choices`` under ``ls.steer``, on the same questions."""
    import lens_steer as ls

    task = ls.get_task("arc_challenge", data_dir=DATA)
    examples = task.load("test")[:n]
    steer_file = vecs.export(work / "steer.pt", "lm-eval", lam=lam)
    plain = ls.score_choices(model, task, examples)
    with ls.steer(model, vecs, lam=lam):
        ours = ls.score_choices(model, task, examples)
    theirs, acc = lm_eval_logliks(hf_dir, steer_file, work, n)
    a = np.concatenate(theirs)
    b = np.concatenate([np.asarray(x) for x in ours.logprobs])
    c = np.concatenate([np.asarray(x) for x in plain.logprobs])
    picks = [ex.labels[int(np.argmax(r))] for ex, r in zip(examples, theirs, strict=True)]
    return {
        "max |Δ loglik|": float(np.abs(a - b).max()),
        "effect": float(np.abs(b - c).max()),
        "picks equal": picks == list(ours.predicted),
        "picks changed by λ": sum(
            p != q for p, q in zip(ours.predicted, plain.predicted, strict=True)
        ),
        "acc lm-eval": acc,
        "acc lens_steer": float(np.mean(ours.correct)),
        "acc unsteered": float(np.mean(plain.correct)),
    }


# -- repeng -----------------------------------------------------------------------------------
def import_repeng() -> Any:
    """repeng 0.4.0 (the registry's only release) names ``np.float_`` in a type annotation, which
    NumPy 2 removed; the alias exists only while repeng's modules are first imported."""
    had = hasattr(np, "float_")
    if not had:
        np.float_ = np.float64  # type: ignore[attr-defined]
    try:
        import repeng
    finally:
        if not had:
            del np.float_  # type: ignore[attr-defined]
    return repeng


def repeng_agreement(model: Any, hf_dir: Path, work: Path, coeff: float = 2.0) -> tuple[dict, Path]:
    """A repeng-trained vector through its ``export_gguf`` into lens_steer, vs repeng's own
    ``ControlModel`` on the HF model: max |Δ logit| at the last position."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import lens_steer as ls

    repeng = import_repeng()
    tok = AutoTokenizer.from_pretrained(hf_dir)
    tok.pad_token = tok.pad_token or tok.eos_token
    hf = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32).eval()
    task = ls.get_task("arc_challenge", data_dir=DATA)
    pairs = ls.contrastive_pairs(task, task.load("train")[:64], strategy="corrupted-answer", n=8)
    data = [repeng.DatasetEntry(positive=p.positive, negative=p.negative) for p in pairs]
    cv = repeng.ControlVector.train(hf, tok, data, batch_size=8)
    path = work / "repeng.gguf"
    cv.export_gguf(str(path))
    imported = ls.SteeringVectors.load(path).select(LAYERS)

    controlled = repeng.ControlModel(hf, LAYERS)  # wraps (mutates) this HF copy only
    controlled.set_control(cv, coeff)
    ids = torch.tensor([model.tokenizer(PROMPT)["input_ids"]])
    with torch.no_grad():
        theirs = controlled(ids).logits[0, -1].double()
        controlled.reset()
        plain = controlled(ids).logits[0, -1].double()
        with ls.steer(model, imported, lam=coeff):
            ours = model(ids)[0, -1].double()
    res = {
        "max |Δ logit|": float((theirs - ours).abs().max()),
        "effect": float((theirs - plain).abs().max()),
    }
    return res, path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache-dir", default=os.environ.get("LENS_STEER_CACHE"))
    p.add_argument("--work", default="/tmp/lens_steer_interop")
    p.add_argument(
        "--vectors", help="compare this SmolLM2 vector file instead (e.g. a run's child)"
    )
    p.add_argument(
        "--lam", type=float, help="λ for --vectors (default: 8 in llama.cpp, 4 in lm-eval)"
    )
    args = p.parse_args()

    import torch

    import lens_steer as ls
    from lens_steer.models import alias_gguf, hf_directory

    torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model = ls.load_model(SMOLLM2, device="cpu", dtype="float32", cache_dir=args.cache_dir)
    hf_dir, gguf_path = hf_directory(SMOLLM2, args.cache_dir), alias_gguf(SMOLLM2, args.cache_dir)
    vecs = ls.SteeringVectors.load(args.vectors) if args.vectors else concept_vectors(model)
    lam_cpp, lam_lm = (args.lam, args.lam) if args.lam is not None else (8.0, 4.0)
    in_cpp = vecs.select([k for k in vecs.layers if k != 0])  # llama.cpp cannot steer block 0
    cv = in_cpp.export(work / "cv.gguf", "gguf", lam=lam_cpp, model_hint="llama")
    rows = {
        f"llama.cpp, exported (λ = {lam_cpp:g})": llama_cpp_agreement(
            model, gguf_path, cv, in_cpp, lam_cpp
        ),
        f"lm-eval steered, 30 ARC (λ = {lam_lm:g})": lm_eval_agreement(
            model, hf_dir, vecs, lam_lm, work
        ),
    }
    if not args.vectors:
        rep, rep_file = repeng_agreement(model, hf_dir, work)
        rows["repeng ControlModel (coeff 2)"] = rep
        imported = ls.SteeringVectors.load(rep_file).select(LAYERS)
        rows["llama.cpp, repeng's file (×8)"] = llama_cpp_agreement(
            model, gguf_path, _subset_gguf(imported, work), imported, 8.0
        )
    for name, res in rows.items():
        print(f"{name:<34} " + "  ".join(f"{k}: {_fmt(v)}" for k, v in res.items()))


def _subset_gguf(imported: Any, work: Path) -> Path:
    """repeng's vector at LAYERS only, as a control vector (λ = 8 baked in)."""
    return imported.export(work / "repeng_layers.gguf", "gguf", lam=8.0, model_hint="llama")


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    main()
