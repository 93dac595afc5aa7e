"""Measure what the graders pay for non-answers and what one planted bug costs, question by question.

Not a test (pytest does not collect it): a report for whoever fixes the graders (issue #14, points 3 and 4).

    SEQ2SEQ_DATA_DIR=... .venv/bin/python -m tests.measure_graders [--part nonanswers|bugs|both] [--json out.json]

For every non-answer kind of tests/test_non_answers.py (plain and with patched comparisons) it grades all
questions and lists the points wrongly awarded per question, and the checks that paid (the first line of
their docstrings, as the feedback in results.json names them). For every mutant of
tests/test_one_bug_per_question.py it grades all questions and lists the points lost by questions other than
the one with the bug (collateral), and whether the buggy question lost any. It prints Markdown tables.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from autograder.harness import grade, question_maxima
from tests.helpers import SOLUTION, STUB, catalogue
from tests.nonanswers import KINDS, build

TIMEOUT = 20.0


def _paying_checks(results: dict) -> dict[str, list[str]]:
    """``{question: [first line of each check that passed]}`` for questions that scored above 0."""
    paid = {}
    for test in results["tests"]:
        if test["score"] > 0:
            qid = test["name"].split()[0]
            paid[qid] = [line.split(") ", 1)[1] for line in test["output"].splitlines() if line.startswith("PASS (")]
    return paid


def measure_nonanswers(tmp: Path) -> list[dict]:
    rows = []
    for patched in (False, True):
        for kind in KINDS:
            submission = STUB if kind == "stub" and not patched else build(tmp, kind, patched=patched)
            started = time.monotonic()
            results = grade(submission, max_timeout=TIMEOUT)
            rows.append({"kind": kind + (" (patched)" if patched else ""), "seconds": time.monotonic() - started,
                         "grader_errors": results["extra_data"]["grader_errors"],
                         "scores": {t["name"].split()[0]: t["score"] for t in results["tests"] if t["score"] > 0},
                         "checks": _paying_checks(results)})
            print(f"{rows[-1]['kind']}: {sum(rows[-1]['scores'].values()):g} points in {rows[-1]['seconds']:.0f} s",
                  flush=True)
    return rows


def measure_bugs(tmp: Path) -> list[dict]:
    from tests.test_one_bug_per_question import BUGS

    maximum = question_maxima()
    rows = []
    for name in BUGS:
        qid = catalogue()[name].qid
        folder = tmp / name.replace(" ", "_")
        folder.mkdir()
        started = time.monotonic()
        results = grade(catalogue()[name].build(folder))
        got = {t["name"].split()[0]: t["score"] for t in results["tests"]}
        rows.append({"bug": name, "question": qid, "seconds": time.monotonic() - started,
                     "own_loss": round(maximum[qid] - got[qid], 4),
                     "collateral": {q: round(maximum[q] - s, 4) for q, s in got.items()
                                    if q != qid and s != maximum[q]},
                     "grader_errors": results["extra_data"]["grader_errors"]})
        print(f"{name}: {qid} -{rows[-1]['own_loss']:g}, collateral {rows[-1]['collateral']} "
              f"({rows[-1]['seconds']:.0f} s)", flush=True)
    return rows


def markdown_nonanswers(rows: list[dict]) -> str:
    maximum = question_maxima()
    questions = [q for q in maximum if any(q in row["scores"] for row in rows)]
    lines = ["| kind | total | " + " | ".join(questions) + " | s |", "|---" * (len(questions) + 3) + "|"]
    for row in rows:
        cells = [f"{row['scores'][q]:g}" if q in row["scores"] else "" for q in questions]
        lines.append(f"| {row['kind']} | {sum(row['scores'].values()):g} | " + " | ".join(cells)
                     + f" | {row['seconds']:.0f} |")
    checks: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        for qid, names in row["checks"].items():
            for check in names:
                checks.setdefault((qid, check), []).append(row["kind"])
    lines += ["", "| question | check that pays for non-answers | kinds |", "|---|---|---|"]
    for (qid, check), kinds in sorted(checks.items(), key=lambda item: (int(item[0][0][1:]), item[0][1])):
        lines.append(f"| {qid} | {check} | {', '.join(kinds)} |")
    return "\n".join(lines)


def markdown_bugs(rows: list[dict]) -> str:
    lines = ["| bug | question | points lost there | collateral losses | s |", "|---|---|---|---|---|"]
    for row in rows:
        collateral = ", ".join(f"{q} -{loss:g}" for q, loss in row["collateral"].items()) or "none"
        lines.append(f"| {row['bug']} | {row['question']} | {row['own_loss']:g} | {collateral} "
                     f"| {row['seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["nonanswers", "bugs", "both"], default="both")
    parser.add_argument("--json", type=Path, help="also write the raw measurements here")
    args = parser.parse_args()
    grade(SOLUTION)  # the reference's outputs, computed once for the whole run
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("nonanswers", "both"):
            (Path(tmp) / "na").mkdir()
            report["nonanswers"] = measure_nonanswers(Path(tmp) / "na")
            print(markdown_nonanswers(report["nonanswers"]), flush=True)
        if args.part in ("bugs", "both"):
            (Path(tmp) / "bugs").mkdir()
            report["bugs"] = measure_bugs(Path(tmp) / "bugs")
            print(markdown_bugs(report["bugs"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
