"""The class report: ``python -m autograder report GRADES_DIR --out REPORT_DIR``.

Reads what ``grade-all`` wrote (``GRADES_DIR/grades.csv`` and ``GRADES_DIR/<student>/results.json``) and writes
to REPORT_DIR a self-contained ``report.html`` (figures embedded, no external files, scripts or styles: it opens
offline in any browser), the figures as PNG and the tables as CSV:

    report.html         the page
    summary.csv         the distribution of totals: n, mean, sd, min, quartiles, median, max
    questions.csv       per question: mean, share with full marks, share with 0, discrimination, what to look at
    failures.csv        per question, each cause failing checks told students, the checks that told it, how many
    checks.csv          per question, each check and how many students failed it
    timing.csv          per question, grading time per student (mean, max), slowest first
    flagged.csv         the students not graded or flagged, with their reasons
    distribution.png, questions.png, discrimination.png, timing.png

Modules: ``load`` (reading, one record per student), ``stats`` (the statistics and their conventions),
``figures`` (matplotlib), ``page`` (the HTML). Students not graded are excluded from every statistic.
"""
from __future__ import annotations

import csv
from pathlib import Path

from autograder.report import figures, page
from autograder.report.load import ClassResults, ReportError, load
from autograder.report.stats import (
    CheckFailures,
    Distribution,
    Failure,
    QuestionStats,
    Timing,
    distribution,
    failures,
    question_stats,
    timings,
    top_failures,
)

__all__ = ["ReportError", "build_report"]


def _cell(value: object) -> object:
    """A CSV cell: floats rounded to 6 decimals, None (undefined) left blank, never NaN."""
    if value is None:
        return ""
    return round(value, 6) if isinstance(value, float) else value


def _write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows([[_cell(v) for v in row] for row in rows])


def _write_tables(out: Path, results: ClassResults, stats: Distribution | None, rows: list[QuestionStats],
                  by_cause: dict[str, list[Failure]], by_check: list[CheckFailures], times: list[Timing]) -> list[str]:
    summary = [] if stats is None else [[name, getattr(stats, name)] for name in
                                        ("n", "max_possible", "mean", "sd", "minimum", "q1", "median", "q3", "maximum")]
    _write_csv(out / "summary.csv", ["statistic", "value"], summary)
    _write_csv(out / "questions.csv", ["question", "title", "max_score", "n", "mean", "mean_share", "full_share",
                                       "zero_share", "not_implemented_share", "discrimination",
                                       "discrimination_undefined", "attention"],
               [[r.question.qid, r.question.title, r.question.max_score, r.n, r.mean, r.mean / r.question.max_score,
                 r.full, r.zero, r.not_implemented, r.discrimination, r.undefined_why, r.attention] for r in rows])
    _write_csv(out / "failures.csv", ["question", "rank", "cause", "checks", "students", "share"],
               [[f.qid, rank, f.cause, " | ".join(f.checks), f.students, f.share] for fails in by_cause.values()
                for rank, f in enumerate(fails, 1)])
    _write_csv(out / "checks.csv", ["question", "check", "failed", "share"],
               [[c.qid, c.check, c.students, c.share] for c in by_check])
    _write_csv(out / "timing.csv", ["question", "title", "students", "mean_seconds", "max_seconds"],
               [[t.question.qid, t.question.title, t.n, t.mean, t.maximum] for t in times])
    _write_csv(out / "flagged.csv", ["student", "status", "total", "reason"],
               [[s.student, s.status, s.total, s.reason] for s in results.students if s.status != "graded"])
    return ["summary.csv", "questions.csv", "failures.csv", "checks.csv", "timing.csv", "flagged.csv"]


def build_report(grades_dir: Path, out: Path) -> Path:
    """Write the report of ``grades_dir`` (grade-all's output) into ``out``; return report.html's path.

    Raises :class:`ReportError` (a ValueError) naming the file when ``grades_dir`` cannot be read."""
    results = load(grades_dir)
    stats, rows, times = distribution(results), question_stats(results), timings(results)
    by_cause, by_check = failures(results)
    pngs = {"distribution.png": stats and figures.histogram([s.total for s in results.scored()], stats),
            "questions.png": rows and figures.outcomes(rows),
            "discrimination.png": rows and figures.discrimination(rows),
            "timing.png": times and figures.timing(times)}
    pngs = {name: png for name, png in pngs.items() if png}
    out.mkdir(parents=True, exist_ok=True)
    for name in ("distribution.png", "questions.png", "discrimination.png", "timing.png"):
        if name in pngs:
            (out / name).write_bytes(pngs[name])
        else:  # nothing to draw: no stale figure from an earlier report either
            (out / name).unlink(missing_ok=True)
    files = _write_tables(out, results, stats, rows, by_cause, by_check, times) + list(pngs)
    sections = {"Score distribution": page.distribution(stats, pngs.get("distribution.png")),
                "Students to look at": page.flagged(results),
                "Questions": page.questions(rows, pngs.get("questions.png"), pngs.get("discrimination.png")),
                "Common mistakes": page.mistakes(by_cause, top_failures(by_cause), results),
                "Grading time": page.timing(times, pngs.get("timing.png"))}
    target = out / "report.html"
    target.write_text(page.render(results, sections, files), encoding="utf-8")
    return target
