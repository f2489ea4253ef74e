"""Tiny random models of every family the paper uses, fully offline.

They exist so tests (and users trying the API) can exercise each architecture through exactly the
same ``load_model`` path as a real checkpoint, in well under a second each.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from typing import Any

import torch

__all__ = [
    "FAMILIES",
    "tiny_tokenizer",
    "tiny_hf_model",
    "tiny_model",
    "save_tiny_model",
    "unit_directions",
    "pathological_answers",
]

_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@lru_cache(maxsize=1)
def _tokenizer_dir() -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>"]
    vocab = {tok: i for i, tok in enumerate(specials)}
    for code in list(range(32, 127)) + [10]:
        vocab.setdefault(chr(code), len(vocab))
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    core.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        additional_special_tokens=specials[4:],
    )
    tok.chat_template = _CHAT_TEMPLATE
    path = tempfile.mkdtemp(prefix="lens_steer_tiny_tok_")
    tok.save_pretrained(path)
    return path


def tiny_tokenizer() -> Any:
    """A character-level tokenizer (~110 ids) with a chat template."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(_tokenizer_dir())


def _config(family: str, d_model: int, n_layers: int, vocab: int) -> Any:
    import transformers as tf

    common = dict(
        vocab_size=vocab,
        hidden_size=d_model,
        intermediate_size=2 * d_model,
        num_hidden_layers=n_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=False,
    )
    head_dim = d_model // 4
    builders = {
        "llama": lambda: tf.LlamaConfig(**common),
        "qwen2": lambda: tf.Qwen2Config(**common),
        "qwen3": lambda: tf.Qwen3Config(**common, head_dim=head_dim),
        "mistral": lambda: tf.MistralConfig(**common, head_dim=head_dim),
        "phi3": lambda: tf.Phi3Config(**common),
        "gemma2": lambda: tf.Gemma2Config(
            **common, head_dim=head_dim, query_pre_attn_scalar=head_dim
        ),
        "gemma3": lambda: tf.Gemma3TextConfig(
            **common, head_dim=head_dim, query_pre_attn_scalar=head_dim, sliding_window=64
        ),
    }
    if family not in builders:
        raise ValueError(f"unknown tiny family {family!r}: choose one of {sorted(builders)}")
    return builders[family]()


FAMILIES = ("llama", "qwen2", "qwen3", "mistral", "phi3", "gemma2", "gemma3")


def tiny_hf_model(
    family: str = "llama", d_model: int = 32, n_layers: int = 3, seed: int = 0, **config: Any
) -> Any:
    """A randomly initialised HF causal LM of ``family`` (float32, eval mode); ``config`` overrides
    fields of its config (e.g. ``sliding_window=6`` to make a window bind on short prompts)."""
    from transformers import AutoModelForCausalLM

    cfg = _config(family, d_model, n_layers, vocab=len(tiny_tokenizer()))
    for key, value in config.items():
        if not hasattr(cfg, key):
            raise ValueError(f"{type(cfg).__name__} has no field {key!r}")
        setattr(cfg, key, value)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    return model.eval()


def tiny_model(
    family: str = "llama",
    d_model: int = 32,
    n_layers: int = 3,
    seed: int = 0,
    processed: bool = False,
) -> Any:
    """A tiny random model of ``family`` booted through :func:`lens_steer.load_model`."""
    from .models.load import load_model

    hf = tiny_hf_model(family, d_model, n_layers, seed)
    return load_model(hf, tokenizer=tiny_tokenizer(), device="cpu", processed=processed)


def save_tiny_model(
    path: Any, family: str = "llama", d_model: int = 32, n_layers: int = 3, seed: int = 0
) -> str:
    """:func:`tiny_hf_model` and the tiny tokenizer saved as an HF directory at ``path`` (what a
    run config names as its parent or child); returns the path as a string."""
    tiny_hf_model(family, d_model, n_layers, seed).save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return str(path)


def unit_directions(n: int, d: int, seed: int = 0) -> torch.Tensor:
    """``n`` random unit vectors of width ``d`` ([n, d], float32), reproducible from ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, d, generator=gen), dim=-1)


def pathological_answers(n: int = 200_000) -> dict[str, str]:
    """Model outputs of about ``n`` characters that make backtracking parsers slow.

    Degenerate generations look like this (whitespace floods, a phrase or an opening brace
    repeated until the token limit); the graders must read each in bounded time.
    """
    floods = {
        "answer-spaces": "Answer:" + " " * n,
        "answer-newlines": "Answer:" + "\n" * n,
        "answer-mixed-space": "The answer is" + " \t\n" * (n // 3),
        "hashes": "#" * n,
        "hash-lines": "#### \n" * (n // 6),
        "answer-phrases": "The answer is " * (n // 14),
        "boxed-open": "\\boxed{" * (n // 7),
        "boxed-spaces": "\\boxed" + " " * n + "{",
        "braces-open": "{" * n,
        "braces-close": "}" * n,
        "dollars": "$" * n,
        "answer-dollar": "The answer is $" + "x" * n,
        "digits": "9" * n,
        "numbers": "1 " * (n // 2),
        "thousands": "1," * (n // 2),
        "minus-signs": "- " * (n // 2),
        "number-words": "twenty " * (n // 7),
        "option-labels": "(A) " * (n // 4),
        "option-review": "(A) " + "is incorrect " * (n // 13),
        "answer-paren": "answer is (" * (n // 11),
        "stars": "Q" + "*" * n,
        "questions": "Question: " * (n // 10),
        "calculation": "The answer is " + "1 + " * (n // 4),
        "hedges": "The answer is " + "1 or " * (n // 5),
        "letters": "C" * n,
        "answer-words": "the answer is xyz " * (n // 18),
        "nested-boxes": "\\boxed{" * (n // 8) + "1" + "}" * (n // 8),
        "zero-denominators": "1/0 " * (n // 4) + ".",
    }
    return floods
