"""The catalogue of mutants itself (tests/helpers.py), without grading: every catalogued mutant still applies to
the generated solution, and malformed mutants are refused. A cosmetic change to source/ that breaks a mutant's
quote of the solution fails here in seconds, before the slow tests that grade the mutants."""
from __future__ import annotations

import re

import pytest

from tests import test_graders_model
from tests.helpers import Mutant, catalogue, mutant

ATT = "seq2seq/attention.py"


def test_every_mutant_quotes_the_solution_exactly(tmp_path):
    """Every replacement's old text is found exactly once (``mutant()`` applies them in order)."""
    mutants = catalogue() | {f"alternative {n}": m for n, m in test_graders_model.ALTERNATIVES.items()}
    assert len(catalogue()) >= 150, "a table of mutants went missing"
    broken = {}
    for number, (name, m) in enumerate(mutants.items()):
        try:
            m.build(tmp_path / str(number))
        except AssertionError as error:
            broken[name] = str(error)
    assert not broken, f"update these mutants to the solution's current text: {broken}"


def test_a_quote_not_found_exactly_once_is_refused(tmp_path):
    with pytest.raises(AssertionError, match="found 0 times in seq2seq/attention.py"):
        mutant(tmp_path / "missing", {ATT: [("text that the solution does not hold", "")]})
    with pytest.raises(AssertionError, match=r"found \d+ times in seq2seq/attention.py: 'return '"):
        mutant(tmp_path / "ambiguous", {ATT: [("return ", "return None or ")]})  # every function returns


@pytest.mark.parametrize(("qid", "edits", "hint", "problem"), [
    ("13", {ATT: [("a", "b")]}, None, "must look like 'Q13'"),
    ("Q13", {}, None, "at least one replacement"),
    ("Q13", {ATT: []}, None, "at least one replacement"),
    ("Q13", {ATT: [("a", "a")]}, None, "replaces text by itself"),
    ("Q13", {ATT: [("a", "b")]}, "Use sqrt(d)", "lower-case"),
    ("Q13", {ATT: [("a", "b")]}, "", "lower-case"),
])
def test_a_malformed_mutant_is_refused(qid, edits, hint, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        Mutant(qid, edits, hint)
