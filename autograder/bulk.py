"""Grade a whole class: ``python -m autograder grade-all SUBMISSIONS_DIR --out OUT_DIR``.

Layouts recognised under SUBMISSIONS_DIR (or under its ``submitted/`` folder, nbgrader's):
``<student_id>/seq2seq/`` and ``<student_id>/attention_seq2seq/seq2seq/`` (nbgrader's
``submitted/<student_id>/attention_seq2seq/``).

Every submission's package is copied to a private staging folder before any student code runs (what a submission
may hold, and how it is read without following anything: submission.py; a student folder that is a link, or a
package over the limits, is flagged with 0), and its fingerprint is checked again just before it is graded, so
one student's code cannot change another's submission. Reference
outputs are computed once for the class, in memory, before any student code runs; if the reference fails a
question twice, the run stops with an error that names it. A student whose ``OUT_DIR/<id>/results.json`` was
made from the same submission files, the same questions and the same graders and reference, and was not a
"not graded" outcome, is not graded again: an interrupted run resumes where it stopped, and students the
grader failed on (results.py) are graded again.

Writes ``OUT_DIR/grades.csv`` (one row per student, one column per question, total, status, reason; the total is
blank for a student who was not graded), and per student ``OUT_DIR/<id>/results.json`` (Gradescope's format)
and ``OUT_DIR/<id>/feedback.md``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from autograder import grades, isolation
from autograder import results as outcome
from autograder.feedback import markdown
from autograder.harness import (DEFAULT_REFERENCE, fingerprint, grade, reference_key, reference_outputs,
                                refused)
from autograder.registry import QUESTIONS, load_graders
from autograder.sandbox import remove
from autograder.submission import PACKAGE, Refused, left_out_reason, read_package

ASSIGNMENT = "attention_seq2seq"


def class_folder(root: Path) -> Path:
    """The folder of student folders: ``root``, or nbgrader's ``root/submitted``."""
    return root / "submitted" if (root / "submitted").is_dir() else root


def find_submissions(root: Path) -> dict[str, Path | None]:
    """``{student id: folder holding seq2seq/ (None when the student's folder holds none)}``, sorted by id.

    Only looks: a student folder that is a symbolic link is listed as it is, and refused when it is read
    (``submission.read_package``), so that it is flagged, never graded as the student it points to."""
    base = class_folder(root)
    found: dict[str, Path | None] = {}
    for folder in sorted(p for p in base.iterdir() if (p.is_dir() or p.is_symlink()) and not p.name.startswith(".")):
        candidates = [folder, folder / ASSIGNMENT]
        found[folder.name] = next((c for c in candidates if c.is_symlink() or (c / PACKAGE / "__init__.py").is_file()),
                                  None)
    return found


def _digest(folder: Path) -> str:
    prints = fingerprint(folder)
    return hashlib.sha256("\n".join(f"{Path(p).relative_to(folder)} {h}" for p, h in prints.items())
                          .encode()).hexdigest()


def _stage(folder: Path, below: Path, into: Path) -> tuple[Path, str, str]:
    """Copy ``folder``'s package to ``into`` (submission.read_package: nothing followed, limits kept); return the
    copy, its digest and what was left out, in words ("" for nothing)."""
    tree = read_package(folder, below=below)
    tree.write(into)
    return into, _digest(into), left_out_reason(tree.left_out)


def grade_all(root: Path, out: Path, *, reference: Path = DEFAULT_REFERENCE, questions: list[str] | None = None,
              workers: int = 2, max_timeout: float | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Grade every submission under ``root``; return the class rows written to ``out/grades.csv``."""
    submissions = find_submissions(root)
    below = class_folder(root)
    out.mkdir(parents=True, exist_ok=True)
    load_graders()  # fills QUESTIONS
    reference_outputs(reference.resolve(), questions or list(QUESTIONS), workers)  # before any student code
    staging = isolation.private_folder("grade-all-", 0o700)  # copies of the whole class: no child passes through
    try:
        staged: dict[str, tuple[Path, str, str] | str] = {}
        for student, folder in submissions.items():  # copy everything before any student code runs
            if folder is not None:
                try:
                    staged[student] = _stage(folder, below, staging / student)
                except Refused as error:
                    staged[student] = str(error)
        rows = []
        for student in tqdm(submissions, desc="grading", unit="student", disable=not progress):
            rows.append(_grade_one(student, staged.get(student), out / student, reference, questions, workers,
                                   max_timeout))
    finally:
        remove(staging)
    grades.write(out / grades.FILE, rows)
    return rows


def _grade_one(student: str, staged: tuple[Path, str, str] | str | None, out: Path, reference: Path,
               questions: list[str] | None, workers: int, max_timeout: float | None) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    results_file = out / "results.json"
    if staged is None:
        results = refused("no submission found: the folder holds no seq2seq/ package", questions)
    elif isinstance(staged, str):
        results = refused(staged, questions)
    else:
        folder, digest, left_out = staged
        stamp = {"submission_sha256": digest, "questions": questions, "reference": reference_key(reference.resolve())}
        previous = json.loads(results_file.read_text()) if results_file.exists() else None
        if previous and outcome.status(previous) != outcome.NOT_GRADED \
                and all(previous["extra_data"].get(k) == v for k, v in stamp.items()):
            results = previous  # resumed: same files, same selection, same graders and reference
        elif _digest(folder) != digest:
            results = outcome.not_graded("this submission was modified during grading, by another submission's "
                                         "code: grade it again on its own")
        else:
            results = outcome.flag(outcome.or_not_graded(lambda: grade(folder, reference=reference, questions=questions,
                                                                 workers=workers, max_timeout=max_timeout)),
                                   left_out)
        results["extra_data"].update(stamp)
    results_file.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "feedback.md").write_text(markdown(results, student), encoding="utf-8")
    row: dict[str, Any] = {"student": student}
    row.update({test["name"].split()[0]: f"{test['score']:g}" for test in results["tests"]})
    status = outcome.status(results)
    row["total"] = "" if status == outcome.NOT_GRADED else f"{results['score']:g}"
    row["status"], row["reason"] = status, results["extra_data"].get("reason", "")
    return row
