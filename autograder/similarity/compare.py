"""Scores of every pair of students, per question and overall: what they share that independent students would not.

Correct answers to closely prescribed questions converge, so overlap alone is no evidence. What a pair shares on a
question counts only as far as independent students would not be expected to share it (as MOSS, JPlag and Dolos
do with base code and with passages found in many submissions):

* **expected**: a fingerprint of the reference solution's code for the question (``source/``) is what a correct
  answer looks like; it counts for nothing, shared or not (like base code);
* **common**: a fingerprint that more than ``max(rare, rare_fraction × N)`` of the N students who answered the
  question hold is code that everybody writes; it weighs ``log(N / holders) / log(N / limit)`` (1 at the limit,
  0 when everybody holds it);
* **rare**: every other fingerprint weighs 1.

A student's *material* on a question is the weight of their fingerprints that are not expected; a pair's
*evidence* is the weight of the fingerprints they share, not expected. The pair's score is ``2 evidence /
(material_a + material_b)`` (Dice's coefficient on the weighted, unexpected fingerprints): 1 for code that is
the same once normalised (normalise.py), lower the more each wrote that the other did not. A question is
*judged* for a pair only where both have at least ``min_shared`` of material (short answers and answers equal to
the reference leave too little to tell a copy from convergence); it is *flagged* when judged, with a score of at
least ``threshold`` and at least ``min_shared`` of evidence.

The ``overall`` row of a pair sums its questions (each fingerprint tagged with its question). The pair as a whole
is flagged when a question is, or when the questions on which it scores at least ``threshold``, judged or not,
hold together at least twice ``min_shared`` of evidence (several copied answers, each too short to judge alone).
All pairs are counted at once, per question, with matrix products over the fingerprints that two or more
students hold (an inverted index in matrix form): the cost grows with the class's shared code, not with its
45,000 pairs at 300 students.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from autograder.similarity.extract import OTHER, Submission

OVERALL = "overall"


@dataclass(frozen=True)
class Settings:
    """When a pair is flagged and what is common (module docstring); fixed before measuring (README)."""

    threshold: float = 0.8
    min_shared: float = 12
    rare: int = 3
    rare_fraction: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.min_shared <= 0:
            raise ValueError(f"min_shared must be positive, got {self.min_shared}")
        if self.rare < 2 or not 0 <= self.rare_fraction < 1:
            raise ValueError(f"rare must be at least 2 and rare_fraction in [0, 1), got {self.rare}, "
                             f"{self.rare_fraction}")

    def limit(self, answered: int) -> float:
        """How many of the ``answered`` students may hold a fingerprint before it is common."""
        return max(self.rare, self.rare_fraction * answered)

    @property
    def pooled(self) -> float:
        """The evidence that a pair's matching questions must hold together to flag the pair as a whole."""
        return 2 * self.min_shared


DEFAULTS = Settings()


@dataclass(frozen=True, slots=True)
class Pair:
    """One pair's figures on one question (or ``overall``); ``a < b`` index the class's sorted student list.

    ``evidence``, ``material_*``: weighted fingerprints (module docstring); ``shared``: how many unexpected
    fingerprints the two hold (unweighted); ``matching`` (overall only): the evidence of the questions on which
    the pair scores at least the threshold."""

    question: str
    a: int
    b: int
    score: float
    evidence: float
    shared: int
    material_a: float
    material_b: float
    judged: bool
    flagged: bool
    matching: float = 0.0


@dataclass
class Basis:
    """What the class says about every fingerprint: the reference's, and the weight of the common ones."""

    settings: Settings
    reference: dict[str, frozenset[int]] = field(default_factory=dict)  # question -> expected fingerprints
    weights: dict[str, dict[int, float]] = field(default_factory=dict)  # question -> weight of each common one
    answered: dict[str, int] = field(default_factory=dict)              # question -> students with code on it

    def limit(self, question: str) -> float:
        """How many students may hold a fingerprint before it is common."""
        return self.settings.limit(self.answered.get(question, 0))

    def weight(self, question: str, fingerprint: int) -> float:
        return self.weights.get(question, {}).get(fingerprint, 1.0)

    def material(self, question: str, prints: frozenset[int]) -> float:
        weights = self.weights.get(question, {})
        return sum(weights.get(p, 1.0) for p in prints - self.reference.get(question, frozenset()))


@dataclass
class Table:
    """The scores of a class: ``pairs[question]`` lists every pair sharing an unexpected fingerprint there, flagged
    and judged first, then by score; ``pairs[OVERALL]`` every pair sharing one anywhere."""

    pairs: dict[str, list[Pair]]
    basis: Basis

    def flagged_questions(self) -> dict[tuple[int, int], list[str]]:
        found: dict[tuple[int, int], list[str]] = {}
        for question in sorted((q for q in self.pairs if q != OVERALL), key=question_order):
            for p in self.pairs[question]:
                if p.flagged:
                    found.setdefault((p.a, p.b), []).append(question)
        return found


@dataclass(frozen=True)
class Breakdown:
    """What a pair's score on a question is made of (the pair pages): every fingerprint the two share, split."""

    shared: int           # fingerprints both hold
    expected: int         # ... of which the reference solution's: not counted
    common: int           # ... of which common in the class: counted at their weight
    common_weight: float
    rare: int             # ... the rest: 1 each
    material_a: float
    material_b: float
    settings: Settings

    @property
    def evidence(self) -> float:
        return self.rare + self.common_weight

    @property
    def score(self) -> float:
        return float(pair_score(self.evidence, self.material_a, self.material_b))

    @property
    def judged(self) -> bool:
        return bool(rule(self.score, self.evidence, self.material_a, self.material_b, self.settings)[0])

    @property
    def flagged(self) -> bool:
        return bool(rule(self.score, self.evidence, self.material_a, self.material_b, self.settings)[1])


def pair_score(evidence, material_a, material_b):
    """2 × evidence / (material of one + of the other), at most 1, to 4 decimals; 0 without material. For numbers
    or numpy arrays alike: the pair pages and the tables use this one formula."""
    total = np.asarray(material_a, dtype=np.float64) + material_b
    return np.minimum(np.round(2 * np.asarray(evidence, dtype=np.float64) / np.maximum(total, 1e-12), 4), 1.0)


def rule(score, evidence, material_a, material_b, settings: Settings):
    """``(judged, flagged)`` of a pair on a question (module docstring), for numbers or numpy arrays alike: the one
    place the rule is written."""
    judged = np.minimum(material_a, material_b) >= settings.min_shared
    return judged, judged & (score >= settings.threshold) & (evidence >= settings.min_shared - 1e-6)


def breakdown(a: frozenset[int], b: frozenset[int], question: str, basis: Basis) -> Breakdown:
    """The :class:`Breakdown` of two students' fingerprints on ``question`` (the figures of its :class:`Pair`)."""
    expected = basis.reference.get(question, frozenset())
    both = a & b
    weights = [basis.weight(question, p) for p in both - expected]
    common = [w for w in weights if w < 1.0]
    return Breakdown(len(both), len(both & expected), len(common), sum(common), len(weights) - len(common),
                     basis.material(question, a), basis.material(question, b), basis.settings)


def question_order(question: str) -> tuple[int, str]:
    """Q1 < Q2 < ... < Q34 < other < overall."""
    match = re.fullmatch(r"Q(\d+)", question)
    return (int(match[1]), "") if match else (1000 + (question == OVERALL), question)


def common_weights(sets: list[frozenset[int]], answered: int, settings: Settings) -> dict[int, float]:
    """The weight of every fingerprint of ``sets`` held by more than the limit (module docstring)."""
    limit = settings.limit(answered)
    holders = Counter(p for prints in sets for p in prints)
    return {p: math.log(answered / n) / math.log(answered / limit) for p, n in holders.items() if n > limit}


def _products(sets: list[frozenset[int]], weights: dict[int, float]) -> tuple[np.ndarray, np.ndarray]:
    """``(evidence[i, j], shared[i, j])``: the weight and the number of fingerprints ``sets[i]`` and ``sets[j]``
    share, from the fingerprints held by two or more of the sets."""
    holders: dict[int, list[int]] = {}
    for row, prints in enumerate(sets):
        for fingerprint in prints:
            holders.setdefault(fingerprint, []).append(row)
    columns = [(p, rows) for p, rows in holders.items() if len(rows) > 1]
    matrix = np.zeros((len(sets), len(columns)))
    for column, (_, rows) in enumerate(columns):
        matrix[rows, column] = 1.0
    scale = np.array([weights.get(p, 1.0) for p, _ in columns])
    shared = np.rint(matrix @ matrix.T).astype(np.int64)
    return (matrix * scale) @ matrix.T, shared


def _figures(evidence: np.ndarray, shared: np.ndarray, material: np.ndarray, settings: Settings) -> dict:
    """Every pair that shares an unexpected fingerprint: its indices and figures, as arrays."""
    a, b = np.nonzero(np.triu(shared, k=1))
    ev = evidence[a, b].astype(np.float64)
    mat_a, mat_b = material[a], material[b]
    score = pair_score(ev, mat_a, mat_b)
    judged, flagged = rule(score, ev, mat_a, mat_b, settings)
    return {"a": a, "b": b, "score": score, "evidence": ev, "shared": shared[a, b], "material_a": mat_a,
            "material_b": mat_b, "judged": judged, "flagged": flagged, "matching": np.zeros(len(a))}


def _listed(question: str, f: dict) -> list[Pair]:
    """The pairs of :func:`_figures` as :class:`Pair`, flagged and judged first, then by score and evidence."""
    order = np.lexsort((f["b"], f["a"], -f["evidence"], -f["score"], ~f["judged"], ~f["flagged"]))
    columns = [f["a"], f["b"], f["score"], np.round(f["evidence"], 2), f["shared"], np.round(f["material_a"], 2),
               np.round(f["material_b"], 2), f["judged"], f["flagged"], np.round(f["matching"], 2)]
    rows = list(zip(*(column[order].tolist() for column in columns)))
    return [Pair(question, *row) for row in rows]


def score_class(submissions: list[Submission], settings: Settings = DEFAULTS,
                reference: Submission | None = None) -> Table:
    """The :class:`Table` of a class; ``reference``: the reference solution read as a submission (None: nothing
    is expected)."""
    questions = sorted({unit.question for s in submissions for unit in s.units}, key=question_order)
    n = len(submissions)
    evidence_total, shared_total, material_total = np.zeros((n, n)), np.zeros((n, n), dtype=np.int64), np.zeros(n)
    matching, flags, judged = np.zeros((n, n)), np.zeros((n, n), dtype=bool), np.zeros((n, n), dtype=bool)
    basis = Basis(settings)
    pairs: dict[str, list[Pair]] = {}
    for question in questions:
        held = [s.prints(question) for s in submissions]
        expected = reference.prints(question) if reference is not None and question != OTHER else frozenset()
        sets = [prints - expected for prints in held]
        answered = sum(1 for prints in held if prints)
        weights = common_weights(sets, answered, settings)
        basis.reference[question], basis.weights[question], basis.answered[question] = expected, weights, answered
        evidence, shared = _products(sets, weights)
        material = np.array([basis.material(question, prints) for prints in held])
        f = _figures(evidence, shared, material, settings)
        pairs[question] = _listed(question, f)
        a, b = f["a"], f["b"]
        flags[a, b] |= f["flagged"]
        judged[a, b] |= f["judged"]
        matching[a, b] += np.where(f["score"] >= settings.threshold, f["evidence"], 0.0)
        evidence_total += evidence
        shared_total += shared
        material_total += material
    total = _figures(evidence_total, shared_total, material_total, settings)
    a, b = total["a"], total["b"]
    total["matching"] = matching[a, b]
    total["judged"] = judged[a, b]
    total["flagged"] = flags[a, b] | (total["matching"] >= settings.pooled - 1e-6)
    pairs[OVERALL] = _listed(OVERALL, total)
    return Table(pairs, basis)


__all__ = ["DEFAULTS", "OTHER", "OVERALL", "Basis", "Breakdown", "Pair", "Settings", "Table", "breakdown",
           "question_order", "score_class"]
