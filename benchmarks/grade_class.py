"""Grade a class of 30 mixed submissions with ``grade-all`` and again one by one (a benchmark, not a test).

    .venv/bin/python benchmarks/grade_class.py [--students 30] [--workers 2] [--questions Q1,Q4]

The class (made by tests/class_factory.py): copies of the solution, of the untouched stub, and mutants
(realistic mistakes) taken from the graders' own test catalogues (tests/test_graders_model.py and
tests/test_graders_training_evaluation.py), in the plain ``student_id/seq2seq/`` layout. Reported: the wall time
of ``grade_all`` (the whole hidden suite per student unless --questions is given), the wall time of grading each
submission alone with ``autograder.harness.grade`` in a fresh process per student (what an instructor would do by
hand), and whether every student's per-question scores agree between the two.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from autograder.bulk import grade_all  # noqa: E402
from tests import test_graders_model, test_graders_training_evaluation  # noqa: E402
from tests.class_factory import bug, build_class, solution, stub  # noqa: E402


def plan(students: int) -> list:
    """Every fifth student a solution, every fifth the stub, the rest mutants of the model and training catalogues."""
    names = list(test_graders_model.MUTANTS) + list(test_graders_training_evaluation.MUTANTS)
    return [solution() if i % 5 == 0 else stub() if i % 5 == 1 else bug(names[(i * 7) % len(names)])
            for i in range(students)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--questions", help="comma-separated subset (default: every question)")
    args = parser.parse_args(argv)
    questions = args.questions.split(",") if args.questions else None
    with tempfile.TemporaryDirectory(prefix="class-") as tmp:
        root, out = Path(tmp) / "submissions", Path(tmp) / "out"
        kinds = {student: str(member) for student, member in build_class(root, plan(args.students)).items()}
        started = time.monotonic()
        rows = grade_all(root, out, questions=questions, workers=args.workers, progress=False)
        bulk_seconds = time.monotonic() - started
        bulk = {row["student"]: {k: v for k, v in row.items() if k.startswith("Q") or k == "total"} for row in rows}

        alone: dict[str, dict[str, str]] = {}
        started = time.monotonic()
        for student in kinds:
            target = Path(tmp) / f"{student}.json"
            command = [sys.executable, "-m", "autograder", "grade", str(root / student), "--out", str(target),
                       "--workers", str(args.workers)] + (["--questions", args.questions] if questions else [])
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            results = json.loads(target.read_text())
            alone[student] = {t["name"].split()[0]: f"{t['score']:g}" for t in results["tests"]}
            alone[student]["total"] = f"{results['score']:g}"
        alone_seconds = time.monotonic() - started

    differ = [s for s in kinds if bulk[s] != alone[s]]
    print(f"{len(kinds)} students ({sum(k == 'solution' for k in kinds.values())} solutions, "
          f"{sum(k == 'stub' for k in kinds.values())} stubs, {sum(k.startswith('mutant') for k in kinds.values())} "
          f"mutants); questions: {args.questions or 'all'}; workers {args.workers}")
    print(f"grade-all:   {bulk_seconds:7.1f} s  ({bulk_seconds / len(kinds):.1f} s per student)")
    print(f"one by one:  {alone_seconds:7.1f} s  ({alone_seconds / len(kinds):.1f} s per student, a process each)")
    print(f"identical per-question scores: {'yes' if not differ else 'NO: ' + ', '.join(differ)}")
    for student, kind in kinds.items():
        print(f"  {student}  total {bulk[student]['total']:>6}  {kind}")
    return 0 if not differ else 1


if __name__ == "__main__":
    sys.exit(main())
