"""Regrade diffs (``compare`` and ``grade-all --compare``): on grade-all output folders written by hand, and once
end to end on a small class graded twice, the second time after its submissions changed."""
from __future__ import annotations

import csv
import shutil

import pytest

from autograder import regrade
from autograder.cli import main
from tests.helpers import SOLUTION, catalogue
from tests.test_autograder_lms import write_run

OLD = {
    "alice": ("graded", {"Q5": 2, "Q13": 5}, ""),
    "bob": ("graded", {"Q5": 1, "Q13": 5}, ""),
    "carol": ("graded", {"Q5": 2, "Q13": 5}, ""),
    "dave": ("graded", {"Q5": 1, "Q13": 4}, ""),
    "erin": ("graded", {"Q5": 2, "Q13": 5}, ""),  # only in the old run
    "gina": ("graded", {"Q5": 2, "Q13": 2.5}, ""),
    "hal": ("graded", {"Q5": 0, "Q13": 1}, ""),
}
NEW = {
    "alice": ("graded", {"Q5": 2, "Q13": 2}, ""),        # down 3 on Q13
    "bob": ("graded", {"Q5": 2, "Q13": 5}, ""),          # up 1 on Q5
    "carol": ("not graded", None, "a zygote died twice"),  # status changed
    "dave": ("graded", {"Q5": 2, "Q13": 3}, ""),         # same total, Q5 +1, Q13 -1
    "frank": ("graded", {"Q5": 2, "Q13": 5}, ""),        # only in the new run
    "gina": ("graded", {"Q5": 2, "Q13": 2.5}, ""),       # unchanged
    "hal": ("graded", {"Q5": 0, "Q13": 1.5}, ""),        # up 0.5
}


@pytest.fixture
def runs(tmp_path):
    return write_run(tmp_path / "old", OLD), write_run(tmp_path / "new", NEW)


def test_the_changes_csv_has_every_changed_score(runs, tmp_path):
    table, _ = regrade.write(regrade.compare(*runs), tmp_path / "diff")
    with open(table, newline="") as handle:
        rows = [tuple(r.values()) for r in csv.DictReader(handle)]
    assert rows == [
        ("alice", "Q13", "5", "2", "-3"), ("alice", "total", "7", "4", "-3"),
        ("bob", "Q5", "1", "2", "+1"), ("bob", "total", "6", "7", "+1"),
        ("carol", "Q5", "2", "", ""), ("carol", "Q13", "5", "", ""), ("carol", "total", "7", "", ""),
        ("dave", "Q5", "1", "2", "+1"), ("dave", "Q13", "4", "3", "-1"),
        ("erin", "Q5", "2", "", ""), ("erin", "Q13", "5", "", ""), ("erin", "total", "7", "", ""),
        ("frank", "Q5", "", "2", ""), ("frank", "Q13", "", "5", ""), ("frank", "total", "", "7", ""),
        ("hal", "Q13", "1", "1.5", "+0.5"), ("hal", "total", "1", "1.5", "+0.5"),
    ]


def test_the_summary_counts_and_names_the_changes(runs):
    text = regrade.summary(regrade.compare(*runs))
    assert "6 students in both runs: 2 up, 1 down, 1 with the same total but different question scores, " \
           "1 unchanged, 1 not graded in one of the runs" in text
    largest = text.split("Largest changes:\n")[1].split("\n\n")[0].splitlines()
    assert largest == ["- alice: 7 -> 4 (-3): Q13 -3", "- bob: 6 -> 7 (+1): Q5 +1", "- hal: 1 -> 1.5 (+0.5): Q13 +0.5",
                       "- dave: same total: Q5 +1, Q13 -1"], "largest first, each with its questions"
    assert "- carol: graded -> not graded (a zygote died twice)" in text
    assert f"Only in {runs[0]} (not in this run): erin" in text
    assert f"Only in {runs[1]} (not in the previous run): frank" in text
    assert "gina" not in text


def test_identical_runs_and_other_question_sets(tmp_path):
    same = regrade.compare(write_run(tmp_path / "a", OLD), write_run(tmp_path / "b", OLD))
    assert same.changes == [] and "No score changed." in regrade.summary(same)
    fewer = write_run(tmp_path / "c", {s: (st, {"Q5": sc["Q5"]}, r) for s, (st, sc, r) in OLD.items()})
    assert "Questions graded: Q5, Q13 before, Q5 now." in regrade.summary(regrade.compare(tmp_path / "a", fewer))


def test_compare_refuses_a_folder_with_itself_and_non_grade_folders(runs, tmp_path, capsys):
    with pytest.raises(ValueError, match="compare with the output of another run"):
        regrade.compare(runs[0], runs[0])
    assert main(["compare", str(tmp_path), str(runs[1])]) == 2
    assert "holds no grades.csv" in capsys.readouterr().err
    assert main(["compare", str(runs[0]), str(runs[1])]) == 0
    assert "2 up, 1 down" in capsys.readouterr().out and (runs[1] / "regrade.csv").is_file()


def test_grade_all_refuses_to_compare_with_its_own_out_before_grading(runs, tmp_path, capsys):
    (tmp_path / "class" / "alice").mkdir(parents=True)
    assert main(["grade-all", str(tmp_path / "class"), "--out", str(runs[1]), "--compare", str(runs[1])]) == 2
    assert "is --out itself" in capsys.readouterr().err
    assert main(["grade-all", str(tmp_path / "class"), "--out", str(tmp_path / "o"), "--compare", str(tmp_path)]) == 2
    assert "holds no grades.csv" in capsys.readouterr().err and not (tmp_path / "o").exists(), "refused before grading"


MISSING_SQRT = "Q13 missing_sqrt"  # a catalogued mistake (tests.helpers.catalogue)


@pytest.mark.slow
def test_grade_all_compare_end_to_end(tmp_path, capsys):
    """Run 1: alice right, bob with a Q13 bug. Run 2 (another --out): alice with the bug, bob fixed, carol new."""
    first, second = tmp_path / "class1", tmp_path / "class2"
    shutil.copytree(SOLUTION, first / "alice", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(catalogue()[MISSING_SQRT].build(tmp_path / "m1"), first / "bob")
    shutil.copytree(catalogue()[MISSING_SQRT].build(tmp_path / "m2"), second / "alice")
    shutil.copytree(SOLUTION, second / "bob", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(SOLUTION, second / "carol", ignore=shutil.ignore_patterns("__pycache__"))
    common = ["--questions", "Q5,Q13", "--timeout", "30"]
    assert main(["grade-all", str(first), "--out", str(tmp_path / "run1"), *common]) == 0
    capsys.readouterr()
    assert main(["grade-all", str(second), "--out", str(tmp_path / "run2"), "--compare", str(tmp_path / "run1"),
                 *common]) == 0
    printed = capsys.readouterr().out
    with open(tmp_path / "run2" / "regrade.csv", newline="") as handle:
        rows = {(r["student"], r["question"]): r for r in csv.DictReader(handle)}
    lost = float(rows["alice", "Q13"]["delta"])
    assert lost < 0 and float(rows["bob", "Q13"]["delta"]) == -lost, "the bug moved from bob to alice"
    assert float(rows["alice", "total"]["delta"]) == lost and ("alice", "Q5") not in rows and ("bob", "Q5") not in rows
    assert rows["carol", "total"]["old"] == "" and rows["carol", "total"]["new"] == "7"
    assert "2 students in both runs: 1 up, 1 down" in printed and "(not in the previous run): carol" in printed
    assert (tmp_path / "run2" / "regrade.md").read_text() in printed
