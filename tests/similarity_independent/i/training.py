"""Section 8, training the model: Q21 (the loss), Q22 (the optimizer), Q23 (one epoch of training) and Q24
(monitoring the loss).

Which positions count: the model's output position ``t >= 1`` predicts ``tgt[:, t]`` and position 0 (the
``<sos>``) is never predicted (see ``seq2seq.model``), so every loss here compares ``logits[:, 1:]`` with
``tgt[:, 1:]`` and ignores ``PAD``.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from seq2seq import PAD


def sequence_loss(logits: Tensor, tgt: Tensor, label_smoothing: float = 0.0) -> Tensor:
    """Q21: the mean cross-entropy per real target token, over shifted targets, padding ignored.

    Output position ``t`` of the model predicts ``tgt[:, t]`` for ``t >= 1``; position 0 (``<sos>``) is never
    predicted. So compare ``logits[:, 1:]`` with ``tgt[:, 1:]``, skip every position where the target is ``PAD``,
    and average over the real (non-PAD) target tokens of the whole batch, not over sentences: a batch of long
    sentences and a batch of short ones then give losses on the same per-token scale (and ``exp`` of it is the
    perplexity).

    Args:
        logits: ``(batch, tgt_len, vocab)`` unnormalised scores, as ``Seq2Seq.forward`` returns them.
        tgt: ``(batch, tgt_len)`` LongTensor, ``<sos> y_1 ... y_n <eos>`` padded with ``PAD``.
        label_smoothing: as ``F.cross_entropy`` defines it (0.0: plain cross-entropy).

    Returns:
        A scalar tensor (float32, differentiable), in nats per target token.
    """
    vocab = logits.size(-1)
    predicted = logits[:, 1:].reshape(-1, vocab).float()
    targets = tgt[:, 1:].reshape(-1).long()
    return F.cross_entropy(predicted, targets, ignore_index=PAD, label_smoothing=label_smoothing,
                           reduction="mean")


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
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    return torch.optim.Adam(trainable, lr=lr, weight_decay=weight_decay)


def perplexity(loss: float) -> float:
    """Q24 (part a): the perplexity of a mean per-token cross-entropy (in nats): ``exp(loss)``.

    Returns ``float("inf")`` when ``exp`` overflows (a diverged loss), and NaN for a NaN loss; never raises.
    """
    loss = float(loss)
    if math.isnan(loss):
        return math.nan
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


def smooth(values: Sequence[float], beta: float = 0.9) -> list[float]:
    """Q24 (part b): an exponential moving average of noisy step losses, bias-corrected.

    ``m_0 = 0``, ``m_t = beta * m_{t-1} + (1 - beta) * x_t`` and the output is ``m_t / (1 - beta**t)`` for
    t = 1..len(values), as Adam corrects its moments: the first output equals the first value instead of
    being pulled towards 0.

    Returns:
        A list as long as ``values`` (empty for empty input).
    """
    smoothed: list[float] = []
    average = 0.0
    for t, value in enumerate(values, start=1):
        average = beta * average + (1 - beta) * float(value)
        correction = 1 - beta ** t
        smoothed.append(average / correction if correction != 0 else float(value))
    return smoothed


def diverged(losses: Sequence[float], factor: float = 3.0) -> bool:
    """Q24 (part c): has training diverged? Decided from the step losses so far, the last one being new.

    * True when the last loss is NaN or infinite (``+inf`` or ``-inf``);
    * otherwise True when it is strictly greater than ``factor`` times the smallest *finite* loss recorded before
      it (a spike far above the best seen so far): exactly ``factor`` times is not divergence, so
      ``diverged([2.0, 6.0])`` is False and ``diverged([2.0, 6.5])`` is True;
    * NaN and infinite losses among the earlier ones are skipped (they cannot be a best): ``diverged([nan, 1.0,
      2.0])`` is False, and a finite last loss with no finite loss before it (``[]``, ``[5.0]``, ``[inf, 5.0]``)
      is not divergence.
    """
    if not losses:
        return False
    last = float(losses[-1])
    if not math.isfinite(last):
        return True
    earlier = [float(x) for x in losses[:-1] if math.isfinite(float(x))]
    if not earlier:
        return False
    return last > factor * min(earlier)


@dataclass
class EarlyStopping:
    """Q24 (part d): stop when the validation loss has not improved for ``patience`` epochs in a row.

    Call :meth:`step` once per epoch with the validation loss. An epoch *improves* when its loss is lower than
    the best so far by more than ``min_delta``: ``valid_loss < best - min_delta``, strictly (a loss equal to the
    best does not improve). ``best`` starts at ``inf``, so the first epoch improves whenever its loss is finite; a
    NaN loss never improves (every comparison with NaN is False), nor does ``inf``, at the first epoch too: such
    an epoch counts as an epoch without improvement, and ``best`` stays as it was. ``best`` holds the best loss,
    ``best_epoch`` its 1-based epoch number (0 until an epoch improves), ``improved`` whether the last call
    improved (save a checkpoint then), and ``bad_epochs`` the epochs in a row without improvement (0 after an
    improving one).

    :meth:`step` returns ``bad_epochs >= patience``: with ``patience=2``, the second epoch in a row without
    improvement stops. ``patience=0`` stops at once: every call returns True, the improving ones included (no
    epoch without improvement is tolerated, and the check comes after each epoch).
    """

    patience: int = 3
    min_delta: float = 0.0
    best: float = math.inf
    best_epoch: int = 0
    improved: bool = False
    epochs: int = 0
    bad_epochs: int = 0

    def step(self, valid_loss: float) -> bool:
        """Record one epoch's validation loss; return True when training should stop now (see the class)."""
        self.epochs += 1
        if valid_loss < self.best - self.min_delta:
            self.best = float(valid_loss)
            self.best_epoch = self.epochs
            self.improved = True
            self.bad_epochs = 0
        else:
            self.improved = False
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience


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


def train_epoch(model: nn.Module, loader: Iterable, optimizer: torch.optim.Optimizer, *, clip: float | None = 1.0,
                teacher_forcing_ratio: float = 1.0, device: torch.device | str | None = None,
                history: History | None = None, progress: bool = False, label_smoothing: float = 0.0) -> float:
    """Q23: train the model for one epoch (one pass over ``loader``); return its mean loss per target token.

    Put the model in training mode (dropout on), then for every batch:

    1. move it to ``device`` (``batch.to(device)``; ``None`` means the device of the model's parameters);
    2. ``logits, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)``;
    3. ``loss = sequence_loss(logits, batch.tgt, label_smoothing)`` (Q21);
    4. log ``loss.item()`` with ``history.log_step`` when a history is given, whatever its value: a NaN or
       infinite loss is logged too, *then* checked. When it is NaN or infinite, raise ``FloatingPointError`` with a
       message that names the step and the loss, before ``zero_grad``, ``backward`` and ``step`` (never train on a
       NaN: one NaN step ruins every weight), so the history ends with the bad loss and the weights are those of
       the step before. Spikes are not judged per step, since batches grouped by length have very different losses
       (short sentences are easier); :func:`diverged` judges the epoch means;
    5. ``optimizer.zero_grad()``, ``loss.backward()``, ``nn.utils.clip_grad_norm_(model.parameters(), clip)``
       (skipped when ``clip`` is None), ``optimizer.step()``;
    6. with ``progress``, show a tqdm bar over the batches with the running loss.

    The returned mean is weighted by tokens: ``sum_b loss_b * n_b / sum_b n_b`` with ``n_b`` the number of
    non-PAD tokens in ``batch.tgt[:, 1:]``, i.e. the mean over every target token of the epoch, not the mean of
    the batch losses (a short last batch would otherwise weigh as much as a full one).

    Args:
        model: a ``Seq2Seq`` (anything called as above returning ``(logits, attention)``).
        loader: yields ``Batch(src, src_lengths, tgt)``.
        optimizer: e.g. :func:`make_optimizer`'s Adam.
        clip: the maximum total gradient norm (``None``: no clipping).
        teacher_forcing_ratio: passed to the model as is.
        device: where to train; ``None``: where the model is.
        history: when given, every step's loss goes into it with ``history.log_step`` (floats; a NaN or
            infinite one too, just before the ``FloatingPointError``).
        progress: show a tqdm progress bar.
        label_smoothing: passed to :func:`sequence_loss`.

    Mixed precision is not this function's business: the command line trains in float32, bfloat16 or float16 with
    this same loop, by handing it a model that runs under autocast and, for float16, an optimizer that does the
    gradient scaling (:mod:`seq2seq.precision`).

    Returns:
        The epoch's mean training loss per target token, a float (nats).

    Raises:
        FloatingPointError: a step's loss was NaN or infinite.
    """
    model.train()
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    batches = tqdm(loader, desc="train", leave=False) if progress else loader
    total, tokens = 0.0, 0
    for number, batch in enumerate(batches, start=1):
        batch = batch.to(device)
        logits, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)
        loss = sequence_loss(logits, batch.tgt, label_smoothing)
        value = loss.item()
        if history is not None:
            history.log_step(value)
        if not math.isfinite(value):
            raise FloatingPointError(f"training step {number} of this epoch gave a non-finite loss ({value}); "
                                     "no update was made with it (try a lower learning rate)")
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        n = int((batch.tgt[:, 1:] != PAD).sum())
        total += value * n
        tokens += n
        if progress:
            batches.set_postfix(loss=f"{total / max(tokens, 1):.3f}")
    return total / tokens if tokens else math.nan
