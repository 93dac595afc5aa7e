"""Regrade diffs: what changed between two grade-all runs, so that a regrade can be announced with confidence.

``python -m autograder grade-all SUBMISSIONS --out NEW --compare OLD`` grades, then compares; ``python -m
autograder compare OLD NEW`` compares two existing output folders. Both read the two ``grades.csv`` (grades.py)
and write, into NEW (or ``--out``):

``regrade.csv``  one row per score that differs: ``student, question, old, new, delta``; ``question`` is ``Q5``..
                 or ``total``; a blank is "no score" (not graded, not graded on that question, or not in that run),
                 and its delta is blank too.
``regrade.md``   the summary, also printed: how many students went up, down, or kept their total with different
                 question scores; the largest changes and on which questions; every student whose status changed
                 (graded, flagged, not graded); the students present in only one run; the questions graded in only
                 one run.

OLD must be another folder than NEW: grade-all resumes from its own ``--out``, so comparing a folder with itself
would show nothing.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from autograder import grades as grades_csv
from autograder.grades import Grade, number

CSV_FILE, SUMMARY_FILE = "regrade.csv", "regrade.md"
LARGEST = 10  # changes listed by name in the summary
TOTAL = "total"


@dataclass(frozen=True)
class Change:
    """One score that differs between the runs; None is "no score"."""

    student: str
    question: str  # "Q5", ... or "total"
    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old


@dataclass
class Comparison:
    old: Path
    new: Path
    before: dict[str, Grade]  # the old run's rows, by student
    after: dict[str, Grade]
    changes: list[Change]

    @property
    def both(self) -> list[str]:
        return [s for s in self.after if s in self.before]

    @property
    def only_old(self) -> list[str]:
        return [s for s in self.before if s not in self.after]

    @property
    def only_new(self) -> list[str]:
        return [s for s in self.after if s not in self.before]

    @property
    def status_changes(self) -> list[tuple[Grade, Grade]]:
        return [(self.before[s], self.after[s]) for s in self.both if self.before[s].status != self.after[s].status]

    def totals(self) -> dict[str, float]:
        """``{student: new total - old total}`` for the students with a total in both runs."""
        return {s: self.after[s].total - self.before[s].total for s in self.both
                if self.before[s].total is not None and self.after[s].total is not None}

    def questions(self, run: dict[str, Grade]) -> list[str]:
        return sorted({q for g in run.values() for q in g.scores}, key=grades_csv.question_order)


def _differs(a: float | None, b: float | None) -> bool:
    return (a is None) != (b is None) or (a is not None and abs(a - b) > 1e-9)


def compare(old: Path, new: Path) -> Comparison:
    """Compare grade-all's output folders ``old`` and ``new`` (raises ValueError when one is no such folder)."""
    if old.resolve() == new.resolve():
        raise ValueError(f"{old} is the folder being compared with: compare with the output of another run")
    before = {g.student: g for g in grades_csv.read(old)}
    after = {g.student: g for g in grades_csv.read(new)}
    changes = []
    for student in sorted(set(before) | set(after)):
        a, b = before.get(student), after.get(student)
        old_scores, new_scores = (a.scores if a else {}), (b.scores if b else {})
        for q in sorted(set(old_scores) | set(new_scores), key=grades_csv.question_order):
            if _differs(old_scores.get(q), new_scores.get(q)):
                changes.append(Change(student, q, old_scores.get(q), new_scores.get(q)))
        old_total, new_total = (a.total if a else None), (b.total if b else None)
        if _differs(old_total, new_total) or a is None or b is None:  # a student in one run only: one row
            changes.append(Change(student, TOTAL, old_total, new_total))
    return Comparison(old, new, before, after, changes)


def _text(value: float | None) -> str:
    return "" if value is None else number(value)


def _signed(value: float) -> str:
    return ("+" if value > 0 else "") + number(value)


def summary(comparison: Comparison) -> str:
    """The regrade in a few Markdown lines (see the module docstring)."""
    c = comparison
    totals = c.totals()
    up = sorted((s for s, d in totals.items() if d > 1e-9), key=lambda s: -totals[s])
    down = sorted((s for s, d in totals.items() if d < -1e-9), key=lambda s: totals[s])
    moved = {ch.student for ch in c.changes if ch.question != TOTAL}
    same_total = [s for s, d in totals.items() if abs(d) <= 1e-9 and s in moved]
    unchanged = len(totals) - len(up) - len(down) - len(same_total)
    untotalled = len(c.both) - len(totals)
    lines = [f"# Regrade: {c.old} -> {c.new}", "",
             f"{len(c.both)} students in both runs: {len(up)} up, {len(down)} down, {len(same_total)} with the same "
             f"total but different question scores, {unchanged} unchanged"
             + (f", {untotalled} not graded in one of the runs (below)" if untotalled else "") + "."]
    largest = sorted(up + down + same_total, key=lambda s: (-abs(totals[s]), s))[:LARGEST]
    if largest:
        lines += ["", "Largest changes:"]
        for student in largest:
            per_question = ", ".join(f"{ch.question} {_signed(ch.delta)}" if ch.delta is not None else
                                     f"{ch.question} {_text(ch.old) or '-'} -> {_text(ch.new) or '-'}"
                                     for ch in c.changes if ch.student == student and ch.question != TOTAL)
            change = next((ch for ch in c.changes if ch.student == student and ch.question == TOTAL), None)
            total = f"{_text(change.old)} -> {_text(change.new)} ({_signed(change.delta)})" if change else "same total"
            lines.append(f"- {student}: {total}" + (f": {per_question}" if per_question else ""))
    if c.status_changes:
        lines += ["", "Status changed:"]
        lines += [f"- {a.student}: {a.status} -> {b.status}" + (f" ({b.reason})" if b.reason else "")
                  for a, b in c.status_changes]
    for label, students in ((f"Only in {c.old} (not in this run)", c.only_old),
                            (f"Only in {c.new} (not in the previous run)", c.only_new)):
        if students:
            lines += ["", f"{label}: {', '.join(students)}"]
    before, after = c.questions(c.before), c.questions(c.after)
    if before != after:
        lines += ["", f"Questions graded: {', '.join(before) or 'none'} before, {', '.join(after) or 'none'} now."]
    if not c.changes and not c.status_changes:
        lines += ["", "No score changed."]
    return "\n".join(lines) + "\n"


def write(comparison: Comparison, out: Path) -> tuple[Path, Path]:
    """Write ``out/regrade.csv`` and ``out/regrade.md``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    table, text = out / CSV_FILE, out / SUMMARY_FILE
    with open(table, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "question", "old", "new", "delta"])
        for ch in comparison.changes:
            writer.writerow([ch.student, ch.question, _text(ch.old), _text(ch.new),
                             "" if ch.delta is None else _signed(ch.delta)])
    text.write_text(summary(comparison), encoding="utf-8")
    return table, text
