"""llama.cpp itself (llama-cpp-python built from source by scripts/interop_env.sh) steering
SmolLM2's Q4_1 GGUF with control vectors, vs lens_steer on the same weights dequantised to float32.

Tolerance: unsteered, the two differ by 0.12 nats in next-token log-probability (llama.cpp
multiplies Q4_1 weights by activations rounded to 8 bits; lens_steer computes in float32), and
llama.cpp's rounding makes it move by ~0.17 nats for any nudge at all (a control vector scaled to
1e-4 does it: the benchmark prints this as "llama.cpp noise"). Steering six layers hard (λ = 8 on
unit vectors, ~2.7 nats of effect) then agrees to within 0.2-0.5 nats. So: steered gaps below 0.6,
and the same vectors one block up or down agreeing at least twice as badly, which pins the layer
convention — ``direction.{k}`` is ``blocks.{k}.hook_resid_post``.
"""

from __future__ import annotations

import pytest

from lens_steer import SteeringVectors
from lens_steer.models import alias_gguf

pytestmark = pytest.mark.integration


def _check(res: dict) -> None:
    assert res["plain"] < 0.25, res
    assert res["effect"] > 1.0, f"the vector barely steers, the comparison says nothing: {res}"
    assert res["steered x1"] < 0.6 and res["steered x2"] < 0.6, res
    assert min(res["shifted -1"], res["shifted +1"]) > 2 * res["steered x1"], res


def test_exported_control_vector_steers_llama_cpp_like_lens_steer(
    smollm2, lens_steer_cache, interop, concept, tmp_path, tool
):
    tool("llama_cpp")
    cv = concept.export(tmp_path / "cv.gguf", "gguf", lam=8.0, model_hint="llama")
    res = interop.llama_cpp_agreement(
        smollm2, alias_gguf(interop.SMOLLM2, lens_steer_cache), cv, concept, 8.0
    )
    _check(res)


def test_foreign_control_vector_loads_and_steers_like_llama_cpp(
    smollm2, lens_steer_cache, interop, concept, tmp_path, tool
):
    """A file written the way llama.cpp's tools write one (gguf-py, no lens_steer keys)."""
    tool("llama_cpp")
    import gguf

    path = tmp_path / "foreign.gguf"
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", "llama")
    writer.add_uint32("controlvector.layer_count", len(concept))
    for k in concept.layers:
        writer.add_tensor(f"direction.{k}", (8.0 * concept[k]).numpy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    imported = SteeringVectors.load(path)
    assert imported.meta["source_format"] == "gguf" and "exported" not in imported.meta
    res = interop.llama_cpp_agreement(
        smollm2, alias_gguf(interop.SMOLLM2, lens_steer_cache), path, imported, 1.0
    )
    _check(res)


def test_llama_cpps_own_parser_reads_the_export(interop, concept, tmp_path, tool):
    """libggml's GGUF reader sees the exported tensors: direction.0 gone, direction.9 = λ·v at
    llama.cpp's offset for block 9 (8·n_embd: its buffer starts at layer 1), F32, 1-D."""
    tool("llama_cpp")
    vecs = SteeringVectors(concept.directions[:2], (0, 9))
    with pytest.warns(UserWarning, match="layer 0 dropped"):
        cv = vecs.export(tmp_path / "cv.gguf", "gguf", lam=[1.0, 3.0], model_hint="llama")
    d = concept.d_model
    buf = interop.llama_cpp_cvec(cv, 2.0, d)
    assert buf.size == 9 * d and (buf[: 8 * d] == 0).all()
    assert (buf[8 * d :] == (6.0 * concept.directions[1]).numpy()).all()
