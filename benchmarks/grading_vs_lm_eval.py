"""lens_steer's answer grading vs lm-evaluation-harness's, against careful human verdicts.

    .venv/bin/python benchmarks/grading_vs_lm_eval.py [--corpus-dir tests/data/grading] [--show 3]

Why: every accuracy lens_steer reports rests on ``task.is_correct``. Its policy
(docs/grading.md) is stricter and broader than a single regular expression, so a reader will ask
how it compares with the graders everyone else uses. This script grades each row of the grading
corpus (tests/data/grading/{gsm8k,math,arc}.jsonl: a model output, the gold answer and a human
verdict) with lens_steer and with lm-eval's own graders, and prints each one's agreement with the
human verdicts, with the disagreements grouped by the row's ``kind``.

The lm-eval graders run lm-eval's code, configured by the installed task YAMLs: the YAML is read
with ``lm_eval.tasks._yaml_loader.load_yaml``; a ``filter_list`` entry becomes a pipeline through
``lm_eval.filters.build_filter_ensemble`` applied to ``lm_eval.api.instance.Instance`` objects,
scored by the YAML's ``exact_match`` (``lm_eval.api.registry.get_metric``) with its
``regexes_to_ignore``/``ignore_case``/``ignore_punctuation``; a ``process_results`` task
(minerva_math, hendrycks_math, aime) runs its own ``process_docs``/``process_results``. As in an
lm-eval run, each output is first cut at the YAML's ``until`` stop strings
(``lm_eval.models.utils.postprocess_generated_text``). No task registry, no dataset download.
ARC: lm-eval has no chain-of-thought ARC task; ``multi_choice_regex`` is configured as the
generative mmlu_flan_cot_zeroshot's flexible-extract (the last "(X)", else an option's text, else
": X"; target "(X)" by position), and arc_challenge_chat, lm-eval's generative ARC task, expects
the model to continue "The best answer is" and stops at ".", so it grades the first sentence.

minerva_math's ``is_equiv`` needs sympy's LaTeX parser, which needs antlr4-python3-runtime 4.11,
while math-verify (which lens_steer grades MATH with) only works right with 4.13. So minerva runs
in a child process that puts a 4.11 runtime first on its path — what ``pip install lm-eval[math]``
gives — from ``$LM_EVAL_ANTLR411`` or ``<venv>/lm-eval-antlr4.11``, made by
``pip install --no-deps --target .venv/lm-eval-antlr4.11 antlr4-python3-runtime==4.11.0``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here downloads; make sure of it

TASKS = {"gsm8k": "gsm8k", "math": "math", "arc": "arc_challenge"}  # corpus file -> lens_steer task
# task -> grader name -> (task YAML under lm_eval/tasks, filter name or process_results metric)
GRADERS: dict[str, dict[str, tuple[str, str]]] = {
    "gsm8k": {
        "gsm8k strict-match": ("gsm8k/gsm8k.yaml", "strict-match"),
        "gsm8k flexible-extract": ("gsm8k/gsm8k.yaml", "flexible-extract"),
        "gsm8k_cot strict-match": ("gsm8k/gsm8k-cot.yaml", "strict-match"),
    },
    "math": {
        "minerva_math exact_match": ("minerva_math/minerva_math500.yaml", "exact_match"),
        "minerva_math math_verify": ("minerva_math/minerva_math500.yaml", "math_verify"),
        "hendrycks_math exact_match": ("hendrycks_math/hendrycks_math500.yaml", "exact_match"),
        "aime boxed exact_match": ("aime/aime.yaml", "exact_match"),
    },
    "arc": {
        "multi_choice_regex (mmlu flan_cot_zeroshot)": (
            "mmlu/flan_cot_zeroshot/_mmlu_flan_cot_zeroshot_template_yaml",
            "flexible-extract",
        ),
        "arc_challenge_chat": ("arc/arc_challenge_chat.yaml", "remove_whitespace"),
    },
}
INSTALL_HINT = "lm-eval is not installed: pip install -e '.[dev]'"
ANTLR411_HINT = "pip install --no-deps --target {} antlr4-python3-runtime==4.11.0"


def _tasks_dir() -> Path:
    try:
        import lm_eval
    except ImportError as e:
        raise ImportError(INSTALL_HINT) from e
    return Path(lm_eval.__file__).parent / "tasks"


def _antlr_is_411() -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("antlr4-python3-runtime").startswith("4.11")
    except PackageNotFoundError:
        return False


def antlr411_dir() -> Path:
    """Where the antlr4 4.11 runtime for minerva_math lives (it may not exist)."""
    return Path(os.environ.get("LM_EVAL_ANTLR411") or Path(sys.prefix) / "lm-eval-antlr4.11")


def _letter(row: dict[str, Any]) -> str:
    return chr(ord("A") + list(row["labels"]).index(row["gold"]))


def _doc(task: str, yaml_rel: str, row: dict[str, Any]) -> dict[str, Any]:
    """The dataset document the lm-eval task would see for this row."""
    if task == "math":
        if yaml_rel.startswith("aime"):
            return {"Answer": row["gold"]}
        return {"problem": "", "solution": "$\\boxed{" + row["gold"] + "}$"}
    if task == "arc":
        return {"choices": list(row["choices"])}
    return {"answer": row["gold"]}


def _target(task: str, yaml_rel: str, row: dict[str, Any]) -> str:
    """The reference string exact_match compares with (the YAML's doc_to_target)."""
    if task == "arc":  # flan: "(A)".."(D)" by position; arc_challenge_chat: the letter
        return f"({_letter(row)})" if yaml_rel.startswith("mmlu") else _letter(row)
    return row["gold"]  # gsm8k: the number after "#### " (the YAML's regexes strip the rest)


def _scores_here(task: str, yaml_rel: str, rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    """Per row, every score the task YAML defines: each filter's exact_match, or process_results."""
    from lm_eval.models.utils import postprocess_generated_text
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(_tasks_dir() / yaml_rel)
    until = cfg.get("generation_kwargs", {}).get("until") or []
    outputs = [postprocess_generated_text(r["output"], until, None) for r in rows]
    docs = [_doc(task, yaml_rel, r) for r in rows]

    if cfg.get("process_results") is not None:
        if cfg.get("process_docs") is not None:
            import datasets

            datasets.disable_progress_bars()
            docs = list(cfg["process_docs"](datasets.Dataset.from_list(docs)))
        return [cfg["process_results"](d, [o]) for d, o in zip(docs, outputs, strict=True)]

    from lm_eval.api.instance import Instance
    from lm_eval.api.registry import get_metric
    from lm_eval.filters import build_filter_ensemble

    instances = [
        Instance("generate_until", doc=d, arguments=("", {}), idx=0, resps=[o])
        for d, o in zip(docs, outputs, strict=True)
    ]
    for spec in cfg["filter_list"]:
        # as ConfigurableTask builds it: [function name, the entry's other keys as keyword arguments]
        fns = [
            [f["function"], {k: v for k, v in f.items() if k != "function"}] for f in spec["filter"]
        ]
        build_filter_ensemble(spec["name"], fns).apply(instances)
    (mcfg,) = [m for m in cfg["metric_list"] if m["metric"] == "exact_match"]
    kwargs = {
        k: v for k, v in mcfg.items() if k not in ("metric", "aggregation", "higher_is_better")
    }
    metric = get_metric("exact_match")
    refs = [_target(task, yaml_rel, r) for r in rows]
    return [
        {
            name: float(metric(references=[ref], predictions=[resp], **kwargs)["exact_match"])
            for name, resp in i.filtered_resps.items()
        }
        for ref, i in zip(refs, instances, strict=True)
    ]


def _scores_in_child(
    task: str, yaml_rel: str, rows: list[dict[str, Any]]
) -> list[dict[str, float]]:
    """``_scores_here`` in a child process with the antlr4 4.11 runtime first on its path."""
    where = antlr411_dir()
    if not (where / "antlr4").is_dir():
        raise RuntimeError(
            f"{yaml_rel} needs antlr4-python3-runtime 4.11: {ANTLR411_HINT.format(where)}"
        )
    path = os.pathsep.join(filter(None, [str(where), os.environ.get("PYTHONPATH")]))
    job = json.dumps({"task": task, "yaml": yaml_rel, "rows": rows})
    proc = subprocess.run(
        [sys.executable, __file__, "--worker"],
        input=job,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=path),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{yaml_rel} failed in the child process:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


_SCORES: dict[tuple[str, str, str], list[dict[str, float]]] = {}  # (task, YAML, rows' digest)


def grade_lm_eval(task: str, rows: list[dict[str, Any]], grader: str | None = None) -> list[bool]:
    """lm-eval's verdict on each corpus row; ``grader`` is a key of ``GRADERS[task]`` (default: the first)."""
    _tasks_dir()  # the install hint, before anything else
    yaml_rel, which = GRADERS[task][grader or next(iter(GRADERS[task]))]
    key = (task, yaml_rel, hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest())
    if key not in _SCORES:
        child = yaml_rel.startswith("minerva_math") and not _antlr_is_411()
        _SCORES[key] = (_scores_in_child if child else _scores_here)(task, yaml_rel, rows)
    return [bool(s[which]) for s in _SCORES[key]]


def grade_lens_steer(task: str, rows: list[dict[str, Any]]) -> list[bool]:
    from lens_steer import get_task
    from lens_steer.tasks import Example

    t = get_task(TASKS[task])
    return [
        t.is_correct(
            r["output"],
            Example(
                id=str(r["id"]),
                question="",
                answer=r["gold"],
                labels=tuple(r.get("labels", ())),
                choices=tuple(r.get("choices", ())),
            ),
        )
        for r in rows
    ]


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]


def load_corpus(corpus_dir: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Each task's rows, plus its rows of ``holdout.jsonl`` (the blind hold-out set) if present."""
    corpus = {}
    held = Path(corpus_dir) / "holdout.jsonl"
    held_rows = _read_jsonl(held) if held.exists() else []
    for task in TASKS:
        path = Path(corpus_dir) / f"{task}.jsonl"
        if path.exists():
            corpus[task] = _read_jsonl(path) + [r for r in held_rows if r["task"] == task]
    if not corpus:
        raise FileNotFoundError(f"no {{gsm8k,math,arc}}.jsonl in {corpus_dir}")
    return corpus


def _summary(
    task: str, grader: str, rows: list[dict[str, Any]], verdicts: list[bool]
) -> dict[str, Any]:
    wrong = [(r, v) for r, v in zip(rows, verdicts, strict=True) if v != bool(r["verdict"])]
    return {
        "task": task,
        "grader": grader,
        "n": len(rows),
        "agreement": 100.0 * (len(rows) - len(wrong)) / max(len(rows), 1),
        "false_correct": sum(v for _, v in wrong),
        "false_wrong": sum(not v for _, v in wrong),
        "by_kind": dict(Counter(r.get("kind", "?") for r, _ in wrong).most_common()),
        "disagreements": [r for r, _ in wrong],
    }


def compare(corpus_dir: str | Path = "tests/data/grading") -> list[dict[str, Any]]:
    """One row per (task, grader): lens_steer first, then each lm-eval grader.

    A grader that cannot run here (minerva without its antlr 4.11 runtime) gets ``error`` and
    no agreement.
    """
    table = []
    for task, rows in load_corpus(corpus_dir).items():
        table.append(_summary(task, "lens_steer", rows, grade_lens_steer(task, rows)))
        for grader in GRADERS[task]:
            try:
                table.append(_summary(task, grader, rows, grade_lm_eval(task, rows, grader)))
            except RuntimeError as e:
                table.append({"task": task, "grader": grader, "n": len(rows), "error": str(e)})
    return table


def render(table: list[dict[str, Any]], show: int = 0) -> str:
    lines = [
        '| task | grader | n | agreement with human (%) | false "correct" | false "wrong" |',
        "|---|---|---:|---:|---:|---:|",
    ]
    for t in table:
        if "error" in t:
            lines.append(f"| {t['task']} | {t['grader']} | {t['n']} | not run | | |")
        else:
            lines.append(
                f"| {t['task']} | {t['grader']} | {t['n']} | {t['agreement']:.1f} "
                f"| {t['false_correct']} | {t['false_wrong']} |"
            )
    for t in table:
        lines.append(f"\n### {t['task']} · {t['grader']}")
        if "error" in t:
            lines.append(f"not run: {t['error']}")
            continue
        if not t["by_kind"]:
            lines.append("no disagreements")
        for kind, count in t["by_kind"].items():
            lines.append(f"- {kind}: {count}")
            for r in [r for r in t["disagreements"] if r.get("kind", "?") == kind][:show]:
                tail = r["output"][-200:].replace("\n", "⏎")
                lines.append(f"  - {r['id']} (human: {r['verdict']}, gold {r['gold']!r}): …{tail}")
    return "\n".join(lines)


def _worker() -> None:
    job = json.load(sys.stdin)
    print(json.dumps(_scores_here(job["task"], job["yaml"], job["rows"])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus-dir", default="tests/data/grading")
    p.add_argument("--show", type=int, default=0, help="example rows per disagreement class")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return _worker()
    try:
        _tasks_dir()
    except ImportError as e:
        sys.exit(str(e))
    print(render(compare(args.corpus_dir), args.show))


if __name__ == "__main__":
    main()
