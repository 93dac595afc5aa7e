"""The course notebook: the solution executes top to bottom, the student release stops at the first stub."""
from __future__ import annotations

import json
import os

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.helpers import SOLUTION, STUB

NOTEBOOK = "attention_seq2seq.ipynb"


def _execute(folder, timeout=600):
    notebook = nbformat.read(folder / NOTEBOOK, as_version=4)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    os.environ.pop("MPLBACKEND", None)  # the kernel must use Jupyter's inline backend, which keeps the plots
    return notebook, client


def test_solution_notebook_runs_and_keeps_its_plots():
    notebook, client = _execute(SOLUTION)
    client.execute()
    outputs = {cell["id"]: cell.get("outputs", []) for cell in notebook.cells if cell.cell_type == "code"}
    assert not [cid for cid, outs in outputs.items() for o in outs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs["q28-demo"]), "the heatmap is in the notebook"
    checks = [o.get("text", "") for cid, outs in outputs.items() if cid.endswith("-check") for o in outs]
    assert checks and not [text for text in checks if "failed" in text], "every visible check passes"


def test_student_notebook_stops_at_the_first_stub_with_a_clear_error():
    notebook, client = _execute(STUB)
    with pytest.raises(CellExecutionError) as error:
        client.execute()
    assert error.value.ename == "NotImplementedError"
    failed = [cell for cell in notebook.cells if cell.cell_type == "code"
              and any(o.get("output_type") == "error" for o in cell.get("outputs", []))]
    assert failed and failed[0]["id"] == "q1-demo", "the first unanswered question is Q1"


def test_notebook_cells_carry_nbgrader_metadata():
    for folder in (SOLUTION, STUB):
        cells = json.loads((folder / NOTEBOOK).read_text())["cells"]
        assert all("nbgrader" in cell["metadata"] for cell in cells)
        ids = [cell["metadata"]["nbgrader"]["grade_id"] for cell in cells]
        assert len(ids) == len(set(ids)), "grade ids are unique"
