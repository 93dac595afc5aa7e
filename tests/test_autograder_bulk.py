"""Bulk grading (grade-all) and the Gradescope package, rehearsed in temporary folders."""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder.bulk import find_submissions, grade_all
from autograder.gradescope import build_zip
from autograder import landlock
from autograder.harness import question_maxima
from tests.helpers import REPO, SOLUTION, STUB, mutant, scores

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

QUESTIONS = ["Q1", "Q2", "Q3", "Q4"]
ENV = "seq2seq/environment.py"


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """A class in nbgrader's layout: full marks, stub, one bug, one hostile, one empty, one tamperer."""
    root = tmp_path_factory.mktemp("class")
    made = tmp_path_factory.mktemp("made")
    subs = root / "submitted"
    subs.mkdir()
    shutil.copytree(SOLUTION, subs / "alice" / "attention_seq2seq")
    shutil.copytree(STUB, subs / "bob" / "attention_seq2seq")
    shutil.copytree(mutant(made / "c", {ENV: [("    np.random.seed(seed)\n", "")]}), subs / "carol" / "attention_seq2seq")
    shutil.copytree(mutant(made / "d", {ENV: [("    names = {", "    import os; os._exit(0)\n    names = {")]}),
                    subs / "dave")  # plain layout: dave/seq2seq
    (subs / "erin").mkdir()  # uploaded nothing
    # mallory's set_seed rewrites zed's copy (its sibling in the staging folder) to get zed flagged or helped.
    sneaky = ("    import pathlib\n"
              "    for other in pathlib.Path(__file__).resolve().parents[3].glob('*/*/seq2seq/environment.py'):\n"
              "        other.write_text(other.read_text() + '\\n# touched\\n')\n    random.seed(seed)\n")
    shutil.copytree(mutant(made / "m", {ENV: [("    random.seed(seed)\n", sneaky)]}), subs / "mallory" / "attention_seq2seq")
    shutil.copytree(SOLUTION, subs / "zed" / "attention_seq2seq")
    return root


def test_find_submissions_in_both_layouts(klass):
    found = find_submissions(klass)
    assert list(found) == ["alice", "bob", "carol", "dave", "erin", "mallory", "zed"]
    assert found["dave"].name == "dave" and found["alice"].name == "attention_seq2seq" and found["erin"] is None


def test_grade_all_matches_one_by_one_and_resumes(klass, tmp_path):
    out = tmp_path / "out"
    rows = {row["student"]: row for row in grade_all(klass, out, questions=QUESTIONS, max_timeout=20, progress=False)}
    with open(out / "grades.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [r["student"] for r in table] == list(rows) and list(table[0]) == ["student", *QUESTIONS, "total", "status", "reason"]
    full = sum(question_maxima()[q] for q in QUESTIONS)
    assert float(rows["alice"]["total"]) == full and rows["bob"]["total"] == "0"
    for student in ("alice", "carol", "dave"):
        alone = scores(find_submissions(klass)[student], QUESTIONS, timeout=20)
        assert {q: float(rows[student][q]) for q in QUESTIONS} == alone, student
    assert rows["erin"]["status"] == "flagged" and rows["erin"]["reason"].startswith("no submission found")
    assert rows["erin"]["total"] == "0"
    if landlock.abi_version() or os.geteuid() == 0:  # mallory's child can neither list nor write zed's copy
        assert rows["zed"]["status"] == "graded" and float(rows["zed"]["total"]) == full, rows["zed"]
    else:  # no Landlock, one uid: the change is caught by the fingerprint of zed's staged copy, zed is regraded
        assert rows["zed"]["status"] == "not graded" and "modified during grading" in rows["zed"]["reason"]
    feedback = (out / "carol" / "feedback.md").read_text()
    assert "NumPy" in feedback and "def test_" not in feedback and "assert " not in feedback
    results = json.loads((out / "alice" / "results.json").read_text())
    assert results["score"] == full and len(results["tests"]) == 4

    stamp = (out / "alice" / "results.json").stat().st_mtime_ns
    again = {row["student"]: row for row in grade_all(klass, out, questions=QUESTIONS, progress=False)}
    assert (out / "alice" / "results.json").stat().st_mtime_ns >= stamp
    assert json.loads((out / "alice" / "results.json").read_text()) == results, "resumed, not regraded"
    assert {s: r["total"] for s, r in again.items() if s != "zed"} == {s: r["total"] for s, r in rows.items() if s != "zed"}


def test_gradescope_zip_runs_in_a_fake_autograder_tree(tmp_path):
    first, second = build_zip(tmp_path / "a.zip"), build_zip(tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes(), "the zip is reproducible"
    root = tmp_path / "autograder"
    with zipfile.ZipFile(first) as archive:
        names = archive.namelist()
        archive.extractall(root / "source")
    assert {"setup.sh", "run_autograder", "requirements.txt", "autograder/harness.py"} <= set(names)
    release = "assignments/attention_seq2seq/seq2seq/"  # the release's package: redaction tells answers from it
    assert not [n for n in names if n.startswith(("source/", "assignments/", "tests/")) and not n.startswith(release)
                or "__pycache__" in n]
    assert f"{release}attention.py" in names
    for script in ("setup.sh", "run_autograder"):
        (root / "source" / script).chmod(0o755)
        assert subprocess.run(["bash", "-n", str(root / "source" / script)]).returncode == 0
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": sys.executable}

    shutil.copytree(STUB, root / "submission" / "attention_seq2seq")  # an upload of the whole folder
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and len(results["tests"]) >= 4
    assert all(t["name"][0] == "Q" and "max_score" in t for t in results["tests"])

    for uploaded in (STUB, STUB / "seq2seq"):  # a zip of the folder, and a zip of the package alone
        shutil.rmtree(root / "submission")
        (root / "submission").mkdir()
        shutil.make_archive(str(root / "submission" / "upload"), "zip", uploaded.parent, uploaded.name)
        done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True)
        zipped = json.loads((root / "results" / "results.json").read_text())
        assert done.returncode == 0 and zipped["extra_data"]["status"] == "graded", zipped.get("output")
        assert [(t["name"], t["score"]) for t in zipped["tests"]] == [(t["name"], t["score"]) for t in results["tests"]]

    shutil.rmtree(root / "submission")
    (root / "submission").mkdir()
    (root / "submission" / "notes.txt").write_text("oops")
    done = subprocess.run([str(root / "source" / "run_autograder")], env=env, capture_output=True, text=True)
    results = json.loads((root / "results" / "results.json").read_text())
    assert done.returncode == 0 and results["score"] == 0 and "No seq2seq/ package" in results["output"]


def test_gradescope_run_grades_the_solution_in_full(tmp_path):
    root = tmp_path / "autograder"
    shutil.copytree(SOLUTION / "seq2seq", root / "submission" / "seq2seq")  # an upload of the package alone
    done = subprocess.run([sys.executable, "-m", "autograder", "gradescope-run", "--root", str(root)], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == results["extra_data"]["max_score"] > 0
