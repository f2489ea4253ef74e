"""Prompt texts and rendering: chat template for chat models, ``Question:/Answer:`` for base models.

The system prompts follow the paper's structure (an expert role, step-by-step instructions, a
fixed answer format) in this project's own wording. Every text lives in a :class:`PromptConfig`
so a run config can override any of it (``task.with_prompts(system=...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

__all__ = [
    "PromptConfig",
    "DEFAULT_PROMPTS",
    "render_plain",
    "render_chat",
    "qa_text",
    "has_chat_template",
]


@dataclass(frozen=True)
class PromptConfig:
    """Every piece of text a task puts around a question."""

    system: str
    question_prefix: str = "Question:"
    answer_prefix: str = "Answer:"
    careful: str = (
        "Take your time with this one: check each step and make sure the final answer is right."
    )
    careless: str = (
        "Answer in a hurry: skip the checking and do not worry about whether the answer is right."
    )
    n_shots: int = 5

    def replace(self, **overrides: Any) -> PromptConfig:
        """A copy with ``overrides`` applied; unknown names are an error, not silently ignored."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(f"unknown prompt setting(s) {unknown}: choose from {sorted(known)}")
        for key, value in overrides.items():
            if key == "n_shots":
                if not isinstance(value, int) or value < 0:
                    raise ValueError(f"n_shots must be a non-negative int, got {value!r}")
            elif not isinstance(value, str):
                raise TypeError(
                    f"prompt setting {key!r} must be a string, got {type(value).__name__}"
                )
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(overrides)
        return PromptConfig(**data)


_GSM8K_SYSTEM = (
    "You are a patient and precise math tutor who solves grade-school word problems.\n"
    "How to work:\n"
    "1. Read the problem and note every quantity it gives and what it asks for.\n"
    "2. Solve it in small steps, one calculation per line, saying briefly why each step is needed.\n"
    "3. Re-check the arithmetic and make sure the result answers the question that was asked.\n"
    "Output format: after your steps, write one final line of exactly this form and nothing "
    "after it:\n"
    "#### The final answer is: N\n"
    "where N is the number alone (no units, no currency signs)."
)

_MATH_SYSTEM = (
    "You are a seasoned competition mathematician who writes careful, complete solutions.\n"
    "How to work:\n"
    "1. Restate what is given and what must be found, including any constraints.\n"
    "2. Choose a method and name the facts or theorems it relies on.\n"
    "3. Carry the method out step by step, writing the mathematics in LaTeX.\n"
    "4. Verify the result (substitute back, check special cases) before concluding.\n"
    "Output format: give the final answer in simplest exact form inside \\boxed{...}, once, at "
    "the end of the solution."
)

_ARC_SYSTEM = (
    "You are a knowledgeable science teacher answering multiple-choice questions.\n"
    "How to work:\n"
    "1. Work out which scientific idea the question is testing.\n"
    "2. Consider each option in turn and say briefly why it fits or does not.\n"
    "3. Rule out the weaker options and pick the single best one.\n"
    "Output format: finish with one line of exactly this form and nothing after it:\n"
    "The answer is (X)\n"
    "where X is the label of the option you chose."
)

DEFAULT_PROMPTS: dict[str, PromptConfig] = {
    "gsm8k": PromptConfig(system=_GSM8K_SYSTEM),
    "math": PromptConfig(system=_MATH_SYSTEM),
    "arc": PromptConfig(system=_ARC_SYSTEM),
}


def qa_text(question: str, answer: str, cfg: PromptConfig) -> str:
    """One plain question/answer block (used for few-shot and for contrastive pairs)."""
    return f"{cfg.question_prefix} {question}\n{cfg.answer_prefix} {answer}"


def render_plain(
    question: str, shots: Sequence[tuple[str, str]], cfg: PromptConfig, system: str | None = None
) -> str:
    """The base-model format: instructions, k solved examples, then the open question."""
    parts = []
    system = cfg.system if system is None else system
    if system:
        parts.append(system)
    parts.extend(qa_text(q, a, cfg) for q, a in shots)
    parts.append(f"{cfg.question_prefix} {question}\n{cfg.answer_prefix}")
    return "\n\n".join(parts)


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_chat(
    tokenizer: Any, question: str, shots: Sequence[tuple[str, str]], system: str
) -> str:
    """Render with the tokenizer's own chat template, few-shot examples as earlier turns.

    Some templates (e.g. Gemma 2) reject a system turn; then the instructions are folded into the
    first user turn instead, which is what those models expect.
    """
    turns: list[dict[str, str]] = []
    for q, a in shots:
        turns += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    turns.append({"role": "user", "content": question})
    if not system:
        return _apply(tokenizer, turns)
    try:
        return _apply(tokenizer, [{"role": "system", "content": system}, *turns])
    except Exception as err:  # jinja2 TemplateError / raise_exception inside the template
        if "system" not in str(err).lower():
            raise
    merged = [dict(t) for t in turns]
    merged[0]["content"] = f"{system}\n\n{merged[0]['content']}"
    return _apply(tokenizer, merged)


def _apply(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    out = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    if not isinstance(out, str):  # some tokenizers return a list when given one conversation
        out = out[0]
    return out
