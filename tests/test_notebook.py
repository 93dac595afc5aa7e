"""The course notebook: the solution executes top to bottom (quick settings, CPU, within a time limit) and keeps its
plots; the student release stops at the first stub; every declared question has its explanation and its visible
check, in the outline's order; nbgrader metadata everywhere; no solution text and no walls of text.

``NOTEBOOK_TIME_LIMIT`` (seconds, default 1200) bounds the solution's execution: a hang guard, not a speed check
(the quick settings take a few minutes on 2 quiet cores, up to 25 at load average 10); with ``NOTEBOOK_EXECUTED_OUT`` set,
the executed solution notebook is written there (for CI artifacts, or ``jupyter nbconvert --to html``).
"""
from __future__ import annotations

import json
import os
import re
import time

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from autograder.registry import question_ids
from tests.helpers import REPO, SOLUTION, STUB

NOTEBOOK = "attention_seq2seq.ipynb"
SOURCE = REPO / "source" / "attention_seq2seq"
QUESTIONS = [int(qid[1:]) for qid in question_ids()]
TIME_LIMIT = float(os.environ.get("NOTEBOOK_TIME_LIMIT", "1200"))
MAX_OUTPUT_LINES = 25  # no cell prints a wall of text
# The figures the notebook must keep: the loss curves, the comparison, the heatmaps, the studies.
PLOTS = ("q23-demo", "q24-demo", "q27-demo", "q28-demo", "q29-demo", "q31-demo", "q32-demo", "q33-demo", "q34-demo")


def _execute(folder, timeout=1200):
    notebook = nbformat.read(folder / NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    os.environ.pop("MPLBACKEND", None)  # the kernel must use Jupyter's inline backend, which keeps the plots
    return notebook, client


def _cells(folder):
    return json.loads((folder / NOTEBOOK).read_text(encoding="utf-8"))["cells"]


def _text(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _output_lines(output):
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    else:
        data = output.get("data", {})
        text = data.get("text/markdown") or data.get("text/plain", "")
    text = text if isinstance(text, str) else "".join(text)
    return len(text.splitlines())


@pytest.fixture(scope="module")
def executed_solution():
    # The check cells (one per question) would start a pytest process each (2-3 minutes of CI): they print "skipped" here, and
    # tests/test_public_checks.py runs every visible check on the solution in one go instead.
    notebook, client = _execute(SOLUTION)
    started = time.perf_counter()
    os.environ["SEQ2SEQ_SKIP_CHECKS"] = "tests/test_public_checks.py runs them"
    try:
        client.execute()
    finally:
        os.environ.pop("SEQ2SEQ_SKIP_CHECKS", None)
        seconds = time.perf_counter() - started
        if os.environ.get("NOTEBOOK_EXECUTED_OUT"):
            nbformat.write(notebook, os.environ["NOTEBOOK_EXECUTED_OUT"])
    return notebook, seconds


@pytest.mark.slow
def test_solution_notebook_runs_and_keeps_its_plots(executed_solution):
    notebook, seconds = executed_solution
    outputs = {cell["id"]: cell.get("outputs", []) for cell in notebook.cells if cell.cell_type == "code"}
    assert not [cid for cid, outs in outputs.items() for o in outs if o.get("output_type") == "error"]
    images = [cid for cid, outs in outputs.items() if any("image/png" in o.get("data", {}) for o in outs)]
    assert "q28-demo" in images, "the attention heatmap is in the notebook"
    assert "q23-demo" in images, "the loss curve is in the notebook"
    assert set(PLOTS) <= set(images), f"figures missing from {sorted(set(PLOTS) - set(images))}"
    # Per cell, all its outputs together: a check cell may also print a warning on stderr (a second output).
    checks = {cid: "".join(o.get("text", "") for o in outs) for cid, outs in outputs.items() if cid.endswith("-check")}
    skipped = [cid for cid, text in checks.items() if "visible checks skipped" not in text]
    assert len(checks) >= len(QUESTIONS) and not skipped, {cid: checks[cid] for cid in skipped}
    assert seconds < TIME_LIMIT, f"the quick run took {seconds:.0f}s, more than {TIME_LIMIT:.0f}s"


@pytest.mark.slow
def test_solution_notebook_prints_no_walls_of_text(executed_solution):
    notebook, _ = executed_solution
    long = {cell["id"]: _output_lines(o) for cell in notebook.cells if cell.cell_type == "code"
            for o in cell.get("outputs", []) if _output_lines(o) > MAX_OUTPUT_LINES}
    assert not long, f"outputs longer than {MAX_OUTPUT_LINES} lines: {long}"


@pytest.mark.slow
def test_student_notebook_stops_at_the_first_stub_with_a_clear_error():
    notebook, client = _execute(STUB)
    with pytest.raises(CellExecutionError) as error:
        client.execute()
    assert error.value.ename == "NotImplementedError"
    failed = [cell for cell in notebook.cells if cell.cell_type == "code"
              and any(o.get("output_type") == "error" for o in cell.get("outputs", []))]
    assert failed and failed[0]["id"] == "q1-demo", "the first unanswered question is Q1"


def test_notebook_cells_carry_nbgrader_metadata():
    for folder in (SOURCE, SOLUTION, STUB):
        cells = _cells(folder)
        assert all("nbgrader" in cell["metadata"] for cell in cells), folder
        ids = [cell["metadata"]["nbgrader"]["grade_id"] for cell in cells]
        assert len(ids) == len(set(ids)), "grade ids are unique"
        assert ids == [cell["id"] for cell in cells], "a cell's id is its grade id"
        for cell in cells:
            if cell["id"].endswith("-check"):
                meta = cell["metadata"]["nbgrader"]
                assert meta["locked"] and not meta["solution"], f"{cell['id']} is a locked, read-only cell"


def test_every_question_is_introduced_demonstrated_and_checked_in_order():
    cells = _cells(SOURCE)
    index = {cell["id"]: i for i, cell in enumerate(cells)}
    sections = [i for i, cell in enumerate(cells) if cell["cell_type"] == "markdown"
                and re.match(r"## \d+\. ", _text(cell))]
    numbers = [int(re.match(r"## (\d+)\.", _text(cells[i]))[1]) for i in sections]
    assert numbers == list(range(1, 13)), "the outline's 12 sections, in order"
    last = 0
    for q in QUESTIONS:
        text, check = index.get(f"q{q}-text"), index.get(f"q{q}-check")
        assert text is not None and cells[text]["cell_type"] == "markdown", f"Q{q} has its explanation"
        assert _text(cells[text]).startswith(f"### Q{q}:"), f"q{q}-text introduces Q{q}"
        assert check is not None and _text(cells[check]).strip() == f'check("Q{q}");', f"Q{q} has a check cell"
        demos = [i for cid, i in index.items() if re.fullmatch(rf"q{q}-demo", cid)]
        assert demos and text < min(demos) < check, f"Q{q}: explanation, then its demo, then its check"
        assert text > last, f"Q{q} comes after Q{q - 1}"
        last = check
    assert all(_text(cell).rstrip().endswith(";") for cell in cells if cell["id"].endswith("-check"))


def test_maths_is_latex_and_the_switch_is_at_the_top():
    cells = _cells(SOURCE)
    theory = _text(next(cell for cell in cells if cell["id"] == "section-1"))
    for formula in (r"\alpha_{t,i}", r"c_t = \sum", r"\tanh", r"\sqrt{d}", r"\mathcal{L}", r"\mathrm{softmax}"):
        assert formula in theory, f"section 1 derives {formula}"
    assert r"\mathrm{BP}" in _text(next(cell for cell in cells if cell["id"] == "q26-text")), "BLEU's formula"
    first_code = next(cell for cell in cells if cell["cell_type"] == "code")
    assert first_code["id"] == "settings" and re.search(r"^FULL = False\b", _text(first_code), re.M)
    assert sum("FULL =" in _text(cell) for cell in cells if cell["cell_type"] == "code") == 1, "one switch"


def test_student_notebook_holds_no_solution():
    text = (STUB / NOTEBOOK).read_text(encoding="utf-8")
    assert "### BEGIN SOLUTION" not in text and "### END SOLUTION" not in text
    # Every answer goes in the package, as the notebook's first cell says: no answer cell, hence no stub either.
    assert not [cell["id"] for cell in _cells(SOURCE) if cell["metadata"]["nbgrader"]["solution"]]
    assert not [cell["id"] for cell in _cells(STUB) if cell["cell_type"] == "code" and "YOUR CODE HERE" in _text(cell)]


def test_autograded_cells_state_their_points():
    """Each autograded cell's comment gives the cell's points, "1 point" or "N points"."""
    for cell in _cells(SOURCE):
        meta = cell["metadata"]["nbgrader"]
        if meta.get("grade"):
            points = meta["points"]
            qid = cell["id"].split("-")[0].upper()
            stated = f"# {qid} ({points:g} point{'' if points == 1 else 's'}) is graded"
            assert _text(cell).startswith(stated), f"{cell['id']} should start with {stated!r}"


def test_committed_notebooks_hold_no_walls_of_text():
    for folder in (SOURCE, SOLUTION, STUB):
        long = [cell["id"] for cell in _cells(folder) if cell["cell_type"] == "code"
                for o in cell.get("outputs", []) if _output_lines(o) > MAX_OUTPUT_LINES]
        assert not long, f"{folder}: outputs longer than {MAX_OUTPUT_LINES} lines in {long}"
