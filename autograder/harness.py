"""The deciding process: run the hidden pytest graders against one submission and score them.

Student code never runs here. For every selected question the harness starts two children (see sandbox.py):
one on the submission and one on the reference solution. The graders, ordinary pytest tests, compare the two
sets of raw outputs. This module collects each test's verdict, shares out each question's points among its
checks by their weights (see registry.py), and returns the content of Gradescope's ``results.json``.

Reference outputs are kept in memory only, for the life of this process (``grade-all`` computes them once for
a whole class). They are never cached on disk, where a student's child process could forge them. The grader
modules are imported before any child starts, and the files of the autograder and of the reference are
fingerprinted before and after grading: a submission that changes them is reported, never scored.
"""
from __future__ import annotations

import hashlib
import platform
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder import sandbox
from autograder.registry import QUESTIONS, load_graders

AUTOGRADER_DIR = Path(__file__).resolve().parent
REPO_ROOT = AUTOGRADER_DIR.parent
DEFAULT_REFERENCE = REPO_ROOT / "solutions" / "attention_seq2seq"

# (fingerprint of reference + graders + runtime, question) -> the reference's outputs, for this process's life.
_REFERENCE: dict[tuple[str, str], Future] = {}
_REFERENCE_LOCK = threading.Lock()


class StudentCodeError(Exception):
    """Raised by ``out[...]`` when the student's code failed in that probe; the message is the feedback."""


class GraderError(RuntimeError):
    """The reference solution failed a probe: the graders themselves are broken, not the submission."""


class Outputs:
    """A question's probe outputs, as the ``out`` and ``ref`` fixtures give them: ``out["probe_name"]``."""

    def __init__(self, result: sandbox.ChildResult, *, reference: bool) -> None:
        self.result, self.reference = result, reference

    def __getitem__(self, name: str) -> Any:
        if self.result.failure is not None:
            raise (GraderError if self.reference else StudentCodeError)(self.result.failure)
        entry = self.result.outputs.get(name)
        if entry is None:
            raise (GraderError if self.reference else StudentCodeError)(f"no result for {name}")
        if "error" in entry:
            raise (GraderError if self.reference else StudentCodeError)(entry["error"])
        return entry["ok"]


@dataclass
class Verdict:
    qid: str
    name: str        # the test's docstring, first line: what it checks, in student terms
    weight: float    # the check's share of its question (``@pytest.mark.grade(qid, points=weight)``)
    passed: bool
    message: str = ""
    grader_error: bool = False


@dataclass
class Grading:
    """One grading run; also the pytest plugin that provides the ``out``/``ref`` fixtures and collects verdicts."""

    submission: Path
    reference: Path
    questions: list[str]
    workers: int = 2
    max_timeout: float | None = None  # caps every question's own limit (tests use short ones)
    verdicts: list[Verdict] = field(default_factory=list)
    student: dict[str, Future] = field(default_factory=dict)
    expected: dict[str, Future] = field(default_factory=dict)

    # -- children -----------------------------------------------------------------------------------------
    def start(self, pool: ThreadPoolExecutor) -> None:
        # Longest questions first, so that the pool stays busy to the end.
        key = _reference_key(self.reference)
        for qid in sorted(self.questions, key=lambda q: -QUESTIONS[q].timeout):
            with _REFERENCE_LOCK:
                if (key, qid) not in _REFERENCE:  # the reference's own limit is never capped
                    _REFERENCE[key, qid] = pool.submit(sandbox.run_question, self.reference, qid,
                                                       QUESTIONS[qid].timeout)
                self.expected[qid] = _REFERENCE[key, qid]
            self.student[qid] = pool.submit(sandbox.run_question, self.submission, qid, self._timeout(qid))

    def _timeout(self, qid: str) -> float:
        return min(QUESTIONS[qid].timeout, self.max_timeout or QUESTIONS[qid].timeout)

    # -- pytest plugin ------------------------------------------------------------------------------------
    @pytest.fixture
    def out(self, request: pytest.FixtureRequest) -> Outputs:
        return Outputs(self.student[_qid(request.node)].result(), reference=False)

    @pytest.fixture
    def ref(self, request: pytest.FixtureRequest) -> Outputs:
        return Outputs(self.expected[_qid(request.node)].result(), reference=True)

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        items[:] = [item for item in items if _qid(item) in self.questions]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        failed = call.excinfo is not None and report.when in ("setup", "call")
        if report.when == "call" or failed:
            marker = item.get_closest_marker("grade")
            doc = (getattr(item, "function", None).__doc__ or item.name).strip().splitlines()[0]
            if hasattr(item, "callspec"):
                doc += f" [{item.callspec.id}]"
            verdict = Verdict(_qid(item), doc, float(marker.kwargs["points"]), passed=not failed)
            if failed:
                verdict.message, verdict.grader_error = _explain(call.excinfo.value)
            self.verdicts.append(verdict)
        return report


def _qid(item: pytest.Item) -> str:
    marker = item.get_closest_marker("grade")
    if marker is None or "points" not in marker.kwargs:
        raise GraderError(f"{item.nodeid}: every grader needs @pytest.mark.grade(QID, points=N)")
    return marker.args[0]


def _explain(error: BaseException) -> tuple[str, bool]:
    """The feedback for a failed check: never the grader's source, never a traceback into hidden code."""
    if isinstance(error, StudentCodeError):
        return f"your code failed: {error}", False
    if isinstance(error, GraderError):
        return f"internal grader error (not your fault; tell your instructor): {error}", True
    if isinstance(error, AssertionError):
        return (str(error) or "the result is not what the question asks for"), False
    # A grader tripping over a malformed result (wrong type, missing key) is the submission's fault.
    return f"your result has the wrong form ({type(error).__name__}: {str(error)[:200]})", False


def fingerprint(*roots: Path) -> dict[str, str]:
    """sha256 of every file below ``roots`` (caches excluded), by path."""
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest()
            for root in roots for path in sorted(root.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def _reference_key(reference: Path) -> str:
    """Changes whenever the reference, the graders or the runtime change, so stale outputs are never reused."""
    digest = hashlib.sha256(f"{platform.python_version()} {torch.__version__}".encode())
    for path, sha in fingerprint(reference, AUTOGRADER_DIR).items():
        digest.update(f"{path} {sha}".encode())
    return digest.hexdigest()[:16]


def _pytest_args(modules: list) -> list[str]:
    # Quiet: the verdicts come from the plugin, and plain asserts keep grader source out of the messages.
    return [str(Path(module.__file__)) for module in modules] + [
        "-p", "no:terminal", "-p", "no:cacheprovider", "-p", "no:warnings", "--assert=plain", "-s",
        "-c", str(AUTOGRADER_DIR / "pytest.ini"), "--rootdir", str(AUTOGRADER_DIR)]


def question_maxima() -> dict[str, float]:
    """``{qid: maximum points}`` for every question, as the graders declare them."""
    load_graders()
    return {qid: q.points for qid, q in sorted(QUESTIONS.items(), key=lambda item: item[1].number)}


def _share(points: float, weight: float, total: float) -> float:
    """A check's points: its weight's share of the question's points (rounded, so that full marks are exact)."""
    return round(points * weight / total, 4) if total else 0.0


def grade(submission: Path, *, reference: Path = DEFAULT_REFERENCE, questions: list[str] | None = None,
          workers: int = 2, max_timeout: float | None = None) -> dict[str, Any]:
    """Grade ``submission`` (a folder holding the ``seq2seq`` package) and return results.json's content."""
    started = time.monotonic()
    modules = load_graders()
    selected = sorted(questions or QUESTIONS, key=lambda q: QUESTIONS[q].number)
    unknown = [q for q in selected if q not in QUESTIONS]
    if unknown:
        raise ValueError(f"no graders for {', '.join(unknown)}; known: {', '.join(QUESTIONS)}")
    grading = Grading(submission.resolve(), reference.resolve(), selected, workers, max_timeout)
    before = fingerprint(AUTOGRADER_DIR, grading.reference)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        grading.start(pool)
        code = pytest.main(_pytest_args(modules), plugins=[grading])
    changed = sorted(set(before.items()) ^ set(fingerprint(AUTOGRADER_DIR, grading.reference).items()))
    if changed:
        raise GraderError(f"files of the autograder or of the reference changed while grading {submission} "
                          f"(first: {changed[0][0]}): restore them (git checkout) and look at that submission")
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise GraderError(f"pytest could not run the graders (exit {code}); see why with: "
                          f"python -m pytest --collect-only -c autograder/pytest.ini autograder/graders/grade_*.py")
    return _results(grading, time.monotonic() - started)


def _results(grading: Grading, seconds: float) -> dict[str, Any]:
    tests = []
    for qid in grading.questions:
        verdicts = [v for v in grading.verdicts if v.qid == qid]
        maximum, total = QUESTIONS[qid].points, sum(v.weight for v in verdicts)
        score = _share(maximum, sum(v.weight for v in verdicts if v.passed), total)
        lines = []
        for v in verdicts:
            share = _share(maximum, v.weight, total)
            lines.append(f"{'PASS' if v.passed else 'FAIL'} ({share if v.passed else 0:g}/{share:g}) {v.name}"
                         + ("" if v.passed else "\n    " + v.message.replace("\n", "\n    ")))
        child = grading.student[qid].result()
        if score < maximum and child.printed.strip():
            lines.append("Your code printed (last lines):\n" + child.printed.strip()[-800:])
        tests.append({"name": f"{qid} {QUESTIONS[qid].title}", "score": score, "max_score": maximum,
                      "status": "passed" if score == maximum else "failed", "output": "\n".join(lines),
                      "visibility": "visible"})
    grader_errors = [v for v in grading.verdicts if v.grader_error]
    # Gradescope's results.json; what Gradescope does not define goes under its free-form "extra_data".
    return {"score": round(sum(t["score"] for t in tests), 4), "execution_time": round(seconds, 1), "tests": tests,
            "output": (f"Graded {len(tests)} questions in {seconds:.0f} s."
                       + (f" {len(grader_errors)} checks hit an internal grader error." if grader_errors else "")),
            "extra_data": {"max_score": sum(t["max_score"] for t in tests), "grader_errors": len(grader_errors)}}
