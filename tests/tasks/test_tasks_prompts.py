"""Prompt rendering: chat templates (incl. ones without a system role), plain format, overrides."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from lens_steer.tasks import DEFAULT_PROMPTS, PromptConfig, get_task
from lens_steer.testing import tiny_tokenizer

FIX = Path(__file__).resolve().parents[1] / "data" / "tasks"
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
NO_SYSTEM = (  # like Gemma 2: refuses a system turn
    "{% for m in messages %}{% if m['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "<turn>{{ m['role'] }}: {{ m['content'] }}</turn>{% endfor %}"
    "{% if add_generation_prompt %}<turn>assistant: {% endif %}"
)


@pytest.fixture(scope="module")
def tok():
    return tiny_tokenizer()


@pytest.fixture(scope="module")
def task():
    return get_task("gsm8k", data_dir=FIX / "gsm8k")


def test_chat_prompt_has_system_shots_and_open_turn(task, tok) -> None:
    ex = task.load("test")[0]
    text = task.prompt(ex, tokenizer=tok)
    assert text.startswith("<|system|>" + DEFAULT_PROMPTS["gsm8k"].system)
    assert text.count("<|user|>") == 6 and text.count("<|assistant|>") == 6
    assert text.endswith(ex.question + "</s><|assistant|>")
    assert "#### The final answer is: " in text and "<<" not in text  # calc notes stripped


def test_plain_prompt_for_base_models(task, tok) -> None:
    ex = task.load("test")[0]
    plain = task.prompt(ex)
    assert plain == task.prompt(ex, tokenizer=tok, chat=False)
    assert plain.startswith(DEFAULT_PROMPTS["gsm8k"].system + "\n\nQuestion: ")
    assert plain.endswith(f"Question: {ex.question}\nAnswer:")
    assert plain.count("\nAnswer: ") == 5


def test_zero_shot_and_custom_fewshot(task, tok) -> None:
    ex = task.load("test")[0]
    zs = task.prompt(ex, tokenizer=tok, zero_shot=True)
    assert zs.count("<|user|>") == 1
    shots = task.fewshot()[:2]
    assert task.prompt(ex, fewshot=shots).count("\nAnswer: ") == 2
    with pytest.raises(ValueError, match="few-shot"):
        task.prompt(shots[0], fewshot=shots)


def test_real_style_templates(task) -> None:
    ex = task.load("test")[1]
    tok = tiny_tokenizer()  # a private copy: its template is changed below
    tok.chat_template = CHATML
    text = task.prompt(ex, tokenizer=tok)
    assert text.startswith("<|im_start|>system\n") and text.endswith("<|im_start|>assistant\n")
    tok.chat_template = NO_SYSTEM
    folded = task.prompt(ex, tokenizer=tok)
    assert "system" not in folded.split("</turn>")[0].split(":")[0]
    assert folded.startswith("<turn>user: " + DEFAULT_PROMPTS["gsm8k"].system)
    tok.chat_template = None
    assert task.prompt(ex, tokenizer=tok) == task.prompt(ex)
    with pytest.raises(ValueError, match="no chat_template"):
        task.prompt(ex, tokenizer=tok, chat=True)


def test_with_prompts_overrides_text_without_touching_original(task) -> None:
    ex = task.load("test")[0]
    custom = task.with_prompts(
        system="Solve it.", question_prefix="Q:", answer_prefix="A:", n_shots=1
    )
    text = custom.prompt(ex)
    assert text.startswith("Solve it.\n\nQ: ") and text.endswith("A:") and text.count("\nA: ") == 1
    assert task.prompt(ex).startswith(DEFAULT_PROMPTS["gsm8k"].system)
    cfg = PromptConfig(system="Be brief.")
    assert get_task("gsm8k", data_dir=FIX / "gsm8k", prompts=cfg).prompt(ex).startswith("Be brief.")
    with pytest.raises(TypeError, match="unknown prompt setting"):
        task.with_prompts(sytem="typo")
    with pytest.raises(TypeError, match="must be a string"):
        task.with_prompts(system=3)


def test_arc_and_math_formats(tok) -> None:
    arc = get_task("arc_challenge", data_dir=FIX / "arc_challenge")
    ex = arc.load("test")[0]
    q = arc.format_question(ex)
    assert q.splitlines()[1].startswith("(A) ") and len(q.splitlines()) == 1 + len(ex.choices)
    assert arc.format_solution(arc.fewshot()[0]).endswith(
        f"The answer is ({arc.fewshot()[0].answer})"
    )
    assert "The answer is (X)" in arc.prompts.system
    math = get_task("math", data_dir=FIX / "math")
    assert "\\boxed" in math.prompts.system
    assert all("\\boxed{" in math.format_solution(e) for e in math.fewshot())


def test_stop_sequences_end_after_one_answer(task) -> None:
    assert "\nQuestion:" in task.stop_sequences
    assert task.parse("#### 5\nQuestion: next\nAnswer: #### 6") == "5"
