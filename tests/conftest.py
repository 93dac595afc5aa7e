"""Shared fixtures and helpers for the test suite (see tests/helpers.py for the grading helpers)."""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tools/ and autograder/ import from the repository root

# Under pytest-xdist (make test: two workers on two cores), each worker and every process it starts gets its share
# of the cores as torch's thread count (set before torch is first imported; a process that sets its own keeps it).
# Two threads that wait for each other on a core the other worker keeps busy cost several times their work: the
# demo took 110 s and 137 CPU-s so, 41 s and 40 CPU-s on one thread.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    os.environ["OMP_NUM_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))


@pytest.fixture(scope="session")
def reached(tmp_path_factory) -> dict[str, set[str]]:
    """``{question: the solution's functions its probes enter}`` (tests/bug_reach.py), traced once per session:
    with pytest-xdist, in the folder its workers share."""
    from tests.bug_reach import reach_map

    base = tmp_path_factory.getbasetemp()
    return reach_map(base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base)
