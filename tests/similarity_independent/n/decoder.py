"""Section 6, building the decoder with attention: Q15–Q17.

Q15  the decoder's layers, with an attention module inside;
Q16  one decoding step: attend with the previous state, feed ``[embedded previous token; context]`` to the GRU;
Q17  from ``[s_t; c_t]`` to scores over the target vocabulary (``nn.Linear``) and to probabilities (softmax).

Every decoder here has the same interface, which ``model.Seq2Seq`` and ``search`` rely on:

* ``precompute(encoder_outputs) -> keys``, once per batch;
* ``step(prev_tokens, hidden, encoder_outputs, mask, keys) -> (hidden, context, weights)``;
* ``project(hidden, context) -> logits``, for one step or for all steps at once;
* ``forward_step(...) -> (logits, hidden, weights)``, the two together.

Mind the two orders: ``step`` returns the new state first and ``forward_step`` the logits first, with the state
second. Both orders are part of the graded interface (``Seq2Seq.forward`` unpacks ``step``; the searches and
``visualisation.stepwise_attention`` unpack ``forward_step``).

``VanillaDecoder``, the decoder *without* attention for the comparison in Q27, is the same network with a fixed
context: the average of the encoder states, one vector per sentence for every step.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seq2seq import PAD
from seq2seq.attention import masked_softmax


class AttentionDecoder(nn.Module):
    """A GRU decoder that attends to the encoder states at every step (Bahdanau et al., 2015)."""

    def __init__(self, vocab_size: int, emb_dim: int, enc_hidden: int, dec_hidden: int, attention: nn.Module,
                 dropout: float = 0.0) -> None:
        """Q15: define the decoder's layers.

        Args:
            vocab_size: size of the target vocabulary.
            emb_dim: size of a target token embedding.
            enc_hidden: size of an encoder state (and so of the context vector).
            dec_hidden: size of the decoder state ``s_t``.
            attention: the attention module (e.g. ``Attention("additive", enc_hidden, dec_hidden)``), called as
                ``attention(query, encoder_outputs, mask, keys) -> (context, weights)`` and
                ``attention.precompute(encoder_outputs) -> keys``.
            dropout: dropout probability on the embedded tokens.

        Create exactly these attributes (the graders copy weights into them by name):

        ================  ===================================================================================
        attribute         layer
        ================  ===================================================================================
        ``embedding``     ``nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)``
        ``attention``     the given module, stored as it is
        ``rnn``           ``nn.GRU(emb_dim + enc_hidden, dec_hidden, batch_first=True)``: one layer, its input
                          is ``[embedded previous token; context]``
        ``out``           ``nn.Linear(dec_hidden + enc_hidden, vocab_size)`` (with bias), applied to ``[s_t; c_t]``
        ``dropout``       ``nn.Dropout(dropout)``
        ================  ===================================================================================
        """
        super().__init__()
        self.vocab_size, self.emb_dim = vocab_size, emb_dim
        self.enc_hidden, self.dec_hidden = enc_hidden, dec_hidden
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.attention = attention
        self.rnn = nn.GRU(emb_dim + enc_hidden, dec_hidden, batch_first=True)
        self.out = nn.Linear(dec_hidden + enc_hidden, vocab_size)
        self.dropout = nn.Dropout(dropout)

    def precompute(self, encoder_outputs: Tensor) -> Tensor:
        """The attention keys ``(batch, src_len, key_dim)``, once per batch (see ``Attention.precompute``)."""
        return self.attention.precompute(encoder_outputs)

    def step(self, prev_tokens: Tensor, hidden: Tensor, encoder_outputs: Tensor, mask: Tensor,
             keys: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Q16: one decoding step, for the whole batch at once.

        1. embed ``prev_tokens`` and apply ``self.dropout``;
        2. attend with the *previous* state as the query: ``context, weights = self.attention(hidden,
           encoder_outputs, mask, keys)``;
        3. run ``self.rnn`` for one time step on ``[embedded; context]`` (in that order) from ``hidden``.

        Shapes around the GRU: ``batch_first=True`` applies to its input and output sequences only, never to its
        state, which ``nn.GRU`` takes and returns as ``(num_layers, batch, dec_hidden)``, here
        ``(1, batch, dec_hidden)``. So the reference feeds the input as one time step,
        ``(batch, 1, emb_dim + enc_hidden)``, passes ``hidden.unsqueeze(0)`` (made contiguous: cuDNN requires it)
        and squeezes the new state back to ``(batch, dec_hidden)``; ``hidden`` is ``(batch, dec_hidden)`` on both
        sides of this method.

        Args:
            prev_tokens: ``(batch,)`` the previous target tokens (``SOS`` at the first step).
            hidden: ``(batch, dec_hidden)`` the previous state ``s_{t-1}``.
            encoder_outputs: ``(batch, src_len, enc_hidden)``.
            mask: ``(batch, src_len)`` bool, True at real source tokens.
            keys: ``(batch, src_len, key_dim)`` from :meth:`precompute`.

        Returns:
            ``(hidden, context, weights)``, in this order (:meth:`forward_step`'s differs: logits first): the new
            state ``s_t`` ``(batch, dec_hidden)``, the context ``c_t`` ``(batch, enc_hidden)`` and the attention
            weights ``(batch, src_len)`` used for it.
        """
        embedded = self.dropout(self.embedding(prev_tokens))                   # (batch, emb_dim)
        context, weights = self.attention(hidden, encoder_outputs, mask, keys)  # query: s_{t-1}
        rnn_input = torch.cat([embedded, context.to(embedded.dtype)], dim=-1).unsqueeze(1)  # (batch, 1, emb + enc)
        output, new_hidden = self.rnn(rnn_input, hidden.unsqueeze(0).contiguous())
        return new_hidden.squeeze(0), context, weights

    def project(self, hidden: Tensor, context: Tensor) -> Tensor:
        """Q17 (part a): scores over the target vocabulary, ``out([s_t; c_t])``, in that order.

        Works for one step, ``(batch, dec_hidden)`` and ``(batch, enc_hidden)``, and for all steps at once,
        ``(batch, tgt_len, dec_hidden)`` and ``(batch, tgt_len, enc_hidden)`` (one matrix product for all steps
        instead of one per step).

        Returns:
            Logits ``(..., vocab_size)``: unnormalised; :func:`token_probabilities` turns them into probabilities.
        """
        return self.out(torch.cat([hidden, context.to(hidden.dtype)], dim=-1))

    def forward_step(self, prev_tokens: Tensor, hidden: Tensor, encoder_outputs: Tensor, mask: Tensor,
                     keys: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """One step to logits: :meth:`step`, then :meth:`project`; ``keys`` computed here when not given.

        Returns:
            ``(logits, hidden, weights)``, in this order (:meth:`step`'s differs: state first): ``(batch, vocab)``,
            the new state ``(batch, dec_hidden)`` and the attention weights ``(batch, src_len)``.
        """
        if keys is None:
            keys = self.precompute(encoder_outputs)
        hidden, context, weights = self.step(prev_tokens, hidden, encoder_outputs, mask, keys)
        return self.project(hidden, context), hidden, weights


def token_probabilities(logits: Tensor, log: bool = False) -> Tensor:
    """Q17 (part b): the distribution over the next token.

    Args:
        logits: ``(..., vocab_size)`` from :meth:`AttentionDecoder.project`.
        log: return log-probabilities instead (for losses and beam search). Compute them directly
            (``log_softmax``), not as ``log(softmax(...))``, which gives ``-inf`` once a probability underflows.

    Returns:
        The same shape: probabilities (each row over the vocabulary sums to 1) or their logarithms.
    """
    if log:
        return torch.log_softmax(logits, dim=-1)
    return torch.softmax(logits, dim=-1)


class FixedContext(nn.Module):
    """A stand-in for attention: the context is the average of the real encoder states, the same at every step.

    Its "weights" are that average's uniform weights, ``1 / src_length`` at real tokens and 0 at padding, so that
    the vanilla decoder keeps the attention decoder's interface (and its heatmaps show what it cannot do).
    """

    def precompute(self, encoder_outputs: Tensor) -> Tensor:
        return encoder_outputs

    def forward(self, query: Tensor, encoder_outputs: Tensor, mask: Tensor,
                keys: Tensor | None = None) -> tuple[Tensor, Tensor]:
        weights = masked_softmax(torch.zeros_like(mask, dtype=encoder_outputs.dtype), mask)  # uniform on real tokens
        return torch.bmm(weights.unsqueeze(1), encoder_outputs).squeeze(1), weights


class VanillaDecoder(AttentionDecoder):
    """The decoder without attention (for Q27): ``AttentionDecoder`` with a :class:`FixedContext`.

    The fixed context is one vector per sentence, the bottleneck that attention removes; everything else (layers,
    sizes, interface) is the attention decoder's, so that the comparison isolates attention.
    """

    def __init__(self, vocab_size: int, emb_dim: int, enc_hidden: int, dec_hidden: int, dropout: float = 0.0) -> None:
        super().__init__(vocab_size, emb_dim, enc_hidden, dec_hidden, FixedContext(), dropout)
