"""nbgrader's side of the autograder: the hidden part of the notebook's autograded cells.

Every question has one autograded cell in the course notebook (``grade: true``, its points the question's points,
see the graders). Students see only a comment there; the hidden part, restored by ``nbgrader autograde``, is
exactly ``HIDDEN_GLUE`` of ``tools/generate.py`` (the generator refuses anything else), here for Q12::

    ### BEGIN HIDDEN TESTS
    import os, sys; sys.path.insert(0, os.environ["SEQ2SEQ_COURSE_ROOT"])
    from autograder.notebook import points; points("Q12")
    ### END HIDDEN TESTS

``points`` returns the question's score, which nbgrader takes as partial credit (a cell whose result is a
number), and prints the question's feedback lines (the ones ``results.json`` holds: never grader code).

Where the score comes from: the first call grades the submission folder (the notebook's folder, which holds the
student's ``seq2seq`` package) with the ordinary autograder, in a separate process (``python -m autograder
grade``), whose children run the student code sandboxed; later calls reuse those results. The notebook kernel
itself runs the student's own cells before these, so a student could tamper with what this kernel prints;
``python -m autograder grade-all`` (which reads nbgrader's ``submitted/`` layout too) is the record to trust,
and nbgrader's numbers should agree with it (``tests/test_nbgrader.py`` checks that they do).

``nbgrader_config.py`` sets ``SEQ2SEQ_COURSE_ROOT`` (the repository), the cell time limit and the feedback
preprocessors that keep hidden tests out of the feedback HTML (see ``HideHiddenOutputs``).
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from nbconvert.preprocessors import Preprocessor

from autograder.results import NOT_GRADED, status

COURSE_ROOT = Path(__file__).resolve().parent.parent
_RESULTS: dict[str, dict[str, Any]] = {}
GRADE_DEADLINE = 3600  # seconds: every question's time limit added up, with room to spare


def _grade(folder: Path) -> dict[str, Any]:
    """Grade ``folder`` once (whole hidden suite, separate process) and keep the results for this process."""
    folder = folder.resolve()  # the child runs in the course root: a relative path would point there
    key = str(folder)
    if key not in _RESULTS:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "results.json"
            try:  # the grading has deadlines of its own; this one only keeps the cell from waiting forever
                done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out)],
                                      cwd=COURSE_ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                      timeout=GRADE_DEADLINE)
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"the autograder did not finish grading {folder} in {GRADE_DEADLINE} s") from None
            if not out.is_file():
                reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
                raise RuntimeError(f"the autograder could not grade {folder}: {reason}")
            results = json.loads(out.read_text())
            if status(results) == NOT_GRADED:  # never a silent 0: the cell fails, and says why
                raise RuntimeError(f"not graded ({results['extra_data']['reason']})")
            _RESULTS[key] = results
    return _RESULTS[key]


def points(qid: str, folder: str | Path = ".") -> float:
    """The score of ``qid`` for the submission in ``folder`` (default: the notebook's folder); prints why."""
    try:
        results = _grade(Path(folder))
    except Exception as error:
        # Not a score: the cell fails (nbgrader's log shows it), so the instructor sees it was not graded.
        raise RuntimeError(f"{qid} was not graded: {error}. Tell your instructor.") from None
    test = next(t for t in results["tests"] if t["name"].split()[0] == qid)
    print(test["output"])
    return float(test["score"])


class HideHiddenOutputs(Preprocessor):
    """Feedback preprocessor: in cells with hidden tests, keep only the score and the printed feedback.

    nbgrader's ``ClearHiddenTests`` removes the hidden source; this one, run before it (while the
    ``BEGIN HIDDEN TESTS`` marker is still there), drops what could show hidden code in the outputs: error
    tracebacks (IPython prints the failing lines of the cell) and anything written to stderr.
    """

    marker = "BEGIN HIDDEN TESTS"

    def preprocess_cell(self, cell, resources, index):  # noqa: D102 (nbconvert's signature)
        if cell.cell_type == "code" and self.marker in cell.source:
            kept = []
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: the hidden tests of this question failed"]
                    output.evalue = ""
                elif output.output_type == "stream" and output.name == "stderr":
                    continue
                kept.append(output)
            cell.outputs = kept
        return cell, resources

