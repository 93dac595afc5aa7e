"""Section 7, combining the encoder and the decoder into an attention seq2seq model: Q18–Q20.

Q18  building the whole model from one config, and encoding a batch once (states, mask, attention keys);
Q19  teacher forcing: feeding the gold previous token or the model's own prediction;
Q20  the forward pass over a whole target sentence, returning logits and the attention matrix.

Which positions are predicted: ``tgt`` is ``<sos> y_1 ... y_n <eos>`` padded with ``PAD``. Output position ``t``
(``1 <= t < tgt_len``) predicts ``tgt[:, t]`` from the tokens before it; position 0 (the ``<sos>``, never
predicted) holds zeros in both the logits and the attention. The loss is therefore taken on
``logits[:, 1:]`` against ``tgt[:, 1:]`` (ignoring ``PAD``).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seq2seq import PAD
from seq2seq.attention import Attention
from seq2seq.decoder import AttentionDecoder, VanillaDecoder
from seq2seq.encoder import Encoder


@dataclass
class ModelConfig:
    """Every size of the model; the defaults are the reference model of the course."""

    src_vocab: int
    tgt_vocab: int
    emb_dim: int = 256
    hidden_size: int = 512        # encoder RNN state, per direction
    dec_hidden: int = 512
    n_layers: int = 1             # encoder layers
    bidirectional: bool = True
    rnn_type: str = "gru"         # encoder RNN: "gru" or "lstm"
    attention: str = "additive"   # "dot", "general", "scaled_dot", "additive", or "none" (the vanilla decoder)
    attn_dim: int | None = None   # additive attention's hidden size; None means dec_hidden
    dropout: float = 0.1
    # The system's output layer (seq2seq.variants.build; build_model, Q18, leaves these to it): "linear" is
    # Q17's out([s_t; c_t]); "attentional" and "tied" are Luong et al.'s tanh layer, the latter tied to the
    # target embedding. output_dropout: dropout before that layer's vocabulary projection. tie_embeddings: the
    # encoder's embedding is the decoder's (one matrix; needs one vocabulary for both languages).
    output: str = "linear"
    output_dropout: float = 0.0
    tie_embeddings: bool = False


class Seq2Seq(nn.Module):
    """An encoder and a decoder (any decoder with the interface described in ``seq2seq.decoder``)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Q18 (part b): everything the decoder needs about a source batch, computed once.

        Args:
            src: ``(batch, src_len)`` token ids padded with ``PAD``.
            src_lengths: ``(batch,)`` true lengths.

        Returns:
            ``(encoder_outputs, hidden, mask, keys)``: ``self.encoder(src, src_lengths)``'s
            ``(batch, src_len, enc_hidden)`` states and ``(batch, dec_hidden)`` initial decoder state; the source
            mask ``(batch, src_len)``, bool, True where ``src != PAD``; and the attention keys
            ``self.decoder.precompute(encoder_outputs)`` ``(batch, src_len, key_dim)``, computed exactly once.
        """
        encoder_outputs, hidden = self.encoder(src, src_lengths)
        mask = src != PAD
        keys = self.decoder.precompute(encoder_outputs)
        return encoder_outputs, hidden, mask, keys

    def forward(self, src: Tensor, src_lengths: Tensor, tgt: Tensor,
                teacher_forcing_ratio: float = 1.0) -> tuple[Tensor, Tensor]:
        """Q20: decode the whole target sentence, step by step, for the whole batch at once.

        Encode with :meth:`encode`. Start from ``tgt[:, 0]`` (``<sos>``) and the encoder's ``hidden``; at step
        ``t = 1 .. tgt_len - 1`` call ``hidden, context, weights = self.decoder.step(prev, hidden,
        encoder_outputs, mask, keys)`` (``step`` returns the new state *first*; the decoder's ``forward_step``
        returns the logits first) and ``self.decoder.project(hidden, context)``, keep the new state, and choose the
        next ``prev`` with :func:`teacher_force` (``tgt[:, t]`` or this step's prediction). With
        ``teacher_forcing_ratio`` 1.0 the inputs are known in advance, so project all steps at once after the loop
        (one matrix product instead of one per step).

        Random numbers, which matter for reproducing a run draw for draw (``set_seed``): below ratio 1.0 the
        reference calls :func:`teacher_force` at every step ``t = 1 .. tgt_len - 1``, the last one included (its
        choice is not used), so a forward pass draws exactly ``tgt_len - 1`` teacher-forcing numbers; at ratio 1.0
        (and above) it never calls :func:`teacher_force` and draws none. In training mode the dropout masks come
        from the same generator, in the order of the calls: :meth:`encode` draws the encoder's masks first; then
        each step ``t`` draws, in this order, the decoder's dropout mask (inside ``self.decoder.step``), then its
        teacher-forcing number (:func:`teacher_force`, after ``project``), and only then does step ``t + 1``
        begin. So every ``teacher_force`` draw comes *after* the dropout of its own step and *before* the dropout
        of the next. The outputs at ratios 1.0 and 0.0 do not depend on the teacher-forcing draws; at any other
        ratio, with dropout on, a seeded run repeats the reference's dropout masks and choices only when it draws
        the same numbers in the same order.

        Args:
            src: ``(batch, src_len)``; src_lengths: ``(batch,)``.
            tgt: ``(batch, tgt_len)``, ``<sos> ... <eos>`` padded with ``PAD``; ``tgt_len >= 2``.
            teacher_forcing_ratio: probability of feeding the gold previous token (1.0 always, 0.0 never).

        Returns:
            ``(logits, attention)``: ``(batch, tgt_len, tgt_vocab)`` and ``(batch, tgt_len, src_len)``;
            position ``t >= 1`` holds the prediction of ``tgt[:, t]`` and the weights used for it; position 0 is
            all zeros in both. Everything on ``src``'s device.
        """
        tgt_len = tgt.size(1)
        encoder_outputs, hidden, mask, keys = self.encode(src, src_lengths)
        prev = tgt[:, 0]
        all_weights = []
        if teacher_forcing_ratio >= 1.0:
            # every input is the gold token: run the recurrence, then project all steps in one product
            states, contexts = [], []
            for t in range(1, tgt_len):
                hidden, context, weights = self.decoder.step(prev, hidden, encoder_outputs, mask, keys)
                states.append(hidden)
                contexts.append(context)
                all_weights.append(weights)
                prev = tgt[:, t]
            step_logits = self.decoder.project(torch.stack(states, dim=1), torch.stack(contexts, dim=1))
        else:
            outputs = []
            for t in range(1, tgt_len):
                hidden, context, weights = self.decoder.step(prev, hidden, encoder_outputs, mask, keys)
                logits_t = self.decoder.project(hidden, context)
                outputs.append(logits_t)
                all_weights.append(weights)
                prev = teacher_force(tgt[:, t], logits_t, teacher_forcing_ratio)
            step_logits = torch.stack(outputs, dim=1)
        attention = torch.stack(all_weights, dim=1)                              # (batch, tgt_len - 1, src_len)
        logits = torch.cat([step_logits.new_zeros(step_logits.size(0), 1, step_logits.size(2)), step_logits], dim=1)
        attention = torch.cat([attention.new_zeros(attention.size(0), 1, attention.size(2)), attention], dim=1)
        return logits, attention


def teacher_force(gold: Tensor, logits: Tensor, teacher_forcing_ratio: float) -> Tensor:
    """Q19: the next decoder input, chosen once per step for the whole batch.

    Draw one number ``u = torch.rand(())`` (torch's generator, so that ``set_seed`` makes training reproducible):
    with probability ``teacher_forcing_ratio`` (``u < ratio``) feed the gold tokens, otherwise the model's own
    predictions, the most likely token of each row of ``logits``. Ratio 1.0 always gives ``gold``, 0.0 always the
    predictions. Every call draws exactly one number, at ratios 1.0 and 0.0 too (the reference does not skip the
    draw); :meth:`Seq2Seq.forward` says when it calls this function.

    Args:
        gold: ``(batch,)`` the true tokens at this position.
        logits: ``(batch, vocab)`` this step's output.
        teacher_forcing_ratio: in ``[0, 1]``.

    Returns:
        ``(batch,)`` token ids (int64), on ``gold``'s device.
    """
    u = torch.rand(())
    if u.item() < teacher_forcing_ratio:
        return gold.to(torch.long)
    return logits.argmax(dim=-1).to(device=gold.device, dtype=torch.long)


def build_model(config: ModelConfig) -> Seq2Seq:
    """Q18 (part a): build the whole model from a config, with sizes that fit together.

    * ``Encoder(config.src_vocab, config.emb_dim, config.hidden_size, config.dec_hidden, config.n_layers,
      config.bidirectional, config.dropout, config.rnn_type)``;
    * its states have ``enc_hidden = hidden_size * (2 if bidirectional else 1)`` features: the attention and the
      decoder are built with that size, ``Attention(config.attention, enc_hidden, config.dec_hidden,
      config.attn_dim)``;
    * ``AttentionDecoder(config.tgt_vocab, config.emb_dim, enc_hidden, config.dec_hidden, attention,
      config.dropout)``; or, when ``config.attention == "none"``, ``VanillaDecoder(config.tgt_vocab,
      config.emb_dim, enc_hidden, config.dec_hidden, config.dropout)``.

    Returns:
        ``Seq2Seq(encoder, decoder)``.
    """
    encoder = Encoder(config.src_vocab, config.emb_dim, config.hidden_size, config.dec_hidden, config.n_layers,
                      config.bidirectional, config.dropout, config.rnn_type)
    enc_hidden = config.hidden_size * (2 if config.bidirectional else 1)
    if config.attention == "none":
        decoder = VanillaDecoder(config.tgt_vocab, config.emb_dim, enc_hidden, config.dec_hidden, config.dropout)
    else:
        attention = Attention(config.attention, enc_hidden, config.dec_hidden, config.attn_dim)
        decoder = AttentionDecoder(config.tgt_vocab, config.emb_dim, enc_hidden, config.dec_hidden, attention,
                                   config.dropout)
    return Seq2Seq(encoder, decoder)
