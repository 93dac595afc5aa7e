"""The autograder's command line (run from the repository root, with .venv's Python).

    python -m autograder grade SUBMISSION_DIR --out results.json [--feedback feedback.md]
    python -m autograder grade-all SUBMISSIONS_DIR --out OUT_DIR
    python -m autograder gradescope-zip --out autograder.zip
    python -m autograder gradescope-run [--root /autograder]      (what run_autograder calls on Gradescope)
    python -m autograder similarity SUBMISSIONS_DIR --out SIM_DIR     (who wrote the same code; see similarity/)

A submission folder is shaped like ``assignments/attention_seq2seq/``: it holds the ``seq2seq`` package.
Exit status: 0 whenever grading ran (failing questions are results, not errors); 2 for a bad command line or a
folder that is not a submission; 3 when the submission was not graded because the grader failed (results.py):
results.json is written all the same, saying why.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autograder import isolation
from autograder.harness import DEFAULT_REFERENCE, grade
from autograder.results import NOT_GRADED, GraderError, attempt, status
from autograder.similarity.compare import Settings


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--questions", help="comma-separated subset, e.g. Q1,Q4 (default: all)")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="the reference solution folder")
    parser.add_argument("--workers", type=int, default=2, help="child processes at once (default 2)")
    parser.add_argument("--timeout", type=float, help="cap on every question's time limit, in seconds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="Grade attention_seq2seq submissions.")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("grade", help="grade one submission folder")
    one.add_argument("submission", type=Path, help="folder holding the seq2seq package")
    one.add_argument("--out", type=Path, default=Path("results.json"), help="results.json to write")
    one.add_argument("--feedback", type=Path, help="also write the student's feedback as Markdown here")
    _common(one)
    many = commands.add_parser("grade-all", help="grade every student folder (plain or nbgrader layout)")
    many.add_argument("submissions", type=Path, help="folder of student folders, or nbgrader's course root")
    many.add_argument("--out", type=Path, required=True, help="folder for grades.csv and per-student reports")
    _common(many)
    pack = commands.add_parser("gradescope-zip", help="build the Gradescope autograder zip")
    pack.add_argument("--out", type=Path, default=Path("autograder.zip"))
    run = commands.add_parser("gradescope-run", help="grade ROOT/submission into ROOT/results/results.json")
    run.add_argument("--root", type=Path, default=Path("/autograder"))
    sim = commands.add_parser("similarity", help="compare students' code question by question (similarity/)")
    sim.add_argument("submissions", type=Path, help="folder of student folders, or nbgrader's course root")
    sim.add_argument("--out", type=Path, required=True, help="folder for index.html, the CSVs and pair pages")
    sim.add_argument("--threshold", type=float, default=Settings.threshold, help="flag pairs scoring at least this")
    sim.add_argument("--min-shared", type=int, default=Settings.min_shared, help="...and sharing this many fingerprints")
    sim.add_argument("--max-pages", type=int, default=500, help="most pair pages to write (default 500)")
    args = parser.parse_args(argv)

    if args.command == "similarity":
        return _similarity(args)
    if args.command == "gradescope-zip":
        from autograder.gradescope import build_zip

        print(f"wrote {build_zip(args.out)}")
        return 0
    if args.command == "gradescope-run":
        from autograder.gradescope import run

        return run(args.root)

    questions = [q.strip().upper() for q in args.questions.split(",")] if args.questions else None
    try:
        if args.command == "grade-all":
            return _grade_all(args, questions)
        return _grade(args, questions)
    except ValueError as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2
    except GraderError as error:
        print(f"autograder: the graders failed: {error}", file=sys.stderr)
        return 3


def _grade(args: argparse.Namespace, questions: list[str] | None) -> int:
    if not (args.submission / "seq2seq" / "__init__.py").is_file():
        print(f"autograder: {args.submission} is not a submission: it has no seq2seq/__init__.py", file=sys.stderr)
        return 2
    print(isolation.plan().summary())
    results = attempt(lambda: grade(args.submission, reference=args.reference, questions=questions,
                                    workers=args.workers, max_timeout=args.timeout))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.feedback:
        from autograder.feedback import markdown

        args.feedback.write_text(markdown(results), encoding="utf-8")
    if status(results) == NOT_GRADED:
        print(f"autograder: not graded: {results['extra_data']['reason']}   -> {args.out}", file=sys.stderr)
        return 3
    for test in results["tests"]:
        print(f"{test['name']:<55} {test['score']:g}/{test['max_score']:g}")
    print(f"{'total':<55} {results['score']:g}/{results['extra_data']['max_score']:g}   -> {args.out}")
    return 0


def _grade_all(args: argparse.Namespace, questions: list[str] | None) -> int:
    from autograder.bulk import grade_all

    if not args.submissions.is_dir():
        print(f"autograder: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    print(isolation.plan().summary())
    rows = grade_all(args.submissions, args.out, reference=args.reference, questions=questions,
                     workers=args.workers, max_timeout=args.timeout)
    flagged = [row["student"] for row in rows if row["status"] != "graded"]
    print(f"graded {len(rows)} students -> {args.out / 'grades.csv'}"
          + (f"; flagged or not graded (see grades.csv, feedback.md): {', '.join(flagged)}" if flagged else ""))
    return 3 if any(row["status"] == NOT_GRADED for row in rows) else 0


def _similarity(args: argparse.Namespace) -> int:
    from autograder.similarity import similarity

    try:
        if not args.submissions.is_dir():
            raise ValueError(f"{args.submissions} is not a folder")
        found = similarity(args.submissions, args.out, Settings(args.threshold, args.min_shared),
                           max_pages=args.max_pages)
    except ValueError as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2
    print(f"compared {found.students} submissions: {found.pairs_flagged} pairs flagged on some question"
          + (f", {found.problems} files not compared (see the index)" if found.problems else "")
          + f" -> {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
