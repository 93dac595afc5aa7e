"""Faster decoding on the CPU: the decoder's layers, run by oneDNN with their weights packed once.

A decoding step multiplies a few hundred rows at most by the decoder's weights: the GRU cell's two products
(``[embedded; context] -> 3 * dec_hidden`` and ``s_{t-1} -> 3 * dec_hidden``) and the output layer
(``[s_t; c_t] -> vocab``), which take nearly all of a step's time. oneDNN multiplies such small batches faster
than the default BLAS when the weights are first reordered into its blocked layout (``_reorder_linear_weight``)
and kept that way for all the steps (``_linear_pointwise``, the kernel ``torch.compile`` uses for linear layers on
the CPU). The README's "Model and decoding" gives the figures, from ``benchmarks/decode_speed.py``.

:func:`packed_decoder` swaps the decoder's ``out`` (an ``nn.Linear``) and ``rnn`` (a one-layer ``nn.GRU``) for
:class:`PackedLinear` and :class:`PackedGRU` for the duration of a search and puts the originals back after. In
float32 the results are the same products in another order: they differ from the originals by rounding only
(~1e-6). Under the CPU's bfloat16 autocast, on a CPU that multiplies bfloat16 natively (:func:`bf16_native`), the
products run in bfloat16 with weights packed in bfloat16, as autocast would run ``nn.Linear``, without casting the
weights again at every step. Anything else (float16 autocast, another device or dtype, a GRU with more layers or
directions, a call with other arguments, gradients on) runs the original layer unchanged: the packed products
have no backward.
"""
from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator

import torch
from torch import Tensor, nn


def available() -> bool:
    """True when this PyTorch can run the packed oneDNN products (x86 builds with oneDNN)."""
    return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight"))


def bf16_native() -> bool:
    """True when oneDNN multiplies bfloat16 natively on this CPU (AVX512-BF16 or AMX); emulated, it is slower
    than float32."""
    return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


# (id(weight), dtype) -> (a weak reference to the weight, its version, the packed copy). Packing the output layer
# takes ~9 ms, as long as a few decoding steps: a model decoded batch after batch packs each weight once, and
# again only after a change in place (training). An entry goes with its weight.
_PACKED: dict[tuple[int, torch.dtype], tuple[weakref.ref, int, Tensor]] = {}


def _pack(weight: Tensor, rows: int, dtype: torch.dtype) -> Tensor:
    key = (id(weight), dtype)
    cached = _PACKED.get(key)
    if cached is None or cached[0]() is not weight or cached[1] != weight._version:
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach().to(dtype), rows)
        cached = (weakref.ref(weight, lambda _, key=key: _PACKED.pop(key, None)), weight._version, packed)
        _PACKED[key] = cached
    return cached[2]


def compute_dtype(x: Tensor) -> torch.dtype | None:
    """The dtype the packed products run in for an input like ``x``, or None where the original layer must run.

    float32 without autocast; bfloat16 under the CPU's bfloat16 autocast where :func:`bf16_native` (the products
    then take bfloat16 inputs and weights, as autocast's own ``linear`` would, and accumulate in float32).
    """
    if x.device.type != "cpu" or torch.is_grad_enabled():
        return None
    if not torch.is_autocast_enabled("cpu"):
        return torch.float32 if x.dtype == torch.float32 else None
    lower = torch.get_autocast_dtype("cpu") == torch.bfloat16 and x.dtype in (torch.float32, torch.bfloat16)
    return torch.bfloat16 if lower and bf16_native() else None


class _ReadsThrough(nn.Module):
    """A stand-in whose attributes it lacks are the ``original`` layer's (e.g. ``rnn.hidden_size``)."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["original"], name)


class _Packed(nn.Module):
    """One weight matrix ``(out, in)`` in oneDNN's layout, with its bias; ``self(x, dtype)`` is ``x @ W.T + b``
    computed in ``dtype`` (float32 or bfloat16; the weight is packed once per dtype and version)."""

    def __init__(self, weight: Tensor, bias: Tensor | None, rows: int) -> None:
        super().__init__()
        self.rows, self.shape = rows, weight.shape
        self.source = (weight, None if bias is None else bias.detach())  # a tuple: not registered as parameters

    def forward(self, x: Tensor, dtype: torch.dtype) -> Tensor:
        weight, bias = self.source
        flat = x.reshape(-1, x.size(-1)).to(dtype).contiguous()
        bias = None if bias is None else bias.to(dtype)
        y = torch.ops.mkldnn._linear_pointwise(flat, _pack(weight, self.rows, dtype), bias, "none", [], "")
        return y.view(*x.shape[:-1], self.shape[0])


class PackedLinear(_ReadsThrough):
    """An ``nn.Linear`` whose product runs through :class:`_Packed`; its attributes stay readable."""

    def __init__(self, linear: nn.Linear, rows: int = 128) -> None:
        super().__init__()
        self.original = linear
        self.packed = _Packed(linear.weight, linear.bias, rows)

    def forward(self, x: Tensor) -> Tensor:
        dtype = compute_dtype(x)
        return self.original(x) if dtype is None else self.packed(x, dtype)


class PackedGRU(_ReadsThrough):
    """A one-layer, one-direction ``nn.GRU`` called with an explicit state, its products through :class:`_Packed`.

    The same equations as ``nn.GRU`` (gates in the order r, z, n; ``b_hn`` inside the reset gate's product)::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h

    Input ``(batch, steps, in)`` (``batch_first``) or ``(steps, batch, in)``, state ``(1, batch, hidden)``; the
    input's projection is one product for all steps, the state's one per step. Under bfloat16 autocast only the
    products are bfloat16: the gates and the state stay float32, so rounding does not pile up over the steps.
    """

    def __init__(self, gru: nn.GRU, rows: int = 128) -> None:
        super().__init__()
        self.original = gru
        self.input_product = _Packed(gru.weight_ih_l0, gru.bias_ih_l0, rows)
        self.state_product = _Packed(gru.weight_hh_l0, gru.bias_hh_l0, rows)

    @staticmethod
    def usable(gru: object) -> bool:
        return (type(gru) is nn.GRU and gru.num_layers == 1 and not gru.bidirectional and gru.bias
                and getattr(gru, "proj_size", 0) == 0 and compute_dtype(gru.weight_ih_l0) is not None)

    def forward(self, x: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        dtype = compute_dtype(x)
        if hx is None or x.dim() != 3 or hx.dim() != 3 or dtype is None:
            return self.original(x, hx)
        if not self.original.batch_first:
            x = x.transpose(0, 1)
        inputs = self.input_product(x, dtype).float()                     # (batch, steps, 3 * hidden)
        h, outputs = hx[0].float(), []
        for step in range(x.size(1)):
            i_r, i_z, i_n = inputs[:, step].chunk(3, dim=-1)
            h_r, h_z, h_n = self.state_product(h, dtype).float().chunk(3, dim=-1)
            r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
            n = torch.tanh(i_n + r * h_n)
            h = n + z * (h - n)                                            # (1 - z) * n + z * h
            outputs.append(h)
        output = torch.stack(outputs, dim=1)
        return (output if self.original.batch_first else output.transpose(0, 1)), h.unsqueeze(0)


@contextlib.contextmanager
def packed_decoder(model: nn.Module, rows: int = 128) -> Iterator[None]:
    """Within the block, ``model.decoder.out`` and ``.rnn`` run packed (where :func:`available` and usable).

    ``rows``: the batch size the weights are laid out for (a hint to oneDNN; any batch size works).
    """
    decoder = getattr(model, "decoder", None)
    swapped = {}
    if available() and decoder is not None:
        out, rnn = getattr(decoder, "out", None), getattr(decoder, "rnn", None)
        if type(out) is nn.Linear and compute_dtype(out.weight) is not None:
            swapped["out"] = out
        if PackedGRU.usable(rnn):
            swapped["rnn"] = rnn
    try:
        for name, layer in swapped.items():
            setattr(decoder, name, PackedLinear(layer, rows) if name == "out" else PackedGRU(layer, rows))
        yield
    finally:
        for name, layer in swapped.items():
            setattr(decoder, name, layer)
