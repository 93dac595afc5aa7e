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
    assert visualisation.monotonicity([(2, 2), (1, 1), (0, 0)]) == 1.0, "sort the links by target position first"
    assert visualisation.monotonicity([(2, 1), (0, 0), (1, 2)]) == 0.5, (
        "links are (source, target): one of the two consecutive pairs goes back")
    assert visualisation.monotonicity([(1, 0), (1, 1)]) == 1.0, "a source position that stays counts (>=)"


class _OneHotDecoder(torch.nn.Module):
    """forward_step returns (logits, hidden, weights), three different shapes. The state counts the steps (0 from
    encode), and the weights are one-hot at (previous token + steps so far) % src_len."""

    def forward_step(self, prev_tokens, hidden, encoder_outputs, mask, keys=None):
        src_len = encoder_outputs.size(1)
        weights = torch.nn.functional.one_hot((prev_tokens + hidden[:, 0].long()) % src_len, src_len).float()
        return torch.zeros(prev_tokens.size(0), 11), hidden + 1, weights


class _StandIn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.decoder = _OneHotDecoder()

    def encode(self, src, src_lengths):
        outputs = torch.zeros(src.size(0), src.size(1), 3)
        return outputs, torch.zeros(src.size(0), 5), src != 0, outputs


def test_q30_stepwise_unpacks_forward_step():
    src, tgt = torch.tensor([[1, 5, 6, 2], [1, 7, 2, 0]]), torch.tensor([[1, 4, 5, 6, 7, 2], [1, 3, 2, 0, 0, 0]])
    rows = visualisation.stepwise_attention(_StandIn(), src, torch.tensor([4, 3]), tgt)
    assert tuple(rows.shape) == (2, 5, 4), (
        "one row of weights per step t = 1 .. tgt_len - 1: forward_step returns (logits, hidden, weights), "
        "the logits first (the decoder's step returns the state first)")
    expected = torch.nn.functional.one_hot((tgt[:, :-1] + torch.arange(5)) % 4, 4).float()
    assert torch.equal(rows, expected), (
        "step t feeds the gold previous token tgt[:, t - 1] and the state forward_step returned at step t - 1 "
        "(its second output), starting from encode's")


def test_q30_movement_of_attention():
    rows = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert torch.allclose(visualisation.attention_movement(rows), torch.tensor([0.0, 1.0]))
