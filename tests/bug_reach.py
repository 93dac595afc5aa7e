"""Where a bug can cost points: the questions that enter the functions it edits (the map of ``tests/reach.py``).

A grading runs each question's probes in a child of its own, and a child that never enters a function runs none
of its lines; children share nothing. So a bug inside a function's body can change the score of the questions
whose probes enter that function, and of no other: a mutant's "costs its own question only" is shown by grading
it on :func:`questions_for` (its question and every question entering a function it edits), not on all of them.
The argument needs every edit inside a function (:func:`edited_functions` gives None otherwise: then every
question) and no entered code that starts a process (checked in tests/test_one_bug_per_question.py).

The map is traced once per test session on the solution (:func:`reach_map`; with pytest-xdist, the first worker
to need it traces it, the other waits and reads it).
"""
from __future__ import annotations

import ast
import difflib
import fcntl
import json
import subprocess
import sys
from pathlib import Path

from autograder.harness import question_maxima
from tests.helpers import HANG_GUARD, REPO, SOLUTION, Mutant, assert_costs_only, edited, graded

MAXIMUM = question_maxima()


def reach_map(folder: Path) -> dict[str, set[str]]:
    """``{question: the solution's functions its probes enter}``, traced by tests/reach.py into ``folder/reach.json``
    unless a process of this session did it already (a lock file makes the others wait for the first)."""
    path = folder / "reach.json"
    with open(folder / "reach.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.is_file():
            done = subprocess.run([sys.executable, str(REPO / "tests" / "reach.py"), str(SOLUTION)],
                                  capture_output=True, text=True, timeout=HANG_GUARD)
            assert done.returncode == 0, done.stderr
            path.with_suffix(".part").write_text(done.stdout)
            path.with_suffix(".part").replace(path)
    return {qid: set(functions) for qid, functions in json.loads(path.read_text()).items()}


def _function_at(tree: ast.Module, first: int, last: int) -> int | None:
    """The first line of the innermost function (its first decorator's line) holding lines first..last."""
    best = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
            if start <= first and last <= node.end_lineno and (best is None or start > best):
                best = start
    return best


def edited_functions(bug: Mutant) -> set[str] | None:
    """The solution's functions the bug edits, as tests/reach.py names them ("seq2seq/data.py:228"); None where
    an edit lies outside every function (module-level code: every question could see it)."""
    functions = set()
    for rel, replacements in bug.edits.items():
        text = (SOLUTION / rel).read_text(encoding="utf-8")
        tree, lines = ast.parse(text), text.splitlines()
        matcher = difflib.SequenceMatcher(None, lines, edited(text, rel, replacements).splitlines(), autojunk=False)
        for tag, i1, i2, _, _ in matcher.get_opcodes():
            if tag == "equal":
                continue
            first, last = (i1 + 1, i2) if i2 > i1 else (i1, i1 + 1)  # an insertion: the lines around it
            start = _function_at(tree, first, last)
            if start is None:
                return None
            functions.add(f"{rel}:{start}")
    return functions


def questions_for(qid: str, functions: set[str] | None, reached: dict[str, set[str]]) -> list[str]:
    """The questions a bug of ``qid`` that edits ``functions`` (``edited_functions``) is graded on, in order."""
    return [q for q in MAXIMUM if functions is None or q == qid or reached[q] & functions]


def graded_where_it_reaches(bug: Mutant, tmp: Path, reached: dict[str, set[str]]
                            ) -> tuple[dict[str, float], dict[str, str]]:
    """Grade ``bug`` on :func:`questions_for` its edits: ``graded``'s ``(scores, feedback)`` of those questions.
    Fails when the bug's own question never enters what it edits (its test would prove nothing)."""
    functions = edited_functions(bug)
    assert functions is None or reached[bug.qid] & functions, (
        f"{bug.qid}'s probes never enter the functions this mutant edits: {sorted(functions)}")
    return graded(bug.build(tmp), questions_for(bug.qid, functions, reached))


def assert_costs_only_its_question(bug: Mutant, tmp: Path, reached: dict[str, set[str]], name: str) -> dict[str, str]:
    """``bug`` loses points on its question and nowhere else (graded where it reaches); returns the feedback."""
    got, feedback = graded_where_it_reaches(bug, tmp, reached)
    assert_costs_only(got, bug.qid, MAXIMUM, name)
    return feedback
