"""The student's visible checks and the package's command line, on the solution and on the stub."""
from __future__ import annotations


import pytest

from tests.helpers import SOLUTION, STUB, run_seq2seq

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow


def test_one_questions_checks_pass_on_the_solution_and_fail_on_the_stub():
    """``check Q4``, as the README has it: that question's checks only. (Every question's checks, on both:
    ``check all`` below and in tests/test_student_release.py.)"""
    done = run_seq2seq(SOLUTION, "check", "Q4")
    assert done.returncode == 0 and done.stdout.startswith("Q4: all visible checks passed"), done.stdout + done.stderr
    assert "Q3" not in done.stdout and "Q5" not in done.stdout, done.stdout
    done = run_seq2seq(STUB, "check", "Q4")
    assert done.returncode == 1 and "NotImplementedError" in done.stdout, done.stdout + done.stderr
    assert "Q3" not in done.stdout and "Q5" not in done.stdout, done.stdout


def test_every_visible_check_passes_on_the_solution():
    """Every question's checks in one run (the notebook's check cells are skipped when CI executes it)."""
    done = run_seq2seq(SOLUTION, "check", "all")
    assert done.returncode == 0 and "all visible checks passed" in done.stdout, done.stdout + done.stderr


def test_check_rejects_a_malformed_question():
    done = run_seq2seq(SOLUTION, "check", "four")
    assert done.returncode != 0 and "question must look like 'Q4'" in done.stderr


def test_demo_reports_the_environment():
    """What make demo runs, on one thread: under make test another worker shares the two cores, and two threads
    that wait for each other on a busy core took 2.7 times as long (110 s against 41 s, 137 CPU-s against 40)."""
    done = run_seq2seq(SOLUTION, "demo", "--device", "cpu", "--threads", "1")
    assert done.returncode == 0, done.stderr
    assert "torch       2.13.0" in done.stdout and "device      cpu" in done.stdout
    assert "identical" in done.stdout
