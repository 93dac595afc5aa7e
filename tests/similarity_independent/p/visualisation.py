"""Section 10, visualising attention weights: Q28 (the heatmap), Q29 (reading alignments out of the weights) and
Q30 (collecting the weights step by step, and how they move), plus the loss curves of training and
:func:`alignment_report`, a trained model's alignment error rate against the gold alignments.

Alignments are lists of ``(source position, target position)`` links, the format of the synthetic corpus's gold
alignments (``corpora.synthetic_corpus(...).alignments``). Positions index the rows and columns of the weight
matrix given; when the model's source starts with ``<sos>``, shift gold source positions by one to compare.
"""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt  # headless machines fall back to the Agg backend by themselves
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from seq2seq import PAD

if TYPE_CHECKING:
    from seq2seq.data import Data


def plot_attention(weights: torch.Tensor, src_tokens: Sequence[str], tgt_tokens: Sequence[str],
                   title: str | None = None, ax: plt.Axes | None = None) -> Figure:
    """Q28: draw one sentence pair's attention as a heatmap.

    Row ``t`` is the weights the decoder used to produce target token ``t``, so target tokens go *down* the
    rows (y axis) and source tokens *across* the columns (x axis), the layout of Bahdanau et al.'s figures.

    Args:
        weights: ``(tgt_len, src_len)``, row ``t`` the attention for ``tgt_tokens[t]`` (each row sums to 1).
        src_tokens: ``src_len`` labels of the columns, in order (include ``<eos>`` if the source had it).
        tgt_tokens: ``tgt_len`` labels of the rows, in order (``<eos>`` included when it was produced).
        title: the axes title, if any; one too long for the heatmap is already wrapped onto several lines, at
            spaces only (see the code above yours), so use ``title`` as it is.
        ax: draw into these axes; ``None`` makes a new figure sized to the sentence.

    Returns:
        The ``matplotlib.figure.Figure`` holding the heatmap. Its axes hold exactly one image (``ax.images[0]``)
        whose data equal ``weights`` (as NumPy, same orientation), drawn with ``imshow`` in the default
        ``origin="upper"`` (row 0 at the top), colours from 0 to 1 (``vmin=0, vmax=1``); a tick per token with
        the token as its label (x ticks rotated for readability), axis labels ``"source"`` (x) and ``"target"``
        (y), and a colour bar.

    Raises:
        ValueError: ``weights`` is not 2-D or its shape does not match the two token lists.
    """
    weights = torch.as_tensor(weights).detach().float().cpu()
    if weights.dim() != 2 or tuple(weights.shape) != (len(tgt_tokens), len(src_tokens)):
        raise ValueError(f"weights of shape {tuple(weights.shape)} do not fit {len(tgt_tokens)} target and "
                         f"{len(src_tokens)} source tokens: expected (tgt_len, src_len)")
    if title:  # a whole sentence as the title: wrap it at spaces to about the heatmap's width, never inside a word
        title = textwrap.fill(title, width=max(24, 4 * len(src_tokens)), break_long_words=False,
                              break_on_hyphens=False)
    if ax is None:
        fig, ax = plt.subplots(figsize=(2.5 + 0.45 * len(src_tokens), 1.5 + 0.4 * len(tgt_tokens)))
        new_figure = True
    else:
        fig, new_figure = ax.figure, False
    image = ax.imshow(weights.numpy(), cmap="viridis", vmin=0.0, vmax=1.0, origin="upper")
    ax.set_xticks(range(len(src_tokens)))
    ax.set_xticklabels(list(src_tokens), rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(len(tgt_tokens)))
    ax.set_yticklabels(list(tgt_tokens))
    ax.set_xlabel("source")
    ax.set_ylabel("target")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if new_figure:
        fig.tight_layout()
    return fig


def hard_alignment(weights: torch.Tensor) -> list[tuple[int, int]]:
    """Q29 (part a): turn soft attention into a hard alignment: each target token links to the source position
    it attends to most.

    Args:
        weights: ``(tgt_len, src_len)``; row ``t`` is target token ``t``'s distribution over source positions.

    Returns:
        ``tgt_len`` links ``(source position, target position)``, one per target position, in target order
        (ties go to the first, lowest, source position, as ``torch.argmax`` does).
    """
    weights = torch.as_tensor(weights)
    if weights.dim() != 2:
        raise ValueError(f"weights must be (tgt_len, src_len), got shape {tuple(weights.shape)}")
    if weights.size(0) == 0:
        return []
    sources = weights.argmax(dim=-1).tolist()  # ties: the first (lowest) source position
    return [(int(source), target) for target, source in enumerate(sources)]


def alignment_error_rate(predicted: Sequence[tuple[int, int]], gold: Sequence[tuple[int, int]]) -> float:
    """Q29 (part b): how far a predicted alignment is from the gold one (Och & Ney's AER, all links "sure").

    ``AER = 1 - 2 |A ∩ G| / (|A| + |G|)`` with ``A`` the set of predicted links and ``G`` the gold set; duplicate
    links count once. 0 means identical, 1 means no link in common.

    Raises:
        ValueError: both alignments are empty (the rate is undefined).
    """
    predicted_set = {(int(source), int(target)) for source, target in predicted}
    gold_set = {(int(source), int(target)) for source, target in gold}
    if not predicted_set and not gold_set:
        raise ValueError("the alignment error rate of two empty alignments is undefined")
    return 1.0 - 2.0 * len(predicted_set & gold_set) / (len(predicted_set) + len(gold_set))


def attention_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Q29 (part c): how spread out each target token's attention is: the entropy of each row, in nats.

    ``H_t = -sum_i w_{t,i} log w_{t,i}`` with ``0 log 0 = 0`` (padded positions hold exact zeros). 0 means all
    weight on one source token; ``log(src_len)`` means uniform attention.

    Args:
        weights: ``(tgt_len, src_len)``.

    Returns:
        ``(tgt_len,)`` float tensor, finite.
    """
    weights = torch.as_tensor(weights)
    if not weights.is_floating_point():
        weights = weights.float()
    return -torch.special.xlogy(weights, weights).sum(dim=-1)  # xlogy(0, 0) = 0: padding adds nothing


def monotonicity(alignment: Sequence[tuple[int, int]]) -> float:
    """Q29 (part d): the fraction of consecutive target positions whose source position does not go back.

    Each link is ``(source position, target position)``, as :func:`hard_alignment` returns them. Sort the links by
    target position (then source position); over each consecutive pair of links, count those where the source
    position stays or moves right (``>=``), and divide by the number of pairs, ``len(alignment) - 1``. 1.0 is a
    perfectly monotone (word-by-word) alignment; reordering languages score lower. An alignment of fewer than two
    links gives 1.0.

    The links are taken as they are, never de-duplicated or merged: a target word with several links (a gold
    alignment may link one word to two) contributes each of them, next to each other in source order, so the
    pairs within one target word always count as monotone; a link given twice counts twice. For example
    ``monotonicity([(0, 0), (2, 0), (1, 1)])`` sorts to ``(0, 0), (2, 0), (1, 1)``: one of its two pairs goes
    back, 0.5.
    """
    links = sorted(((int(source), int(target)) for source, target in alignment), key=lambda link: (link[1], link[0]))
    if len(links) < 2:
        return 1.0
    forward = sum(1 for (before, _), (after, _) in zip(links, links[1:]) if after >= before)
    return forward / (len(links) - 1)


@torch.no_grad()
def alignment_report(model: torch.nn.Module, data: Data, split: str = "test", *, device: torch.device | str = "cpu",
                     batch_size: int = 64, seed: int = 0) -> dict[str, float]:
    """Mean alignment error rate (Q29) of a model's attention against the synthetic corpus's gold alignments
    (provided, not a question; ``python -m seq2seq evaluate`` prints it).

    Each reference target word is linked to the source word it attends to most (teacher forcing, so that the
    rows are the reference's words, as the gold links are); ``<sos>``/``<eos>`` are left out on both sides.
    ``chance`` links every target word to a uniformly random source word instead (seeded): what an attention
    that learned nothing would score.

    Returns:
        ``{"aer": mean AER, "chance": mean AER of the random links, "sentences": how many}``.
    """
    gold = data.corpus.alignments[split]
    generator = torch.Generator().manual_seed(seed)
    was_training, ours, chance, k = model.training, [], [], 0
    model.eval()
    try:
        for batch in data.loader(split, batch_size, shuffle=False, bucket=False):  # dataset order, as the gold links
            batch = batch.to(device)
            _, attention = model(batch.src, batch.src_lengths, batch.tgt, 1.0)
            for j in range(batch.src.size(0)):
                m, n = int(batch.src_lengths[j]) - 2, int((batch.tgt[j] != PAD).sum()) - 2  # words only
                rows = attention[j, 1:n + 1, 1:m + 1].float().cpu()
                ours.append(alignment_error_rate(hard_alignment(rows), gold[k]))
                guess = torch.randint(m, (n,), generator=generator).tolist()
                chance.append(alignment_error_rate([(i, t) for t, i in enumerate(guess)], gold[k]))
                k += 1
    finally:
        model.train(was_training)
    return {"aer": sum(ours) / len(ours), "chance": sum(chance) / len(chance), "sentences": k}


def stepwise_attention(model: torch.nn.Module, src: torch.Tensor, src_lengths: torch.Tensor,
                       tgt: torch.Tensor) -> torch.Tensor:
    """Q30 (part a): collect the attention weights step by step, by running the decoder yourself.

    Encode once with ``model.encode(src, src_lengths)``, which returns ``(encoder_outputs, hidden, mask, keys)``.
    Then, for ``t = 1 .. tgt_len - 1``, run one step ``logits, hidden, weights =
    model.decoder.forward_step(tgt[:, t - 1], hidden, encoder_outputs, mask, keys)`` (``forward_step`` returns
    the logits *first*, then the new state; the decoder's ``step`` returns the state first), feeding the gold
    previous token (teacher forcing), and keep each step's ``weights``. Run with dropout off (``model.eval()``)
    and without recording gradients (``torch.no_grad()``), and put the model back in the mode it was in.

    Args:
        model: a ``Seq2Seq`` (only ``encode`` and ``decoder.forward_step`` are used).
        src: ``(batch, src_len)``; src_lengths: ``(batch,)``.
        tgt: ``(batch, tgt_len)``, ``<sos> ... <eos>`` padded with ``PAD``.

    Returns:
        ``(batch, tgt_len - 1, src_len)``: row ``t - 1`` holds the weights used to predict ``tgt[:, t]``. In eval
        mode this equals ``model(src, src_lengths, tgt, 1.0)[1][:, 1:]``, the forward pass's attention.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            encoder_outputs, hidden, mask, keys = model.encode(src, src_lengths)
            rows = []
            for t in range(1, tgt.size(1)):
                _, hidden, weights = model.decoder.forward_step(tgt[:, t - 1], hidden, encoder_outputs, mask, keys)
                rows.append(weights)
            if not rows:
                return encoder_outputs.new_zeros(src.size(0), 0, encoder_outputs.size(1))
            return torch.stack(rows, dim=1)
    finally:
        model.train(was_training)


def attention_movement(weights: torch.Tensor) -> torch.Tensor:
    """Q30 (part b): how far attention moves from one decoding step to the next.

    The total variation distance between consecutive rows, ``0.5 * sum_i |w[t, i] - w[t - 1, i]|`` for
    ``t = 1 .. tgt_len - 1``: 0 when the decoder keeps looking at the same place, 1 when it jumps to source words
    it did not look at before.

    Args:
        weights: ``(tgt_len, src_len)``, each row a distribution.

    Returns:
        ``(tgt_len - 1,)`` float tensor (empty for a single row).
    """
    weights = torch.as_tensor(weights)
    if not weights.is_floating_point():
        weights = weights.float()
    return 0.5 * (weights[1:] - weights[:-1]).abs().sum(dim=-1)


def plot_attention_grid(examples: Sequence[tuple[torch.Tensor, Sequence[str], Sequence[str]]],
                        titles: Sequence[str] | None = None, columns: int = 2) -> Figure:
    """Several heatmaps side by side: ``examples`` holds ``(weights, src_tokens, tgt_tokens)`` triples."""
    rows = (len(examples) + columns - 1) // columns
    widest = max(len(src) for _, src, _ in examples)
    tallest = max(len(tgt) for _, _, tgt in examples)
    fig, axes = plt.subplots(rows, columns, squeeze=False,
                             figsize=(columns * (1.5 + 0.45 * widest), rows * (1.2 + 0.4 * tallest)))
    for index, ax in enumerate(axes.flat):
        if index < len(examples):
            plot_attention(*examples[index], title=titles[index] if titles else None, ax=ax)
        else:
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_losses(steps: Sequence[float], epochs: Sequence[dict[str, float]], smoothed: Sequence[float] = ()
                ) -> Figure:
    """Loss curves: step losses (and their smoothed curve) on the left, train/valid loss per epoch on the right."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(range(1, len(steps) + 1), steps, alpha=0.35, label="step loss")
    if smoothed:
        left.plot(range(1, len(smoothed) + 1), smoothed, label="smoothed")
    left.set(xlabel="optimisation step", ylabel="cross-entropy (nats per token)", title="training loss by step")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps and epochs are counted: no 2.5th epoch
    left.legend()
    numbers = [row["epoch"] for row in epochs]
    right.plot(numbers, [row["train_loss"] for row in epochs], marker="o", label="train")
    right.plot(numbers, [row["valid_loss"] for row in epochs], marker="o", label="valid")
    right.set(xlabel="epoch", ylabel="cross-entropy (nats per token)", title="loss by epoch")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.legend()
    fig.tight_layout()
    return fig


def save(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Save a figure as PNG (folders created) and close it, so long runs do not accumulate open figures."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path
