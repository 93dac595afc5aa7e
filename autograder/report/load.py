"""Read what ``grade-all`` wrote (GRADES_DIR/grades.csv and GRADES_DIR/<student>/results.json) into plain records.

Scores, statuses and reasons come from ``grades.csv`` (the class record, read by ``autograder/grades.py`` as
``export`` and ``compare`` read it); each question's title and maximum, its checks and the causes the student was
told, and its grading time come from the student's ``results.json``. Checks are read from each test's
``extra_data`` (written by the harness since the class report exists); a results.json written before that has only
the output text, ``PASS (1/1) <check>`` / ``FAIL (0/1) <check>`` lines each followed by the cause indented by four
spaces, which :func:`parse_output` reads back (it stops at "Your code printed", the student's own output, so
printed text cannot pose as a check). Per-question times exist only in ``extra_data``.

Everything read here may come from student code (reasons, causes, folder names): it is data, never markup.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import grades
from autograder.grades import Grade
from autograder.results import NOT_GRADED

STRUCTURED, PARSED, NONE = "extra_data", "output text", "none"
PRINTED = "Your code printed (last lines):"  # what the harness puts after the checks (harness._results)
_CHECK_LINE = re.compile(r"(PASS|FAIL) \(([0-9.eE+-]+)/([0-9.eE+-]+)\) (.*)")


class ReportError(ValueError):
    """GRADES_DIR cannot be read as grade-all's output: the message names the file and the problem."""


@dataclass(frozen=True)
class Check:
    name: str          # what the check verifies, in student terms (the grader's docstring, first line)
    passed: bool
    score: float
    max_score: float
    message: str = ""  # the cause the student was told when it failed (already redacted by the harness)


@dataclass
class Student:
    student: str
    status: str                   # graded | flagged | not graded (results.py)
    reason: str
    total: float | None           # None when not graded
    scores: dict[str, float]      # qid -> points, from grades.csv
    checks: dict[str, list[Check]] = field(default_factory=dict)   # qid -> its checks, from results.json
    seconds: dict[str, float] = field(default_factory=dict)        # qid -> grading time (extra_data only)
    source: str = NONE            # where the checks came from: STRUCTURED, PARSED or NONE (no checks at all)


@dataclass(frozen=True)
class Question:
    qid: str
    title: str
    max_score: float


@dataclass
class ClassResults:
    grades_dir: Path
    questions: list[Question]   # in question order
    students: list[Student]     # in grades.csv's order

    def scored(self) -> list[Student]:
        """The students in the statistics: every one with a score (graded or flagged), never the not graded."""
        return [s for s in self.students if s.status != NOT_GRADED]


def parse_output(text: str) -> list[Check]:
    """The checks of a test's output text (the harness's format; see the module docstring)."""
    checks: list[Check] = []
    causes: list[list[str]] = []
    for line in text.splitlines():
        if line.startswith(PRINTED):
            break
        match = _CHECK_LINE.fullmatch(line)
        if match and _finite(match[2]) and _finite(match[3]):
            checks.append(Check(match[4], match[1] == "PASS", float(match[2]), float(match[3])))
            causes.append([])
        elif checks and line.startswith("    "):
            causes[-1].append(line[4:])
    return [Check(c.name, c.passed, c.score, c.max_score, "\n".join(lines)) for c, lines in zip(checks, causes)]


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _student(grade: Grade, qids: list[str], path: Path) -> Student:
    if "/" in grade.student or grade.student in (".", ".."):
        raise ReportError(f"{path}: {grade.student!r} is not a student folder name")
    missing = [q for q in qids if q not in grade.scores]
    if grade.status != NOT_GRADED and missing:
        raise ReportError(f"{path}: {grade.student} is {grade.status} but has no score for {', '.join(missing)}")
    return Student(grade.student, grade.status, grade.reason, grade.total, dict(grade.scores))


def _read_results(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ReportError(f"{path}: missing (grade-all writes one per student; run it again to write it)")
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ReportError(f"{path}: not valid JSON ({error})") from None
    tests = results.get("tests") if isinstance(results, dict) else None
    if not isinstance(tests, list) or not all(isinstance(t, dict) and isinstance(t.get("name"), str)
                                              and isinstance(t.get("max_score"), (int, float)) for t in tests):
        raise ReportError(f"{path}: not a results.json (it needs a list of tests, each with a name and max_score)")
    return results


def _structured(test: dict[str, Any], path: Path) -> list[Check] | None:
    """The checks of ``test``'s extra_data, or None when it has none (an older results.json)."""
    extra = test.get("extra_data")
    if not isinstance(extra, dict) or "checks" not in extra:
        return None
    try:
        return [Check(str(c["name"]), bool(c["passed"]), float(c["score"]), float(c["max_score"]),
                      str(c.get("message") or "")) for c in extra["checks"]]
    except (KeyError, TypeError, ValueError) as error:
        raise ReportError(f"{path}: {test['name'].split()[0]}'s extra_data.checks is malformed ({error!r})") from None


def _attach(student: Student, results: dict[str, Any], path: Path, questions: dict[str, Question]) -> None:
    """Add ``results``'s checks and times to ``student`` and its questions' titles and maxima to ``questions``."""
    sources = set()
    for test in results["tests"]:
        qid, _, title = test["name"].partition(" ")
        known = questions.setdefault(qid, Question(qid, title, float(test["max_score"])))
        if known.max_score != float(test["max_score"]):
            raise ReportError(f"{path}: {qid} is worth {test['max_score']:g} here but {known.max_score:g} for other "
                              "students: these results come from different graders; grade the class again")
        checks = _structured(test, path)
        sources.add(STRUCTURED if checks is not None else PARSED)
        student.checks[qid] = checks if checks is not None else parse_output(str(test.get("output", "")))
        extra = test.get("extra_data")
        seconds = extra.get("seconds") if isinstance(extra, dict) else None
        if isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds >= 0:
            student.seconds[qid] = float(seconds)
    has_checks = any(student.checks.values())
    student.source = (PARSED if PARSED in sources else STRUCTURED) if has_checks else NONE


def load(grades_dir: Path) -> ClassResults:
    """Read ``grades_dir`` (grade-all's ``--out``); :class:`ReportError` names the file when it cannot."""
    path = grades_dir / grades.FILE
    try:
        rows = grades.read(grades_dir)  # the class record, read as export and compare read it
    except ValueError as error:
        raise ReportError(str(error)) from None
    if not rows:
        raise ReportError(f"{path}: no students")
    qids = sorted({q for row in rows for q in row.scores}, key=grades.question_order)
    students, questions = [], {}
    for row in rows:
        student = _student(row, qids, path)
        results = grades_dir / student.student / "results.json"
        _attach(student, _read_results(results), results, questions)
        students.append(student)
    if any(s.status != NOT_GRADED for s in students) and sorted(qids) != sorted(questions):
        raise ReportError(f"{path}: its questions ({', '.join(qids)}) are not those of the results.json files "
                          f"({', '.join(questions)}): these results do not belong together; grade the class again")
    return ClassResults(grades_dir, [questions[q] for q in qids if q in questions], students)
