"""Shared fixtures and helpers for the test suite (see tests/helpers.py for the grading helpers)."""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tools/ and autograder/ import from the repository root


@pytest.fixture(scope="session")
def reached(tmp_path_factory) -> dict[str, set[str]]:
    """``{question: the solution's functions its probes enter}`` (tests/bug_reach.py), traced once per session:
    with pytest-xdist, in the folder its workers share."""
    from tests.bug_reach import reach_map

    base = tmp_path_factory.getbasetemp()
    return reach_map(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
