"""Graders for section 10, visualising attention: Q28 (the heatmap)."""
from __future__ import annotations

import pytest
import torch

from autograder.registry import probe, question

question("Q28", "attention heatmap", timeout=60)

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
        assert torch.allclose(data.double(), _weights(seed, len(tgt), len(src)).double(), atol=1e-6), (
            "the image data differ from the weights (flipped, normalised again, or reordered?)")
        assert case["origin"] == "upper", "keep imshow's default origin='upper': the first target token on top"
        assert case["clim"] == [0.0, 1.0], "fix the colour scale to weights from 0 to 1 (vmin=0, vmax=1)"


@pytest.mark.grade("Q28", points=2)
def test_q28_token_labels_in_order(out):
    """One tick per token, at the token's row/column, labelled with the token, in order (<eos> included)."""
    got = out["q28_heatmaps"]
    for name, (tgt, src) in CASES.items():
        case = got[name]
        assert case["xticks"] == list(map(float, range(len(src)))), (
            "put one x tick at each column 0..src_len-1 (set the tick positions, not only the labels)")
        assert case["yticks"] == list(map(float, range(len(tgt)))), "put one y tick at each row 0..tgt_len-1"
        assert case["xlabels"] == src, "the x tick labels must be the source tokens, in order"
        assert case["ylabels"] == tgt, "the y tick labels must be the target tokens, in order"


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
