"""Log-likelihood multiple-choice scoring: which option's text does the model find most likely?

Cheap (one forward pass per option, no generation) and standard for ARC, and a good signal for
small models that rarely follow an answer format. It only calls ``model(tokens)``, so steering
hooks that are active around the call apply as they would during generation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from ..activations import encode_text
from .base import Example, Task

__all__ = [
    "ChoiceScores",
    "OptionRow",
    "score_choices",
    "option_rows",
    "finalise",
    "check_options",
    "choice_context",
    "choice_continuation",
]

Target = Literal["text", "label"]


@dataclass(frozen=True)
class ChoiceScores:
    """Per example: summed continuation log-probs, the compared scores, the pick and its verdict."""

    logprobs: list[list[float]]
    scores: list[list[float]]
    predicted: list[str]
    correct: list[bool]


def choice_context(task: Task, ex: Example, target: Target = "text") -> str:
    """The default zero-shot context: the question alone (``text``) or with options (``label``)."""
    q = ex.question if target == "text" else task.format_question(ex)
    return f"{task.prompts.question_prefix} {q}\n{task.prompts.answer_prefix}"


def choice_continuation(context: str, ex: Example, index: int, target: Target = "text") -> str:
    """The scored string for option ``index``: its text or its label, after a space if needed."""
    body = ex.choices[index] if target == "text" else ex.labels[index]
    return body if not context or context[-1].isspace() else f" {body}"


def _split_ids(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Context and continuation ids, tokenised jointly as the model would see them."""
    ctx = encode_text(tokenizer, context)
    whole = encode_text(tokenizer, context + continuation)
    if whole[: len(ctx)] == ctx and len(whole) > len(ctx):
        return ctx, whole[len(ctx) :]
    cont = list(tokenizer(continuation, add_special_tokens=False)["input_ids"])
    return ctx, cont


def _device(model: Any) -> torch.device:
    try:
        return next(model.parameters()).device
    except (AttributeError, StopIteration, TypeError):
        return torch.device(getattr(getattr(model, "cfg", None), "device", None) or "cpu")


def _logits(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    out = model(tokens)
    out = getattr(out, "logits", out)
    if not isinstance(out, torch.Tensor) or out.ndim != 3:
        raise TypeError("model(tokens) must return logits of shape [batch, seq, vocab]")
    return out


def score_choices(
    model: Any,
    task: Task,
    examples: Sequence[Example],
    prompts: Sequence[str] | None = None,
    length_normalize: bool | Literal["chars", "tokens"] = False,
    batch_size: int = 8,
    target: Target = "text",
    tokenizer: Any = None,
) -> ChoiceScores:
    """Score every option of every example by its log-probability as a continuation.

    Each option is one row of a batched ``model(tokens)`` call (no generation), so steering
    hooks active around the call apply. Contexts longer than ``cfg.n_ctx`` are cut from the left.

    Args:
        model: returns logits ``[batch, seq, vocab]`` (or an output with ``.logits``).
        task: formats the default context (:func:`choice_context`).
        examples: multiple-choice items, each with ``choices`` and ``labels``.
        prompts: one context per example replacing the default zero-shot one, e.g. a few-shot
            or chat-rendered prompt.
        length_normalize: False sums the log-probs; True or "chars" divides by the option's
            length in characters (lm-eval's ``acc_norm``); "tokens" by its token count.
        batch_size: option rows per forward pass.
        target: score the option's "text" or its "label" (then the default context lists the
            options).
        tokenizer: None uses ``model.tokenizer``.

    Returns:
        :class:`ChoiceScores` with, per example, the summed log-probs, the compared scores,
        the predicted label (the first best on a tie) and whether it is ``example.answer``.

    Raises:
        ValueError: no tokenizer; a bad ``target``, ``length_normalize`` or ``batch_size``;
            no examples; ``prompts`` not one per example; an example without choices; an
            option alone longer than ``n_ctx``.
        TypeError: the model does not return 3-D logits.
    """
    tokenizer = tokenizer or getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("score_choices needs a tokenizer: the model has none, pass tokenizer=")
    examples = check_options(target, length_normalize, batch_size, examples)
    if prompts is not None and len(prompts) != len(examples):
        raise ValueError(f"{len(prompts)} prompts for {len(examples)} examples: they must pair up")
    n_ctx = getattr(getattr(model, "cfg", None), "n_ctx", None)
    rows = option_rows(task, examples, tokenizer, prompts, target, n_ctx)
    pad = getattr(tokenizer, "pad_token_id", None)
    pad = 0 if pad is None else pad
    device = _device(model)
    sums: dict[tuple[int, int], float] = {}
    order = sorted(range(len(rows)), key=lambda r: -len(rows[r].ids))
    with torch.no_grad():
        for start in range(0, len(order), batch_size):
            batch = [rows[r] for r in order[start : start + batch_size]]
            width = max(len(row.ids) for row in batch)
            tokens = torch.full((len(batch), width), pad, dtype=torch.long)
            for b, row in enumerate(batch):
                tokens[b, : len(row.ids)] = torch.tensor(row.ids)  # right padding: causal
            logp = torch.log_softmax(_logits(model, tokens.to(device)).float(), dim=-1)
            for b, row in enumerate(batch):
                n = len(row.ids)
                pos = torch.arange(n - row.n_cont, n, device=logp.device)
                target_ids = tokens[b, n - row.n_cont : n].to(logp.device)
                sums[(row.example, row.option)] = float(logp[b, pos - 1, target_ids].sum())
    return finalise(examples, rows, sums, length_normalize, target)


def check_options(
    target: Any, length_normalize: Any, batch_size: int, examples: Sequence[Example]
) -> list[Example]:
    """Validate what every log-likelihood scorer takes; the examples as a list."""
    if target not in ("text", "label"):
        raise ValueError(f"target must be 'text' or 'label', got {target!r}")
    if length_normalize not in (False, True, "chars", "tokens"):
        raise ValueError(
            f"length_normalize must be False, True, 'chars' or 'tokens', got {length_normalize!r}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    examples = list(examples)
    if not examples:
        raise ValueError("no examples to score")
    return examples


@dataclass(frozen=True)
class OptionRow:
    """One (example, option) to score: the full token ids and how many of them are the option."""

    example: int
    option: int
    ids: list[int]
    n_cont: int


def option_rows(
    task: Task,
    examples: Sequence[Example],
    tokenizer: Any,
    prompts: Sequence[str] | None = None,
    target: Target = "text",
    n_ctx: int | None = None,
) -> list[OptionRow]:
    """Tokenise every option of every example after its context (cut from the left to ``n_ctx``)."""
    rows = []
    for i, ex in enumerate(examples):
        if not ex.choices:
            raise ValueError(
                f"example {ex.id!r} has no choices: score_choices is for multiple choice"
            )
        context = prompts[i] if prompts is not None else choice_context(task, ex, target)
        for j in range(len(ex.choices)):
            ctx, cont = _split_ids(tokenizer, context, choice_continuation(context, ex, j, target))
            ids = ctx + cont
            if n_ctx and len(ids) > n_ctx:
                if len(cont) >= n_ctx:
                    raise ValueError(
                        f"option {j} of {ex.id!r} alone exceeds the context of {n_ctx}"
                    )
                ids = ids[-n_ctx:]
            rows.append(OptionRow(i, j, ids, len(cont)))
    return rows


def finalise(
    examples: Sequence[Example],
    rows: Sequence[OptionRow],
    sums: dict[tuple[int, int], float],
    length_normalize: bool | str = False,
    target: Target = "text",
) -> ChoiceScores:
    """Turn summed option log-probs into scores, picks (first best on a tie) and verdicts."""
    n_tokens = {(r.example, r.option): r.n_cont for r in rows}
    logprobs, scores, predicted, correct = [], [], [], []
    for i, ex in enumerate(examples):
        lp = [sums[(i, j)] for j in range(len(ex.choices))]
        if length_normalize == "tokens":
            sc = [v / n_tokens[(i, j)] for j, v in enumerate(lp)]
        elif length_normalize:
            lens = [len(choice_continuation("x", ex, j, target)) for j in range(len(lp))]
            sc = [v / n for v, n in zip(lp, lens, strict=True)]
        else:
            sc = list(lp)
        best = max(range(len(sc)), key=lambda j: sc[j])
        logprobs.append(lp)
        scores.append(sc)
        predicted.append(ex.labels[best])
        correct.append(ex.labels[best] == ex.answer)
    return ChoiceScores(logprobs, scores, predicted, correct)
