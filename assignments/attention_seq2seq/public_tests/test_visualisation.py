"""Visible sanity checks for Q28 and Q29 (run: ``python -m seq2seq check Q28``)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from seq2seq import visualisation  # noqa: E402


def test_q28_heatmap_shows_the_weights():
    weights = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    fig = visualisation.plot_attention(weights, ["a", "b", "<eos>"], ["x", "<eos>"])
    ax = fig.axes[0]
    assert ax.images, "draw the weights with imshow"
    assert tuple(ax.images[0].get_array().shape) == (2, 3), "target tokens down the rows, source tokens across"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "<eos>"]
    plt.close(fig)


def test_q29_alignment_and_entropy():
    weights = torch.tensor([[0.9, 0.1], [0.2, 0.8]])
    assert visualisation.hard_alignment(weights) == [(0, 0), (1, 1)]
    assert visualisation.alignment_error_rate([(0, 0)], [(0, 0)]) == 0.0
    assert torch.allclose(visualisation.attention_entropy(torch.tensor([[1.0, 0.0]])), torch.zeros(1))
    assert visualisation.monotonicity([(0, 0), (1, 1)]) == 1.0


def test_q30_movement_of_attention():
    rows = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert torch.allclose(visualisation.attention_movement(rows), torch.tensor([0.0, 1.0]))
