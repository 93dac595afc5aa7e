"""``grades.csv``, grade-all's class table: how it is written and read back (by ``export`` and ``compare``).

One row per student folder: ``student, Q1..Q34 (the questions graded), total, status, reason``. ``status`` is one
of results.py's outcomes (graded, flagged, not graded); ``total`` and the question columns are blank for a
student who was not graded. The table is the record an instructor reads and may correct by hand, so ``export``
and ``compare`` read the scores from it; each student's ``results.json`` only supplies the points possible.
This module imports nothing heavy: reading grades needs neither torch nor the graders.
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.results import FLAGGED, GRADED, NOT_GRADED

FILE = "grades.csv"
FIXED = ("student", "total", "status", "reason")


@dataclass(frozen=True)
class Grade:
    """One row of grades.csv. ``total`` is None (and ``scores`` empty) for a student who was not graded."""

    student: str
    scores: dict[str, float]  # {"Q5": 2.0, ...}, in question order
    total: float | None
    status: str
    reason: str


def question_order(qid: str) -> int:
    return int(qid[1:])


def write(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write grade-all's rows (``{"student", "Q5", ..., "total", "status", "reason"}``, values as text)."""
    columns = ["student"] + sorted({k for row in rows for k in row if k.startswith("Q")},
                                   key=question_order) + ["total", "status", "reason"]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def read(folder: Path) -> list[Grade]:
    """The rows of ``folder/grades.csv``, in file order. Raises ValueError naming the line of anything malformed."""
    path = folder / FILE
    if not path.is_file():
        raise ValueError(f"{folder} holds no {FILE}: is it a grade-all output folder? (grade-all writes {FILE} "
                         "when it finishes: run it again to complete an interrupted run)")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [c for c in FIXED if c not in header]
        questions = [c for c in header if c[:1] == "Q" and c[1:].isdigit()]  # other columns a later version adds
        if missing:
            raise ValueError(f"{path} line 1: expected columns student, Q1..Q34, total, status, reason; "
                             f"missing {', '.join(missing)}")
        grades, seen = [], set()
        for row in reader:
            where = f"{path} line {reader.line_num}"
            grade = _row(row, questions, where)
            if grade.student in seen:
                raise ValueError(f"{where}: student {grade.student!r} appears twice")
            seen.add(grade.student)
            grades.append(grade)
    return grades


def _row(row: dict[str, str | None], questions: list[str], where: str) -> Grade:
    if None in row or any(row[c] is None for c in FIXED):
        raise ValueError(f"{where}: expected {len(FIXED) + len(questions)} fields")
    student, status = row["student"].strip(), row["status"].strip()
    if not student:
        raise ValueError(f"{where}: no student")
    if status not in (GRADED, FLAGGED, NOT_GRADED):
        raise ValueError(f"{where}: status {status!r} is none of {GRADED}, {FLAGGED}, {NOT_GRADED}")
    total = _number(row["total"], "total", where)
    if total is None and status != NOT_GRADED:
        raise ValueError(f"{where}: {student} is {status} but has no total")
    scores = {q: s for q in questions if (s := _number(row[q], q, where)) is not None}
    return Grade(student, scores, total, status, row["reason"].strip())


def _number(text: str | None, column: str, where: str) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {column} {text!r} is not a finite number")
    return value


def points_possible(folder: Path, grades: list[Grade]) -> float | None:
    """The run's maximum total, from the students' results.json (``extra_data.max_score``); None when no student
    has one (every student not graded). Raises ValueError when students were graded out of different maxima."""
    maxima: dict[float, str] = {}
    for grade in grades:
        path = folder / grade.student / "results.json"
        if grade.status == NOT_GRADED or not path.is_file():
            continue
        try:
            maximum = json.loads(path.read_text(encoding="utf-8"))["extra_data"]["max_score"]
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}: no extra_data.max_score ({error})") from None
        maxima.setdefault(float(maximum), grade.student)
    if len(maxima) > 1:
        seen = ", ".join(f"{m:g} ({s})" for m, s in maxima.items())
        raise ValueError(f"{folder}: students were graded out of different maxima: {seen}; grade them again "
                         "together, with the same --questions")
    return next(iter(maxima), None)


def number(value: float) -> str:
    """A score as LMS imports read it: plain decimal point, at most 4 decimals, no exponent, no thousands separator
    (``12.5``, ``100``, ``0``)."""
    return f"{round(value, 4) + 0.0:.4f}".rstrip("0").rstrip(".")  # + 0.0 turns -0.0 into 0.0
