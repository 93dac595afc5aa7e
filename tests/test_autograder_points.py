"""The points table: every question is declared once (``question()`` in autograder/probes) with its points, the
course's questions are numbered Q1, Q2, ... without a gap and are worth 100 in all, and a check's share of a
question follows its declared weight."""
from __future__ import annotations

import pytest

from autograder.harness import _share, question_maxima


def test_the_questions_are_worth_one_hundred_points():
    maxima = question_maxima()
    assert list(maxima) == [f"Q{n}" for n in range(1, len(maxima) + 1)]
    assert sum(maxima.values()) == pytest.approx(100.0)
    assert all(points >= 1 for points in maxima.values())


def test_a_checks_share_follows_its_weight():
    assert _share(5.0, 1.0, 4.0) == 1.25                   # one of four equal parts of a 5-point question
    assert _share(3.0, 2.5, 2.5) == 3.0                    # every part passed: exactly the question's points
    assert sum(_share(3.0, w, 7.0) for w in (1, 2, 4)) == pytest.approx(3.0, abs=1e-3)
    assert _share(3.0, 0.0, 0.0) == 0.0
