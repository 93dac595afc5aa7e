"""Validity of the Q28 grader: stub 0, solution full, realistic plotting mistakes caught, alternatives pass."""
from __future__ import annotations

import pytest

from tests.helpers import SOLUTION, STUB, assert_costs_only, assert_hint, full_marks, graded, mutant, scores

VIS = "seq2seq/visualisation.py"


@pytest.fixture(scope="module")
def maximum():
    return full_marks(["Q28"])


def test_solution_full_marks_and_stub_zero(maximum):
    assert scores(SOLUTION, ["Q28"]) == maximum and scores(STUB, ["Q28"]) == {"Q28": 0}


MUTANTS = {
    "transposed": [("image = ax.imshow(weights.numpy(),", "image = ax.imshow(weights.T.numpy(),")],
    "labels swapped": [("labels=list(src_tokens), rotation=60", "labels=list(tgt_tokens), rotation=60"),
                       ("ax.set_yticks(range(len(tgt_tokens)), labels=list(tgt_tokens))",
                        "ax.set_yticks(range(len(src_tokens)), labels=list(src_tokens))")],
    "labels without ticks": [("ax.set_xticks(range(len(src_tokens)), labels=list(src_tokens), rotation=60, ha=\"right\")",
                              "ax.set_xticklabels([''] + list(src_tokens), rotation=60)")],
    "labels off by one": [("ax.set_yticks(range(len(tgt_tokens)), labels=list(tgt_tokens))",
                           "ax.set_yticks(range(len(tgt_tokens)), labels=['<sos>'] + list(tgt_tokens)[:-1])")],
    "flipped rows": [('vmin=0.0, vmax=1.0, aspect="auto")', 'vmin=0.0, vmax=1.0, aspect="auto", origin="lower")')],
    "no colour bar": [("    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=\"attention weight\")\n", "")],
    "new figure despite ax": [("    if ax is None:\n        fig, ax = plt.subplots(",
                               "    if True:\n        fig, ax = plt.subplots(")],
}


# What the feedback says about each mutant (lower-case; issue #7, point 6): the likely cause, in the student's terms.
HINTS = {
    "transposed": "your image is the weights transposed",
    "labels swapped": "the x axis holds the source tokens, the y axis the target tokens",
    "labels without ticks": "set the tick positions, not only the labels",
    "labels off by one": "yours are shifted by one (they start with <sos>)",
    "flipped rows": "keep imshow's default origin='upper'",
    "no colour bar": "add a colour bar",
    "new figure despite ax": "return the figure that holds the given axes",
    # Q29 (test_q29_mutant_loses_points)
    "argmax over targets": "yours take the argmax over the target rows (dim=0)",
    "links as (target, source)": "your links are (target, source)",
    "AER over lists": "use sets of links (duplicates count once)",
    "AER with the union": "yours is 1 - |a∩g| / |a∪g| (the union)",
    "entropy NaN at zeros": "zero weights must contribute 0 (0 log 0 = 0), not nan",
    "entropy in bits": "yours are in bits (log2)",
    "strictly increasing": "stays or moves right (>=)",
    "unsorted links": "sort by target position",
    # Q30 (test_q30_mutant_loses_points)
    "dropout left on": "switch dropout off (model.eval())",
    "own predictions fed": "feed the gold previous token tgt[:, t - 1] at step t",
    "includes the <sos> row": "position 0, the <sos>, is never predicted",
    "mode not restored": "put the model back in the mode it was in",
    "movement without the half": "keep the factor 0.5",
    "movement over the wrong axis": "subtract consecutive rows (dim 0), sum over the source positions (dim 1)",
}


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_loses_points(name, tmp_path, maximum):
    got, feedback = graded(mutant(tmp_path, {VIS: MUTANTS[name]}), ["Q28"])
    assert got["Q28"] < maximum["Q28"], f"{name} was not noticed"
    assert_hint(feedback, "Q28", HINTS[name], name)


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


Q29_MUTANTS = {
    "argmax over targets": [("enumerate(torch.as_tensor(weights).argmax(dim=1).tolist())",
                             "enumerate(torch.as_tensor(weights).argmax(dim=0).tolist())")],
    "links as (target, source)": [("return [(int(source), target) for target, source in",
                                   "return [(target, int(source)) for target, source in")],
    "AER over lists": [("a, g = set(map(tuple, predicted)), set(map(tuple, gold))",
                        "a, g = list(map(tuple, predicted)), list(map(tuple, gold))"),
                       ("len(a & g)", "len([x for x in a if x in g])")],
    "AER with the union": [("1.0 - 2.0 * len(a & g) / (len(a) + len(g))", "1.0 - len(a & g) / len(a | g)")],
    "entropy NaN at zeros": [("    return -torch.where(weights > 0, weights * weights.clamp_min(1e-30).log(), torch.zeros_like(weights)).sum(dim=1)",
                              "    return -(weights * weights.log()).sum(dim=1)")],
    "entropy in bits": [("weights * weights.clamp_min(1e-30).log()", "weights * weights.clamp_min(1e-30).log2()")],
    "strictly increasing": [("forward = sum(b[0] >= a[0] for", "forward = sum(b[0] > a[0] for")],
    "unsorted links": [("    links = sorted(alignment, key=lambda link: (link[1], link[0]))", "    links = list(alignment)")],
}


@pytest.mark.parametrize("name", Q29_MUTANTS)
def test_q29_mutant_loses_points(name, tmp_path):
    best = full_marks(["Q28", "Q29"])
    got, feedback = graded(mutant(tmp_path, {VIS: Q29_MUTANTS[name]}), ["Q28", "Q29"])
    assert_costs_only(got, "Q29", best, name)
    assert_hint(feedback, "Q29", HINTS[name], name)


def test_q29_partial_credit_for_finished_functions(tmp_path):
    """An unfinished function costs its own part of the question only."""
    text = (SOLUTION / VIS).read_text()
    start = text.index("    a, g = set(map(tuple, predicted))")
    end = text.index("    return 1.0 - 2.0 * len(a & g) / (len(a) + len(g))\n") + len(
        "    return 1.0 - 2.0 * len(a & g) / (len(a) + len(g))\n")
    sub = mutant(tmp_path, {VIS: [(text[start:end], "    raise NotImplementedError()\n")]})
    # alignment_error_rate's checks weigh 1.5 of Q29's 5: 3 points * 1.5 / 5 = 0.9 lost
    assert scores(sub, ["Q29"])["Q29"] == pytest.approx(full_marks(["Q29"])["Q29"] - 0.9, abs=1e-3)


Q30_MUTANTS = {
    "dropout left on": [("    model.eval()\n    try:\n        with torch.no_grad():", "    try:\n        with torch.no_grad():")],
    "own predictions fed": [("                _, hidden, weights = model.decoder.forward_step(tgt[:, t - 1], hidden,",
                             "                logits, hidden, weights = model.decoder.forward_step(prev if t > 1 else tgt[:, 0], hidden,"),
                            ("                rows.append(weights)\n", "                rows.append(weights)\n                prev = logits.argmax(-1)\n")],
    "includes the <sos> row": [("            for t in range(1, tgt.size(1)):\n                _, hidden, weights",
                                "            rows.append(torch.zeros_like(mask, dtype=torch.float))\n"
                                "            for t in range(1, tgt.size(1)):\n                _, hidden, weights")],
    "mode not restored": [("        model.train(was_training)\n", "        pass\n")],
    "movement without the half": [("    return 0.5 * (weights[1:] - weights[:-1]).abs().sum(dim=1)",
                                   "    return (weights[1:] - weights[:-1]).abs().sum(dim=1)")],
    "movement over the wrong axis": [("    return 0.5 * (weights[1:] - weights[:-1]).abs().sum(dim=1)",
                                      "    return 0.5 * (weights[:, 1:] - weights[:, :-1]).abs().sum(dim=0)")],
}


@pytest.mark.parametrize("name", Q30_MUTANTS)
def test_q30_mutant_loses_points(name, tmp_path):
    best = full_marks(["Q29", "Q30"])
    got, feedback = graded(mutant(tmp_path, {VIS: Q30_MUTANTS[name]}), ["Q29", "Q30"])
    assert_costs_only(got, "Q30", best, name)
    assert_hint(feedback, "Q30", HINTS[name], name)


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
    assert sorted(HINTS) == sorted({**MUTANTS, **Q29_MUTANTS, **Q30_MUTANTS})
    assert len(HINTS) == len(MUTANTS) + len(Q29_MUTANTS) + len(Q30_MUTANTS)


def test_q30_alternative_scores_full_marks(tmp_path):
    sub = mutant(tmp_path, {})
    (sub / VIS).write_text((sub / VIS).read_text() + Q30_ALTERNATIVE)
    assert scores(sub, ["Q30"]) == full_marks(["Q30"])
