"""Checks for section 10, visualising attention: Q28 (the heatmap).

The probes these checks read are in ``autograder/probes/visualisation.py``; this module is imported by the
deciding process only, never by a process that runs student code.
"""
from __future__ import annotations

import math

import pytest
import torch

from autograder.graders.common import hinted
from autograder.probes.visualisation import ALIGNMENTS, CASES, MATRIX, ORDERS, WIDE, heatmap_weights, stepwise_inputs


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
        weights = heatmap_weights(seed, len(tgt), len(src)).double()
        transposed = data.shape == weights.T.shape and torch.allclose(data.double(), weights.T, atol=1e-6)
        assert torch.allclose(data.double(), weights, atol=1e-6), (
            "your image is the weights transposed: rows must be the target tokens, columns the source tokens"
            if transposed else "the image data differ from the weights (flipped, normalised again, or reordered?)")
        assert case["origin"] == "upper", "keep imshow's default origin='upper': the first target token on top"
        assert case["clim"] == [0.0, 1.0], "fix the colour scale to weights from 0 to 1 (vmin=0, vmax=1)"


@pytest.mark.grade("Q28", points=2)
def test_q28_token_labels_in_order(out):
    """One tick per token, at the token's row/column, labelled with the token, in order (<eos> included)."""
    got = hinted(out, "q28_heatmaps", {
        "FixedLocator": "the number of tick labels differs from the number of ticks: the x axis holds the source "
                        "tokens, the y axis the target tokens"})
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


@pytest.mark.grade("Q30", points=2)
def test_q30_stepwise_equals_the_forward_pass(out):
    """stepwise_attention collects one row per target step, equal to the forward pass's attention in eval mode."""
    got = out["q30_stepwise"]["weights"]
    model, src, lengths, tgt = stepwise_inputs()
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
