"""Small random TransformerLens 3.x ``HookedTransformer``s and helpers shared by tests/tl3.

A rotary Llama-like model (RMSNorm, gated SiLU MLP, grouped-query attention) and a GPT-2-like one
(learned absolute positions, LayerNorm), built once per shape.
"""

import torch
from transformer_lens import HookedTransformer, HookedTransformerConfig

from lens_steer.testing import tiny_tokenizer

ARCHS = ("llama", "gpt2")
L = "blocks.{}.hook_resid_post"
PAIRS = [
    ("The answer is 4. Correct.", "The answer is 5. Wrong."),
    ("x = 2, so y = 6", "x = 2, so y = 7"),
    ("hello there, friend", "goodbye"),
    ("A long careful derivation of the value step by step", "A guess"),
    ("yes", "no, not at all, never"),
]
TEXT = "Steer this sentence, please."


def hooked(arch: str, d_model: int = 32, n_layers: int = 3, seed: int = 0) -> HookedTransformer:
    tok = tiny_tokenizer()
    common = dict(
        d_model=d_model,
        n_layers=n_layers,
        d_head=8,
        n_heads=d_model // 8,
        n_ctx=128,
        d_vocab=len(tok),
        seed=seed,
        device="cpu",
        model_name=f"tiny-{arch}-{d_model}x{n_layers}",
    )
    if arch == "llama":
        cfg = HookedTransformerConfig(
            **common,
            d_mlp=2 * d_model,
            act_fn="silu",
            gated_mlp=True,
            normalization_type="RMS",
            final_rms=True,
            positional_embedding_type="rotary",
            rotary_dim=8,
            n_key_value_heads=2,
            original_architecture="LlamaForCausalLM",
        )
    elif arch == "gpt2":
        cfg = HookedTransformerConfig(
            **common,
            d_mlp=4 * d_model,
            act_fn="gelu_new",
            normalization_type="LN",
            positional_embedding_type="standard",
            original_architecture="GPT2LMHeadModel",
        )
    else:
        raise ValueError(arch)
    model = HookedTransformer(cfg, tokenizer=tok)
    return model.eval()


_MODELS: dict = {}


def model_of(arch: str, **kw) -> HookedTransformer:
    key = (arch, tuple(sorted(kw.items())))
    if key not in _MODELS:
        _MODELS[key] = hooked(arch, **kw)
    return _MODELS[key]


def unit(n, d, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=gen), dim=-1)


def ids_of(model, text):
    return torch.tensor([model.tokenizer(text)["input_ids"]])


def hook_count(model):
    """Forward hooks on the model's HookPoints; TL's own handle lists must agree with torch's."""
    points = {id(hp): hp for hp in model.hook_dict.values()}.values()
    torch_level = sum(len(hp._forward_hooks) for hp in points)
    assert sum(len(hp.fwd_hooks) for hp in points) == torch_level
    return torch_level


def resid(model, ids, layer):
    _, cache = model.run_with_cache(ids, names_filter=L.format(layer))
    return cache[L.format(layer)][0]
