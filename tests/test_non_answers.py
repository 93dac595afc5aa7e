"""Non-answers score nothing (issue #14, point 3): a submission whose every stub returns a non-answer instead of
raising must get 0 points on every question.

A grader check that pays for a non-answer pays every student who wrote nothing, or who returned something of
the right shape without solving the question. For each kind of non-answer (tests/nonanswers.py builds the
submissions; tests/nonanswer_runtime.py says exactly what each stub returns) the release is graded once on all
declared questions, and each (kind, question) is one test case:

* ``stub``: the release unchanged; ``none``: every stub returns None; ``input``: its first argument unchanged;
* ``zeros``, ``ones``, ``rand``: the real answer's type and shape (the solution is run, in a forked copy of the
  grading child so that none of its effects is seen) holding zeros, ones or random values;
* ``everything``: the real answer's containers holding an object equal to everything (``__eq__`` is True, every
  attribute, item and call is itself, iterable, truthy, arithmetic and torch functions return itself);
* ``tensor``: zeros as a ``torch.Tensor`` subclass whose ``__torch_function__`` makes ``==``, ``isclose``,
  ``allclose``, ``equal`` succeed;
* each of these again as ``<kind>+patched``: every stub first replaces ``torch.allclose``, ``torch.equal``,
  ``Tensor.__eq__``, ``torch.testing.assert_close``, ``numpy.allclose``, ``math.isclose``, ``unittest``'s
  assertions and ``pytest.approx`` in the grading child by functions that always succeed.

Constructors (``__init__``) and ``set_seed`` return None: in every kind they do nothing (see the runtime's
docstring for why). Every kind's submission is graded once, with ``max_timeout=20`` (about 5-10 s per kind,
2-3 minutes for the file on two cores).

``EXPECTED_FAILURES`` is the one table of checks that pay for a non-answer; their (kind, question) cases are
``xfail(strict=True)``, so a fixed grader turns them into failures that ask for the entry to be removed. It is
empty. When this catalogue was first run, 17 checks of 12 questions paid up to 8.3 of 100 points to a release
that answered nothing (shape-only checks, invariances that a do-nothing answer keeps, a module test that an
empty module with the right name passed); those checks now count only together with the check they protect
(``requires=`` in the graders), and Q2 tells an imported module from an empty one.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from autograder.harness import grade, question_maxima
from autograder.registry import load_graders
from tests.helpers import STUB
from tests.nonanswers import KINDS, build, stub_sites

TIMEOUT = 20.0
MAXIMUM = question_maxima()
QUESTIONS = list(MAXIMUM)
KIND_IDS = [*KINDS, *(f"{kind}+patched" for kind in KINDS)]


# (question, the paying check's docstring, first line) -> (the kinds it pays for, why). Empty: no check pays for a
# non-answer any more. A check found paying goes here (its cases become xfail(strict=True)) until it is fixed.
EXPECTED_FAILURES: dict[tuple[str, str], tuple[frozenset[str], str]] = {}


def _expected(kind: str, qid: str) -> list[str]:
    """The checks of ``qid`` that pay for ``kind`` today (their reasons are in the table)."""
    return [check for (question, check), (kinds, _) in EXPECTED_FAILURES.items() if question == qid and kind in kinds]


def _case(kind: str, qid: str):
    checks = _expected(kind, qid)
    marks = [pytest.mark.xfail(strict=True, raises=AssertionError,
                               reason=f"paid by: {' | '.join(checks)} (see EXPECTED_FAILURES)")] if checks else []
    return pytest.param(kind, qid, id=f"{kind}-{qid}", marks=marks)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """``graded(kind)``: results.json of that kind's submission on all questions, graded once per session."""
    cache: dict[str, dict] = {}

    def get(kind: str) -> dict:
        if kind not in cache:
            base, patched = kind.removesuffix("+patched"), kind.endswith("+patched")
            submission = STUB if kind == "stub" else build(tmp_path_factory.mktemp(base), base, patched=patched)
            cache[kind] = grade(submission, max_timeout=TIMEOUT)
        return cache[kind]
    return get


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "qid"), [_case(kind, qid) for kind in KIND_IDS for qid in QUESTIONS])
def test_a_non_answer_scores_nothing(graded, kind, qid):
    results = graded(kind)
    if results["extra_data"]["grader_errors"]:  # a real failure, even where a score above 0 is expected
        pytest.fail(f"{kind}: {results['output']}")
    test = next(t for t in results["tests"] if t["name"].split()[0] == qid)
    paid = [line for line in test["output"].splitlines() if line.startswith("PASS")]
    assert test["score"] == 0, (f"{qid} pays {test['score']:g} of {test['max_score']:g} points for a non-answer "
                                f"({kind}: {KINDS[kind.removesuffix('+patched')]}):\n" + "\n".join(paid))


def test_the_table_names_real_checks_and_kinds():
    """Every entry of EXPECTED_FAILURES names a question, a check of that question and known kinds."""
    checks = set()
    for module in load_graders():
        for name in dir(module):
            fn = getattr(module, name)
            marker = next((m for m in getattr(fn, "pytestmark", []) if m.name == "grade"), None)
            if name.startswith("test_") and marker is not None and fn.__doc__:
                checks.add((marker.args[0], fn.__doc__.strip().splitlines()[0]))
    for (qid, check), (kinds, why) in EXPECTED_FAILURES.items():
        assert (qid, check) in checks, f"no check of {qid} is called {check!r}: update EXPECTED_FAILURES"
        assert kinds and kinds <= set(KIND_IDS) and why, (qid, check)


@pytest.mark.slow
def test_every_stub_answers(tmp_path):
    """The builder rewrites every stub of the release, and the non-answers are what they claim to be."""
    package = STUB / "seq2seq"
    texts = [path.read_text() for path in package.glob("*.py")]
    assert sum(len(stub_sites(text)) for text in texts) == sum(text.count("# YOUR CODE HERE") for text in texts) > 50
    for kind in ("none", "zeros", "everything", "tensor"):
        built = build(tmp_path, kind, patched=kind == "tensor")
        assert "raise NotImplementedError()" not in "".join(
            (built / "seq2seq" / path.name).read_text() for path in package.glob("*.py")
            if stub_sites(path.read_text()))
    probe = textwrap.dedent("""
        import sys, torch
        from seq2seq import attention, data, encoder, environment, model
        scores, mask = torch.randn(2, 3), torch.tensor([[True, True, False], [True, True, True]])
        weights = attention.masked_softmax(scores, mask)
        vocab = data.Vocab(["<pad>", "<sos>", "<eos>", "<unk>", "a"])
        kind = sys.argv[1]
        if kind == "none":
            assert weights is None and data.tokenize("Hello world", "en") is None
        elif kind == "zeros":
            assert torch.equal(weights, torch.zeros(2, 3)) and vocab.encode(["a"]) == [0, 0, 0]
            assert encoder.count_parameters(torch.nn.Linear(2, 2)) == 0
            built = model.build_model(model.ModelConfig(9, 9))  # a bare Seq2Seq: no layers
            assert type(built) is model.Seq2Seq and not list(built.children())
        elif kind == "everything":
            assert weights == object() and weights.anything[3]("x") == 42 and len(vocab.decode([4])) == 1
        elif kind == "tensor":
            assert type(weights).__name__ == "EqualTensor" and torch.allclose(weights, torch.ones(2, 3))
            assert torch.allclose(torch.zeros(1), torch.ones(1))  # patched
        environment.set_seed(0)  # does nothing, returns None
        print("ok")
    """)
    for kind in ("none", "zeros", "everything", "tensor"):
        folder = tmp_path / (kind + "-patched" * (kind == "tensor"))
        done = subprocess.run([sys.executable, "-c", probe, kind], cwd=folder, capture_output=True, text=True,
                              timeout=120)
        assert done.stdout.strip() == "ok", (kind, done.stdout[-2000:], done.stderr[-2000:])
