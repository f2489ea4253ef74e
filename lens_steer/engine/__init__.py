"""The engine: everything that decodes or scores a (steered) model.

``generate`` (batched, λ-batched, cached generation) and ``loglik`` (λ-batched multiple-choice
scoring) are the entry points; ``store`` is the SQLite result store both write through, and
``plan`` picks the decoder and builds the steering spec for both. Below them: ``decode`` (the batch
decoder), ``graph``/``static`` (the fixed-shape decoder captured as CUDA graphs), ``prefill``,
``plain`` (the bridge's HF model without hook machinery), ``stopping`` (EOS, stop sequences,
length) and ``attention`` (GQA decode attention); ``types`` holds the values they share (settings,
steering spec, row, result). The memory the
fast paths hold is inspected with :func:`decoder_stats` and released with
:func:`free_decoder_memory`.
"""

from .generate import ENGINES, decoder_stats, free_decoder_memory, generate
from .loglik import score_choices_lams
from .store import CacheError, GenerationCache

__all__ = [
    "generate",
    "score_choices_lams",
    "GenerationCache",
    "CacheError",
    "decoder_stats",
    "free_decoder_memory",
    "ENGINES",
]
