"""Section 8, training the model: Q22 (optimizer) and Q24 (monitoring the loss).

Q21 (the loss over shifted targets) and Q23 (the training loop) build on the model section and join this
module with it.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn


def make_optimizer(model: nn.Module, lr: float = 1e-3, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Q22: an Adam optimizer over every trainable parameter of the model, each exactly once.

    The seq2seq model holds the encoder and the decoder as submodules, so ``model.parameters()`` already yields
    both; listing ``encoder.parameters()`` and ``model.parameters()`` together would hand Adam the encoder
    twice (two updates per step). Frozen parameters (``requires_grad=False``) are left out.

    Args:
        model: any ``nn.Module``, typically the whole seq2seq model.
        lr: the learning rate.
        weight_decay: L2 penalty, as ``torch.optim.Adam`` defines it.

    Returns:
        A ``torch.optim.Adam`` with that learning rate and weight decay.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def perplexity(loss: float) -> float:
    """Q24 (part a): the perplexity of a mean per-token cross-entropy (in nats): ``exp(loss)``.

    Returns ``float("inf")`` when ``exp`` overflows (a diverged loss), and NaN for a NaN loss; never raises.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def smooth(values: Sequence[float], beta: float = 0.9) -> list[float]:
    """Q24 (part b): an exponential moving average of noisy step losses, bias-corrected.

    ``m_0 = 0``, ``m_t = beta * m_{t-1} + (1 - beta) * x_t`` and the output is ``m_t / (1 - beta**t)`` for
    t = 1..len(values), as Adam corrects its moments: the first output equals the first value instead of
    being pulled towards 0.

    Returns:
        A list as long as ``values`` (empty for empty input).
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def diverged(losses: Sequence[float], factor: float = 3.0) -> bool:
    """Q24 (part c): has training diverged? Decided from the step losses so far, the last one being new.

    True when the last loss is NaN or infinite, or when it exceeds ``factor`` times the smallest loss
    recorded *before* it (a spike far above the best seen so far). False for an empty list and for a single
    finite loss.
    """
    # YOUR CODE HERE
    raise NotImplementedError()


@dataclass
class EarlyStopping:
    """Q24 (part d): stop when the validation loss has not improved for ``patience`` epochs in a row.

    Call :meth:`step` once per epoch with the validation loss. An epoch *improves* when its loss is lower than
    the best so far by more than ``min_delta`` (the first epoch always improves). ``best`` holds the best loss,
    ``best_epoch`` its 1-based epoch number, and ``improved`` whether the last call improved (save a
    checkpoint then).
    """

    patience: int = 3
    min_delta: float = 0.0
    best: float = math.inf
    best_epoch: int = 0
    improved: bool = False
    epochs: int = 0
    bad_epochs: int = 0

    def step(self, valid_loss: float) -> bool:
        """Record one epoch's validation loss; return True when training should stop now."""
        # YOUR CODE HERE
        raise NotImplementedError()


@dataclass
class History:
    """Losses recorded during training: one entry per optimisation step, one row per epoch."""

    steps: list[float] = field(default_factory=list)
    epochs: list[dict[str, float]] = field(default_factory=list)

    def log_step(self, loss: float) -> None:
        self.steps.append(float(loss))

    def log_epoch(self, train_loss: float, valid_loss: float, **extra: float) -> None:
        """One epoch's mean losses (and any extra figures such as BLEU or seconds)."""
        self.epochs.append({"epoch": len(self.epochs) + 1, "train_loss": train_loss, "valid_loss": valid_loss,
                            "train_ppl": perplexity(train_loss), "valid_ppl": perplexity(valid_loss), **extra})

    def to_csv(self, path: str | Path) -> None:
        """Write the epoch rows as CSV (a header, then one line per epoch)."""
        columns = list(dict.fromkeys(key for row in self.epochs for key in row))
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.epochs)
