"""Non-answers score nothing (issue #14, point 3): a submission whose every stub returns a non-answer instead of
raising must get 0 points on every question.

A grader check that pays for a non-answer pays every student who wrote nothing, or who returned something of
the right shape without solving the question. For each kind of non-answer (tests/nonanswers.py builds the
submissions; tests/nonanswer_runtime.py says exactly what each stub returns) the release is graded once on all
34 questions, and each (kind, question) is one test case:

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

What the graders pay today is listed in ``EXPECTED_FAILURES`` (the one table to shrink when a grader is fixed):
for each check that pays, the kinds it pays for and why. Those (kind, question) cases are
``xfail(strict=True)``: a fixed grader turns its cases into failures that ask for the entry to be removed. A
check that is genuinely right about a trivial answer (``teacher_force`` at ratio 1.0 *is* "return gold") is
listed too, marked "trivially true": the question still pays a non-answer, and the check should only pay
together with the ones that need a real answer.
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


def _with_patched(*kinds: str) -> frozenset[str]:
    return frozenset(kinds) | {f"{kind}+patched" for kind in kinds}


SHAPED = _with_patched("zeros", "ones", "rand", "tensor")    # the real answer's shape, wrong values
ZEROS = _with_patched("zeros", "tensor")                     # the real answer's shape, all zeros
NOTHING = _with_patched("none", "input", "zeros", "ones", "rand", "everything", "tensor")  # every non-answer

# (question, the paying check's docstring, first line) -> (the kinds it pays for today, why). Shrink me.
EXPECTED_FAILURES: dict[tuple[str, str], tuple[frozenset[str], str]] = {
    ("Q1", "package_versions maps a package that is not installed to None instead of raising."): (
        SHAPED, "trivially true of a function mapping every name to None; pay it only together with the "
                "installed versions (test_q1_versions_from_metadata)"),
    ("Q2", "import_libraries gives torch, nn, F, optim and data as the right torch modules."): (
        SHAPED, "the probe sends each value's type name and __name__ only: an empty types.ModuleType('torch') "
                "passes; check identity in the probe (value is sys.modules[name])"),
    ("Q2", "import_libraries gives np, spacy, sacrebleu, plt and tqdm, and nothing else."): (
        SHAPED, "as above: empty modules with the right names pass"),
    ("Q4", "Different seeds give different draws."): (
        NOTHING, "a set_seed that does nothing lets the global generators run on, so two seeds give different "
                 "draws; pay it only when the same seed also gives the same draws"),
    ("Q4", "deterministic=False leaves torch's algorithm settings as they were."): (
        NOTHING, "trivially true of a set_seed that does nothing; pay it only together with deterministic=True "
                 "working"),
    ("Q10", "Outputs are (batch, src_len, enc_hidden) and the initial decoder state (batch, dec_hidden), "
            "for many shapes."): (
        SHAPED, "a shape-only check pays for zeros/ones/random tensors of the right shape; pay shapes only "
                "with the values (or drop the weight)"),
    ("Q10", "Padding changes nothing: padded positions are exactly 0, and a sentence encodes the same alone "
            "or in a batch."): (
        ZEROS, "all-zero outputs are 0 at padded positions and the same alone or in a batch; require the real "
               "positions to match the reference (or be non-zero) first"),
    ("Q14", "The context is (batch, enc_hidden), the sum of the encoder states weighted by the attention "
            "weights."): (
        ZEROS, "zero contexts with zero weights pass: the check compares the context with the student's own "
               "weights; require the weights to be a distribution (rows sum to 1) or match the reference"),
    ("Q16", "step returns hidden (batch, dec_hidden), context (batch, enc_hidden), weights (batch, src_len)."): (
        SHAPED, "a shape-only check pays for tensors of the right shape; pay shapes only with the values"),
    ("Q19", "Ratio 1.0 always feeds the gold tokens, as a (batch,) int64 tensor."): (
        _with_patched("input"), "trivially true: returning the first argument (gold) is right at ratio 1.0; "
                                "pay it only together with the ratio-0 / mixed-ratio checks"),
    ("Q20", "Logits are (batch, tgt_len, vocab) and attention (batch, tgt_len, src_len); position 0 is all "
            "zeros."): (
        ZEROS, "all-zero logits and attention have the right shapes and zeros at position 0; pay it only with "
               "values that match the reference"),
    ("Q25", "Evaluation records no gradients (torch.no_grad())."): (
        frozenset({"zeros", "ones", "rand", "everything", "tensor"}),
        "the probe's own forward calls (computing the expected loss, under no_grad in eval mode) are recorded "
        "with the student's, so an evaluate that never calls the model passes; record only calls made inside "
        "evaluate"),
    ("Q25", "Evaluation runs in eval mode (dropout off): two calls give the same result; training mode comes "
            "back."): (
        frozenset({"zeros", "ones", "rand", "everything", "tensor"}),
        "as above, and two constant results are equal and a model never touched stays in training mode"),
    ("Q30", "stepwise_attention records no gradients and puts the model back in training mode."): (
        NOTHING - {"everything", "everything+patched"},
        "trivially true of a function that never touches the model; pay it only together with the weights "
        "(test_q30_stepwise_equals_the_forward_pass)"),
    ("Q31", "run_setting returns a record with the documented keys and types."): (
        SHAPED, "a keys-and-types check pays for a record of zeros; pay it only with plausible values (losses "
                "> 0, epochs run)"),
    ("Q32", "The caller's config is not modified by the study."): (
        NOTHING, "trivially true of a study that does nothing; pay it only together with the records"),
}


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
