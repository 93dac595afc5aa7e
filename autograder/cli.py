"""``python -m autograder grade SUBMISSION_DIR --out results.json`` (run from the repository root).

SUBMISSION_DIR is a folder shaped like ``assignments/attention_seq2seq/``: it holds the ``seq2seq`` package.
Exit status: 0 whenever grading ran (failing questions are results, not errors); 2 for a bad command line or a
folder that is not a submission; 3 when the graders themselves failed on the reference solution.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from autograder.harness import DEFAULT_REFERENCE, GraderError, grade


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description="Grade attention_seq2seq submissions.")
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("grade", help="grade one submission folder")
    one.add_argument("submission", type=Path, help="folder holding the seq2seq package")
    one.add_argument("--out", type=Path, default=Path("results.json"), help="results.json to write")
    one.add_argument("--questions", help="comma-separated subset, e.g. Q1,Q4 (default: all)")
    one.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, help="the reference solution folder")
    one.add_argument("--workers", type=int, default=2, help="child processes at once (default 2)")
    one.add_argument("--timeout", type=float, help="cap on every question's time limit, in seconds")
    args = parser.parse_args(argv)

    if not (args.submission / "seq2seq" / "__init__.py").is_file():
        print(f"autograder: {args.submission} is not a submission: it has no seq2seq/__init__.py", file=sys.stderr)
        return 2
    questions = [q.strip().upper() for q in args.questions.split(",")] if args.questions else None
    try:
        results = grade(args.submission, reference=args.reference, questions=questions, workers=args.workers,
                        max_timeout=args.timeout)
    except ValueError as error:
        print(f"autograder: {error}", file=sys.stderr)
        return 2
    except GraderError as error:
        print(f"autograder: the graders failed: {error}", file=sys.stderr)
        return 3
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for test in results["tests"]:
        print(f"{test['name']:<55} {test['score']:g}/{test['max_score']:g}")
    print(f"{'total':<55} {results['score']:g}/{results['extra_data']['max_score']:g}   -> {args.out}")
    return 3 if results["extra_data"]["grader_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
