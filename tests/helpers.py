"""Helpers for testing the graders: build mutated submissions and grade them in this process.

A *mutant* is the generated solution with a few pieces of its code replaced, each a realistic student mistake. The
mistakes are catalogued in one format: a table ``MUTANTS: dict[str, Mutant]`` in each ``tests/test_graders_*.py``,
keyed by "<question> <mistake>" (``"Q13 missing_sqrt"``); ``catalogue()`` merges them, for the tests that need
mistakes from every section (tests/test_one_bug_per_question.py, tests/class_factory.py).

Mutants quote the generated solution's code (``solutions/``, generated from ``source/``): the old text of each
replacement is a piece of the solution, matched as a sequence of Python tokens (tests/anchors.py), so cosmetic
changes to ``source/`` leave the mutants working: comments, blank lines, docstrings elsewhere, line breaks and
spaces between tokens, a string's quotes. A change to the quoted code itself (a renamed local variable, a changed
operator or literal) must update the mutants that quote it. ``mutant()`` refuses a replacement whose code is not
found exactly once, which is what makes such a change fail loudly (an AssertionError naming the file, the quote and
the closest code found) rather than silently test the unmodified solution, which would keep full marks and prove
nothing about the graders. A replacement may name a scope, ``(old, new, "Class.method")``, where its code occurs
in several functions. tests/test_mutants.py applies every catalogued mutant without grading, to the solution and to
a cosmetically edited copy of it, so such a change fails there in seconds.
"""
from __future__ import annotations

import importlib
import os
import re
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from autograder.harness import grade, question_maxima
from tests.anchors import replace_once

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


# {file relative to the submission folder: [(old code, new text) or (old code, new text, scope), ...]}
Edits = dict[str, list[tuple[str, str] | tuple[str, str, str]]]


def mutant(tmp: Path, edits: Edits, *, base: Path = SOLUTION) -> Path:
    """Copy ``base`` to ``tmp/submission`` and apply ``{relative file: [(old, new), ...]}`` replacements, in order:
    each replaces the one occurrence of the code ``old`` (within the function or class ``scope``, where an entry
    names one as its third item) by ``new`` (see ``tests.anchors.replace_once``)."""
    target = tmp / "submission"
    shutil.copytree(base, target, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, replacements in edits.items():
        path = target / rel
        path.write_text(edited(path.read_text(encoding="utf-8"), rel, replacements), encoding="utf-8")
    return target


def edited(text: str, rel: str, replacements: list) -> str:
    """``text`` (the module ``rel``) with ``replacements`` applied in order, as ``mutant()`` applies them."""
    for old, new, *scope in replacements:
        text = replace_once(text, old, new, where=rel, scope=scope[0] if scope else None)
    return text


@dataclass(frozen=True)
class Mutant:
    """One realistic mistake: the generated solution with a few of its pieces of code replaced (see the module
    docstring). The same format holds other correct answers (tests/test_graders_model.py's ALTERNATIVES), which
    keep full marks.

    ``qid``: the question it must cost, e.g. ``"Q13"``. ``edits``: ``{file relative to the submission folder:
    [(old code, new text), ...]}``, e.g. ``{"seq2seq/attention.py": [(old, new)]}``; an entry may add a scope,
    ``(old, new, "Class.method")``, where the old code occurs in several functions. ``hint``: what the
    feedback on ``qid`` must contain (lower-case): the likely cause, in the student's terms; None where the table's
    tests check no feedback."""

    qid: str
    edits: Edits
    hint: str | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"Q[1-9][0-9]*", self.qid):
            raise ValueError(f"a mutant's question must look like 'Q13', not {self.qid!r}")
        if not self.edits or not all(self.edits.values()):
            raise ValueError(f"a mutant of {self.qid} needs at least one replacement in every file it names")
        entries = [entry for replacements in self.edits.values() for entry in replacements]
        malformed = [entry for entry in entries if not (isinstance(entry, tuple) and len(entry) in (2, 3)
                                                         and all(isinstance(item, str) for item in entry))]
        if malformed:
            raise ValueError(f"a mutant's replacement is (old, new) or (old, new, scope), text each: {malformed}")
        if any(not entry[0].strip() for entry in entries):
            raise ValueError(f"a mutant of {self.qid} has a replacement with no old text")
        unchanged = [old for old, new, *_ in entries if old == new]
        if unchanged:
            raise ValueError(f"a mutant of {self.qid} replaces text by itself: {unchanged}")
        scopes = [extra[0] for _, _, *extra in entries
                  if extra and not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", extra[0])]
        if scopes:
            raise ValueError(f"a mutant's scope must name a function or class, 'Class.method': {scopes}")
        if self.hint is not None and (not self.hint or self.hint != self.hint.lower()):
            raise ValueError(f"a mutant's hint must be non-empty lower-case text, not {self.hint!r}")

    def build(self, tmp: Path) -> Path:
        """The mutated submission, written to ``tmp/submission`` (see ``mutant()``)."""
        return mutant(tmp, self.edits)


@cache
def catalogue() -> dict[str, Mutant]:
    """Every catalogued mutant by name: the ``MUTANTS`` tables of all ``tests/test_graders_*.py`` merged (each
    shows its mutants cost their question). Names are unique across the tables and start with the question."""
    found: dict[str, Mutant] = {}
    for path in sorted(Path(__file__).parent.glob("test_graders_*.py")):
        table: dict[str, Mutant] = importlib.import_module(f"tests.{path.stem}").MUTANTS
        clash = sorted(found.keys() & table.keys())
        assert not clash, f"{path.name} reuses mutant names of another table: {clash}"
        wrong = [name for name, m in table.items() if name.split()[0] != m.qid]
        assert not wrong, f"{path.name}: these mutant names do not start with their question: {wrong}"
        found |= table
    return found


def graded(submission: Path, questions: list[str] | None = None, *,
           timeout: float | None = None) -> tuple[dict[str, float], dict[str, str]]:
    """Grade ``submission``: ``({"Q4": score, ...}, {"Q4": the student's feedback, lower-cased, ...})``."""
    results = grade(submission, questions=questions, max_timeout=timeout)
    assert results["extra_data"]["grader_errors"] == 0, results
    return ({test["name"].split()[0]: test["score"] for test in results["tests"]},
            {test["name"].split()[0]: test["output"].lower() for test in results["tests"]})


def bind_socket(path: Path) -> None:
    """Leave a unix socket file at ``path`` (bound by its short name from its folder: a socket's path must fit in
    108 bytes, and pytest's folders are long)."""
    here = os.getcwd()
    os.chdir(path.parent)
    try:
        socket.socket(socket.AF_UNIX).bind(path.name)
    finally:
        os.chdir(here)


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
    """The most each question of ``questions`` (None: all) can score: its declared points (the registry's). A
    grading reports the same ``max_score``; each graders file grades the solution once to show it gets them."""
    maxima = question_maxima()
    return {qid: maxima[qid] for qid in (questions or maxima)}


def assert_costs_only(got: dict[str, float], broken: str, maximum: dict[str, float], name: str = "mutant") -> None:
    """A mutant's scores: fewer points on ``broken``, full marks on every other question graded."""
    assert got[broken] < maximum[broken], f"{name}: the {broken} graders did not notice"
    others = {q: score for q, score in got.items() if q != broken and score != maximum[q]}
    assert not others, f"{name}: other questions lost points: {others}"
