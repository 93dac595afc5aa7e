"""The autograder's command line (run from the repository root, with .venv's Python).

    python -m autograder grade SUBMISSION_DIR --out results.json [--feedback feedback.md]
    python -m autograder grade-all SUBMISSIONS_DIR --out OUT_DIR [--compare PREVIOUS_OUT_DIR]
    python -m autograder compare OLD_OUT_DIR NEW_OUT_DIR           (what changed: regrade.csv, regrade.md)
    python -m autograder report GRADES_DIR --out REPORT_DIR       (the class report of what grade-all wrote)
    python -m autograder similarity SUBMISSIONS_DIR --out SIM_DIR    (who wrote the same code; see similarity/)
    python -m autograder export OUT_DIR [--roster roster.csv] [--canvas canvas.csv] [--csv grades.csv]
    python -m autograder gradescope-zip --out autograder.zip [--limit 3 --window 24h]
    python -m autograder gradescope-run [--root /autograder]      (what run_autograder calls on Gradescope)
    python -m autograder prepare                                  (the reference's outputs, computed and kept)

A submission folder is shaped like ``assignments/attention_seq2seq/``: it holds the ``seq2seq`` package.
Exit status: 0 whenever grading ran (failing questions are results, not errors); 2 for a bad command line, a
folder that is not a submission, a malformed roster or grades folder; 3 when the submission was not graded because
the grader failed (results.py): results.json is written all the same, saying why.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from autograder.results import GraderError
from autograder.similarity.compare import Settings

# Each command's handler imports what it needs, so that the commands that only read files (report, export,
# compare, similarity) start without importing torch and the grading machinery.


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per job, each dispatched through ``HANDLERS``."""
    parser = argparse.ArgumentParser(prog="python -m autograder", description="Grade attention_seq2seq submissions.")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("grade", help="grade one submission folder")
    one.add_argument("submission", type=Path, help="folder holding the seq2seq package")
    one.add_argument("--out", type=Path, default=Path("results.json"), help="results.json to write")
    one.add_argument("--feedback", type=Path, help="also write the student's feedback as Markdown here")
    _grading_options(one)
    many = commands.add_parser("grade-all", help="grade every student folder (plain or nbgrader layout)")
    many.add_argument("submissions", type=Path, help="folder of student folders, or nbgrader's course root")
    many.add_argument("--out", type=Path, required=True, help="folder for grades.csv and per-student reports")
    many.add_argument("--compare", type=Path, metavar="PREVIOUS_OUT", help="then compare with an earlier run's --out")
    _grading_options(many)
    _after_grading_commands(commands)
    pack = commands.add_parser("gradescope-zip", help="build the Gradescope autograder zip")
    pack.add_argument("--out", type=Path, default=Path("autograder.zip"))
    pack.add_argument("--limit", type=int, help="at most this many graded submissions per --window (limits.py)")
    pack.add_argument("--window", help="the limit's window: 24h, 90m, 7d, ... (default 24h)")
    run = commands.add_parser("gradescope-run", help="grade ROOT/submission into ROOT/results/results.json")
    run.add_argument("--root", type=Path, default=Path("/autograder"))
    prepare = commands.add_parser("prepare", help="compute the reference's outputs once and keep them for every "
                                                  "later grading on this machine (harness.REFERENCE_CACHE)")
    prepare.add_argument("--reference", type=Path, help="the reference solution folder (default: solutions/...)")
    prepare.add_argument("--workers", type=int, default=2, help="child processes at once (default 2)")
    return parser


def _grading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--questions", type=_questions, help="comma-separated subset, e.g. Q1,Q4 (default: all)")
    parser.add_argument("--reference", type=Path, help="the reference solution folder (default: solutions/...)")
    parser.add_argument("--workers", type=int, default=2, help="child processes at once (default 2)")
    parser.add_argument("--timeout", type=float, help="cap on every question's time limit, in seconds")


def _questions(text: str) -> list[str]:
    return [q.strip().upper() for q in text.split(",")]


def _after_grading_commands(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="the class report (report.html, figures, CSVs) of grade-all's output")
    report.add_argument("grades", type=Path, help="the folder grade-all wrote (grades.csv, <student>/results.json)")
    report.add_argument("--out", type=Path, required=True, help="folder for report.html, its PNGs and CSVs")
    sim = commands.add_parser("similarity", help="compare students' code question by question (similarity/)")
    sim.add_argument("submissions", type=Path, help="folder of student folders, or nbgrader's course root")
    sim.add_argument("--out", type=Path, required=True, help="folder for index.html, the CSVs and pair pages")
    sim.add_argument("--threshold", type=float, default=Settings.threshold, help="flag pairs scoring at least this")
    sim.add_argument("--min-shared", type=float, default=Settings.min_shared,
                     help="...holding this much evidence (rare shared fingerprints, the reference's not counted)")
    sim.add_argument("--max-pages", type=int, default=500, help="most pair pages to write (default 500)")
    lms = commands.add_parser("export", help="grades to Canvas and/or a plain CSV, through a roster")
    lms.add_argument("grades", type=Path, help="a grade-all output folder")
    lms.add_argument("--roster", type=Path, help="CSV: folder,id,name[,sis_user_id,sis_login_id,section]")
    lms.add_argument("--canvas", type=Path, help="write a Canvas gradebook import here (needs --roster)")
    lms.add_argument("--csv", type=Path, help="write a plain table here")
    lms.add_argument("--flags", type=Path, help="students to look at (default: export-flags.csv beside the output)")
    lms.add_argument("--assignment", default="attention_seq2seq", help="the Canvas assignment's name")
    lms.add_argument("--assignment-id", help="the Canvas assignment's id (the number in its address)")
    lms.add_argument("--points-possible", type=float, help="default: the graded questions' points")
    diff = commands.add_parser("compare", help="what changed between two grade-all output folders")
    diff.add_argument("old", type=Path)
    diff.add_argument("new", type=Path)
    diff.add_argument("--out", type=Path, help="folder for regrade.csv and regrade.md (default: NEW)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return HANDLERS[args.command](args)
    except ValueError as error:  # a bad folder, roster, grades.csv, ...: the message names it
        print(f"autograder: {error}", file=sys.stderr)
        return 2
    except GraderError as error:
        print(f"autograder: the graders failed: {error}", file=sys.stderr)
        return 3


def _reference(args: argparse.Namespace) -> Path:
    from autograder.harness import DEFAULT_REFERENCE

    return args.reference or DEFAULT_REFERENCE


def _grade(args: argparse.Namespace) -> int:
    if not (args.submission / "seq2seq" / "__init__.py").is_file():
        print(f"autograder: {args.submission} is not a submission: it has no seq2seq/__init__.py", file=sys.stderr)
        return 2
    from autograder import isolation, sandbox

    sandbox.prestart()  # before this process imports torch and the checks: the zygotes import in the meantime
    from autograder.harness import grade
    from autograder.results import NOT_GRADED, or_not_graded, status

    print(isolation.plan().summary())
    results = or_not_graded(lambda: grade(args.submission, reference=_reference(args), questions=args.questions,
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


def _grade_all(args: argparse.Namespace) -> int:
    from autograder import isolation
    from autograder.bulk import grade_all
    from autograder.results import NOT_GRADED

    if not args.submissions.is_dir():
        print(f"autograder: {args.submissions} is not a folder", file=sys.stderr)
        return 2
    if args.compare is not None:  # refused before grading, not after
        from autograder import grades

        if args.compare.resolve() == args.out.resolve():
            raise ValueError(f"--compare {args.compare} is --out itself: grade-all resumes from --out, so compare "
                             "with the output folder of an earlier run (grade into a new --out)")
        grades.read(args.compare)
    print(isolation.plan().summary())
    rows = grade_all(args.submissions, args.out, reference=_reference(args), questions=args.questions,
                     workers=args.workers, max_timeout=args.timeout)
    flagged = [row["student"] for row in rows if row["status"] != "graded"]
    print(f"graded {len(rows)} students -> {args.out / 'grades.csv'}"
          + (f"; flagged or not graded (see grades.csv, feedback.md): {', '.join(flagged)}" if flagged else ""))
    if args.compare is not None:
        _write_comparison(args.compare, args.out, args.out)
    return 3 if any(row["status"] == NOT_GRADED for row in rows) else 0


def _compare(args: argparse.Namespace) -> int:
    return _write_comparison(args.old, args.new, args.out or args.new)


def _write_comparison(old: Path, new: Path, out: Path) -> int:
    from autograder import regrade

    comparison = regrade.compare(old, new)
    table, text = regrade.write(comparison, out)
    print(f"\n{text.read_text(encoding='utf-8')}\n-> {table}, {text}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from autograder import lms

    _, flags, text = lms.export(args.grades, roster=args.roster, canvas=args.canvas, table=args.csv,
                                flags_file=args.flags, assignment=args.assignment, assignment_id=args.assignment_id,
                                points_possible=args.points_possible)
    print(text)
    print("-> " + ", ".join(str(p) for p in (args.canvas, args.csv, flags) if p is not None))
    return 0


def _zip(args: argparse.Namespace) -> int:
    from autograder import limits
    from autograder.gradescope import build_zip

    if args.window is not None and args.limit is None:
        raise ValueError("--window needs --limit")
    limit = None if args.limit is None else limits.Limit(args.limit, limits.parse_window(args.window or "24h"))
    print(f"wrote {build_zip(args.out, limit)}" + (f" (limit: {limit.describe()})" if limit else ""))
    return 0


def _gradescope_run(args: argparse.Namespace) -> int:
    from autograder import sandbox

    sandbox.prestart()  # as in _grade: the zygotes import while this process does
    from autograder.gradescope import run

    return run(args.root)


def _report(args: argparse.Namespace) -> int:
    from autograder.report import build_report

    print(f"wrote {build_report(args.grades, args.out)}")  # a ReportError (ValueError) names the file: exit 2
    return 0


def _similarity(args: argparse.Namespace) -> int:
    from autograder.similarity import similarity

    if not args.submissions.is_dir():
        raise ValueError(f"{args.submissions} is not a folder")
    found = similarity(args.submissions, args.out, Settings(args.threshold, args.min_shared), max_pages=args.max_pages)
    print(f"compared {found.students} submissions: {found.pairs_flagged} pairs flagged on some question"
          + (f", {found.problems} files not compared (see the index)" if found.problems else "")
          + f" -> {args.out / 'index.html'}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    import time

    from autograder.harness import reference_key, reference_outputs
    from autograder.registry import QUESTIONS, load_graders

    started = time.monotonic()
    load_graders()
    reference = _reference(args).resolve()
    reference_outputs(reference, list(QUESTIONS), args.workers)
    print(f"the reference's outputs for {len(QUESTIONS)} questions are kept ({reference_key(reference)}, "
          f"{time.monotonic() - started:.0f} s)")
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "grade": _grade, "grade-all": _grade_all, "report": _report, "similarity": _similarity, "export": _export,
    "compare": _compare, "gradescope-zip": _zip, "gradescope-run": _gradescope_run, "prepare": _prepare,
}


if __name__ == "__main__":
    sys.exit(main())
