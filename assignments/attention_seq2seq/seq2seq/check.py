"""Visible sanity checks: ``check("Q4")`` in the notebook, ``python -m seq2seq check Q4`` in a terminal.

They run the public tests of one question from ``public_tests/`` in a few seconds and say in plain words what is
wrong. Passing them is a good sign, not a grade: the hidden graders check much more.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

from seq2seq import ASSIGNMENT_DIR

PUBLIC_TESTS = ASSIGNMENT_DIR / "public_tests"


def check(question: str = "all", *, verbose: bool = False) -> bool:
    """Run the visible checks of ``question`` ("Q1".."Q34" or "all") and print a short verdict.

    Returns:
        True when every selected check passed.

    Raises:
        ValueError: ``question`` is not of the form ``Q<number>`` or ``all``.
    """
    label = question.strip().upper()
    if label != "ALL" and not re.fullmatch(r"Q\d{1,2}", label):
        raise ValueError(f"question must look like 'Q4' or be 'all', got {question!r}")
    skipped = os.environ.get("SEQ2SEQ_SKIP_CHECKS")
    if skipped:
        # Set by the course's nbgrader_config.py for `nbgrader autograde` (the hidden graders run instead) and by
        # the test that executes the whole notebook (the checks are tested on their own); never by students.
        print(f"{label}: visible checks skipped ({skipped}).")
        return True
    files = [str(PUBLIC_TESTS)]
    if label != "ALL":
        # Only the files that hold this question's tests: collecting the others would import their modules too.
        # Public tests are named test_q4_..., so Q1 never selects Q12.
        defines = re.compile(rf"^\s*def test_{label.lower()}_", re.MULTILINE)
        files = [str(path) for path in sorted(PUBLIC_TESTS.glob("test_*.py"))
                 if defines.search(path.read_text(encoding="utf-8"))]
        if not files:
            print(f"{label}: no visible checks for this question yet.")
            return True
    args = [sys.executable, "-m", "pytest", *files, "-q", "--no-header", "-p", "no:cacheprovider",
            "-rfE", "--color=no", "--tb=short" if verbose else "--tb=no", "-c", str(PUBLIC_TESTS / "pytest.ini")]
    if label != "ALL":
        args += ["-k", f"test_{label.lower()}_"]
    # A wide "terminal", so that pytest does not cut the failure messages short.
    done = subprocess.run(args, cwd=ASSIGNMENT_DIR, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "400"})
    report = done.stdout.strip().splitlines()
    if done.returncode == 5:
        print(f"{label}: no visible checks for this question yet.")
        return True
    if done.returncode == 0:
        print(f"{label}: all visible checks passed ({report[-1] if report else ''}).")
        return True
    print(f"{label}: some visible checks failed:")
    for line in report:
        match = re.match(r"(FAILED|ERROR) \S+::(\S+)(?: - (.*))?$", line)
        if match:
            message = match[3] or "failed"
            if message.startswith("NotImplementedError"):
                message = "not implemented yet (the stub still raises NotImplementedError)"
            print(f"  x {match[2]}: {message}")
        elif verbose:
            print("  " + line)
    return False
