"""Probes of section 10, visualisation: Q28–Q30.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_visualisation.py``.
"""
from __future__ import annotations

import torch

from autograder.probes.common import raised
from autograder.registry import probe, question

question("Q28", "attention heatmap", points=3, timeout=60)

CASES = {
    "pair": (["le", "chat", "noir", "dort", "<eos>"], ["the", "black", "cat", "sleeps", "<eos>"]),
    "wide": (["a", "b", "c", "d", "e", "f", "g"], ["x", "y", "<eos>"]),
    "tall": (["un", "<eos>"], ["p", "q", "r", "s"]),
    "single": (["<eos>"], ["<eos>"]),
}


def heatmap_weights(seed: int, tgt_len: int, src_len: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.softmax(3 * torch.randn(tgt_len, src_len, generator=generator), dim=-1)


def _describe(fig, ax=None) -> dict:
    main = ax if ax is not None else fig.axes[0]
    image = main.images[0] if main.images else None
    return {
        "figure": type(fig).__name__,
        "n_images": len(main.images),
        "data": torch.tensor(image.get_array().data if hasattr(image.get_array(), "data") else image.get_array())
        if image is not None else None,
        "origin": image.origin if image is not None else None,
        "clim": list(image.get_clim()) if image is not None else None,
        "xticks": [float(x) for x in main.get_xticks()], "yticks": [float(y) for y in main.get_yticks()],
        "xlabels": [t.get_text() for t in main.get_xticklabels()],
        "ylabels": [t.get_text() for t in main.get_yticklabels()],
        "xlabel": main.get_xlabel(), "ylabel": main.get_ylabel(), "title": main.get_title(),
        "n_axes": len(fig.axes), "same_axes": ax is None or ax in fig.axes,
    }


@probe("Q28")
def q28_heatmaps(s):
    import matplotlib.pyplot as plt

    out = {}
    for seed, (name, (tgt, src)) in enumerate(CASES.items()):
        fig = s.visualisation.plot_attention(heatmap_weights(seed, len(tgt), len(src)), src, tgt, title=name)
        out[name] = _describe(fig)
        plt.close("all")
    fig, axes = plt.subplots(1, 2)
    tgt, src = CASES["pair"]
    returned = s.visualisation.plot_attention(heatmap_weights(0, len(tgt), len(src)), src, tgt, ax=axes[1])
    out["into_axes"] = _describe(returned, axes[1]) | {"same_figure": returned is fig, "left_empty": not axes[0].images}
    plt.close("all")
    return out


# ---------------------------------------------------------------------------------------------------- Q29
question("Q29", "reading alignments out of attention", points=3, timeout=60)

# Rows are target tokens. Row 2 ties between columns 0 and 3; column sums differ from row sums on purpose.
MATRIX = torch.tensor([[0.1, 0.7, 0.1, 0.1],
                       [0.6, 0.1, 0.2, 0.1],
                       [0.4, 0.1, 0.1, 0.4],
                       [0.0, 0.0, 0.0, 1.0],
                       [0.25, 0.25, 0.25, 0.25]])
GOLD = [(1, 0), (0, 1), (3, 2), (3, 3), (2, 4), (0, 4)]
ALIGNMENTS = {"same": ([(0, 0), (1, 1)], [(1, 1), (0, 0)]), "disjoint": ([(0, 1)], [(1, 0)]),
              "partial": ([(0, 0), (1, 1), (2, 2)], [(0, 0), (2, 1)]), "duplicates": ([(0, 0), (0, 0)], [(0, 0)]),
              "empty_pred": ([], [(0, 0)])}
ORDERS = {"monotone": [(0, 0), (1, 1), (1, 2), (3, 3)], "swap": [(1, 0), (0, 1), (2, 2)],
          "unsorted": [(2, 2), (0, 0), (1, 1)], "one": [(4, 0)], "empty": [], "back": [(3, 0), (2, 1), (1, 2)]}


WIDE = torch.softmax(torch.randn(3, 9, generator=torch.Generator().manual_seed(3)), dim=1)


# One probe per function, so that an unfinished function costs only its own part of the question.
@probe("Q29")
def q29_hard(s):
    return {"hard": [list(link) for link in s.visualisation.hard_alignment(MATRIX)],
            "hard_wide": [list(link) for link in s.visualisation.hard_alignment(WIDE)]}


@probe("Q29")
def q29_aer(s):
    empty_error = raised(lambda: s.visualisation.alignment_error_rate([], []))
    hard = [(int(source), target) for target, source in enumerate(MATRIX.argmax(dim=1).tolist())]
    return {"aer": {name: s.visualisation.alignment_error_rate(*pair) for name, pair in ALIGNMENTS.items()},
            "aer_gold": s.visualisation.alignment_error_rate(hard, GOLD), "empty_error": empty_error}


@probe("Q29")
def q29_entropy(s):
    return {"entropy": s.visualisation.attention_entropy(MATRIX),
            "entropy_wide": s.visualisation.attention_entropy(WIDE)}


@probe("Q29")
def q29_monotone(s):
    return {name: s.visualisation.monotonicity(links) for name, links in ORDERS.items()}


# ---------------------------------------------------------------------------------------------------- Q30
question("Q30", "attention collected step by step", points=3, timeout=60)

VOCAB, HIDDEN = 11, 6


class _FakeDecoder(torch.nn.Module):
    """A decoder with the course's interface and a dropout, so that forgetting eval() changes the weights."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCAB, 4)
        self.cell = torch.nn.Linear(4 + HIDDEN, HIDDEN)
        self.out = torch.nn.Linear(HIDDEN, VOCAB)
        self.dropout = torch.nn.Dropout(0.5)

    def precompute(self, encoder_outputs):
        return 2 * encoder_outputs

    def forward_step(self, prev_tokens, hidden, encoder_outputs, mask, keys=None):
        keys = self.precompute(encoder_outputs) if keys is None else keys
        hidden = torch.tanh(self.cell(torch.cat([self.dropout(self.embedding(prev_tokens)), hidden], dim=-1)))
        scores = torch.bmm(keys, hidden.unsqueeze(-1)).squeeze(-1).masked_fill(~mask, float("-inf"))
        return self.out(hidden), hidden, torch.softmax(scores, dim=-1)


class _FakeModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCAB, HIDDEN, padding_idx=0)
        self.decoder = _FakeDecoder()

    def encode(self, src, src_lengths):
        outputs = torch.tanh(self.embedding(src))
        mask = src != 0
        hidden = (outputs * mask.unsqueeze(-1)).sum(1) / src_lengths.unsqueeze(-1)
        return outputs, hidden, mask, self.decoder.precompute(outputs)

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio=1.0):
        outputs, hidden, mask, keys = self.encode(src, src_lengths)
        rows = [torch.zeros_like(mask, dtype=torch.float)]
        for t in range(1, tgt.size(1)):
            _, hidden, weights = self.decoder.forward_step(tgt[:, t - 1], hidden, outputs, mask, keys)
            rows.append(weights)
        return None, torch.stack(rows, dim=1)


def stepwise_inputs():
    torch.manual_seed(30)
    model = _FakeModel()
    src = torch.tensor([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0], [1, 9, 4, 2, 0]])
    tgt = torch.tensor([[1, 3, 4, 5, 2, 0], [1, 6, 2, 0, 0, 0], [1, 7, 8, 9, 10, 2]])
    return model, src, torch.tensor([5, 3, 4]), tgt


@probe("Q30")
def q30_stepwise(s):
    model, src, lengths, tgt = stepwise_inputs()
    model.train()
    weights = s.visualisation.stepwise_attention(model, src, lengths, tgt)
    return {"weights": weights, "training_after": model.training,
            "requires_grad": bool(getattr(weights, "requires_grad", False))}


@probe("Q30")
def q30_movement(s):
    rows = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.25, 0.75]])
    return {"rows": s.visualisation.attention_movement(rows),
            "single": s.visualisation.attention_movement(torch.tensor([[0.5, 0.5]])),
            "wide": s.visualisation.attention_movement(WIDE)}
