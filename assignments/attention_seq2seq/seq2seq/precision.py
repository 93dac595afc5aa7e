"""Mixed-precision training around Q23's ``train_epoch`` (provided code, no question).

``train_epoch(model, loader, optimizer, clip=...)`` is the course's loop, and it knows nothing of precision: it
calls the model, computes the loss, calls ``backward``, clips and steps. The command line trains in bfloat16 or
float16 (``amp`` in :class:`seq2seq.config.RunConfig`, resolved by :func:`seq2seq.runner.resolve_amp`) with that
same loop, by handing it stand-ins for the model and the optimizer (:func:`mixed_precision`):

* :class:`AutocastModel` runs the model's forward pass under ``torch.autocast`` and gives the logits back in
  float32, so that the loss (its softmax and its sum) is computed in float32; autocast covers the forward pass
  only, not the backward pass nor the optimizer step, as PyTorch recommends;
* with a ``GradScaler`` (float16 only: float16 gradients underflow without one), the logits' gradient is
  multiplied by the scale as the backward pass starts, as ``scaler.scale(loss).backward()`` would (the loss the
  loop sees and logs is the true one), and :class:`ScaledOptimizer`'s ``step`` unscales the gradients, clips them
  (the loop itself is given ``clip=None``: it would clip the scaled gradients), and calls ``scaler.step`` and
  ``scaler.update``; a step whose gradients overflowed is skipped and the scale lowered.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class _ScaleGradient(torch.autograd.Function):
    """The identity forward; backward multiplies the incoming gradient by the scaler's current scale."""

    @staticmethod
    def forward(ctx: Any, logits: Tensor, scaler: torch.amp.GradScaler) -> Tensor:
        ctx.scaler = scaler
        return logits.view_as(logits)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        return ctx.scaler.scale(grad), None


class AutocastModel(nn.Module):
    """``model`` (a ``Seq2Seq``, or DDP around one) whose forward pass runs under ``torch.autocast(device_type,
    dtype)``; its logits come back in float32, their gradient scaled by ``scaler`` when one is given. Its
    parameters, ``train()`` and ``eval()`` are the model's own."""

    def __init__(self, model: nn.Module, device_type: str, dtype: torch.dtype,
                 scaler: torch.amp.GradScaler | None = None) -> None:
        super().__init__()
        self.model, self.device_type, self.dtype, self.scaler = model, device_type, dtype, scaler

    def forward(self, src: Tensor, src_lengths: Tensor, tgt: Tensor,
                teacher_forcing_ratio: float = 1.0) -> tuple[Tensor, Tensor]:
        with torch.autocast(self.device_type, dtype=self.dtype):
            logits, attention = self.model(src, src_lengths, tgt, teacher_forcing_ratio)
        logits = logits.float()
        if self.scaler is not None:
            logits = _ScaleGradient.apply(logits, self.scaler)
        return logits, attention


class ScaledOptimizer:
    """``optimizer`` as the loop sees it under float16: ``zero_grad`` as usual; ``step`` unscales the gradients
    (``scaler.unscale_``), clips their total norm to ``clip`` (None: no clipping), then ``scaler.step`` (skipped
    when a gradient overflowed) and ``scaler.update``. Anything else is the optimizer's own."""

    def __init__(self, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, clip: float | None) -> None:
        self.optimizer, self.scaler, self.clip = optimizer, scaler, clip

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Any = None) -> None:
        self.scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
        if self.clip is not None:
            nn.utils.clip_grad_norm_([p for group in self.optimizer.param_groups for p in group["params"]], self.clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def __getattr__(self, name: str) -> Any:
        if name == "optimizer":  # not set yet (copy, pickle): never look it up in itself
            raise AttributeError(name)
        return getattr(self.optimizer, name)


def mixed_precision(model: nn.Module, optimizer: torch.optim.Optimizer, clip: float | None,
                    device: torch.device | str, dtype: torch.dtype | None,
                    scaler: torch.amp.GradScaler | None = None) -> tuple[nn.Module, Any, float | None]:
    """What to give ``train_epoch`` to train in ``dtype`` on ``device``: ``(model, optimizer, clip)``.

    ``dtype`` None (float32): the three as they are. Otherwise the model under autocast (:class:`AutocastModel`);
    with a ``scaler`` also the :class:`ScaledOptimizer` around ``optimizer``, which clips, and ``clip=None``.
    """
    if dtype is None:
        return model, optimizer, clip
    device_type = torch.device(device).type
    if scaler is None:
        return AutocastModel(model, device_type, dtype), optimizer, clip
    return AutocastModel(model, device_type, dtype, scaler), ScaledOptimizer(optimizer, scaler, clip), None
