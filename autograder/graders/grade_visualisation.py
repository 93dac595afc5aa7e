"""Graders for section 10, visualising attention: Q28 (the heatmap)."""
from __future__ import annotations

import math

import pytest
import torch

from autograder.harness import StudentCodeError
from autograder.registry import probe, question

question("Q28", "attention heatmap", points=3, timeout=60)

CASES = {
    "pair": (["le", "chat", "noir", "dort", "<eos>"], ["the", "black", "cat", "sleeps", "<eos>"]),
    "wide": (["a", "b", "c", "d", "e", "f", "g"], ["x", "y", "<eos>"]),
    "tall": (["un", "<eos>"], ["p", "q", "r", "s"]),
    "single": (["<eos>"], ["<eos>"]),
}


def _weights(seed: int, tgt_len: int, src_len: int) -> torch.Tensor:
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
        fig = s.visualisation.plot_attention(_weights(seed, len(tgt), len(src)), src, tgt, title=name)
        out[name] = _describe(fig)
        plt.close("all")
    fig, axes = plt.subplots(1, 2)
    tgt, src = CASES["pair"]
    returned = s.visualisation.plot_attention(_weights(0, len(tgt), len(src)), src, tgt, ax=axes[1])
    out["into_axes"] = _describe(returned, axes[1]) | {"same_figure": returned is fig, "left_empty": not axes[0].images}
    plt.close("all")
    return out


@pytest.mark.grade("Q28", points=2)
def test_q28_image_is_the_weight_matrix(out):
    """The heatmap's image holds the weights themselves: rows = target tokens, columns = source tokens."""
    got = out["q28_heatmaps"]
    for seed, (name, (tgt, src)) in enumerate(CASES.items()):
        case = got[name]
        assert case["figure"] == "Figure", "plot_attention must return the matplotlib Figure"
        assert case["n_images"] == 1, "draw the weights with one imshow call into the figure's first axes"
        data = case["data"]
        assert data is not None and tuple(data.shape) == (len(tgt), len(src)), (
            f"the image is {tuple(data.shape) if data is not None else None} for {len(tgt)} target and {len(src)} "
            "source tokens: targets go down the rows, sources across the columns (do not transpose)")
        weights = _weights(seed, len(tgt), len(src)).double()
        transposed = data.shape == weights.T.shape and torch.allclose(data.double(), weights.T, atol=1e-6)
        assert torch.allclose(data.double(), weights, atol=1e-6), (
            "your image is the weights transposed: rows must be the target tokens, columns the source tokens"
            if transposed else "the image data differ from the weights (flipped, normalised again, or reordered?)")
        assert case["origin"] == "upper", "keep imshow's default origin='upper': the first target token on top"
        assert case["clim"] == [0.0, 1.0], "fix the colour scale to weights from 0 to 1 (vmin=0, vmax=1)"


@pytest.mark.grade("Q28", points=2)
def test_q28_token_labels_in_order(out):
    """One tick per token, at the token's row/column, labelled with the token, in order (<eos> included)."""
    try:
        got = out["q28_heatmaps"]
    except StudentCodeError as error:
        if "FixedLocator" not in str(error):
            raise
        raise AssertionError(f"your code failed: {error}\nthe number of tick labels differs from the number of ticks: "
                             "the x axis holds the source tokens, the y axis the target tokens") from None
    for name, (tgt, src) in CASES.items():
        case = got[name]
        assert case["xticks"] == list(map(float, range(len(src)))), (
            "put one x tick at each column 0..src_len-1 (set the tick positions, not only the labels)")
        assert case["yticks"] == list(map(float, range(len(tgt)))), "put one y tick at each row 0..tgt_len-1"
        assert case["xlabels"] == src, "the x tick labels must be the source tokens, in order"
        assert case["ylabels"] == tgt, "the y tick labels must be the target tokens, in order" + (
            "; yours are shifted by one (they start with <sos>): row t holds the weights that produced target token t"
            if case["ylabels"] == ["<sos>"] + list(tgt)[:-1] else "")


@pytest.mark.grade("Q28", points=1)
def test_q28_axis_labels_title_colour_bar(out):
    """Axis labels 'source' (x) and 'target' (y), the given title, and a colour bar."""
    got = out["q28_heatmaps"]
    case = got["pair"]
    assert case["xlabel"] == "source" and case["ylabel"] == "target", "label the axes 'source' (x) and 'target' (y)"
    assert case["title"] == "pair", "use the title argument as the axes title"
    assert case["n_axes"] == 2, "add a colour bar (fig.colorbar): the figure then has two axes"


@pytest.mark.grade("Q28", points=1)
def test_q28_draws_into_given_axes(out):
    """With ax given, the heatmap goes into those axes and their figure is returned."""
    case = out["q28_heatmaps"]["into_axes"]
    assert case["same_figure"], "return the figure that holds the given axes (ax.figure)"
    assert case["n_images"] == 1 and case["left_empty"], "draw into the axes passed as ax, not into new ones"


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
    try:
        s.visualisation.alignment_error_rate([], [])
        empty_error = None
    except ValueError:
        empty_error = "ValueError"
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001
        empty_error = type(error).__name__
    hard = [(int(source), target) for target, source in enumerate(MATRIX.argmax(dim=1).tolist())]
    return {"aer": {name: s.visualisation.alignment_error_rate(*pair) for name, pair in ALIGNMENTS.items()},
            "aer_gold": s.visualisation.alignment_error_rate(hard, GOLD), "empty_error": empty_error}


@probe("Q29")
def q29_entropy(s):
    return {"entropy": s.visualisation.attention_entropy(MATRIX), "entropy_wide": s.visualisation.attention_entropy(WIDE)}


@probe("Q29")
def q29_monotone(s):
    return {name: s.visualisation.monotonicity(links) for name, links in ORDERS.items()}


@pytest.mark.grade("Q29", points=1.5)
def test_q29_hard_alignment(out):
    """hard_alignment links each target token (row) to its most attended source position (column)."""
    got = out["q29_hard"]
    right = [[1, 0], [0, 1], [0, 2], [3, 3], [0, 4]]
    hints = {"; your links are (target, source): each link is (source position, target position)":
             [[t, s] for s, t in right],
             "; yours take the argmax over the target rows (dim=0): take it over the source positions (dim=1)":
             [[s, t] for s, t in enumerate(MATRIX.argmax(dim=0).tolist())],
             "; yours take the argmax over the target rows (dim=0), and the links are (target, source)":
             [[t, s] for s, t in enumerate(MATRIX.argmax(dim=0).tolist())]}
    assert got["hard"] == right, (
        "hard_alignment is wrong: take the argmax over the source positions of each row (dim=1), and return "
        "(source, target) pairs in target order (ties: the first source position)"
        + next((hint for hint, links in hints.items() if got["hard"] == links), ""))
    assert got["hard_wide"] == [[int(s), t] for t, s in enumerate(WIDE.argmax(dim=1).tolist())], (
        "on a 3x9 matrix the alignment is wrong: one link per target row")


@pytest.mark.grade("Q29", points=1.5)
def test_q29_alignment_error_rate(out):
    """alignment_error_rate is 1 - 2|A∩G|/(|A|+|G|) over sets of links, and refuses two empty alignments."""
    got = out["q29_aer"]
    expected = {"same": 0.0, "disjoint": 1.0, "partial": 1 - 2 * 1 / 5, "duplicates": 0.0, "empty_pred": 1.0}
    for name, want in expected.items():
        a, g = (set(map(tuple, links)) for links in ALIGNMENTS[name])
        jaccard = 1 - len(a & g) / len(a | g) if a | g else None
        assert abs(got["aer"][name] - want) < 1e-9, (
            f"alignment_error_rate{ALIGNMENTS[name]} is wrong: use sets of links (duplicates count once), "
            "AER = 1 - 2|A∩G| / (|A| + |G|)"
            + ("; yours is 1 - |A∩G| / |A∪G| (the union)"
               if jaccard is not None and abs(got["aer"][name] - jaccard) < 1e-9 else ""))
    assert abs(got["aer_gold"] - (1 - 2 * 4 / 11)) < 1e-9, "AER of the hard alignment against gold is wrong"
    assert got["empty_error"] == "ValueError", "two empty alignments must raise ValueError"


@pytest.mark.grade("Q29", points=1)
def test_q29_entropy(out):
    """attention_entropy is each row's entropy in nats, with 0 log 0 = 0."""
    got = out["q29_entropy"]
    for key, matrix in (("entropy", MATRIX), ("entropy_wide", WIDE)):
        value = got[key]
        assert isinstance(value, torch.Tensor) and tuple(value.shape) == (matrix.shape[0],), (
            "return a (tgt_len,) tensor: one entropy per target row")
        assert torch.isfinite(value).all(), "zero weights must contribute 0 (0 log 0 = 0), not NaN"
        p = matrix.double()
        want = -(torch.where(p > 0, p * p.clamp_min(1e-300).log(), torch.zeros_like(p))).sum(1)
        bits = torch.allclose(value.double(), want / math.log(2), atol=1e-5)
        assert torch.allclose(value.double(), want, atol=1e-5), (
            "the entropies are wrong: H = -sum w log w over each row, natural log"
            + ("; yours are in bits (log2): use the natural log (nats)" if bits else ""))


@pytest.mark.grade("Q29", points=1)
def test_q29_monotonicity(out):
    """monotonicity is the share of consecutive target positions whose source position does not go back."""
    got = out["q29_monotone"]
    expected = {"monotone": 1.0, "swap": 0.5, "unsorted": 1.0, "one": 1.0, "empty": 1.0, "back": 0.0}
    for name, want in expected.items():
        assert abs(got[name] - want) < 1e-9, (
            f"monotonicity({ORDERS[name]}) should be {want}: sort by target position, then count steps whose "
            "source position stays or moves right (>=)")


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


def _q30_inputs():
    torch.manual_seed(30)
    model = _FakeModel()
    src = torch.tensor([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0], [1, 9, 4, 2, 0]])
    tgt = torch.tensor([[1, 3, 4, 5, 2, 0], [1, 6, 2, 0, 0, 0], [1, 7, 8, 9, 10, 2]])
    return model, src, torch.tensor([5, 3, 4]), tgt


@probe("Q30")
def q30_stepwise(s):
    model, src, lengths, tgt = _q30_inputs()
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


@pytest.mark.grade("Q30", points=2)
def test_q30_stepwise_equals_the_forward_pass(out):
    """stepwise_attention collects one row per target step, equal to the forward pass's attention in eval mode."""
    got = out["q30_stepwise"]["weights"]
    model, src, lengths, tgt = _q30_inputs()
    model.eval()
    with torch.no_grad():
        expected = model(src, lengths, tgt, 1.0)[1][:, 1:]
    assert isinstance(got, torch.Tensor) and tuple(got.shape) == tuple(expected.shape), (
        f"expected shape (batch, tgt_len - 1, src_len) = {tuple(expected.shape)}: one row per predicted target "
        "token (position 0, the <sos>, is never predicted)")
    assert torch.allclose(got, expected, atol=1e-6), (
        "the weights differ from the forward pass's: encode once, feed the gold previous token tgt[:, t - 1] at "
        "step t, keep the weights of every step, and switch dropout off (model.eval())")


@pytest.mark.grade("Q30", points=1, requires="test_q30_stepwise_equals_the_forward_pass")  # None passes it
def test_q30_mode_restored_no_gradients(out):
    """stepwise_attention records no gradients and puts the model back in training mode."""
    got = out["q30_stepwise"]
    assert got["training_after"] is True, "put the model back in the mode it was in (model.train(was_training))"
    assert not got["requires_grad"], "collect the weights under torch.no_grad(): nothing here is trained"


@pytest.mark.grade("Q30", points=1)
def test_q30_attention_movement(out):
    """attention_movement is the total variation distance between consecutive rows."""
    got = out["q30_movement"]
    assert isinstance(got["rows"], torch.Tensor) and tuple(got["rows"].shape) == (3,), (
        f"for 4 rows attention_movement must give 3 values, one per step, not shape "
        f"{tuple(getattr(got['rows'], 'shape', ()))}: subtract consecutive rows (dim 0), sum over the source "
        "positions (dim 1)")
    assert torch.allclose(got["rows"], torch.tensor([0.0, 1.0, 0.25])), (
        "attention_movement is wrong: 0.5 * sum |w[t] - w[t-1]| over the source positions, one value per step"
        + ("; yours are twice that: keep the factor 0.5" if torch.allclose(got["rows"], torch.tensor([0.0, 2.0, 0.5]))
           else ""))
    assert tuple(got["single"].shape) == (0,), "a single row has no movement: return an empty tensor"
    want = 0.5 * (WIDE[1:] - WIDE[:-1]).abs().sum(1)
    assert torch.allclose(got["wide"], want, atol=1e-6), "attention_movement is wrong on a 3x9 matrix"
