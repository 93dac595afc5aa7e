"""Visible sanity checks: ``check("Q4")`` in the notebook, ``python -m seq2seq check Q4`` in a terminal.

They run the public tests of one question from ``public_tests/`` in a few seconds and say in plain words what is
wrong. Passing them is a good sign, not a grade: the hidden graders check much more.

The questions are the ones the package's docstrings name: every answer's function starts its docstring (or its
class's) with its question, ``"Q13 (part a): ..."``. :func:`known_questions` reads them there, so that no list of
ids has to be kept in step with the package, and :func:`unanswered` finds the functions that still hold the stub
(for ``python -m seq2seq submit``).
"""
from __future__ import annotations

import ast
import functools
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from seq2seq import ASSIGNMENT_DIR, PACKAGE_DIR

PUBLIC_TESTS = ASSIGNMENT_DIR / "public_tests"
_LEADING = re.compile(r"Q(\d+)\b")  # the question at the start of a docstring
# The same, for a module that does not parse (a student's syntax error must not make its questions unknown).
_OPENING = re.compile(r"^[ \t]*[rRuU]?(?:\"\"\"|''')[ \t]*Q(\d+)\b", re.MULTILINE)
_RESULT = re.compile(r"^(PASSED|FAILED|ERROR) (\S+)(?: - (.*))?$")  # pytest's -rA summary lines
_TEST_QUESTION = re.compile(r"^test_q(\d+)_")  # public tests are named test_q4_..., so Q1 never selects Q12


# ================================================================================ questions, from the package
@dataclass(frozen=True)
class Definition:
    """One function of the package: ``module`` ("attention.py"), ``name`` ("Attention.score"), its question
    ("Q13", None when neither its docstring nor its class's starts with one) and whether it is still the stub."""

    module: str
    name: str
    question: str | None
    stub: bool


def _question(*docstrings: str | None) -> str | None:
    """The question the first docstring that starts with one names ("Q13"), or None."""
    for doc in docstrings:
        match = _LEADING.match(doc or "")
        if match:
            return f"Q{int(match[1])}"
    return None


def _is_stub(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """True when the function's own body (not a branch of it) raises NotImplementedError: the release's stub (the
    ``YOUR CODE HERE`` comment and ``raise NotImplementedError()``), or an answer begun above a raise left there."""
    for statement in function.body:
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            if isinstance(raised, ast.Name) and raised.id == "NotImplementedError":
                return True
    return False


def _definitions(body: list[ast.stmt], module: str, owner: ast.ClassDef | None = None) -> list[Definition]:
    """The functions of ``body`` and, recursively, of its classes (a method's question may be its class's)."""
    found = []
    prefix = f"{owner.name}." if owner else ""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            question = _question(ast.get_docstring(node), ast.get_docstring(owner) if owner else None)
            found.append(Definition(module, prefix + node.name, question, _is_stub(node)))
        elif isinstance(node, ast.ClassDef):
            found += [Definition(d.module, prefix + d.name, d.question, d.stub)
                      for d in _definitions(node.body, module, node)]
    return found


@functools.lru_cache(maxsize=256)
def _module_definitions(path: Path, stamp: tuple[int, int]) -> tuple[Definition, ...] | None:
    """The functions of one module, None when it does not parse; cached by the file's (mtime, size) ``stamp``, so
    that the notebook's check cells (one per question) parse the package once, and again only where a file changed."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except (SyntaxError, ValueError):
        return None
    return tuple(_definitions(tree.body, path.name))


def definitions(package: Path = PACKAGE_DIR) -> tuple[list[Definition], list[Path]]:
    """Every function of the package's modules, and the modules that do not parse (their functions unknown)."""
    found, broken = [], []
    for path in sorted(package.glob("*.py")):
        info = path.stat()
        module = _module_definitions(path, (info.st_mtime_ns, info.st_size))
        if module is None:
            broken.append(path)
        else:
            found += module
    return found, broken


def _number(question: str) -> int:
    return int(question[1:])


def known_questions(package: Path = PACKAGE_DIR) -> list[str]:
    """The question ids the package's docstrings name, in order: ``["Q1", ..., "Q34"]`` for the course."""
    found, broken = definitions(package)
    questions = {d.question for d in found if d.question}
    for path in broken:
        questions |= {f"Q{int(n)}" for n in _OPENING.findall(path.read_text(encoding="utf-8", errors="replace"))}
    return sorted(questions, key=_number)


def unanswered(package: Path = PACKAGE_DIR) -> dict[str, list[Definition]]:
    """``{question: [its functions still holding the stub]}`` in question order; stubs that name no question
    come last, under "other"."""
    stubs = [d for d in definitions(package)[0] if d.stub]
    order = sorted({d.question for d in stubs if d.question}, key=_number)
    order += ["other"] if any(d.question is None for d in stubs) else []
    return {question: [d for d in stubs if (d.question or "other") == question] for question in order}


def spans(questions: list[str]) -> str:
    """``["Q1", "Q2", "Q3", "Q7"]`` -> ``"Q1 to Q3, Q7"``: a list of questions, runs shortened."""
    numbers = sorted({_number(q) for q in questions})
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"Q{run[0]}" if len(run) == 1 else f"Q{run[0]} to Q{run[-1]}" for run in runs)


def question_label(question: str, package: Path = PACKAGE_DIR) -> str:
    """``"q4 "`` -> ``"Q4"``, ``"all"`` -> ``"ALL"``.

    Raises:
        ValueError: ``question`` is not of the form ``Q<number>`` or ``all``, or names no question of the package.
    """
    label = question.strip().upper()
    if label == "ALL":
        return label
    if not re.fullmatch(r"Q\d{1,3}", label):
        raise ValueError(f"question must look like 'Q4' or be 'all', got {question!r}")
    label = f"Q{int(label[1:])}"
    known = known_questions(package)
    if label not in known:
        raise ValueError(f"unknown question {question!r}: the questions are {spans(known) or 'none'}")
    return label


# ================================================================================================ the checks
@dataclass(frozen=True)
class Outcome:
    """One visible check's result: ``test`` ("test_q4_same_seed_same_draws", or the test file that could not be
    loaded), its ``question`` ("Q4"; None when the name says none), whether it ``passed``, and pytest's one-line
    ``message``."""

    test: str
    question: str | None
    passed: bool
    message: str = ""


@dataclass(frozen=True)
class Run:
    """A run of the visible checks: its outcomes in pytest's order, pytest's report lines, and its exit code."""

    outcomes: list[Outcome]
    report: list[str]
    returncode: int

    @property
    def summary(self) -> str:
        return self.report[-1] if self.report else ""


def _outcomes(line: str) -> list[Outcome]:
    """The outcomes one summary line of ``pytest -rA`` reports ("FAILED public_tests/x.py::test_q5_y - msg"): one,
    or, for a test file that could not be loaded, one per question whose checks it holds (none of them ran)."""
    match = _RESULT.match(line)
    if match is None:
        return []
    where, _, test = match[2].partition("::")
    if not test:
        path = ASSIGNMENT_DIR / where
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        numbers = sorted({int(n) for n in re.findall(r"^\s*def test_q(\d+)_", text, re.MULTILINE)}) or [None]
        message = "the test file could not be loaded: a seq2seq module it imports fails (-v shows why)"
        return [Outcome(path.name, n and f"Q{n}", False, message) for n in numbers]
    number = _TEST_QUESTION.match(test)
    message = match[3] or ("" if match[1] == "PASSED" else "failed")
    if message.startswith("NotImplementedError"):
        message = "not implemented yet (the stub still raises NotImplementedError)"
    return [Outcome(test, f"Q{int(number[1])}" if number else None, match[1] == "PASSED", message)]


def run_checks(label: str = "ALL", *, verbose: bool = False) -> Run | None:
    """Run the visible checks of ``label`` ("Q4" or "ALL", see :func:`question_label`) in a pytest process of
    their own, quietly; None when the question has no visible check.

    Raises:
        FileNotFoundError: there is no ``public_tests/`` folder beside ``seq2seq/``.
    """
    if not PUBLIC_TESTS.is_dir():
        raise FileNotFoundError(f"no visible checks here: {PUBLIC_TESTS} is missing (they come with the release, "
                                "beside seq2seq/)")
    files = [str(PUBLIC_TESTS)]
    if label != "ALL":
        # Only the files that hold this question's tests: collecting the others would import their modules too.
        defines = re.compile(rf"^\s*def test_{label.lower()}_", re.MULTILINE)
        files = [str(path) for path in sorted(PUBLIC_TESTS.glob("test_*.py"))
                 if defines.search(path.read_text(encoding="utf-8"))]
        if not files:
            return None
    args = [sys.executable, "-m", "pytest", *files, "-q", "--no-header", "-p", "no:cacheprovider", "-rA",
            "--continue-on-collection-errors", "--color=no", "--tb=short" if verbose else "--tb=no",
            "-c", str(PUBLIC_TESTS / "pytest.ini")]
    if label != "ALL":
        args += ["-k", f"test_{label.lower()}_"]
    # A wide "terminal", so that pytest does not cut the failure messages short.
    done = subprocess.run(args, cwd=ASSIGNMENT_DIR, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "400"})
    if done.returncode == 5:  # nothing collected
        return None
    report = done.stdout.strip().splitlines()
    outcomes = [outcome for line in report for outcome in _outcomes(line)
                if label == "ALL" or outcome.question in (label, None)]
    return Run(outcomes, report, done.returncode)


def _print_failures(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        if not outcome.passed:
            print(f"  x {outcome.test}: {outcome.message}")


def _print_report(run: Run, verbose: bool) -> None:
    """pytest's own report: all of it when ``verbose``, its end where no outcome could be read (pytest itself
    failed), nothing otherwise (the outcomes said it all)."""
    if verbose or not run.outcomes:
        for line in run.report if verbose else run.report[-10:]:
            if _RESULT.match(line) is None:
                print("  " + line)


def _print_one(label: str, run: Run, verbose: bool) -> bool:
    """The verdict on one question (or on a run whose outcomes could not be read)."""
    if run.returncode == 0:
        print(f"{label}: all visible checks passed ({run.summary}).")
        return True
    print(f"{label}: some visible checks failed:")
    _print_failures(run.outcomes)
    _print_report(run, verbose)
    return False


def _print_all(run: Run, verbose: bool) -> bool:
    """One verdict per question, in question order (Q1, Q2, ..., not the order of the test files), then the
    test files that could not be loaded and the total."""
    by_question: dict[str, list[Outcome]] = {q: [] for q in known_questions()}
    for outcome in run.outcomes:
        if outcome.question:
            by_question.setdefault(outcome.question, []).append(outcome)
    for question in sorted(by_question, key=_number):
        outcomes = by_question[question]
        failed = [o for o in outcomes if not o.passed]
        if not outcomes:
            print(f"{question}: no visible checks for this question yet.")
        elif not failed:
            print(f"{question}: all visible checks passed ({len(outcomes)} passed).")
        else:
            print(f"{question}: {len(failed)} of {len(outcomes)} visible checks failed:")
            _print_failures(outcomes)
    others = [o for o in run.outcomes if o.question is None]
    _print_failures(others)
    if run.returncode == 0:
        print(f"ALL: all visible checks passed ({run.summary}).")
        return True
    _print_report(run, verbose)
    failing = sorted({o.question for o in run.outcomes if not o.passed and o.question}, key=_number)
    print(f"ALL: some visible checks failed ({run.summary}){': ' + spans(failing) if failing else ''}.")
    return False


def check(question: str = "all", *, verbose: bool = False) -> bool:
    """Run the visible checks of ``question`` ("Q1".."Q34" or "all") and print a short verdict; "all" gives one
    line per question, in question order.

    Returns:
        True when every selected check passed.

    Raises:
        ValueError: ``question`` is not of the form ``Q<number>`` or ``all``, or is not a question of the package
            (the message lists the questions).
    """
    label = question_label(question)
    skipped = os.environ.get("SEQ2SEQ_SKIP_CHECKS")
    if skipped:
        # Set by the course's nbgrader_config.py for `nbgrader autograde` (the hidden graders run instead) and by
        # the test that executes the whole notebook (the checks are tested on their own); never by students.
        print(f"{label}: visible checks skipped ({skipped}).")
        return True
    run = run_checks(label, verbose=verbose)
    if run is None:
        print(f"{label}: no visible checks for this question yet.")
        return True
    return _print_all(run, verbose) if label == "ALL" else _print_one(label, run, verbose)
