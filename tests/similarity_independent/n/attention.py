"""Section 5, building the attention mechanism: Q12–Q14.

Q12  attention weights from scores: a softmax over the source positions that gives padding exactly zero weight;
Q13  the score functions ``dot``, ``general``, ``scaled_dot`` and ``additive``, with the key projection computed
     once per batch (``precompute``) rather than at every decoding step;
Q14  the context vector: the attention-weighted sum of the encoder states.

Shapes: ``query`` is the decoder state ``(batch, dec_hidden)``; ``encoder_outputs`` are the encoder states
``(batch, src_len, enc_hidden)``; ``mask`` is a bool tensor ``(batch, src_len)``, True at real source tokens and
False at padding (``src != PAD``); ``keys`` are what ``precompute`` makes of the encoder states,
``(batch, src_len, key_dim)``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

METHODS = ("dot", "general", "scaled_dot", "additive")


def masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """Q12: turn attention scores into weights that ignore padding.

    This is the one place where padding is masked. Set the scores of padded positions to ``-inf`` (or
    ``torch.finfo(scores.dtype).min``) *before* the softmax, then take the softmax over the source positions
    (the last axis). Masking after the softmax would leave rows that no longer sum to 1.

    Args:
        scores: ``(batch, src_len)`` raw scores (any leading dimensions work the same way, ``(..., src_len)``).
        mask: bool, the same shape as ``scores``; True at real tokens. Every row has at least one True.

    Returns:
        Weights of the same shape: every row sums to 1, padded positions are exactly 0, and the real positions
        hold the softmax of their scores. Finite for large scores (e.g. 1e4).
    """
    mask = mask.bool()
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    # Exact zeros at padding (already so where a row has a real position; this also keeps a row without any real
    # position, which the callers never pass, free of NaN).
    return weights.masked_fill(~mask, 0.0)


class Attention(nn.Module):
    """Scores the encoder states against the decoder state and returns their weighted sum."""

    def __init__(self, method: str, enc_hidden: int, dec_hidden: int, attn_dim: int | None = None) -> None:
        """Q13 (part a): the layers of each score function. ``s`` is the query, ``h`` an encoder state.

        =============  ============================  ==========================================================
        method         score ``e(s, h)``             layers (all ``bias=False``; attribute names are graded)
        =============  ============================  ==========================================================
        ``dot``        ``s · k(h)``                  ``key_layer = nn.Linear(enc_hidden, dec_hidden)`` only when
                                                     ``enc_hidden != dec_hidden``; otherwise no layer at all
                                                     (no parameters) and ``k(h) = h``
        ``scaled_dot`` ``s · k(h) / sqrt(d)``        as ``dot``; ``d = dec_hidden``, the length of the vectors
                                                     in the dot product
        ``general``    ``s · (W h)``                 ``key_layer = nn.Linear(enc_hidden, dec_hidden)`` (W)
        ``additive``   ``v · tanh(W s + U h)``       ``key_layer = nn.Linear(enc_hidden, attn_dim)`` (U),
                                                     ``query_layer = nn.Linear(dec_hidden, attn_dim)`` (W),
                                                     ``energy_layer = nn.Linear(attn_dim, 1)`` (v)
        =============  ============================  ==========================================================

        Args:
            method: one of ``METHODS`` (anything else: ``ValueError``).
            enc_hidden: size of an encoder state.
            dec_hidden: size of the decoder state (the query).
            attn_dim: size of the additive attention's hidden layer; ``None`` means ``dec_hidden``.

        Keep ``self.method`` (the string). No other parameters. Where the table says no layer, the reference
        sets no ``key_layer`` attribute at all; ``self.key_layer = None`` is graded the same, provided that your
        :meth:`precompute` treats ``None`` as no layer (the reference's treats both alike).
        """
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown attention method {method!r}: use one of {METHODS}")
        self.method = method
        self.enc_hidden, self.dec_hidden = enc_hidden, dec_hidden
        self.attn_dim = dec_hidden if attn_dim is None else attn_dim
        if method in ("dot", "scaled_dot"):
            if enc_hidden != dec_hidden:  # the dot product needs vectors of one size: project the states
                self.key_layer = nn.Linear(enc_hidden, dec_hidden, bias=False)
        elif method == "general":
            self.key_layer = nn.Linear(enc_hidden, dec_hidden, bias=False)
        else:  # additive
            self.key_layer = nn.Linear(enc_hidden, self.attn_dim, bias=False)
            self.query_layer = nn.Linear(dec_hidden, self.attn_dim, bias=False)
            self.energy_layer = nn.Linear(self.attn_dim, 1, bias=False)

    def precompute(self, encoder_outputs: Tensor) -> Tensor:
        """Q13 (part b): the keys, computed once per batch because they do not depend on the decoding step.

        Args:
            encoder_outputs: ``(batch, src_len, enc_hidden)``.

        Returns:
            ``(batch, src_len, key_dim)``: ``key_layer(encoder_outputs)`` when there is a ``key_layer``
            (``key_dim`` is ``dec_hidden``, or ``attn_dim`` for ``additive``), else (no ``key_layer``, or
            ``None``) the encoder outputs themselves, ``key_dim = enc_hidden``.
        """
        key_layer = getattr(self, "key_layer", None)
        if key_layer is None:
            return encoder_outputs
        return key_layer(encoder_outputs)

    def score(self, query: Tensor, keys: Tensor) -> Tensor:
        """Q13 (part c): the raw scores ``e(s, h)`` of the table above, for every source position, unmasked.

        Args:
            query: ``(batch, dec_hidden)``, the decoder state.
            keys: ``(batch, src_len, key_dim)`` from :meth:`precompute`.

        Returns:
            ``(batch, src_len)`` scores, no softmax, no mask.
        """
        if self.method == "additive":
            energy = torch.tanh(self.query_layer(query).unsqueeze(1) + keys)  # (batch, src_len, attn_dim)
            return self.energy_layer(energy).squeeze(-1)
        scores = torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)  # (batch, src_len): s · k(h_i)
        if self.method == "scaled_dot":
            scores = scores / math.sqrt(self.dec_hidden)
        return scores

    def forward(self, query: Tensor, encoder_outputs: Tensor, mask: Tensor,
                keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Q14: attend: score, mask, normalise, and sum the encoder states.

        Use :meth:`score` on ``keys`` (computed with :meth:`precompute` when not given), :func:`masked_softmax`
        for the weights, and the weighted sum of the *encoder outputs* (not of the keys) for the context.

        Args:
            query: ``(batch, dec_hidden)``.
            encoder_outputs: ``(batch, src_len, enc_hidden)``.
            mask: ``(batch, src_len)`` bool, True at real tokens.
            keys: ``(batch, src_len, key_dim)`` from ``precompute(encoder_outputs)``, or None.

        Returns:
            ``(context, weights)``: ``context`` ``(batch, enc_hidden)`` with
            ``context[b] = sum_i weights[b, i] * encoder_outputs[b, i]``; ``weights`` ``(batch, src_len)``.
        """
        if keys is None:
            keys = self.precompute(encoder_outputs)
        weights = masked_softmax(self.score(query, keys), mask)
        context = torch.bmm(weights.unsqueeze(1).to(encoder_outputs.dtype), encoder_outputs).squeeze(1)
        return context, weights
