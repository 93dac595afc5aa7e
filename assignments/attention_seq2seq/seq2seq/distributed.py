"""Training on several processes (provided code, no question): ``torchrun`` and DistributedDataParallel.

    torchrun --nproc-per-node N -m seq2seq train [the usual flags]    # N processes; NCCL on CUDA, gloo on the CPU

Under ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``) :func:`processes` starts a process
group; without it, it gives a group of one process and the run is the plain one. How the N processes train the
model one process would train, step for step:

* The batches. Every process builds the same data and sampler, so every epoch's seeded order gives each process
  the same list of batches of ``batch_size`` sentences, the batches one process would see. Process ``r`` takes
  sentences ``r, r + N, r + 2N, ...`` of every batch (:class:`ShardSampler`; a batch is sorted by length, so the N
  shards are alike). One optimisation step is still one batch: ``batch_size`` is the global batch.
* The gradient. Q23's ``train_epoch`` averages the loss over its shard's target tokens, and DDP averages the N
  processes' gradients. With ``n_r`` the tokens of shard ``r`` and ``n`` the batch's, the mean of the per-shard
  means is not the mean over the batch's tokens (a shard of long sentences would count as much as one of short
  ones). So each process's output goes through :class:`TokenWeighted`, whose backward multiplies the gradient
  by ``N * n_r / n`` (``n`` from one all-reduce of an integer per step); DDP's average is then
  ``sum_r (n_r / n) * grad(shard r's mean) = grad(the batch's per-token mean)``: one process's gradient. Clipping
  comes after DDP's all-reduce, on that same gradient, in every process alike.
* The logged losses. Each process logs its shard's mean; after the epoch one all-reduce turns them into each
  batch's ``sum_r n_r * loss_r / n``, and the epoch's loss is the token-weighted mean of those, as
  ``train_epoch`` computes it in one process.
* Process 0 alone evaluates the validation split, prints, and writes ``log.csv`` and the checkpoints (the
  unwrapped model's weights, as one process writes them); the others wait for its figures
  (:meth:`Processes.from_main`, a broadcast), so that every process keeps the same history and stops together.
* Randomness: dropout and teacher forcing draw from torch's generator, which each process reseeds at every epoch
  with ``(seed, epoch, rank)``: the processes draw different masks, and a resumed run draws what it would have.
  So only a run without them (dropout 0, teacher forcing 1) repeats one process's run to float rounding
  (``tests/test_distributed.py``); with them, the N processes' draws are other draws of the same distribution.
* ``--resume``: every process reads ``last.pt``.
* A NaN loss raises ``FloatingPointError`` in the process that met it; torchrun then stops the others.

A batch with fewer sentences than processes (only an epoch's last, smaller batch can be one) joins the batch
next to it in the epoch's order, so that every process has sentences at every step. ``batch_size`` must be at
least N.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.utils.data import DataLoader, Sampler

from seq2seq import PAD

T = TypeVar("T")


class ShardSampler(Sampler[list[int]]):
    """Process ``rank``'s share of every batch of ``sampler`` (a :class:`seq2seq.data.BucketBatchSampler`):
    sentences ``rank, rank + world_size, ...``. ``batches`` holds the current epoch's whole batches, in order
    (every process knows them all: the token counts of every shard come from them)."""

    def __init__(self, sampler: Any, rank: int, world_size: int) -> None:
        if sampler.batch_size < world_size:
            raise ValueError(f"batch_size {sampler.batch_size} is smaller than the {world_size} processes: every "
                             "process needs a sentence of every batch")
        self.sampler, self.rank, self.world_size = sampler, rank, world_size
        self.batches: list[list[int]] = []

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.sampler)  # one fewer when a small last batch joins another (a progress bar's total only)

    def __iter__(self) -> Iterator[list[int]]:
        # A generator, as the sampler's: the DataLoader may call iter() more than once before it draws a batch,
        # and only a draw may start an epoch (and advance the sampler's epoch counter).
        self.batches = []
        for batch in self.sampler:
            if self.batches and min(len(batch), len(self.batches[-1])) < self.world_size:
                self.batches[-1] = self.batches[-1] + batch  # a batch too small to share joins its neighbour
            else:
                self.batches.append(batch)
        if self.batches and len(self.batches[-1]) < self.world_size:
            raise ValueError(f"{sum(map(len, self.batches))} sentences cannot be shared by {self.world_size} processes")
        for batch in self.batches:
            yield batch[self.rank::self.world_size]

    def tokens(self, lengths: Sequence[tuple[int, int]]) -> tuple[list[int], list[int]]:
        """``(this process's, all processes')`` target tokens per step of the last epoch, counted as the loss
        counts them (``tgt[:, 1:]`` without PAD: the target length less one), from ``(src_len, tgt_len)``
        ``lengths``."""
        mine = [sum(lengths[i][1] - 1 for i in batch[self.rank::self.world_size]) for batch in self.batches]
        return mine, [sum(lengths[i][1] - 1 for i in batch) for batch in self.batches]


class _ScaleGradient(torch.autograd.Function):
    """The identity forward; the backward multiplies the gradient by ``scale``."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, scale: Tensor) -> Tensor:
        ctx.save_for_backward(scale)
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        (scale,) = ctx.saved_tensors
        return grad * scale.to(grad.dtype), None


class TokenWeighted(nn.Module):
    """A ``Seq2Seq`` whose training gradient is weighted by its shard's share of the batch's target tokens
    (``world_size * n_r / n``, see the module docstring); the forward's values are the model's own."""

    def __init__(self, model: nn.Module, world_size: int) -> None:
        super().__init__()
        self.model, self.world_size = model, world_size

    def forward(self, src: Tensor, src_lengths: Tensor, tgt: Tensor,
                teacher_forcing_ratio: float = 1.0) -> tuple[Tensor, Tensor]:
        logits, attention = self.model(src, src_lengths, tgt, teacher_forcing_ratio)
        if not torch.is_grad_enabled():
            return logits, attention
        tokens = (tgt[:, 1:] != PAD).sum()
        total = tokens.clone()
        dist.all_reduce(total)  # every process at every step, in the same order: DDP's processes run in lockstep
        return _ScaleGradient.apply(logits, self.world_size * tokens / total), attention


class Processes:
    """The processes of one run: ``rank`` of ``world_size`` (0 of 1 without torchrun, where every method is
    the plain one-process behaviour)."""

    def __init__(self, rank: int = 0, world_size: int = 1, local_rank: int = 0) -> None:
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """Each process's own GPU (``cuda:LOCAL_RANK``) when the run is on CUDA."""
        return torch.device("cuda", self.local_rank) if self.active and device.type == "cuda" else device

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """The model to train: DDP over :class:`TokenWeighted` under torchrun, else the model itself."""
        if not self.active:
            return model
        ids = [device.index] if device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(TokenWeighted(model, self.world_size), device_ids=ids)

    def shard(self, loader: DataLoader) -> DataLoader:
        """``loader`` with a :class:`ShardSampler` over its batch sampler (the loader itself in one process)."""
        if not self.active:
            return loader
        return DataLoader(loader.dataset, batch_sampler=ShardSampler(loader.batch_sampler, self.rank, self.world_size),
                          collate_fn=loader.collate_fn, pin_memory=loader.pin_memory)

    def seed_epoch(self, seed: int, epoch: int) -> None:
        """Reseed torch's generator for ``epoch`` with ``(seed, epoch, rank)`` (under torchrun only)."""
        if self.active:
            torch.manual_seed(seed + 1_000_003 * epoch + self.rank)

    def combine(self, step_losses: list[float], epoch_loss: float, loader: DataLoader,
                device: torch.device, first: int = 0) -> tuple[list[float], float]:
        """The epoch's step losses and mean loss per target token over the whole batches, from this process's
        ``train_epoch`` figures on its shards (one all-reduce); in one process, the figures as they are.
        ``first``: the epoch's batches skipped before these steps (a run resumed within an epoch, or stopped
        early: :mod:`seq2seq.stopping`)."""
        if not self.active:
            return step_losses, epoch_loss
        sampler: ShardSampler = loader.batch_sampler
        mine, total = sampler.tokens(loader.dataset.lengths())
        mine, total = mine[first:first + len(step_losses)], total[first:first + len(step_losses)]
        weighted = torch.tensor([loss * n for loss, n in zip(step_losses, mine)], dtype=torch.float64, device=device)
        dist.all_reduce(weighted)
        steps = [float(w) / n for w, n in zip(weighted.tolist(), total)]
        return steps, sum(weighted.tolist()) / sum(total)

    def from_main(self, compute: Callable[[], T]) -> T:
        """``compute()`` run by process 0 alone, its result handed to every process (a broadcast, where the
        others wait for it)."""
        if not self.active:
            return compute()
        box = [compute() if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def _from_environment() -> tuple[int, int, int] | None:
    """``(rank, world_size, local_rank)`` set by torchrun, or None when the variables are not all there."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    if not all(name in os.environ for name in names):
        return None
    return tuple(int(os.environ[name]) for name in names)


@contextlib.contextmanager
def processes(device: torch.device) -> Iterator[Processes]:
    """The run's :class:`Processes`: under torchrun with more than one process, a process group (NCCL when
    ``device`` is CUDA, else gloo) started here and destroyed on the way out, also after an error."""
    found = _from_environment()
    if found is None or found[1] == 1:
        yield Processes()
        return
    group = Processes(*found)
    if device.type == "cuda":
        torch.cuda.set_device(group.local_rank)
    started_here = not dist.is_initialized()
    if started_here:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        yield group
    finally:
        if started_here:
            dist.destroy_process_group()
