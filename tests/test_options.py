"""Options: the one frozen set of prompting, steering and decoding settings that generate,
tune_lambda, evaluate and run share; keywords override it, misspelt ones fail like Python's own."""

import numpy as np
import pytest

import lens_steer as ls
from lens_steer import testing
from lens_steer.options import DECODING_FIELDS, FIELDS, Options
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
        "op",
        "max_new_tokens",
        "batch_size",
        "cache",
        "progress",
    )
    assert o.op == "add"


def test_loglik_reads_a_cache_given_as_a_path(tmp_path):
    """A cache path works under loglik scoring as under generation (it used to reach the store
    as a bare string)."""
    import torch

    model = testing.tiny_model("llama")
    task = ls.get_task("arc_challenge")
    exs = [
        Example(
            id=f"q{i}",
            question=f"Which one {i}?",
            answer="A",
            choices=("a", "b"),
            labels=("A", "B"),
        )
        for i in range(2)
    ]
    vecs = ls.SteeringVectors(torch.nn.functional.normalize(torch.ones(1, 32), dim=-1), (0,))
    path = tmp_path / "gens.sqlite"
    first = ls.tune_lambda(model, vecs, task, exs, (0.5,), scoring="loglik", cache=str(path))
    assert path.exists()
    again = ls.tune_lambda(model, vecs, task, exs, (0.5,), scoring="loglik", cache=path)
    assert first.answers == again.answers


def test_frozen_and_replace_returns_a_new_value():
    o = Options(max_new_tokens=8)
    with pytest.raises(AttributeError):
        o.max_new_tokens = 9  # type: ignore[misc]
    p = o.replace(batch_size=2)
    assert (o.batch_size, p.batch_size, p.max_new_tokens) == (16, 2, 8)


def test_values_are_checked_where_they_are_used_as_before():
    """Options holds values as given (a loglik run may pass max_new_tokens=None, which it never
    reads); generate checks what it uses, with the same errors as when they were keywords."""
    ex = Example(id="a", question="q", answer="1")
    assert Options(fewshot=[ex]).fewshot == (ex,)
    assert Options(fewshot=(e for e in [ex])).fewshot == (ex,)  # a generator serves every prompt
    assert Options(max_new_tokens=None).max_new_tokens is None  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fewshot must be a sequence of Examples"):
        Options(fewshot="a")  # type: ignore[arg-type]
    model = ls.load_model(
        testing.tiny_hf_model("llama"), tokenizer=testing.tiny_tokenizer(), device="cpu"
    )
    cases = [
        (dict(positions="middle"), ValueError, "unknown positions 'middle'"),
        (dict(max_new_tokens=0), ValueError, "must be ≥ 1"),
        (dict(batch_size=0), ValueError, "must be ≥ 1"),
        (dict(options=Options(max_new_tokens=0)), ValueError, "must be ≥ 1"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            ls.generate(model, ["x"], progress=False, **kwargs)
    with pytest.raises(TypeError, match="single string"):  # checked before the options
        ls.generate(model, "x", max_new_tokens=0)
    out = ls.generate(model, ["x"], max_new_tokens=np.int64(2), batch_size=1, progress=False)
    assert len(out) == 1 and len(out[0]) == 1


def test_generate_refuses_the_prompting_keywords_it_would_ignore():
    """generate takes rendered prompts: few-shot and zero-shot as keywords would be silently
    ignored, so they are refused; inside a shared Options they are simply not read."""
    with pytest.raises(
        TypeError, match=r"generate\(\) got an unexpected keyword argument 'zero_shot'"
    ):
        ls.generate(object(), ["x"], zero_shot=True)
    with pytest.raises(TypeError, match="'fewshot'"):
        ls.generate(object(), ["x"], fewshot=[])


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
    assert "did you mean 'max_new_tokens'?" in msg and "batch_size" in msg and "fewshot" in msg
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
    assert tuple(o.decoding()) == DECODING_FIELDS
    assert o.decoding() == {
        "positions": "generated",
        "relative": False,
        "op": "add",
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
