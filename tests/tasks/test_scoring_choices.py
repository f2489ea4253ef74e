"""Log-likelihood multiple choice against a by-hand log-prob computation on a tiny model."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from lens_steer.tasks import Example, get_task, score_choices
from lens_steer.tasks.choices import choice_context, choice_continuation
from lens_steer.testing import tiny_model

FIX = Path(__file__).resolve().parents[1] / "data" / "tasks"


@pytest.fixture(scope="module")
def model():
    # Tiny matrices: one thread is far faster than two contending ones on a busy 2-core box.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tiny_model("llama")
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def task():
    return get_task("arc_challenge", data_dir=FIX / "arc_challenge")


@pytest.fixture(scope="module")
def examples(task):
    return task.load("test") + task.load("dev")[:2]


def _by_hand(model, context: str, continuation: str) -> tuple[float, int]:
    """Sum of log p(continuation token | everything before), one sequence at a time."""
    tok = model.tokenizer
    ctx = tok(context, add_special_tokens=True)["input_ids"]
    cont = tok(continuation, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).float(), dim=-1)[0]
    total = sum(float(logp[len(ctx) + k - 1, t]) for k, t in enumerate(cont))
    return total, len(cont)


@pytest.mark.parametrize("target", ["text", "label"])
def test_matches_by_hand_logprobs(model, task, examples, target) -> None:
    res = score_choices(model, task, examples, batch_size=3, target=target)  # padded batches
    for ex, lps, pred, ok in zip(examples, res.logprobs, res.predicted, res.correct, strict=True):
        ctx = choice_context(task, ex, target)
        expected = [
            _by_hand(model, ctx, choice_continuation(ctx, ex, j, target))[0]
            for j in range(len(ex.choices))
        ]
        assert lps == pytest.approx(expected, abs=1e-4)
        assert pred == ex.labels[max(range(len(lps)), key=lambda j: lps[j])]
        assert ok == (pred == ex.answer)


def test_length_normalisation(model, task, examples) -> None:
    raw = score_choices(model, task, examples)
    chars = score_choices(model, task, examples, length_normalize=True)
    toks = score_choices(model, task, examples, length_normalize="tokens")
    ex = examples[0]
    for j, choice in enumerate(ex.choices):
        assert chars.scores[0][j] == pytest.approx(raw.logprobs[0][j] / len(" " + choice))
        n_tok = len(model.tokenizer(" " + choice, add_special_tokens=False)["input_ids"])
        assert toks.scores[0][j] == pytest.approx(raw.logprobs[0][j] / n_tok)
    assert chars.logprobs == raw.logprobs


def test_works_under_steering_hooks(model, task, examples) -> None:
    bump = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(0))

    def steer(resid, hook):
        return resid + 2.0 * bump

    plain = score_choices(model, task, examples[:2])
    with model.hooks(fwd_hooks=[("blocks.1.hook_resid_post", steer)]):
        steered = score_choices(model, task, examples[:2])
        ex = examples[0]
        ctx = choice_context(task, ex)
        by_hand = _by_hand(model, ctx, choice_continuation(ctx, ex, 0))[0]
    assert steered.logprobs[0][0] == pytest.approx(by_hand, abs=1e-4)
    assert steered.logprobs[0] != pytest.approx(plain.logprobs[0], abs=1e-3)
    after = score_choices(model, task, examples[:2]).logprobs  # hooks removed on exit
    assert [x for row in after for x in row] == pytest.approx(
        [x for row in plain.logprobs for x in row]
    )


def test_custom_prompts_any_callable_and_long_contexts(model, task, examples) -> None:
    short = task.with_prompts(system="Pick one.")  # chat prompt that fits the tiny n_ctx of 256
    prompts = [short.prompt(ex, tokenizer=model.tokenizer, zero_shot=True) for ex in examples[:2]]
    res = score_choices(model, task, examples[:2], prompts=prompts)
    ex = examples[0]
    cont = choice_continuation(prompts[0], ex, 1)
    assert cont == " " + ex.choices[1]
    assert res.logprobs[0][1] == pytest.approx(_by_hand(model, prompts[0], cont)[0], abs=1e-4)

    class Plain:  # not a bridge: just a callable returning an object with .logits
        tokenizer = model.tokenizer

        def __call__(self, tokens):
            return type("Out", (), {"logits": model(tokens)})()

    other = score_choices(Plain(), task, examples[:2], prompts=prompts).logprobs
    assert [x for row in other for x in row] == pytest.approx(
        [x for row in res.logprobs for x in row]
    )
    long_prompt = ["Background. " * 40 + prompts[0]]
    assert len(score_choices(model, task, examples[:1], prompts=long_prompt).logprobs[0]) == 4


def test_errors(model, task, examples) -> None:
    with pytest.raises(ValueError, match="no choices"):
        score_choices(model, task, [Example(id="x", question="q", answer="1")])
    with pytest.raises(ValueError, match="must pair up"):
        score_choices(model, task, examples[:2], prompts=["a"])
    with pytest.raises(ValueError, match="no examples"):
        score_choices(model, task, [])
    with pytest.raises(ValueError, match="length_normalize"):
        score_choices(model, task, examples[:1], length_normalize="bytes")
