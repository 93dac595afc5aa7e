"""nbgrader end to end: generate_assignment, autograde and generate_feedback on submitted notebooks.

A throw-away course root (this repository's ``nbgrader_config.py`` and ``source/``) with two students:

* ``stub``: the student release exactly as handed out (package and notebook untouched): every cell runs, the
  answer cells fail with ``NotImplementedError``, and every autograded cell must score 0;
* ``solved``: the solution package with the release notebook cut down to its autograded cells (markdown and the
  imports kept), so that the test does not train models: every autograded cell must score the question's points.

The feedback HTML must show scores and the student-facing messages, never the hidden glue or grader code.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.harness import question_maxima
from tests.helpers import REPO, SOLUTION, STUB

ASSIGNMENT = "attention_seq2seq"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"


def _nbgrader(course: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEQ2SEQ_COURSE_ROOT": str(REPO),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args, ASSIGNMENT, f"--db=sqlite:///{course / 'gb.db'}",
                           "--log-level=ERROR"], cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copy(REPO / "nbgrader_config.py", course)
    shutil.copytree(REPO / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT,
                    ignore=shutil.ignore_patterns("__pycache__"))
    _nbgrader(course, "generate_assignment")
    shutil.copytree(STUB, course / "submitted" / "stub" / ASSIGNMENT, ignore=shutil.ignore_patterns("__pycache__"))
    solved = course / "submitted" / "solved" / ASSIGNMENT
    shutil.copytree(SOLUTION, solved, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    nb = json.loads((STUB / NOTEBOOK).read_text())
    nb["cells"] = [cell for cell in nb["cells"] if cell["cell_type"] == "markdown" or cell["id"] == "imports"
                   or cell["metadata"]["nbgrader"].get("grade")]
    (solved / NOTEBOOK).write_text(json.dumps(nb))
    _nbgrader(course, "autograde")
    _nbgrader(course, "generate_feedback")
    return course


def _scores(course: Path, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gb.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {grade.name.split("-")[0].upper(): grade.score for grade in notebook.grades}


def test_every_question_has_one_autograded_cell_worth_its_points():
    nb = json.loads((REPO / "source" / ASSIGNMENT / NOTEBOOK).read_text())
    cells = {cell["id"]: cell["metadata"]["nbgrader"] for cell in nb["cells"] if cell["metadata"]["nbgrader"].get("grade")}
    assert {gid.split("-")[0].upper(): meta["points"] for gid, meta in cells.items()} == question_maxima()
    assert all(gid.endswith("-grade") and meta["locked"] and not meta["solution"] for gid, meta in cells.items())


def test_stub_scores_zero_and_solution_full_marks(course):
    maxima = question_maxima()
    assert _scores(course, "stub") == {q: 0 for q in maxima}
    assert _scores(course, "solved") == maxima


def test_autograde_keeps_the_students_own_files(course):
    """nbgrader copies source/ files over the submission unless told not to: source/ holds the solution."""
    graded = course / "autograded" / "stub" / ASSIGNMENT / "seq2seq" / "attention.py"
    assert graded.read_text() == (STUB / "seq2seq" / "attention.py").read_text()


def test_feedback_shows_scores_and_reasons_but_no_hidden_code(course):
    html = (course / "feedback" / "stub" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "not implemented yet" in html and "NotImplementedError" in html
    for secret in ("HIDDEN TESTS", "autograder.notebook", "SEQ2SEQ_COURSE_ROOT", "points(&quot;Q", 'points("Q',
                   "def test_", "@probe", "assert "):
        assert secret not in html, secret
    solved = (course / "feedback" / "solved" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "PASS (" in solved and "HIDDEN TESTS" not in solved
