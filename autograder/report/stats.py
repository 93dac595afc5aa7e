"""The class's statistics, computed over the students with a score (graded or flagged; never the not graded).

Conventions (each stated on the page too):

* quartiles and median: linear interpolation between order statistics (NumPy's default ``linear`` method,
  Hyndman & Fan's type 7, the same as R's default and Excel's QUARTILE.INC); standard deviation with n - 1;
* a question's *discrimination*: the corrected item-total correlation, the Pearson correlation between the
  students' scores on the question and their totals over the *other* questions graded (the question's own points
  are left out of the total, so that it does not correlate with itself; Nunnally & Bernstein, *Psychometric
  Theory*, 3rd ed., 1994). Read with Ebel's guidelines (Ebel & Frisbie, *Essentials of Educational Measurement*,
  5th ed., 1991): 0.40 and above very good, 0.30-0.39 reasonably good, 0.20-0.29 marginal, below 0.20 poor. It
  is undefined (None, with the reason) for fewer than 3 students, or when everyone scored the same on the
  question or on the rest: a correlation with a constant does not exist; it is never shown as NaN;
* a cause is the exact text a failing check told the student (the same redacted text as their feedback); each
  is counted once per student, with the checks that told it, so that one misconception is one row (the stub's
  "not implemented yet" one row for all of a question's checks).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from autograder.report.load import ClassResults, Question

POOR = 0.2  # Ebel's "poor" below this
# How a check's cause starts when the student's code raised NotImplementedError (the stub's): harness._explain's
# "your code failed: " and child.describe_error's head. Student code cannot forge it without raising one.
NOT_IMPLEMENTED = "your code failed: not implemented yet:"


@dataclass(frozen=True)
class Distribution:
    n: int
    max_possible: float
    mean: float
    sd: float | None        # None for a single student
    minimum: float
    q1: float
    median: float
    q3: float
    maximum: float


@dataclass(frozen=True)
class QuestionStats:
    question: Question
    n: int
    mean: float
    full: float             # share of students with full marks
    zero: float             # share of students with 0
    not_implemented: float  # share of students told "not implemented yet" by at least one of its checks
    discrimination: float | None
    undefined_why: str = ""  # why the discrimination is None

    @property
    def attention(self) -> str:
        """What the instructor should look at: "negative", "poor (< 0.2)", or ""."""
        if self.discrimination is None:
            return ""
        if self.discrimination < 0:
            return "negative"
        return f"poor (< {POOR:g})" if self.discrimination < POOR else ""


@dataclass(frozen=True)
class Failure:
    qid: str
    cause: str
    checks: tuple[str, ...]  # the failing checks that told it, in the question's order
    students: int            # told it at least once
    share: float             # of the students with a score
    position: int            # the place of its first check in the question (the order the student reads them)

    @property
    def not_implemented(self) -> bool:
        """The stub's NotImplementedError, left in place: not attempted rather than a misconception."""
        return self.cause.startswith(NOT_IMPLEMENTED)


@dataclass(frozen=True)
class CheckFailures:
    qid: str
    check: str
    students: int            # failed it
    share: float


@dataclass(frozen=True)
class Timing:
    question: Question
    n: int
    mean: float
    maximum: float


def distribution(results: ClassResults) -> Distribution | None:
    """The totals of the students with a score; None when nobody has one."""
    totals = np.array([s.total for s in results.scored()], dtype=float)
    if not len(totals):
        return None
    q1, median, q3 = np.percentile(totals, [25, 50, 75], method="linear")
    return Distribution(len(totals), sum(q.max_score for q in results.questions), float(totals.mean()),
                        float(totals.std(ddof=1)) if len(totals) > 1 else None, float(totals.min()), float(q1),
                        float(median), float(q3), float(totals.max()))


def discrimination(item: list[float], rest: list[float]) -> tuple[float | None, str]:
    """The Pearson correlation of ``item`` with ``rest`` (each a score per student), or (None, why not)."""
    if len(item) < 3:
        return None, f"undefined: {len(item)} students (3 or more needed)"
    if min(item) == max(item):
        return None, "undefined: everyone scored the same on this question"
    if min(rest) == max(rest):
        return None, "undefined: everyone scored the same on the other questions"
    x, y = np.array(item, dtype=float), np.array(rest, dtype=float)
    x, y = x - x.mean(), y - y.mean()
    return float(np.clip((x @ y) / math.sqrt((x @ x) * (y @ y)), -1.0, 1.0)), ""


def question_stats(results: ClassResults) -> list[QuestionStats]:
    scored = results.scored()
    stats = []
    for question in results.questions:
        item = [s.scores[question.qid] for s in scored]
        rest = [math.fsum(v for q, v in s.scores.items() if q != question.qid) for s in scored]
        r, why = discrimination(item, rest)
        stub = sum(any(c.message.startswith(NOT_IMPLEMENTED) for c in s.checks.get(question.qid, []) if not c.passed)
                   for s in scored)
        n = max(len(item), 1)  # no student: every share 0
        stats.append(QuestionStats(question, len(item), math.fsum(item) / n,
                                   sum(v >= question.max_score for v in item) / n, sum(v == 0 for v in item) / n,
                                   stub / n, r, why))
    return stats


def failures(results: ClassResults) -> tuple[dict[str, list[Failure]], list[CheckFailures]]:
    """Per question, each cause told with the checks that told it, most students first (then in the question's
    order); and how many students failed each check."""
    scored = results.scored()
    by_cause: dict[str, list[Failure]] = {}
    by_check: list[CheckFailures] = []
    for question in results.questions:
        told: dict[str, set[str]] = defaultdict(set)    # cause -> students
        checks: dict[str, set[str]] = defaultdict(set)  # cause -> checks
        failed: dict[str, set[str]] = defaultdict(set)  # check -> students
        position: dict[str, int] = {}
        for student in scored:
            for index, check in enumerate(student.checks.get(question.qid, [])):
                position.setdefault(check.name, index)
                if not check.passed:
                    told[check.message].add(student.student)
                    checks[check.message].add(check.name)
                    failed[check.name].add(student.student)
        rows = [Failure(question.qid, cause, tuple(sorted(checks[cause], key=position.__getitem__)), len(who),
                        len(who) / len(scored), min(position[c] for c in checks[cause])) for cause, who in told.items()]
        by_cause[question.qid] = sorted(rows, key=lambda f: (-f.students, f.position, f.cause))
        by_check += [CheckFailures(question.qid, name, len(failed[name]), len(failed[name]) / len(scored))
                     for name in sorted(position, key=position.__getitem__)]
    return by_cause, by_check


def top_failures(table: dict[str, list[Failure]], count: int = 10) -> list[Failure]:
    """The ``count`` causes told to most students in the whole class, "not implemented yet" left out."""
    everything = [f for rows in table.values() for f in rows if not f.not_implemented]
    return sorted(everything, key=lambda f: (-f.students, int(f.qid[1:]), f.position, f.cause))[:count]


def timings(results: ClassResults) -> list[Timing]:
    """Each question's grading time over the students that have one, slowest (by mean) first."""
    rows = []
    for question in results.questions:
        seconds = [s.seconds[question.qid] for s in results.students if question.qid in s.seconds]
        if seconds:
            rows.append(Timing(question, len(seconds), float(np.mean(seconds)), max(seconds)))
    return sorted(rows, key=lambda t: (-t.mean, t.question.qid))
