"""Helpers for testing the graders: build mutated submissions and grade them in this process.

A *mutant* is the generated solution with a few exact text replacements, each a realistic student mistake.
``mutant()`` refuses a replacement whose old text is not found exactly once, so a mutant can never silently
turn into the unmodified solution when the source changes.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from autograder.harness import grade

REPO = Path(__file__).resolve().parent.parent
SOLUTION = REPO / "solutions" / "attention_seq2seq"
STUB = REPO / "assignments" / "attention_seq2seq"

# Subprocess timeouts in the tests are hang guards, not speed checks: generous enough for a 2-core machine at load
# average 10 (the demo took 300 s there once). Speed is measured by benchmarks/, never asserted by a test.
HANG_GUARD = 1200


def run_seq2seq(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """``python -m seq2seq ARGS`` in ``cwd`` (the solution or the stub release), output captured as text."""
    return subprocess.run([sys.executable, "-m", "seq2seq", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=HANG_GUARD)


def mutant(tmp: Path, edits: dict[str, list[tuple[str, str]]], *, base: Path = SOLUTION) -> Path:
    """Copy ``base`` to ``tmp/submission`` and apply ``{relative file: [(old, new), ...]}`` replacements."""
    target = tmp / "submission"
    shutil.copytree(base, target, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, replacements in edits.items():
        path = target / rel
        text = path.read_text(encoding="utf-8")
        for old, new in replacements:
            count = text.count(old)
            assert count == 1, f"mutation target found {count} times in {rel}: {old!r}"
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")
    return target


def graded(submission: Path, questions: list[str] | None = None, *,
           timeout: float | None = None) -> tuple[dict[str, float], dict[str, str]]:
    """Grade ``submission``: ``({"Q4": score, ...}, {"Q4": the student's feedback, lower-cased, ...})``."""
    results = grade(submission, questions=questions, max_timeout=timeout)
    assert results["extra_data"]["grader_errors"] == 0, results
    return ({test["name"].split()[0]: test["score"] for test in results["tests"]},
            {test["name"].split()[0]: test["output"].lower() for test in results["tests"]})


def inject(text: str, function: str, code: str) -> str:
    """``text`` (a module's source) with ``code`` put first in the body of ``def function``, after its docstring."""
    start = text.index(f"def {function}(")
    body = text.index('    """\n', text.index('"""', start) + 3) + len('    """\n')
    return text[:body] + code + text[body:]


def scores(submission: Path, questions: list[str] | None = None, *, timeout: float | None = None) -> dict[str, float]:
    """Grade ``submission`` and return ``{"Q4": score, ...}`` (also asserts that no grader broke)."""
    return graded(submission, questions, timeout=timeout)[0]


def assert_hint(feedback: dict[str, str], qid: str, hint: str, name: str = "mutant") -> None:
    """The feedback on ``qid`` names the mistake's likely cause: it contains ``hint`` (lower-case)."""
    assert hint == hint.lower() and hint in feedback[qid], (
        f"{name}: the feedback on {qid} does not contain {hint!r}:\n{feedback[qid]}")


def full_marks(questions: list[str] | None = None) -> dict[str, float]:
    """The maximum score of each question, read from grading the solution."""
    results = grade(SOLUTION, questions=questions)
    return {test["name"].split()[0]: test["max_score"] for test in results["tests"]}


def assert_costs_only(got: dict[str, float], broken: str, maximum: dict[str, float], name: str = "mutant") -> None:
    """A mutant's scores: fewer points on ``broken``, full marks on every other question graded."""
    assert got[broken] < maximum[broken], f"{name}: the {broken} graders did not notice"
    others = {q: score for q, score in got.items() if q != broken and score != maximum[q]}
    assert not others, f"{name}: other questions lost points: {others}"
