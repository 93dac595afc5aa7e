"""Grades out to a learning management system: ``python -m autograder export GRADES_DIR ...``.

Reads grade-all's output folder (``grades.csv``, and the points possible from the students' ``results.json``) and
writes any of:

``--canvas FILE``  a Canvas gradebook import (Grades > Import): the header ``Student, ID, SIS User ID, SIS Login ID,
                   Section, <assignment>``, then a ``Points Possible`` row, then one row per student with the total.
                   The assignment column is titled ``--assignment`` (``"Seq2seq (4711)"`` with ``--assignment-id
                   4711``, the number in the assignment's Canvas address, so that Canvas fills that assignment
                   rather than creating one). Only the total goes to Canvas: any other column would become an
                   assignment of its own. Scores use a decimal point, at most 4 decimals; fields holding a comma or
                   a quote (``"Doe, Jane"``) are quoted as RFC 4180 says. Canvas needs the roster.
``--csv FILE``     a plain table: ``student`` (the submission folder), the roster's columns, ``total``, one column per
                   question, ``status`` and ``reason``.
``--flags FILE``   every student an instructor must look at (default: ``export-flags.csv`` beside the first file
                   above); also printed.

The roster (``--roster FILE``, CSV with a header) maps submission folders to the LMS: required columns ``folder``
(the student's folder name in the graded class), ``id`` (the LMS's id; for Canvas its numeric user ID, column
``ID`` of a Canvas gradebook export) and ``name``; optional ``sis_user_id``, ``sis_login_id``, ``section``. A
malformed roster (a column missing or unknown, a field too many or too few, an empty folder or id, a folder or
id twice) is refused with an error that names the line.

Nobody is dropped or zeroed silently:

* a roster student with no graded folder is exported with 0 and status ``missing``;
* a student who was not graded (the grader failed, results.py) is exported blank, not 0, with status
  ``not graded``: grade them again (grade-all resumes with them) and export again;
* a ``flagged`` student (e.g. no ``seq2seq`` package) is exported with their score, and listed;
* a graded folder that is not in the roster cannot be exported (it has no LMS id): it is listed.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from autograder import grades as grades_csv
from autograder.grades import Grade, number
from autograder.results import FLAGGED, GRADED, NOT_GRADED

ROSTER_COLUMNS = ("folder", "id", "name", "sis_user_id", "sis_login_id", "section")
REQUIRED = ("folder", "id", "name")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MISSING = "missing"  # a roster student with no graded folder: a status of the export only
NOT_IN_ROSTER = "not in roster"


@dataclass(frozen=True)
class Student:
    """One roster row."""

    folder: str
    id: str
    name: str
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


@dataclass(frozen=True)
class Entry:
    """One exported student: ``student`` is None without a roster, ``grade`` None for a roster student with no
    graded folder."""

    folder: str
    student: Student | None
    grade: Grade | None

    @property
    def status(self) -> str:
        return MISSING if self.grade is None else self.grade.status

    @property
    def total(self) -> float | None:
        return 0.0 if self.grade is None else self.grade.total

    @property
    def reason(self) -> str:
        return "no submission: the graded class has no folder of this name" if self.grade is None else self.grade.reason


@dataclass
class Export:
    entries: list[Entry]
    unrostered: list[Grade]  # graded folders the roster does not name
    questions: list[str]
    points_possible: float | None

    def flagged(self) -> list[Entry]:
        return [e for e in self.entries if e.status != GRADED]


def read_roster(path: Path) -> list[Student]:
    """The roster's students in file order; raises ValueError naming the line of anything malformed."""
    if not path.is_file():
        raise ValueError(f"the roster {path} does not exist")
    with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: a byte-order mark from Excel is fine
        reader = csv.DictReader(handle)
        header = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED if c not in header]
        unknown = [c for c in header if c not in ROSTER_COLUMNS]
        if missing or unknown or len(set(header)) != len(header):
            problem = (f"missing column {', '.join(missing)}" if missing else
                       f"unknown column {', '.join(unknown)}" if unknown else "a column appears twice")
            raise ValueError(f"{path} line 1: {problem}; a roster's columns are {', '.join(REQUIRED)} and optionally "
                             f"{', '.join(c for c in ROSTER_COLUMNS if c not in REQUIRED)}")
        reader.fieldnames = header
        students, lines = [], {}
        for row in reader:
            where = f"{path} line {reader.line_num}"
            if None in row or None in row.values():
                raise ValueError(f"{where}: expected {len(header)} fields ({', '.join(header)})")
            student = Student(**{k: v.strip() for k, v in row.items()})
            for key in ("folder", "id"):
                value = getattr(student, key)
                if not value:
                    raise ValueError(f"{where}: no {key}")
                if (key, value) in lines:
                    raise ValueError(f"{where}: {key} {value!r} is already on line {lines[key, value]}")
                lines[key, value] = reader.line_num
            students.append(student)
    if not students:
        raise ValueError(f"{path}: the roster names no student")
    return students


def build(folder: Path, roster: list[Student] | None = None) -> Export:
    """What to export from grade-all's output ``folder``: one entry per roster student (per graded folder when
    there is no roster)."""
    graded = grades_csv.read(folder)
    questions = sorted({q for g in graded for q in g.scores}, key=grades_csv.question_order)
    by_folder = {g.student: g for g in graded}
    if roster is None:
        entries, unrostered = [Entry(g.student, None, g) for g in graded], []
    else:
        named = {s.folder for s in roster}
        entries = [Entry(s.folder, s, by_folder.get(s.folder)) for s in roster]
        unrostered = [g for g in graded if g.student not in named]
    return Export(entries, unrostered, questions, grades_csv.points_possible(folder, graded))


def write_canvas(export: Export, path: Path, assignment: str, assignment_id: str | None = None) -> None:
    """Canvas's gradebook import CSV (see the module docstring)."""
    if not assignment.strip():
        raise ValueError("the Canvas assignment needs a name (--assignment)")
    if export.points_possible is None:
        raise ValueError("no student was graded, so the points possible are unknown: give --points-possible")
    if any(e.student is None for e in export.entries):
        raise ValueError("Canvas needs each student's Canvas ID: give --roster")
    bad = [e.student for e in export.entries if not e.student.id.isdigit()]
    if bad:
        raise ValueError(f"Canvas's ID column holds its numeric user ID, not {bad[0].id!r} (folder {bad[0].folder}): "
                         "put university ids in the roster's sis_user_id column")
    title = f"{assignment.strip()} ({assignment_id})" if assignment_id else assignment.strip()
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CANVAS_COLUMNS, title])
        writer.writerow(["Points Possible", "", "", "", "", number(export.points_possible)])
        for entry in export.entries:
            s = entry.student
            total = "" if entry.total is None else number(entry.total)  # not graded: blank, never 0
            writer.writerow([s.name, s.id, s.sis_user_id, s.sis_login_id, s.section, total])


def write_csv(export: Export, path: Path, roster_columns: list[str]) -> None:
    """The plain table: student (folder), ``roster_columns``, total, Q.., status, reason."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", *roster_columns, "total", *export.questions, "status", "reason"])
        for e in export.entries:
            ids = [getattr(e.student, c) for c in roster_columns] if e.student else []
            if e.grade is None:
                scores = ["0"] * len(export.questions)
            else:
                scores = [number(e.grade.scores[q]) if q in e.grade.scores else "" for q in export.questions]
            total = "" if e.total is None else number(e.total)
            writer.writerow([e.folder, *ids, total, *scores, e.status, e.reason])


def flags(export: Export) -> list[dict[str, str]]:
    """Every student to look at: ``{student, id, name, problem, exported_as, detail}``."""
    rows = []
    for e in export.flagged():
        exported = {MISSING: "0", NOT_GRADED: "blank"}.get(e.status, number(e.total or 0.0))
        rows.append({"student": e.folder, "id": e.student.id if e.student else "",
                     "name": e.student.name if e.student else "", "problem": e.status, "exported_as": exported,
                     "detail": e.reason})
    for g in export.unrostered:
        rows.append({"student": g.student, "id": "", "name": "", "problem": NOT_IN_ROSTER,
                     "exported_as": "not exported",
                     "detail": f"graded ({g.status}, total {'-' if g.total is None else number(g.total)}) but not "
                               "in the roster: add it to the roster and export again"})
    return rows


def write_flags(rows: list[dict[str, str]], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["student", "id", "name", "problem", "exported_as", "detail"])
        writer.writeheader()
        writer.writerows(rows)


def summary(export: Export, rows: list[dict[str, str]]) -> str:
    """A few lines for the terminal: how many exported, and every flagged student."""
    counts = {s: sum(e.status == s for e in export.entries) for s in (GRADED, FLAGGED, NOT_GRADED, MISSING)}
    lines = [f"exported {len(export.entries)} students: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
             + (f"; points possible {number(export.points_possible)}" if export.points_possible is not None else "")]
    for row in rows:
        exported = row["exported_as"] if row["problem"] == NOT_IN_ROSTER else f"exported as {row['exported_as']}"
        lines.append(f"  {row['problem']:<13} {row['student']}{' (' + row['name'] + ')' if row['name'] else ''}: "
                     f"{exported}; {row['detail']}")
    return "\n".join(lines)


def export(folder: Path, *, roster: Path | None = None, canvas: Path | None = None, table: Path | None = None,
           flags_file: Path | None = None, assignment: str = "attention_seq2seq", assignment_id: str | None = None,
           points_possible: float | None = None) -> tuple[Export, Path, str]:
    """Write the requested files; return the export, the flags file written and the summary to print."""
    if canvas is None and table is None:
        raise ValueError("nothing to write: give --canvas FILE and/or --csv FILE")
    if assignment_id is not None and not assignment_id.isdigit():
        raise ValueError(f"--assignment-id is the number in the assignment's Canvas address, not {assignment_id!r}")
    students = read_roster(roster) if roster else None
    result = build(folder, students)
    if points_possible is not None:
        result.points_possible = points_possible
    flags_file = flags_file or (canvas or table).parent / "export-flags.csv"
    outputs = [p.resolve() for p in (canvas, table, flags_file) if p is not None]
    if len(set(outputs)) != len(outputs) or any(p.parent == folder.resolve() and p.name == grades_csv.FILE
                                                for p in outputs):
        raise ValueError("--canvas, --csv and --flags must be different files, none of them GRADES_DIR/grades.csv")
    if canvas:
        write_canvas(result, canvas, assignment, assignment_id)
    if table:
        present = [c for c in ROSTER_COLUMNS[1:] if students and any(getattr(s, c) for s in students)]
        write_csv(result, table, present)
    rows = flags(result)
    write_flags(rows, flags_file)
    return result, flags_file, summary(result, rows)
