"""A mistake costs its own question (issue #14, point 4): one realistic bug per question Q5–Q34 must lose points
in its own question and nowhere else, on every question that could depend on it.

Each bug is one mutant of the generated solution (``tests.helpers.Mutant``: pieces of code replaced, each found
exactly once), taken by name from the MUTANTS tables of ``tests/test_graders_*.py`` (``tests.helpers.catalogue``),
where it is shown to cost its own question. Those files grade a mutant on its own section (or question) only;
here it is graded on every question it could reach, because a probe that runs the student's own code for another
question counts the bug twice. Where a question has several realistic bugs, the one picked is the one that
reaches furthest (a bug that stops the model from learning rather than one it can learn around), so the list
below shows what is wrong.

Which questions a bug is graded on (``questions_for``): all for a bug in ``data.py``, the model files,
``training.py`` or ``evaluation.py`` (Q23's and Q27's probes train the student's model with the student's data
pipeline); Q28–Q34 for a bug in ``visualisation.py`` or ``experiments.py``, which no probe of Q1–Q27 imports
(checked by ``test_no_earlier_probe_imports_the_late_modules``). Q23 and Q27 take most of the time (about 10 s
of one thread per bug): the file takes 3–4 minutes on two cores.

``COLLATERAL`` is the one table of bugs that cost other questions too; its cases are ``xfail(strict=True,
raises=AssertionError)``, so a fixed grader turns them into failures that ask for the entry to be removed, and
a listed bug whose own question stops noticing it, or whose collateral changes, fails outright. It is empty.
When this catalogue was first run, 12 of the 30 bugs (data Q6-Q8, model Q9-Q20) also cost Q23 and Q27, whose
learning checks trained the student's own model on the student's own data; those checks now train the grader's
stand-in models on tasks of the grader's own (``autograder/probes/standins.py``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from autograder.harness import question_maxima
from tests.helpers import REPO, catalogue, scores

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

# bug -> (the other questions it costs, why). Empty: every bug costs its own question alone. A bug found costing
# more goes here (its case becomes xfail(strict=True)) until the graders isolate those questions.
COLLATERAL: dict[str, tuple[list[str], str]] = {}

# One bug per question, by its name in the catalogue (tests.helpers.catalogue: every MUTANTS table merged).
BUGS = [
    "Q5 unseeded shuffle", "Q6 forgets <eos>", "Q7 specials after the tokens", "Q8 pads with -1",
    "Q9 bridge_ignores_directions", "Q10 directions_not_concatenated", "Q11 one_bias_per_gate",
    "Q12 softmax_wrong_axis", "Q13 additive_without_tanh", "Q14 context_from_keys", "Q15 out_reads_state_only",
    "Q16 state_not_updated", "Q17 projection_order_swapped", "Q18 mask_inverted", "Q19 ratio_inverted",
    "Q20 forward_state_not_carried", "Q21 PAD counted", "Q22 decoder only", "Q23 no zero_grad",
    "Q24 no bias correction", "Q25 no model.eval()", "Q26 brevity reversed", "Q27 batches differ",
    "Q28 transposed", "Q29 argmax over targets", "Q30 own predictions fed", "Q31 no uniform baseline",
    "Q32 only the encoder's size", "Q33 ratio inverted", "Q34 method ignored",
]

MAXIMUM = question_maxima()
LATE_MODULES = ("seq2seq/visualisation.py", "seq2seq/experiments.py")


def questions_for(files: Iterable[str]) -> list[str]:
    """The questions a bug in ``files`` (relative paths) is graded on (see the module docstring)."""
    first = 28 if all(path in LATE_MODULES for path in files) else 1
    return [qid for qid in MAXIMUM if int(qid[1:]) >= first]


def _case(name: str):
    if name not in COLLATERAL:
        return pytest.param(name, id=name)
    others, why = COLLATERAL[name]
    return pytest.param(name, id=name, marks=pytest.mark.xfail(
        strict=True, raises=AssertionError, reason=f"also costs {', '.join(others)}: {why}"))


def test_one_bug_for_every_question():
    assert set(BUGS) <= set(catalogue()), sorted(set(BUGS) - set(catalogue()))
    assert [catalogue()[name].qid for name in BUGS] == [qid for qid in MAXIMUM if int(qid[1:]) >= 5]
    assert set(COLLATERAL) <= set(BUGS), sorted(set(COLLATERAL) - set(BUGS))
    for name, (others, why) in COLLATERAL.items():
        assert others and why and set(others) <= set(questions_for(catalogue()[name].edits)), name


def test_no_earlier_probe_imports_the_late_modules():
    """Why a bug in visualisation.py or experiments.py is graded on Q28-Q34 only: nothing else reaches them."""
    late = [Path(path).stem for path in LATE_MODULES]
    uses = re.compile(r"\b(s|seq2seq)\.(" + "|".join(late) + r")\b")
    for path in (REPO / "autograder").rglob("*.py"):  # the grader files of those sections themselves excepted
        if not any(module in path.stem for module in late):
            assert not uses.search(path.read_text(encoding="utf-8")), path
    for path in (REPO / "solutions" / "attention_seq2seq" / "seq2seq").glob("*.py"):
        if path.stem in ("data", "encoder", "attention", "decoder", "model", "training", "evaluation", "environment"):
            assert not uses.search(path.read_text(encoding="utf-8")), path


@pytest.mark.slow
@pytest.mark.parametrize("name", [_case(name) for name in BUGS])
def test_a_bug_costs_its_own_question_only(tmp_path, name):
    bug = catalogue()[name]
    qid, questions = bug.qid, questions_for(bug.edits)
    got = scores(bug.build(tmp_path), questions)
    if got[qid] >= MAXIMUM[qid]:
        pytest.fail(f"{name}: the {qid} graders did not notice the bug")
    lost = [q for q in questions if q != qid and got[q] != MAXIMUM[q]]
    if name in COLLATERAL and lost and lost != COLLATERAL[name][0]:
        pytest.fail(f"{name} costs {lost} besides {qid}, COLLATERAL lists {COLLATERAL[name][0]}: update it")
    assert not lost, f"{name}: other questions lost points: {({q: got[q] for q in lost})}"
