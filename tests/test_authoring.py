"""Adding a question, as README's "Adding or changing a question" tells an instructor to: a toy Q35 in a copy of
the repository, written in four files (the solution region in source/, a visible check, the question with its probe,
its grader), then ``python tools/generate.py`` and grading. Everything else (the notebook's cells and points, the
question lists of check, grading, results and the similarity map) must follow from those four files."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import HANG_GUARD, REPO

SECTION = "source/attention_seq2seq/seq2seq/training.py"
AUTHORED = {  # file: text appended, exactly what the README's walkthrough shows
    SECTION: '''

def clip_value(x: float, low: float, high: float) -> float:
    """Q35: ``x`` limited to the interval ``[low, high]`` (``low <= high``)."""
    ### BEGIN SOLUTION
    return min(max(x, low), high)
    ### END SOLUTION
''',
    "source/attention_seq2seq/public_tests/test_training_evaluation.py": '''

def test_q35_clip_value():
    assert training.clip_value(0.5, 0.0, 1.0) == 0.5
''',
    "autograder/probes/training.py": '''

question("Q35", "clipping a value", points=1)


@probe("Q35")
def q35_clipped(s):
    return [s.training.clip_value(x, 0.0, 1.0) for x in (-2.0, 0.25, 3.0)]
''',
    "autograder/graders/grade_training.py": '''

@pytest.mark.grade("Q35", points=1)
def test_q35_clips_both_ends(out, ref):
    """Values below the interval become low, values above it become high."""
    assert out["q35_clipped"] == ref["q35_clipped"], "clip_value must return low below the interval, high above it"
''',
}
BUG = ("    return min(max(x, low), high)\n", "    return max(x, low)\n")


def _copy_repository(into: Path) -> Path:
    """The working tree as git sees it (tracked and new files, as they are now): no caches, no virtual environment."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = REPO / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def _grade(root: Path, submission: Path, out: Path) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submission), "--out", str(out)],
                          cwd=root, capture_output=True, text=True, timeout=HANG_GUARD)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["extra_data"]["grader_errors"] == 0, results
    return {test["name"].split()[0]: test["score"] for test in results["tests"]}


@pytest.mark.slow
def test_a_question_added_in_four_files_is_generated_and_graded(tmp_path):
    root = _copy_repository(tmp_path / "course")
    for name, text in AUTHORED.items():
        with open(root / name, "a", encoding="utf-8") as handle:
            handle.write(text)
    done = subprocess.run([sys.executable, "tools/generate.py"], cwd=root, capture_output=True, text=True,
                          timeout=HANG_GUARD)
    assert done.returncode == 0, done.stdout + done.stderr

    # The notebook gained Q35's visible check and its autograded cell, worth the declared point.
    cells = json.loads((root / "source/attention_seq2seq/attention_seq2seq.ipynb").read_text())["cells"]
    grade = next(cell for cell in cells if cell["id"] == "q35-grade")
    assert grade["metadata"]["nbgrader"]["points"] == 1.0 and "".join(grade["source"]).startswith("# Q35 (1 point)")
    release = root / "assignments/attention_seq2seq"
    assert "raise NotImplementedError" in (release / "seq2seq/training.py").read_text().split("def clip_value")[1]

    # The student's own check knows Q35, from the generated release.
    check = subprocess.run([sys.executable, "-m", "seq2seq", "check", "Q35"], cwd=root / "solutions/attention_seq2seq",
                           capture_output=True, text=True, timeout=HANG_GUARD)
    assert check.returncode == 0 and "Q35: all visible checks passed" in check.stdout, check.stdout + check.stderr

    solution = _grade(root, root / "solutions/attention_seq2seq", tmp_path / "solution.json")
    assert solution["Q35"] == 1.0 and all(score > 0 for score in solution.values()), solution
    stub = _grade(root, release, tmp_path / "stub.json")
    assert stub["Q35"] == 0 and sum(stub.values()) == 0, stub

    buggy = tmp_path / "buggy"
    shutil.copytree(root / "solutions/attention_seq2seq", buggy, ignore=shutil.ignore_patterns("__pycache__"))
    module = buggy / "seq2seq/training.py"
    module.write_text(module.read_text().replace(*BUG), encoding="utf-8")
    bug = _grade(root, buggy, tmp_path / "bug.json")
    assert {q for q in solution if bug[q] != solution[q]} == {"Q35"}, bug
