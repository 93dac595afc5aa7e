"""Scores of every pair of students, per question and overall, from their fingerprint sets.

The score of a pair on a question is the fraction of their fingerprints that they share, ``2 |A ∩ B| /
(|A| + |B|)`` (Dice's coefficient): 1 for code that is the same once normalised (normalise.py), whatever was
renamed, reformatted, reordered or re-commented; lower the more each wrote that the other did not. It depends on
the pair alone, not on who else is in the class. A pair is *flagged* on a question when its score reaches
``threshold`` and it shares at least ``min_shared`` fingerprints: a few shared statements are no evidence, since
independent students converge on short answers (``return torch.softmax(scores, dim=-1)``).

The overall score is the same over all of a student's counted code, each fingerprint tagged with its question
(so that equal code under two questions is not a match). All pairs are counted at once, per question, with one
matrix product over the fingerprints that two or more students hold (an inverted index in matrix form): the
cost grows with the class's shared code, not with its 45,000 pairs at 300 students.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from autograder.similarity.extract import OTHER, Submission

OVERALL = "overall"


@dataclass(frozen=True)
class Settings:
    """When a pair is flagged (module docstring); measured on a generated class (README, ``## After grading``)."""

    threshold: float = 0.5
    min_shared: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.min_shared < 1:
            raise ValueError(f"min_shared must be at least 1, got {self.min_shared}")


DEFAULTS = Settings()


@dataclass(frozen=True)
class Pair:
    """One pair's figures on one question (or ``overall``); ``a < b`` index the class's sorted student list."""

    question: str
    a: int
    b: int
    score: float
    shared: int
    size_a: int
    size_b: int
    flagged: bool


def question_order(question: str) -> tuple[int, str]:
    """Q1 < Q2 < ... < Q34 < other < overall."""
    match = re.fullmatch(r"Q(\d+)", question)
    return (int(match[1]), "") if match else (1000 + (question == OVERALL), question)


def _shared_counts(sets: list[frozenset[int]]) -> np.ndarray:
    """``counts[i, j] = |sets[i] ∩ sets[j]|``, from the fingerprints held by two or more of the sets."""
    holders: dict[int, list[int]] = {}
    for row, prints in enumerate(sets):
        for fingerprint in prints:
            holders.setdefault(fingerprint, []).append(row)
    columns = [rows for rows in holders.values() if len(rows) > 1]
    matrix = np.zeros((len(sets), len(columns)), dtype=np.float32)
    for column, rows in enumerate(columns):
        matrix[rows, column] = 1.0
    return np.rint(matrix @ matrix.T).astype(np.int64)  # exact: counts are far below float32's 2**24


def _pairs(question: str, counts: np.ndarray, sizes: np.ndarray, settings: Settings) -> list[Pair]:
    rows, cols = np.nonzero(np.triu(counts, k=1))
    out = []
    for a, b in zip(rows.tolist(), cols.tolist()):
        shared = int(counts[a, b])
        score = 2 * shared / (sizes[a] + sizes[b])
        out.append(Pair(question, a, b, round(score, 4), shared, int(sizes[a]), int(sizes[b]),
                        score >= settings.threshold and shared >= settings.min_shared))
    return sorted(out, key=lambda p: (-p.score, -p.shared, p.a, p.b))


def score_class(submissions: list[Submission], settings: Settings = DEFAULTS) -> dict[str, list[Pair]]:
    """``{question: pairs that share any fingerprint, best first}`` for every question with code, "other" and
    ``overall``."""
    questions = sorted({unit.question for s in submissions for unit in s.units}, key=question_order)
    n = len(submissions)
    total_counts, total_sizes = np.zeros((n, n), dtype=np.int64), np.zeros(n, dtype=np.int64)
    table: dict[str, list[Pair]] = {}
    for question in questions:
        sets = [s.prints(question) for s in submissions]
        counts, sizes = _shared_counts(sets), np.array([len(p) for p in sets], dtype=np.int64)
        table[question] = _pairs(question, counts, sizes, settings)
        total_counts += counts
        total_sizes += sizes
    table[OVERALL] = _pairs(OVERALL, total_counts, total_sizes, settings)
    return table


__all__ = ["DEFAULTS", "OTHER", "OVERALL", "Pair", "Settings", "question_order", "score_class"]
