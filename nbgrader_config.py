"""nbgrader configuration for the course (run nbgrader from the repository root).

``tools/generate.py`` (``make generate``) calls ``nbgrader generate_assignment`` with this file, in a throw-away
course root, for the notebooks; it strips the ``.py`` modules itself, since nbgrader copies those verbatim.

Run from the repository root, ``nbgrader generate_assignment attention_seq2seq --force`` makes exactly the release
``make generate`` makes (and the gradebook entry ``autograde`` needs): nbgrader copies ``source/``'s ``.py`` files
verbatim, solutions and all, so a hook replaces them with the release's modules, stubbed by ``tools/generate.py``;
if that fails, no ``.py`` file is left in the release and the command stops with the reason.
"""
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821  (injected by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "attention-seq2seq-course"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# Stubs look the same in notebooks as in the .py modules that tools/generate.py strips.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

_ROOT = Path(__file__).resolve().parent


def _write_release_modules(assignment, student, notebooks):  # noqa: ARG001 (nbgrader's hook signature)
    """After nbgrader copied ``source/``'s ``.py`` files verbatim (solutions and all) into the release: remove
    them, and write the release's modules as ``make generate`` does. On failure none is left, and the command
    stops with the reason."""
    release = _ROOT / c.CourseDirectory.release_directory / assignment
    for path in release.rglob("*.py"):
        path.unlink()
    try:
        sys.path.insert(0, str(_ROOT / "tools"))
        from generate import write_modules

        write_modules(_ROOT / c.CourseDirectory.source_directory / assignment, release, student=True)
    except BaseException as error:
        for path in release.rglob("*.py"):
            path.unlink()
        print(f"nbgrader generate_assignment: writing the release's modules failed ({error}); the release has no "
              ".py file now: run `make generate`", file=sys.stderr, flush=True)
        if "generate_assignment" in sys.argv[1:2]:
            os._exit(1)  # nbgrader would only log a hook's error, and exit 0
        raise


if (_ROOT / "tools" / "generate.py").is_file():  # the repository, not tools/generate.py's throw-away course root
    c.GenerateAssignment.post_convert_hook = _write_release_modules
    c.GenerateAssignment.force = True  # safe now, and without it nbgrader skips the release and makes no gradebook

# Autograding (``nbgrader autograde attention_seq2seq`` from the repository root): each question's autograded cell
# runs the course autograder (autograder/notebook.py), which finds this repository through SEQ2SEQ_COURSE_ROOT.
# The first of those cells grades the whole submission (about a minute), hence the longer cell time limit.
os.environ.setdefault("SEQ2SEQ_COURSE_ROOT", str(Path(__file__).resolve().parent))
sys.path.insert(0, os.environ["SEQ2SEQ_COURSE_ROOT"])  # for autograder.notebook.HideHiddenOutputs below
c.Execute.timeout = 600
# The notebook's visible check("Qn") cells are skipped by `nbgrader autograde` (the hidden graders do their job,
# and each check would start a pytest process of its own: minutes for the whole notebook). Only there: a Jupyter
# server that loads this file must not silence the checks of the notebooks it runs.
if "autograde" in sys.argv[1:2]:
    os.environ["SEQ2SEQ_SKIP_CHECKS"] = "while autograding"


def _quiet_expected_checksum_changes():
    """nbgrader (issue 1961 on its tracker, open) stores a hidden-tests cell's checksum before clearing the hidden
    tests, so `autograde` warns "Attribute 'checksum' ... has changed!" for every such cell of every student: here
    every autograded cell, 34 warnings a student. Stay quiet exactly where the student's cell is the released one
    (the database's source with its hidden tests cleared); a cell the student edited is still reported (and, as
    always, overwritten with the database's source before it runs)."""
    import re

    from nbgrader.preprocessors.overwritecells import OverwriteCells

    hidden = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
    preprocess, report = OverwriteCells.preprocess_cell, OverwriteCells.report_change

    def preprocess_cell(self, cell, resources, index):
        self._as_released = False
        try:
            source = self.gradebook.find_source_cell(cell.metadata.nbgrader["grade_id"], self.notebook_id,
                                                     self.assignment_id).source
            self._as_released = hidden.sub("", source).strip() == cell.source.strip()
        except Exception:  # noqa: BLE001 - not a cell of the database: nbgrader's own checks decide
            pass
        return preprocess(self, cell, resources, index)

    def report_change(self, name, attr, old, new):
        if not (attr == "checksum" and getattr(self, "_as_released", False)):
            report(self, name, attr, old, new)

    OverwriteCells.preprocess_cell, OverwriteCells.report_change = preprocess_cell, report_change


if "autograde" in sys.argv[1:2]:
    _quiet_expected_checksum_changes()

# nbgrader autograde copies every non-notebook file of source/<assignment>/ over the student's copy (to protect
# test files). Here source/ holds the solution package: copying it would grade the solution for everyone. Keep
# every student file as submitted; the hidden graders live outside the submission anyway.
_ASSIGNMENT = Path(__file__).resolve().parent / "source" / "attention_seq2seq"
c.Autograde.exclude_overwriting = {"attention_seq2seq": sorted(
    str(path.relative_to(_ASSIGNMENT)) for path in _ASSIGNMENT.rglob("*")
    if path.is_file() and path.suffix != ".ipynb" and "__pycache__" not in path.parts)}

# Feedback (``nbgrader generate_feedback``): nbgrader shows hidden tests by default. Drop tracebacks and stderr
# of the hidden cells first (they can quote hidden code), then the hidden source itself.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.notebook.HideHiddenOutputs",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
