"""A vector trained by repeng, exported with repeng's own ``export_gguf``, imported by lens_steer:
``ls.steer(model, imported, lam=c)`` equals repeng's ``ControlModel`` at coefficient c, and the
file also steers llama.cpp like lens_steer."""

from __future__ import annotations

import pytest

from lens_steer import SteeringVectors
from lens_steer.models import alias_gguf, hf_directory

pytestmark = pytest.mark.integration


def test_repeng_vector_steers_like_repeng_control_model(
    smollm2, lens_steer_cache, interop, tmp_path, tool
):
    tool("repeng", interop.import_repeng)
    hf_dir = hf_directory(interop.SMOLLM2, lens_steer_cache)
    res, path = interop.repeng_agreement(smollm2, hf_dir, tmp_path, coeff=2.0)
    assert res["effect"] > 0.3, res
    assert res["max |Δ logit|"] < 1e-3, res  # float32 on both sides: measured 3e-5
    imported = SteeringVectors.load(path)
    assert imported.meta["source_format"] == "gguf" and imported.meta["model_hint"] == "llama"
    assert min(imported.layers) == 1 and max(imported.layers) == 29  # repeng's default layers
    assert imported.meta["original_norms"] == pytest.approx([1.0] * len(imported), abs=1e-5)
    tool("llama_cpp")
    subset = imported.select(interop.LAYERS)
    cv = subset.export(tmp_path / "repeng_layers.gguf", "gguf", lam=8.0)  # hint from the file
    gguf_path = alias_gguf(interop.SMOLLM2, lens_steer_cache)
    res = interop.llama_cpp_agreement(smollm2, gguf_path, cv, subset, 8.0)
    assert res["steered x1"] < 0.6 and res["effect"] > 1.0, res
    assert min(res["shifted -1"], res["shifted +1"]) > 2 * res["steered x1"], res
