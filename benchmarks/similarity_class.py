"""Measure ``python -m autograder similarity`` on generated classes: detection, false positives and time.

    .venv/bin/python benchmarks/similarity_class.py [--students 40,300] [--seed 0]

For each class size, tests/similarity_class.py writes a class (per question, a seeded balanced shuffle of that
question's independent implementations over the students, each later holder of an implementation a disguised copy
of its first holder; the last ``students // 15`` students copy an earlier student on every question), then the
command runs in a fresh process, timed (wall and CPU). Its ``questions.csv`` is read back and compared with the
ground truth, per question: a pair is a copy when both hold the same implementation, independent otherwise;
a pair missing from the CSV shared nothing (score 0). Printed: detection (copies flagged at the default settings),
false positives (independent pairs flagged), and the score distributions (lowest copy vs highest independent:
the margin), and detection by disguise.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The repository root is on sys.path only from here on (a script run from anywhere).
from autograder.similarity.compare import Settings  # noqa: E402
from tests.similarity_class import Plan, build_class  # noqa: E402
from tests.similarity_variants import VARIANTS  # noqa: E402


def _run(root: Path, out: Path) -> tuple[float, float]:
    """Run the command on ``root``; (wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "similarity", str(root), "--out", str(out)], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def evaluate(plan: Plan, out: Path, settings: Settings) -> None:
    """Print detection and false positives per question against the plan's ground truth."""
    scores: dict[tuple[str, str, str], tuple[float, bool]] = {}
    with open(out / "questions.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            scores[(row["question"], row["student_a"], row["student_b"])] = (float(row["score"]), row["flagged"] == "1")
    by_disguise: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    print(f"{'question':8} {'copies':>7} {'found':>6} {'min copy':>9} {'indep.':>7} {'flagged':>8} "
          f"{'max indep':>9} {'p99 indep':>9} {'median':>7}")
    totals = [0, 0, 0, 0]
    for question in sorted(VARIANTS, key=lambda q: int(q[1:])):
        copies, independent = [], []
        for a, b in itertools.combinations(plan.students, 2):
            score, flagged = scores.get((question, a, b), (0.0, False))
            if plan.copy(a, b, question):
                copies.append((score, flagged))
                kinds = "+".join(sorted({plan.answers[s][question][1] for s in (a, b)} - {"none"})) or "none"
                by_disguise[kinds][0] += 1
                by_disguise[kinds][1] += flagged
            else:
                independent.append((score, flagged))
        found, false = sum(f for _, f in copies), sum(f for _, f in independent)
        values = [s for s, _ in independent]
        print(f"{question:8} {len(copies):7} {found:6} {min(s for s, _ in copies):9.3f} {len(independent):7} "
              f"{false:8} {max(values):9.3f} {_quantile(values, 0.99):9.3f} {_quantile(values, 0.5):7.3f}")
        totals = [totals[0] + len(copies), totals[1] + found, totals[2] + len(independent), totals[3] + false]
    print(f"detection {totals[1]}/{totals[0]} ({100 * totals[1] / totals[0]:.1f}%), false positives "
          f"{totals[3]}/{totals[2]} ({100 * totals[3] / totals[2]:.2f}%) at threshold {settings.threshold}, "
          f"min_shared {settings.min_shared}")
    worst = min(by_disguise.items(), key=lambda item: item[1][1] / item[1][0])
    print(f"detection by disguise: {len(by_disguise)} combinations of the pair's two disguises, lowest "
          f"{worst[0]}: {worst[1][1]}/{worst[1][0]}")
    with open(out / "overall.csv", encoding="utf-8") as handle:
        overall = {(row["student_a"], row["student_b"]): row for row in csv.DictReader(handle)}
    whole = [overall.get(tuple(sorted((copier, copied)))) for copier, copied in plan.whole.items()]
    print(f"whole copies: {sum(1 for row in whole if row and row['flagged'] == '1')}/{len(whole)} flagged "
          f"(on {min((len(row['flagged_questions'].split()) for row in whole if row), default=0)} to "
          f"{max((len(row['flagged_questions'].split()) for row in whole if row), default=0)} of {len(VARIANTS)} "
          "questions: a question is judged only where it leaves enough distinctive material)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", default="40,300", help="comma-separated class sizes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    for n in (int(x) for x in args.students.split(",")):
        with tempfile.TemporaryDirectory(prefix="simclass-") as tmp:
            start = time.perf_counter()
            plan = build_class(Path(tmp) / "class", n, whole=max(1, n // 15), seed=args.seed)
            built = time.perf_counter() - start
            wall, cpu = _run(Path(tmp) / "class", Path(tmp) / "sim")
            print(f"\n== {n} students ({n * (n - 1) // 2} pairs a question, {len(VARIANTS)} questions with "
                  f"independent implementations): generated in {built:.0f} s; similarity took {wall:.1f} s wall, "
                  f"{cpu:.1f} s CPU")
            evaluate(plan, Path(tmp) / "sim", Settings())
    return 0


if __name__ == "__main__":
    sys.exit(main())
