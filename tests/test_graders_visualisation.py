"""Validity of the Q28 grader: stub 0, solution full, realistic plotting mistakes caught, alternatives pass."""
from __future__ import annotations

import pytest

from tests.helpers import SOLUTION, STUB, full_marks, mutant, scores

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


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_loses_points(name, tmp_path, maximum):
    got = scores(mutant(tmp_path, {VIS: MUTANTS[name]}), ["Q28"])
    assert got["Q28"] < maximum["Q28"], f"{name} was not noticed"


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
