"""nbgrader end to end, the whole cycle an instructor knows, from the repository root with the course's config.

A copy of the repository's course files (``nbgrader_config.py``, ``source/``, ``assignments/``, ``tools/``) is the
course root, with an exchange of its own. The instructor runs ``generate_assignment`` (which must leave the
committed release exactly as it is: stubs, no solution), ``release_assignment``; three students ``fetch`` and
``submit``; the instructor runs ``collect``, ``autograde``, ``generate_feedback`` and ``export``. The students:

* ``alice``: the release exactly as fetched (package and notebook untouched): every cell runs, the answer cells
  fail with ``NotImplementedError``, and every autograded cell must score 0;
* ``bob``: the solution package, with the fetched notebook cut down to its autograded cells (markdown and the
  imports kept), so that the test does not train models: every autograded cell scores the question's points;
* ``carol``: like bob, with one realistic bug (Q13's scaled dot product without the square root).

nbgrader's scores must equal ``grade-all``'s on the same ``submitted/`` folder; no solution line may reach the
release, the feedback or the export; the feedback HTML shows scores and student-facing messages, never the hidden
glue or grader code. (nbgrader's exchange names a submission after the OS user; the test runs as one user, so it
gives each submission its student's name in the inbound folder, as nbgrader would for that student.)
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import redact
from autograder.bulk import grade_all
from autograder.harness import question_maxima
from tests.helpers import REPO, SOLUTION, STUB, catalogue, mutant

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

ASSIGNMENT = "attention_seq2seq"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
COURSE_FILES = ("nbgrader_config.py", f"source/{ASSIGNMENT}", f"assignments/{ASSIGNMENT}", "tools/generate.py")
BUG = "Q13 missing_sqrt"
EDITED = "q2-grade"  # carol adds a line to this locked autograded cell


def _nbgrader(cwd: Path, command: str, *args: str, exchange: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEQ2SEQ_COURSE_ROOT": str(REPO),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", command, ASSIGNMENT, *args,
                           f"--Exchange.root={exchange}", "--log-level=WARN"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _cut_notebook(notebook: Path) -> None:
    """Keep the markdown, the imports and the autograded cells (no training, no answer cells)."""
    nb = json.loads(notebook.read_text())
    nb["cells"] = [cell for cell in nb["cells"] if cell["cell_type"] == "markdown" or cell["id"] == "imports"
                   or cell["metadata"]["nbgrader"].get("grade")]
    notebook.write_text(json.dumps(nb))


def _student(course: Path, exchange: Path, name: str, package: Path | None, edit: str | None = None) -> None:
    """Fetch the assignment as ``name``, put ``package`` in it (None: untouched), add a line to the cell with id
    ``edit`` (None: none), and submit."""
    home = course.parent / "students" / name
    home.mkdir(parents=True)
    _nbgrader(home, "fetch_assignment", "--course", "attention-seq2seq-course", exchange=exchange)
    work = home / ASSIGNMENT
    if package is not None:
        shutil.rmtree(work / "seq2seq")
        shutil.copytree(package / "seq2seq", work / "seq2seq", ignore=shutil.ignore_patterns("__pycache__"))
        _cut_notebook(work / NOTEBOOK)
    if edit is not None:
        nb = json.loads((work / NOTEBOOK).read_text())
        cell = next(cell for cell in nb["cells"] if cell["id"] == edit)
        cell["source"] = "".join(cell["source"]) + "\n# my own note in a locked cell"
        (work / NOTEBOOK).write_text(json.dumps(nb))
    inbound = exchange / "attention-seq2seq-course" / "inbound"
    before = set(inbound.iterdir())
    _nbgrader(work.parent, "submit", "--course", "attention-seq2seq-course", exchange=exchange)
    (made,) = set(inbound.iterdir()) - before
    made.rename(inbound / f"{name}+{made.name.split('+', 1)[1]}")


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course") / "root"
    for rel in COURSE_FILES:
        (course / rel).parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if (REPO / rel).is_dir() else shutil.copy
        copy(REPO / rel, course / rel, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                          if copy is shutil.copytree else {}))
    exchange = course.parent / "exchange"
    exchange.mkdir()
    for command in ("generate_assignment", "release_assignment"):
        _nbgrader(course, command, exchange=exchange)
    buggy = mutant(course.parent, catalogue()[BUG].edits)
    for name, package, edit in (("alice", None, None), ("bob", SOLUTION, None), ("carol", buggy, EDITED)):
        _student(course, exchange, name, package, edit)
    for command in ("collect", "autograde", "generate_feedback", "export"):
        done = _nbgrader(course, command, exchange=exchange)
        (course.parent / f"{command}.log").write_text(done.stdout + done.stderr)
    return course


def _scores(course: Path, student: str) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {grade.name.split("-")[0].upper(): grade.score for grade in notebook.grades}


def _solution_lines() -> list[str]:
    """The reference's answers as code lines (white space and strings taken out), long enough to mean something,
    and written nowhere in the release (a docstring may dictate a line: that is no leak)."""
    release = "".join("".join(path.read_text().split()) for path in STUB.rglob("*") if path.suffix in (".py", ".ipynb"))
    return [line for line in redact.reference_lines() if len(line) >= 24 and line not in release]


def _leaks(root: Path, suffixes: tuple[str, ...] = (".py", ".ipynb", ".html", ".csv")) -> list[str]:
    found = []
    for path in [root] if root.is_file() else root.rglob("*"):
        if path.is_file() and path.suffix in suffixes:
            text = "".join(path.read_text(errors="replace").split()).replace("&quot;", '"').replace("&#39;", "'")
            found += [f"{path.relative_to(root)}: {line}" for line in _solution_lines() if line in text]
            found += [f"{path.relative_to(root)}: a marker"] if "BEGINSOLUTION" in text else []
    return found


def test_generate_assignment_from_the_repository_root_makes_exactly_the_release(course):
    sys.path.insert(0, str(REPO / "tools"))
    from generate import trees_differ

    assert trees_differ(course / "assignments" / ASSIGNMENT, STUB) == []
    assert _solution_lines(), "the leak check below would check nothing"
    released = course.parent / "exchange" / "attention-seq2seq-course" / "outbound"
    assert _leaks(released) == [] and _leaks(course / "assignments") == []


def test_no_solution_line_in_feedback_or_export(course):
    """What the grader writes (the feedback pages, the export) holds no solution line; nbgrader also hands each
    student their own files back, so alice's whole feedback folder (she submitted the stubs) holds none either."""
    assert (course / "grades.csv").is_file()
    assert _leaks(course / "feedback", (".html",)) == [] and _leaks(course / "grades.csv") == []
    assert _leaks(course / "feedback" / "alice") == []


def test_scores_equal_grade_all(course):
    maxima = question_maxima()
    rows = {row["student"]: row for row in grade_all(course, course.parent / "grade-all", progress=False)}
    assert set(rows) == {"alice", "bob", "carol"}
    for student in rows:
        nbgrader = _scores(course, student)
        assert nbgrader == {q: float(rows[student][q]) for q in maxima}, student
    assert _scores(course, "alice") == {q: 0 for q in maxima}
    assert _scores(course, "bob") == maxima
    assert _scores(course, "carol")["Q13"] < maxima["Q13"] and sum(_scores(course, "carol").values()) > 90
    with open(course / "grades.csv", newline="") as handle:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(handle)}
    assert exported == {s: float(rows[s]["total"]) for s in rows}


def test_every_question_has_one_autograded_cell_worth_its_points():
    nb = json.loads((REPO / "source" / ASSIGNMENT / NOTEBOOK).read_text())
    cells = {cell["id"]: cell["metadata"]["nbgrader"] for cell in nb["cells"] if cell["metadata"]["nbgrader"].get("grade")}
    assert {gid.split("-")[0].upper(): meta["points"] for gid, meta in cells.items()} == question_maxima()
    assert all(gid.endswith("-grade") and meta["locked"] and not meta["solution"] for gid, meta in cells.items())


def test_autograde_warns_of_edited_cells_only(course):
    """nbgrader's "checksum has changed" warning (its issue 1961 makes it fire for every hidden-tests cell) is kept
    quiet where a student's cell is the released one (nbgrader_config.py): carol's edited cell is still reported,
    and nbgrader still runs the released source in its place (her score for it stands)."""
    log = (course.parent / "autograde.log").read_text()
    changed = re.findall(r"Attribute '(\w+)' for cell ([\w-]+) has changed", log)
    assert changed and {cell for _, cell in changed} == {EDITED}, log[-3000:]
    assert _scores(course, "carol")["Q2"] == question_maxima()["Q2"]


def test_autograde_keeps_the_students_own_files(course):
    """nbgrader copies source/ files over the submission unless told not to: source/ holds the solution."""
    graded = course / "autograded" / "alice" / ASSIGNMENT / "seq2seq" / "attention.py"
    assert graded.read_text() == (STUB / "seq2seq" / "attention.py").read_text()


def test_feedback_shows_scores_and_reasons_but_no_hidden_code(course):
    html = (course / "feedback" / "alice" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "not implemented yet" in html and "NotImplementedError" in html
    for secret in ("HIDDEN TESTS", "autograder.notebook", "SEQ2SEQ_COURSE_ROOT", "points(&quot;Q", 'points("Q',
                   "def test_", "@probe", "assert "):
        assert secret not in html, secret
    solved = (course / "feedback" / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert "PASS (" in solved and "HIDDEN TESTS" not in solved
