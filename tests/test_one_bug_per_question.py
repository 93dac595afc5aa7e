"""A mistake costs its own question (issue #14, point 4): one realistic bug per question Q5–Q34 must lose points
in its own question and nowhere else.

Each bug is one mutant of the generated solution (``tests.helpers.Mutant``: pieces of code replaced, each found
exactly once), taken by name from the MUTANTS tables of ``tests/test_graders_*.py`` (``tests.helpers.catalogue``),
where it is shown to cost its own question. Where a question has several realistic bugs, the one picked is the one
that reaches furthest (a bug that stops the model from learning rather than one it can learn around), so the list
below shows what is wrong.

Which questions a bug is graded on: its own, and every question whose probes enter a function the bug edits, as
traced on the solution (``tests/reach.py``: each question's probes in a forked child, as a grading runs them,
recording the submission's functions they enter). That is every question the bug can reach: a grading child that
never enters the edited function runs none of its lines, and children share nothing, so its outputs are the
solution's. The argument needs two things, both checked here: every edit lies inside a function's body (a bug at
module level would be graded on every question), and no code the probes enter starts another process (which the
trace would not follow). The trace also confirms each bug's own question enters its function. (Until this
catalogue was traced, every bug was graded on all questions: 4 minutes, and no bug was found costing another.)

``COLLATERAL`` is the one table of bugs that cost other questions too; its cases are ``xfail(strict=True,
raises=AssertionError)``, so a fixed grader turns them into failures that ask for the entry to be removed, and
a listed bug whose own question stops noticing it, or whose collateral changes, fails outright. It is empty.
When this catalogue was first run, 12 of the 30 bugs (data Q6-Q8, model Q9-Q20) also cost Q23 and Q27, whose
learning checks trained the student's own model on the student's own data; those checks now train the grader's
stand-in models on tasks of the grader's own (``autograder/probes/standins.py``).
"""
from __future__ import annotations

import re

import pytest

from tests.bug_reach import MAXIMUM, edited_functions, graded_where_it_reaches
from tests.helpers import SOLUTION, catalogue

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

# What would start a process that the trace does not follow (tests/reach.py's argument needs none).
STARTS_PROCESSES = re.compile(r"\b(subprocess|multiprocessing|os\.(fork|exec\w*|spawn\w*|system|popen|posix_spawn))\b")


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
    assert all(others and why for others, why in COLLATERAL.values())


def test_every_bug_edits_function_bodies_only():
    """The argument for grading a bug only where its functions are entered needs every edit inside a function."""
    outside = [name for name in BUGS if edited_functions(catalogue()[name]) is None]
    assert not outside, f"these bugs edit module-level code: grade them on every question or move the edit: {outside}"


def test_no_code_the_probes_enter_starts_a_process(reached):
    """The trace follows this process and its threads only: no file the probes enter may start another process."""
    files = {function.split(":")[0] for functions in reached.values() for function in functions}
    assert "seq2seq/environment.py" in files and "seq2seq/experiments.py" in files, sorted(files)  # a real trace
    starting = [rel for rel in sorted(files) if STARTS_PROCESSES.search((SOLUTION / rel).read_text(encoding="utf-8"))]
    assert not starting, f"the probes enter files that may start processes, which tests/reach.py does not trace: {starting}"


@pytest.mark.slow
@pytest.mark.parametrize("name", [_case(name) for name in BUGS])
def test_a_bug_costs_its_own_question_only(tmp_path, reached, name):
    bug = catalogue()[name]
    qid = bug.qid
    got, _ = graded_where_it_reaches(bug, tmp_path, reached)  # fails where qid never enters what the bug edits
    questions = list(got)
    if got[qid] >= MAXIMUM[qid]:
        pytest.fail(f"{name}: the {qid} graders did not notice the bug")
    lost = [q for q in questions if q != qid and got[q] != MAXIMUM[q]]
    if name in COLLATERAL and lost and lost != COLLATERAL[name][0]:
        pytest.fail(f"{name} costs {lost} besides {qid}, COLLATERAL lists {COLLATERAL[name][0]}: update it")
    assert not lost, f"{name}: other questions lost points: {({q: got[q] for q in lost})}"
