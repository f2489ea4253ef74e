"""Options: the one frozen set of prompting, steering and decoding settings that generate,
tune_lambda, evaluate and run share; keywords override it, misspelt ones fail like Python's own."""

import numpy as np
import pytest

import lens_steer as ls
from lens_steer.options import FIELDS, Options
from lens_steer.tasks import Example


def test_defaults_are_the_functions_old_defaults():
    o = Options()
    assert (o.fewshot, o.zero_shot, o.positions, o.relative) == (None, False, "all", False)
    assert (o.max_new_tokens, o.batch_size, o.cache, o.progress) == (256, 16, None, True)
    assert FIELDS == (
        "fewshot",
        "zero_shot",
        "positions",
        "relative",
        "max_new_tokens",
        "batch_size",
        "cache",
        "progress",
    )


def test_frozen_and_replace_returns_a_new_value():
    o = Options(max_new_tokens=8)
    with pytest.raises(AttributeError):
        o.max_new_tokens = 9  # type: ignore[misc]
    p = o.replace(batch_size=2)
    assert (o.batch_size, p.batch_size, p.max_new_tokens) == (16, 2, 8)


def test_values_are_checked_and_normalised():
    ex = Example(id="a", question="q", answer="1")
    o = Options(fewshot=[ex], max_new_tokens=np.int64(7))
    assert o.fewshot == (ex,) and type(o.max_new_tokens) is int and o.max_new_tokens == 7
    with pytest.raises(ValueError, match="unknown positions 'middle'"):
        Options(positions="middle")
    for bad in (0, -1, 2.5, True, "8"):
        with pytest.raises(ValueError, match="max_new_tokens must be an integer ≥ 1"):
            Options(max_new_tokens=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        Options(batch_size=0)
    with pytest.raises(TypeError, match="fewshot must be a sequence of Examples"):
        Options(fewshot="a")  # type: ignore[arg-type]


def test_build_applies_keywords_over_the_options():
    base = Options(max_new_tokens=8, relative=True)
    assert Options.build(None, {}, "f") == Options()
    assert Options.build(base, {}, "f") is base
    built = Options.build(base, {"max_new_tokens": 3}, "f")
    assert (built.max_new_tokens, built.relative) == (3, True)


def test_a_misspelt_keyword_names_the_function_and_the_closest_option():
    with pytest.raises(TypeError) as err:
        ls.evaluate(object(), object(), [], max_new_token=3)
    msg = str(err.value)
    assert msg.startswith("evaluate() got an unexpected keyword argument 'max_new_token'")
    assert "did you mean 'max_new_tokens'?" in msg and "batch_size" in msg
    with pytest.raises(
        TypeError, match=r"tune_lambda\(\) got an unexpected keyword argument 'beam'"
    ):
        ls.tune_lambda(object(), object(), object(), [], beam=4)
    with pytest.raises(TypeError, match=r"generate\(\) got an unexpected keyword argument"):
        ls.generate(object(), ["x"], max_tokens=4)
    with pytest.raises(TypeError, match="options must be a lens_steer Options"):
        ls.generate(object(), ["x"], options={"max_new_tokens": 4})  # type: ignore[arg-type]


def test_decoding_keywords_leave_the_prompting_ones_out():
    o = Options(fewshot=(), zero_shot=True, positions="generated", batch_size=3, progress=False)
    assert o.decoding() == {
        "positions": "generated",
        "relative": False,
        "max_new_tokens": 256,
        "batch_size": 3,
        "cache": None,
        "progress": False,
    }


class _Model:
    tokenizer = None


def _recorder(calls):
    def gen(model, prompts, *, vectors=None, lams=None, **kw):
        calls.append(dict(kw, prompts=list(prompts)))
        return [["#### 7"] * (len(lams) if lams is not None else 1) for _ in prompts]

    return gen


def _setup():
    import torch

    vecs = ls.SteeringVectors(torch.eye(2, 4), (0, 1))
    exs = [Example(id=f"e{i}", question=f"Q{i} how many?", answer="7") for i in range(3)]
    shot = Example(id="shot", question="Q9 how many?", answer="1", solution="#### 1")
    return vecs, ls.get_task("gsm8k"), exs, shot


def test_options_travel_from_tune_lambda_and_evaluate_to_the_engine():
    """One Options value reaches the generation engine unchanged, prompts follow its few-shot
    setting, and a keyword beside it wins."""
    vecs, task, exs, shot = _setup()
    opts = Options(fewshot=[shot], positions="generated", max_new_tokens=9, batch_size=2)
    calls: list[dict] = []
    ls.tune_lambda(
        _Model(), vecs, task, exs, (0.1, 0.2), options=opts, generate_fn=_recorder(calls)
    )
    ls.evaluate(
        _Model(), task, exs, vectors=vecs, lam=0.1, options=opts, generate_fn=_recorder(calls)
    )
    ls.tune_lambda(
        _Model(),
        vecs,
        task,
        exs,
        (0.1,),
        options=opts,
        max_new_tokens=4,
        zero_shot=True,
        generate_fn=_recorder(calls),
    )
    for call in calls[:2]:
        assert (call["positions"], call["max_new_tokens"], call["batch_size"]) == (
            "generated",
            9,
            2,
        )
        assert call["stop_sequences"] == tuple(task.stop_sequences)
        assert all("Q9 how many?" in p for p in call["prompts"])  # the given exemplar
    assert calls[2]["max_new_tokens"] == 4 and calls[2]["positions"] == "generated"
    assert not any("Q9 how many?" in p for p in calls[2]["prompts"])  # zero_shot overrides


def test_evaluate_records_the_options_it_ran_with():
    vecs, task, exs, shot = _setup()
    rep = ls.evaluate(
        _Model(),
        task,
        exs,
        vectors=vecs,
        lam=0.1,
        options=Options(fewshot=[shot], relative=True, max_new_tokens=5, progress=False),
        generate_fn=_recorder([]),
    )
    cfg = rep.config
    assert (cfg["relative"], cfg["max_new_tokens"], cfg["prompting"]) == (True, 5, ["shot"])
