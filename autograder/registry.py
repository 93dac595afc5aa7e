"""Questions, probes and checks: where each is declared, and how they are found.

Each section of the course has two modules, split by who may see them:

* ``autograder/probes/<section>.py``, imported by the grading children (and nothing else of the autograder's):
  its questions, ``question("Q4", "set_seed reproducibility", points=2, timeout=60)``, and its probes,
  functions ``probe(s) -> plain data`` that call student code (``s.environment.set_seed(...)``), registered
  with ``@probe("Q4")``; they return values, never verdicts;
* ``autograder/graders/grade_<section>.py``, imported by the deciding process only: the checks, pytest tests
  marked ``@pytest.mark.grade("Q4", points=1)`` (the check's weight, see Points below) that compare the probes'
  outputs for the student (fixture ``out``) with the reference solution's (fixture ``ref``): the expected
  relations, thresholds and messages that student code must never see.

Gating: ``@pytest.mark.grade("Q4", points=1, requires="test_q4_same_seed_same_draws")`` makes a check that a
do-nothing answer would pass (an invariance: "different seeds differ", "no gradients recorded", "the caller's
config is left alone") earn its points only when the named check(s) of the same question passed too.

Points: ``question(..., points=N)`` declares what the whole question is worth (the questions of all sections add
up to 100, checked by the tests); a check's ``points`` is its share of the question (its weight for partial
credit). A check of weight ``w`` in a question of ``N`` points whose checks weigh ``W`` together earns
``N * w / W``.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

GRADERS_PACKAGE = "autograder.graders"
PROBES_PACKAGE = "autograder.probes"


@dataclass(frozen=True)
class Question:
    qid: str           # "Q4"
    title: str         # "set_seed reproducibility"; results.json names the question "Q4 set_seed reproducibility"
    points: float      # what the question is worth, out of the course's 100
    timeout: float     # wall-clock seconds for all of this question's probes, in one child process

    @property
    def number(self) -> int:
        return int(self.qid[1:])


QUESTIONS: dict[str, Question] = {}
PROBES: dict[str, dict[str, Callable[[Any], Any]]] = {}


def question(qid: str, title: str, *, points: float, timeout: float = 60.0) -> Question:
    """Declare a question (once, in the grader module of its section) and what it is worth."""
    if qid in QUESTIONS and QUESTIONS[qid].title != title:
        raise ValueError(f"{qid} is declared twice")
    if not points > 0:
        raise ValueError(f"{qid}: a question is worth more than 0 points")
    QUESTIONS[qid] = Question(qid, title, float(points), timeout)
    PROBES.setdefault(qid, {})
    return QUESTIONS[qid]


def probe(qid: str) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register ``fn(s)`` as a probe of ``qid``; its name is the key under which checks find its output."""
    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        if qid not in QUESTIONS:
            raise ValueError(f"probe {fn.__name__}: declare {qid} with question() first")
        if fn.__name__ in PROBES[qid]:
            raise ValueError(f"probe {fn.__name__} registered twice for {qid}")
        PROBES[qid][fn.__name__] = fn
        return fn
    return register


def _import_all(name: str, prefix: str = "") -> list[ModuleType]:
    package = importlib.import_module(name)
    return [importlib.import_module(f"{name}.{info.name}")
            for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda info: info.name)
            if info.name.startswith(prefix)]


def load_probes() -> list[ModuleType]:
    """Import every probe module (which fills QUESTIONS and PROBES): all that a grading child needs."""
    return _import_all(PROBES_PACKAGE)


def question_ids() -> list[str]:
    """Every declared question, in order (``["Q1", "Q2", ...]``): what tests and texts count, never a number."""
    load_probes()
    return sorted(QUESTIONS, key=lambda qid: QUESTIONS[qid].number)


def load_graders() -> list[ModuleType]:
    """Import every check module (and, through them, the probes) and return the check modules."""
    load_probes()
    return _import_all(GRADERS_PACKAGE, "grade_")


class Submission:
    """What a probe receives: ``s.environment`` imports ``seq2seq.environment`` from the submission."""

    def __getattr__(self, module: str) -> ModuleType:
        if module.startswith("_"):
            raise AttributeError(module)
        return importlib.import_module(f"seq2seq.{module}")
