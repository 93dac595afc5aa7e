"""Validity of the Q28 grader: stub 0, solution full, realistic plotting mistakes caught, alternatives pass."""
from __future__ import annotations

import pytest

from tests.bug_reach import assert_costs_only_its_question
from tests.helpers import SOLUTION, STUB, Mutant, assert_hint, full_marks, graded, mutant, scores

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

VIS = "seq2seq/visualisation.py"


@pytest.fixture(scope="module")
def maximum():
    return full_marks(["Q28"])


def test_solution_full_marks_and_stub_zero(maximum):
    assert scores(SOLUTION, ["Q28"]) == maximum and scores(STUB, ["Q28"]) == {"Q28": 0}


# Each mutant must cost points on its question, and the feedback must say its hint (lower-case; issue #7, point 6): the
# likely cause, in the student's terms. Q29's are graded with Q28 and Q30's with Q29: they must cost those nothing.
MUTANTS: dict[str, Mutant] = {
    # Q28 (test_mutant_loses_points)
    "Q28 transposed": Mutant("Q28", {VIS: [
        ("image = ax.imshow(weights.numpy(),", "image = ax.imshow(weights.T.numpy(),"),
    ]}, hint="your image is the weights transposed"),
    "Q28 labels swapped": Mutant("Q28", {VIS: [
        ("labels=list(src_tokens), rotation=60", "labels=list(tgt_tokens), rotation=60"),
        ("ax.set_yticks(range(len(tgt_tokens)), labels=list(tgt_tokens))",
         "ax.set_yticks(range(len(src_tokens)), labels=list(src_tokens))"),
    ]}, hint="the x axis holds the source tokens, the y axis the target tokens"),
    "Q28 labels without ticks": Mutant("Q28", {VIS: [
        ("ax.set_xticks(range(len(src_tokens)), labels=list(src_tokens), rotation=60, ha=\"right\")",
         "ax.set_xticklabels([''] + list(src_tokens), rotation=60)"),
    ]}, hint="set the tick positions, not only the labels"),
    "Q28 labels off by one": Mutant("Q28", {VIS: [
        ("ax.set_yticks(range(len(tgt_tokens)), labels=list(tgt_tokens))",
         "ax.set_yticks(range(len(tgt_tokens)), labels=['<sos>'] + list(tgt_tokens)[:-1])"),
    ]}, hint="yours are shifted by one (they start with <sos>)"),
    "Q28 flipped rows": Mutant("Q28", {VIS: [
        ('vmin=0.0, vmax=1.0, aspect="auto")', 'vmin=0.0, vmax=1.0, aspect="auto", origin="lower")'),
    ]}, hint="keep imshow's default origin='upper'"),
    "Q28 no colour bar": Mutant("Q28", {VIS: [
        ("    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=\"attention weight\")\n", ""),
    ]}, hint="add a colour bar"),
    "Q28 new figure despite ax": Mutant("Q28", {VIS: [
        ("    if ax is None:\n        fig, ax = plt.subplots(", "    if True:\n        fig, ax = plt.subplots("),
    ]}, hint="return the figure that holds the given axes"),
    # Q29 (test_q29_mutant_loses_points)
    "Q29 argmax over targets": Mutant("Q29", {VIS: [
        ("enumerate(torch.as_tensor(weights).argmax(dim=1).tolist())",
         "enumerate(torch.as_tensor(weights).argmax(dim=0).tolist())"),
    ]}, hint="yours take the argmax over the target rows (dim=0)"),
    "Q29 links as (target, source)": Mutant("Q29", {VIS: [
        ("return [(int(source), target) for target, source in", "return [(target, int(source)) for target, source in"),
    ]}, hint="your links are (target, source)"),
    "Q29 AER over lists": Mutant("Q29", {VIS: [
        ("a, g = set(map(tuple, predicted)), set(map(tuple, gold))",
         "a, g = list(map(tuple, predicted)), list(map(tuple, gold))"),
        ("len(a & g)", "len([x for x in a if x in g])"),
    ]}, hint="use sets of links (duplicates count once)"),
    "Q29 AER with the union": Mutant("Q29", {VIS: [
        ("1.0 - 2.0 * len(a & g) / (len(a) + len(g))", "1.0 - len(a & g) / len(a | g)"),
    ]}, hint="yours is 1 - |a∩g| / |a∪g| (the union)"),
    "Q29 entropy NaN at zeros": Mutant("Q29", {VIS: [
        ("    return -torch.where(weights > 0, weights * weights.clamp_min(1e-30).log(), "
         "torch.zeros_like(weights)).sum(dim=1)",
         "    return -(weights * weights.log()).sum(dim=1)"),
    ]}, hint="zero weights must contribute 0 (0 log 0 = 0), not nan"),
    "Q29 entropy in bits": Mutant("Q29", {VIS: [
        ("weights * weights.clamp_min(1e-30).log()", "weights * weights.clamp_min(1e-30).log2()"),
    ]}, hint="yours are in bits (log2)"),
    "Q29 strictly increasing": Mutant("Q29", {VIS: [
        ("forward = sum(b[0] >= a[0] for", "forward = sum(b[0] > a[0] for"),
    ]}, hint="stays or moves right (>=)"),
    "Q29 unsorted links": Mutant("Q29", {VIS: [
        ("    links = sorted(alignment, key=lambda link: (link[1], link[0]))", "    links = list(alignment)"),
    ]}, hint="sort by target position"),
    # Q30 (test_q30_mutant_loses_points)
    "Q30 dropout left on": Mutant("Q30", {VIS: [
        ("    model.eval()\n    try:\n        with torch.no_grad():", "    try:\n        with torch.no_grad():"),
    ]}, hint="switch dropout off (model.eval())"),
    "Q30 own predictions fed": Mutant("Q30", {VIS: [
        ("                _, hidden, weights = model.decoder.forward_step(tgt[:, t - 1], hidden,",
         "                logits, hidden, weights = model.decoder.forward_step(prev if t > 1 else tgt[:, 0], hidden,"),
        ("                rows.append(weights)\n",
         "                rows.append(weights)\n                prev = logits.argmax(-1)\n"),
    ]}, hint="feed the gold previous token tgt[:, t - 1] at step t"),
    "Q30 includes the <sos> row": Mutant("Q30", {VIS: [
        ("            for t in range(1, tgt.size(1)):\n                _, hidden, weights",
         "            rows.append(torch.zeros_like(mask, dtype=torch.float))\n"
         "            for t in range(1, tgt.size(1)):\n                _, hidden, weights"),
    ]}, hint="position 0, the <sos>, is never predicted"),
    "Q30 mode not restored": Mutant("Q30", {VIS: [
        ("        return torch.stack(rows, dim=1)\n    finally:\n        model.train(was_training)\n",
         "        return torch.stack(rows, dim=1)\n    finally:\n        pass\n"),
    ]}, hint="put the model back in the mode it was in"),
    "Q30 movement without the half": Mutant("Q30", {VIS: [
        ("    return 0.5 * (weights[1:] - weights[:-1]).abs().sum(dim=1)",
         "    return (weights[1:] - weights[:-1]).abs().sum(dim=1)"),
    ]}, hint="keep the factor 0.5"),
    "Q30 movement over the wrong axis": Mutant("Q30", {VIS: [
        ("    return 0.5 * (weights[1:] - weights[:-1]).abs().sum(dim=1)",
         "    return 0.5 * (weights[:, 1:] - weights[:, :-1]).abs().sum(dim=0)"),
    ]}, hint="subtract consecutive rows (dim 0), sum over the source positions (dim 1)"),
}


def _of(qid: str) -> list[str]:
    return [name for name, m in MUTANTS.items() if m.qid == qid]


@pytest.mark.parametrize("name", _of("Q28"))
def test_mutant_loses_points(name, tmp_path, maximum):
    m = MUTANTS[name]
    got, feedback = graded(m.build(tmp_path), ["Q28"])
    assert got["Q28"] < maximum["Q28"], f"{name} was not noticed"
    assert_hint(feedback, "Q28", m.hint, name)


ALTERNATIVE = '''

def plot_attention(weights, src_tokens, tgt_tokens, title=None, ax=None):  # matshow, labels set separately
    weights = torch.as_tensor(weights).detach().float().cpu()
    fig = ax.figure if ax is not None else plt.figure()
    ax = ax if ax is not None else fig.add_subplot(111)
    cax = ax.matshow(weights.numpy(), vmin=0, vmax=1, cmap="bone")
    ax.set_xticks(list(range(len(src_tokens))))
    ax.set_xticklabels(src_tokens, rotation=90)
    ax.set_yticks(list(range(len(tgt_tokens))))
    ax.set_yticklabels(tgt_tokens)
    ax.set_xlabel("source"); ax.set_ylabel("target")
    if title:
        ax.set_title(title)
    fig.colorbar(cax)
    return fig
'''


def test_matshow_implementation_scores_full_marks(tmp_path, maximum):
    sub = mutant(tmp_path, {})
    (sub / VIS).write_text((sub / VIS).read_text() + ALTERNATIVE)
    assert scores(sub, ["Q28"]) == maximum


@pytest.mark.parametrize("name", _of("Q29"))
def test_q29_mutant_loses_points(name, tmp_path, reached):
    feedback = assert_costs_only_its_question(MUTANTS[name], tmp_path, reached, name)
    assert_hint(feedback, "Q29", MUTANTS[name].hint, name)


def test_q29_partial_credit_for_finished_functions(tmp_path):
    """An unfinished function costs its own part of the question only."""
    text = (SOLUTION / VIS).read_text()
    start = text.index("    a, g = set(map(tuple, predicted))")
    end = text.index("    return 1.0 - 2.0 * len(a & g) / (len(a) + len(g))\n") + len(
        "    return 1.0 - 2.0 * len(a & g) / (len(a) + len(g))\n")
    sub = mutant(tmp_path, {VIS: [(text[start:end], "    raise NotImplementedError()\n")]})
    # alignment_error_rate's checks weigh 1.5 of Q29's 5: 3 points * 1.5 / 5 = 0.9 lost
    assert scores(sub, ["Q29"])["Q29"] == pytest.approx(full_marks(["Q29"])["Q29"] - 0.9, abs=1e-3)


@pytest.mark.parametrize("name", _of("Q30"))
def test_q30_mutant_loses_points(name, tmp_path, reached):
    feedback = assert_costs_only_its_question(MUTANTS[name], tmp_path, reached, name)
    assert_hint(feedback, "Q30", MUTANTS[name].hint, name)


Q30_ALTERNATIVE = '''

@torch.inference_mode()
def stepwise_attention(model, src, src_lengths, tgt):  # preallocated rows, inference mode, try-free
    mode = model.training
    model.eval()
    enc, h, mask, keys = model.encode(src, src_lengths)
    out = torch.zeros(src.size(0), tgt.size(1) - 1, src.size(1))
    for t in range(tgt.size(1) - 1):
        _, h, out[:, t] = model.decoder.forward_step(tgt[:, t], h, enc, mask, keys)
    model.train(mode)
    return out.clone()
'''


def test_every_mutant_has_a_hint():
    assert [name for name, m in MUTANTS.items() if not m.hint or m.qid not in ("Q28", "Q29", "Q30")] == []
    assert all(len(_of(qid)) >= 2 for qid in ("Q28", "Q29", "Q30"))


def test_q30_alternative_scores_full_marks(tmp_path):
    sub = mutant(tmp_path, {})
    (sub / VIS).write_text((sub / VIS).read_text() + Q30_ALTERNATIVE)
    assert scores(sub, ["Q30"]) == full_marks(["Q30"])
