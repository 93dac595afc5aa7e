"""The deciding process: run the hidden pytest graders against one submission and score them.

Student code never runs here. For every selected question the harness runs the question's probes in two children
(see sandbox.py): one on the reference solution, one on the submission. The graders' checks, ordinary pytest tests,
compare the two sets of raw outputs. This module collects each check's verdict, shares out each question's points
among its checks by their weights (see registry.py), and returns the content of Gradescope's ``results.json`` (see
results.py for the three outcomes: graded, flagged, not graded).

Reference first: the reference's outputs are computed before any student code runs (``grade-all``: once for the
whole class), by children of their own uid; a probe that fails on the reference is tried once more, then the grading
stops with an error that names the question, and nobody is scored on it. Reference outputs that succeeded are kept
in memory for the life of this process and in ``REFERENCE_CACHE`` for later ones on the same machine (``python -m
autograder prepare`` computes them ahead, e.g. when a Gradescope image is built): a folder only the grading user may
enter, which no child can read or write (children run as other uids, and Landlock keeps them to their submission,
the probes, Python and the system), named by :func:`reference_key`. Each submission is staged into a private copy
that only its own children's uid can read, read as submission.py reads a submission (no link followed, nothing but
regular files, limits kept): what it left out is named in the result, which is then flagged. The files of the
autograder and of the reference are fingerprinted when this process first grades and after every grading: if they
ever change, nothing is scored any more.
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder import isolation, sandbox
from autograder.provided import RELEASE, overlay
from autograder.redact import redact, scrub, tail
from autograder.registry import QUESTIONS, load_graders
from autograder.results import GraderError, InfrastructureError, flag, flagged, graded
from autograder.submission import Refused, left_out_reason, read_package

__all__ = ["GraderError", "InfrastructureError", "StudentCodeError", "grade", "reference_outputs",
           "question_maxima", "fingerprint", "DEFAULT_REFERENCE"]

AUTOGRADER_DIR = Path(__file__).resolve().parent
REPO_ROOT = AUTOGRADER_DIR.parent
DEFAULT_REFERENCE = REPO_ROOT / "solutions" / "attention_seq2seq"
# The reference's outputs, kept between processes on this machine (AUTOGRADER_REFERENCE_CACHE: another folder, or
# "off"); named by reference_key, so a change of reference, graders, Python, torch or processor computes them again.
REFERENCE_CACHE = REPO_ROOT / ".cache" / "reference-outputs"

# (fingerprint of reference + graders + runtime, question) -> the reference's outputs, for this process's life;
# successful runs only.
_REFERENCE: dict[tuple[str, str], sandbox.ChildResult] = {}
_REFERENCE_LOCK = threading.Lock()
_STAGED_REFERENCE: dict[str, Path] = {}
_BASELINE: dict[str, dict[str, str]] = {}  # root -> fingerprints of its files when this process first saw it


class StudentCodeError(Exception):
    """Raised by ``out[...]`` when the student's code failed in that probe; the message is the feedback."""


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
            raise (GraderError if self.reference else StudentCodeError)(scrub(entry["error"]))
        # Every string the student's code returned may reach feedback through a check's message: scrub it first.
        return entry["ok"] if self.reference else scrub(entry["ok"])


@dataclass
class Verdict:
    qid: str
    name: str        # the test's docstring, first line: what it checks, in student terms
    weight: float    # the check's share of its question (``@pytest.mark.grade(qid, points=weight)``)
    passed: bool
    message: str = ""
    grader_error: bool = False
    check: str = ""  # the check's function name
    requires: tuple[str, ...] = ()  # checks (function names) this one earns points with (``requires=`` of the marker)
    seconds: float = 0.0  # the check's own run time (pytest's call phase; waiting for the child is not counted)


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
    expected: dict[str, sandbox.ChildResult] = field(default_factory=dict)

    # -- children -----------------------------------------------------------------------------------------
    def start(self, pool: ThreadPoolExecutor, uid: int | None) -> None:
        # Longest questions first, so that the pool stays busy to the end.
        for qid in sorted(self.questions, key=lambda q: -QUESTIONS[q].timeout):
            self.student[qid] = pool.submit(sandbox.run_question, self.submission, qid, self._timeout(qid), uid)

    def _timeout(self, qid: str) -> float:
        return min(QUESTIONS[qid].timeout, self.max_timeout or QUESTIONS[qid].timeout)

    # -- pytest plugin ------------------------------------------------------------------------------------
    @pytest.fixture
    def out(self, request: pytest.FixtureRequest) -> Outputs:
        return Outputs(self.student[_qid(request.node)].result(), reference=False)

    @pytest.fixture
    def ref(self, request: pytest.FixtureRequest) -> Outputs:
        return Outputs(self.expected[_qid(request.node)], reference=True)

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        items[:] = [item for item in items if _qid(item) in self.questions]
        for item in items:  # verdicts come from _explain: pytest's own failure report (it parses the check's
            item.repr_failure = item._repr_failure_py = _bare_repr  # module again, every time) is never shown

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        failed = call.excinfo is not None and report.when in ("setup", "call")
        if report.when == "call" or failed:
            marker = item.get_closest_marker("grade")
            doc = (getattr(item, "function", None).__doc__ or item.name).strip().splitlines()[0]
            if hasattr(item, "callspec"):
                doc += f" [{item.callspec.id}]"
            requires = marker.kwargs.get("requires", ())
            verdict = Verdict(_qid(item), doc, float(marker.kwargs["points"]), passed=not failed,
                              check=getattr(item, "originalname", item.name),
                              requires=(requires,) if isinstance(requires, str) else tuple(requires),
                              seconds=report.duration if report.when == "call" else 0.0)
            if failed:
                verdict.message, verdict.grader_error = _explain(call.excinfo.value)
            self.verdicts.append(verdict)
        return report


def _bare_repr(excinfo: pytest.ExceptionInfo, style: str | None = None) -> str:
    """A failed check's report for pytest's own use: the exception in one line, without the traceback's source."""
    return f"{excinfo.typename}: {str(excinfo.value)[:300]}"


def _qid(item: pytest.Item) -> str:
    marker = item.get_closest_marker("grade")
    if marker is None or "points" not in marker.kwargs:
        raise GraderError(f"{item.nodeid}: every grader needs @pytest.mark.grade(QID, points=N)")
    return marker.args[0]


def _explain(error: BaseException) -> tuple[str, bool]:
    """The feedback for a failed check: never the grader's source, never a traceback into hidden code."""
    if isinstance(error, StudentCodeError):
        return f"your code failed: {error}", False
    if isinstance(error, GraderError):  # InfrastructureError included: the whole grading is then "not graded"
        return f"internal grader error (not your fault; tell your instructor): {error}", True
    if isinstance(error, AssertionError):
        return (str(error) or "the result is not what the question asks for"), False
    if isinstance(error, (NameError, ImportError, SyntaxError)):  # no submission can cause these in a check
        return f"internal grader error (not your fault; tell your instructor): {type(error).__name__}: {error}", True
    # A grader tripping over a malformed result (wrong type, missing key) is the submission's fault.
    return f"your result has the wrong form ({type(error).__name__}: {str(error)[:200]})", False


def fingerprint(*roots: Path) -> dict[str, str]:
    """sha256 of every file below ``roots`` (caches excluded), by path."""
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest()
            for root in roots for path in sorted(root.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def _cpu() -> str:
    """The processor's model name (outputs computed on one are reused only on the same kind)."""
    try:
        return next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name")), platform.machine())
    except OSError:
        return platform.machine()


@functools.cache
def reference_key(reference: Path) -> str:
    """Names the reference, the graders and the runtime as this process first saw them (if the files change later,
    ``_check_files`` refuses to grade), so that outputs and resumed results are never reused across versions."""
    runtime = f"{platform.python_version()} {torch.__version__} {torch.backends.cpu.get_cpu_capability()} {_cpu()}"
    digest = hashlib.sha256(runtime.encode())
    for path, sha in fingerprint(reference, AUTOGRADER_DIR).items():
        digest.update(f"{path} {sha}".encode())
    return digest.hexdigest()[:16]


def _pytest_args(modules: list) -> list[str]:
    # Quiet: the verdicts come from the plugin, and plain asserts keep grader source out of the messages. No
    # unraisable/thread-exception plugins: at the end of every run they force garbage collections (0.6 s a grading).
    return [str(Path(module.__file__)) for module in modules] + [
        "-p", "no:terminal", "-p", "no:cacheprovider", "-p", "no:warnings", "-p", "no:unraisableexception",
        "-p", "no:threadexception", "-p", "no:logging", "-p", "no:doctest", "-p", "no:junitxml", "--assert=plain", "-s",
        "-c", str(AUTOGRADER_DIR / "pytest.ini"), "--rootdir", str(AUTOGRADER_DIR)]


def refused(reason: str, questions: list[str] | None = None) -> dict[str, Any]:
    """"Flagged" with 0 on every selected question (default: all): for a submission that is not graded as it is
    (none found, over the limits, reached through a link)."""
    maxima = question_maxima()
    return flagged(reason, {f"{qid} {QUESTIONS[qid].title}": points for qid, points in maxima.items()
                            if not questions or qid in questions})


def question_maxima() -> dict[str, float]:
    """``{qid: maximum points}`` for every question, as the graders declare them."""
    load_graders()
    return {qid: q.points for qid, q in sorted(QUESTIONS.items(), key=lambda item: item[1].number)}


def _share(points: float, weight: float, total: float) -> float:
    """A check's points: its weight's share of the question's points (rounded, so that full marks are exact)."""
    return round(points * weight / total, 4) if total else 0.0


def reference_outputs(reference: Path, questions: list[str], workers: int = 2) -> dict[str, sandbox.ChildResult]:
    """The reference solution's outputs for ``questions``, computed (once per process) before any student code.

    A question whose probes fail on the reference is run once more; if it fails again, :class:`GraderError`
    names it. Only successful runs are kept. The reference's own time limits are never capped."""
    load_graders()
    key = reference_key(reference)
    with _REFERENCE_LOCK:
        if key not in _STAGED_REFERENCE:
            _STAGED_REFERENCE[key] = isolation.stage(read_package(reference), sandbox.workspace() / f"reference-{key}",
                                                     isolation.owner_uid(key, reference=True))
        staged = _STAGED_REFERENCE[key]
        for qid in questions:
            if (key, qid) not in _REFERENCE and (kept := _load_kept(key, qid)) is not None:
                _REFERENCE[key, qid] = kept
        missing = [q for q in sorted(questions, key=lambda q: -QUESTIONS[q].timeout) if (key, q) not in _REFERENCE]
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for _try in (1, 2):
                runs = {qid: pool.submit(sandbox.run_question, staged, qid, QUESTIONS[qid].timeout,
                                         isolation.owner_uid(key, reference=True)) for qid in missing}
                failed = {}
                for qid, run in runs.items():
                    result = run.result()  # an InfrastructureError stops here: nobody is graded
                    problem = result.failure or next((e["error"] for e in result.outputs.values() if "error" in e),
                                                     None)
                    if problem is None:
                        _REFERENCE[key, qid] = result
                        _keep(key, qid, result)
                    else:
                        failed[qid] = problem
                missing = list(failed)
                if not missing:
                    break
        if missing:
            qid = missing[0]
            raise GraderError(f"the reference solution failed {qid} twice, so nobody is graded on it: "
                              f"{failed[qid][:300]}")
        return {qid: _REFERENCE[key, qid] for qid in questions}


def _kept_folder(key: str) -> Path | None:
    """Where the reference's outputs for ``key`` are kept between processes (None: nowhere)."""
    root = os.environ.get("AUTOGRADER_REFERENCE_CACHE", str(REFERENCE_CACHE))
    plan = isolation.plan()
    if root == "off" or not (plan.drop_uid or plan.landlock["files"]):
        return None  # a child could write there: keep them in memory only
    return Path(root) / key


def _load_kept(key: str, qid: str) -> sandbox.ChildResult | None:
    folder = _kept_folder(key)
    path = folder / f"{qid}.pt" if folder is not None else None
    if path is None or not path.is_file():
        return None
    try:
        saved = torch.load(path, weights_only=True)
        return sandbox.ChildResult(outputs=saved["outputs"], seconds=float(saved["seconds"]))
    except Exception:  # noqa: BLE001 - a damaged file is computed again, whatever its damage
        return None


def _keep(key: str, qid: str, result: sandbox.ChildResult) -> None:
    """Keep ``result`` for later processes on this machine: in a folder only this process's user may enter (no
    child can read it: children run as other uids, and Landlock keeps them out), older versions' outputs removed."""
    folder = _kept_folder(key)
    if folder is None:
        return
    for old in folder.parent.glob("*") if folder.parent.is_dir() else []:
        if old.name != key:
            shutil.rmtree(old, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700, exist_ok=True)
    os.chmod(folder.parent, 0o700)
    partial = folder / f".{qid}.{os.getpid()}.{threading.get_ident()}"
    torch.save({"outputs": result.outputs, "seconds": result.seconds}, partial)
    os.chmod(partial, 0o600)
    os.replace(partial, folder / f"{qid}.pt")  # whole or not at all, whoever else writes it


def _check_files(reference: Path, release: Path, submission: Path) -> None:
    """Refuse to score when the autograder's, the reference's or the release's files differ from when this process
    first saw them (a submission that changed them, on a machine where nothing prevented it)."""
    now = fingerprint(AUTOGRADER_DIR, reference, release)
    roots = [str(AUTOGRADER_DIR), str(reference), str(release)]
    with _REFERENCE_LOCK:
        for root in roots:
            if root not in _BASELINE:
                _BASELINE[root] = {p: h for p, h in now.items() if p.startswith(root + os.sep)}
        before = {p: h for root in roots for p, h in _BASELINE[root].items()}
    changed = sorted(set(before.items()) ^ set(now.items()))
    if changed:
        raise GraderError(f"files of the autograder or of the reference changed (first: {changed[0][0]}), "
                          f"at the latest while grading {submission}: restore them (git checkout), look at that "
                          "submission, and grade again")


def grade(submission: Path, *, reference: Path = DEFAULT_REFERENCE, questions: list[str] | None = None,
          workers: int = 2, max_timeout: float | None = None, release: Path = RELEASE) -> dict[str, Any]:
    """Grade ``submission`` (a folder holding the ``seq2seq`` package) and return results.json's content. The
    provided code is taken from ``release`` (the student release's package), see ``autograder/provided.py``.

    Raises :class:`GraderError` (:class:`InfrastructureError`) when the grader, not the submission, failed:
    entry points turn that into "not graded" with ``results.or_not_graded``."""
    started = time.monotonic()
    modules = load_graders()
    selected = sorted(questions or QUESTIONS, key=lambda q: QUESTIONS[q].number)
    unknown = [q for q in selected if q not in QUESTIONS]
    if unknown:
        raise ValueError(f"no graders for {', '.join(unknown)}; known: {', '.join(QUESTIONS)}")
    reference, release = reference.resolve(), release.resolve()
    _check_files(reference, release, submission)
    try:  # the submission as given (its own path is the caller's); nothing below it is followed
        tree = read_package(submission)
    except Refused as error:
        return refused(str(error), selected)
    provided = overlay(tree, release)  # provided code is the release's: points depend on the answers alone
    grading = Grading(submission, reference, selected, workers, max_timeout,
                      expected=reference_outputs(reference, selected, workers))
    staged = sandbox.workspace() / f"submission-{time.monotonic_ns()}"
    uid = isolation.owner_uid(str(staged))
    try:
        grading.submission = isolation.stage(tree, staged, uid)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            grading.start(pool, uid)
            code = pytest.main(_pytest_args(modules), plugins=[grading])
            wait(grading.student.values())
    finally:
        sandbox.remove(staged)
        isolation.release_uid(str(staged))  # its children are gone: run_question waited for each
    _check_files(reference, release, submission)
    for run in grading.student.values():
        if run.exception() is not None:
            raise run.exception()
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        raise GraderError(f"pytest could not run the graders (exit {code}); see why with: "
                          f"python -m pytest --collect-only -c autograder/pytest.ini autograder/graders/grade_*.py")
    _gate(grading.verdicts)
    broken = [v for v in grading.verdicts if v.grader_error]
    if broken:
        raise GraderError(f"{len(broken)} checks broke, first {broken[0].qid} ({broken[0].name}): {broken[0].message}")
    results = flag(_results(grading, time.monotonic() - started), left_out_reason(tree.left_out))
    if provided.note():
        results["output"] = "\n".join(o for o in (results.get("output"), provided.note()) if o)
    return results


def _gate(verdicts: list[Verdict]) -> None:
    """A check declared with ``requires=`` (an invariance a do-nothing answer would pass: "different seeds differ",
    "no gradients recorded") earns its points only when the checks it names passed in the same grading."""
    for verdict in verdicts:
        if not verdict.requires:
            continue
        needed = [v for v in verdicts if v.check in verdict.requires and v.qid == verdict.qid]
        if {v.check for v in needed} != set(verdict.requires):
            raise GraderError(f"{verdict.qid}: {verdict.check} requires unknown checks {verdict.requires}")
        failed = [v for v in needed if not v.passed]
        if verdict.passed and failed:
            verdict.passed = False
            verdict.message = ("this check counts only together with the behaviour it protects, which is not shown "
                               f"yet: \"{failed[0].name}\"")


def _check(verdict: Verdict, share: float) -> dict[str, Any]:
    """One check as the student reads it (name, points, the cause they are told), for results.json's extra_data."""
    return {"name": verdict.name, "passed": verdict.passed, "score": share if verdict.passed else 0,
            "max_score": share, "message": "" if verdict.passed else verdict.message}


def _results(grading: Grading, seconds: float) -> dict[str, Any]:
    tests = []
    for qid in grading.questions:
        verdicts = [v for v in grading.verdicts if v.qid == qid]
        maximum, total = QUESTIONS[qid].points, sum(v.weight for v in verdicts)
        score = _share(maximum, sum(v.weight for v in verdicts if v.passed), total)
        checks = [_check(v, _share(maximum, v.weight, total)) for v in verdicts]
        lines = [f"{'PASS' if c['passed'] else 'FAIL'} ({c['score']:g}/{c['max_score']:g}) {c['name']}"
                 + ("" if c["passed"] else "\n    " + c["message"].replace("\n", "\n    ")) for c in checks]
        child = grading.student[qid].result()
        if score < maximum and child.printed.strip():
            lines.append("Your code printed (last lines):\n" + redact(tail(child.printed.strip(), 800)))
        # A test's "extra_data" (Gradescope's spec: "optional extra data to be stored") holds the checks and causes
        # of the output text, structured, and the question's grading time, for the class report (autograder/report).
        timing = round(child.seconds + sum(v.seconds for v in verdicts), 3)
        tests.append({"name": f"{qid} {QUESTIONS[qid].title}", "score": score, "max_score": maximum,
                      "status": "passed" if score == maximum else "failed", "output": "\n".join(lines),
                      "visibility": "visible", "extra_data": {"checks": checks, "seconds": timing}})
    plan = isolation.plan()
    # Gradescope's results.json; what Gradescope does not define goes under its free-form "extra_data".
    return graded(tests, seconds, f"Graded {len(tests)} questions in {seconds:.0f} s.",
                  {"grader_errors": 0, "defences": plan.record(), "reference": reference_key(grading.reference)})
