"""The one home of "the student's code raised: say so, and why": ``attempt`` and ``raised`` on the probe side
(student code whose error is the answer), ``hinted`` on the check side (a failed probe's error with its likely
cause). Unit tests, no grading: the catalogues of mutants (tests/test_graders_*.py) show them at work."""
from __future__ import annotations

import pytest

from autograder.graders.common import hinted
from autograder.harness import StudentCodeError
from autograder.probes.common import attempt, raised


class DataError(ValueError):
    pass


def fails(error: BaseException):
    def call(*args, **kwargs):
        raise error
    return call


def test_attempt_returns_the_value_or_the_error():
    assert attempt(lambda a, *, b: a + b, 1, b=2) == (3, None)
    value, error = attempt(fails(KeyError("k")))
    assert value is None and isinstance(error, KeyError)


@pytest.mark.parametrize("error", [NotImplementedError(), SystemExit(1), KeyboardInterrupt()])
def test_attempt_lets_the_stub_and_exits_through(error):
    """The stub's NotImplementedError reads "not implemented yet", not a wrong error; exits are never answers."""
    with pytest.raises(type(error)):
        attempt(fails(error))


def test_raised_names_the_error():
    assert raised(fails(DataError("bad"))) == "ValueError"  # a ValueError subclass is the ValueError asked for
    assert raised(fails(TypeError("bad"))) == "TypeError"
    assert raised(lambda: 42) is None
    with pytest.raises(NotImplementedError):
        raised(fails(NotImplementedError()))


class Outputs:
    """Like the ``out`` fixture: ``out[name]`` raises StudentCodeError where the student's code failed."""

    def __init__(self, **entries) -> None:
        self.entries = entries

    def __getitem__(self, name: str):
        entry = self.entries[name]
        if isinstance(entry, StudentCodeError):
            raise entry
        return entry


HINTS = {"OverflowError": "catch OverflowError", "Overflow": "never reached: the first key found wins"}


def test_hinted_returns_the_output():
    assert hinted(Outputs(p=[1, 2]), "p", HINTS) == [1, 2]


def test_hinted_adds_the_likely_cause_to_a_matching_error():
    out = Outputs(p=StudentCodeError("OverflowError: math range error\n  at seq2seq/training.py, line 3"))
    with pytest.raises(AssertionError) as caught:
        hinted(out, "p", HINTS)
    assert str(caught.value) == ("your code failed: OverflowError: math range error\n  at seq2seq/training.py, "
                                 "line 3\ncatch OverflowError")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_hinted_leaves_other_errors_as_they_are():
    out = Outputs(p=StudentCodeError("KeyError: 'x'"))
    with pytest.raises(StudentCodeError, match="KeyError"):
        hinted(out, "p", HINTS)
