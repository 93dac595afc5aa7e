"""Shared fixtures and helpers for the test suite (see tests/helpers.py for the grading helpers)."""
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tools/ and autograder/ import from the repository root
