"""The system's model variants beyond the questions (provided code, no question): a better output layer.

The course's decoder (Q15–Q17) scores the vocabulary straight from ``[s_t; c_t]`` with one ``nn.Linear``. The
variant here is the output layer of Luong et al. (2015), section 3, eq. 5–6: an *attentional vector*
``h~_t = tanh(W_c [s_t; c_t])`` of ``emb_dim`` features, dropped out, then ``softmax(W_s h~_t)``. Because ``h~_t``
has the embedding's size, ``W_s`` can *be* the target embedding matrix (``output="tied"``; Press & Wolf, 2017,
"Using the output embedding to improve language models", section 3; Inan et al., 2017): one matrix learns
both what a word means as input and when to say it, which regularises a small corpus like Multi30k and removes
``(dec_hidden + enc_hidden - emb_dim) * vocab`` parameters and most of the output layer's multiply-adds.

:func:`build` is the one place the system builds a model from a :class:`seq2seq.model.ModelConfig`: Q18's
``build_model`` for the course's model (``output="linear"``), with the decoder swapped for
:class:`AttentionalOutputDecoder` otherwise. Training, checkpoints, evaluation and search see the same decoder
interface either way (``precompute``, ``step``, ``project``, ``forward_step``).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seq2seq.decoder import AttentionDecoder
from seq2seq.model import ModelConfig, Seq2Seq, build_model

OUTPUTS = ("linear", "attentional", "tied")


class AttentionalOutputDecoder(AttentionDecoder):
    """:class:`seq2seq.decoder.AttentionDecoder` with Luong's attentional output layer, optionally tied.

    Layers beyond the parent's: ``combine`` ``nn.Linear(dec_hidden + enc_hidden, emb_dim)`` (``W_c``), and
    ``out`` replaced by ``nn.Linear(emb_dim, vocab_size)`` (``W_s``, with bias) whose weight, with ``tie``, is
    ``embedding.weight`` itself. ``output_dropout`` drops features of ``h~_t`` before ``W_s``.
    """

    def __init__(self, vocab_size: int, emb_dim: int, enc_hidden: int, dec_hidden: int, attention: nn.Module,
                 dropout: float = 0.0, *, tie: bool = False, output_dropout: float = 0.0) -> None:
        super().__init__(vocab_size, emb_dim, enc_hidden, dec_hidden, attention, dropout)
        self.combine = nn.Linear(dec_hidden + enc_hidden, emb_dim)
        self.out = nn.Linear(emb_dim, vocab_size)
        if tie:
            # nn.Embedding's N(0, 1) would start the logits with a standard deviation of ~sqrt(emb_dim) (about 8
            # here): a near one-hot first guess that trains slowly. Small uniform weights, as fairseq's LSTM
            # models start their embeddings (U(-0.1, 0.1), std ~ emb_dim ** -0.5 for 256), start both near 0.
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            with torch.no_grad():
                self.embedding.weight[self.embedding.padding_idx].zero_()
            self.out.weight = self.embedding.weight  # one Parameter: (vocab_size, emb_dim) serves both
        self.output_dropout = nn.Dropout(output_dropout)

    def project(self, hidden: Tensor, context: Tensor) -> Tensor:
        """Logits ``(..., vocab_size)`` from ``hidden`` ``(..., dec_hidden)`` and ``context`` ``(..., enc_hidden)``,
        one step or all steps at once: ``out(dropout(tanh(combine([s_t; c_t]))))``."""
        attentional = torch.tanh(self.combine(torch.cat([hidden, context], dim=-1)))  # (..., emb_dim)
        return self.out(self.output_dropout(attentional))


def build(config: ModelConfig) -> Seq2Seq:
    """The model of ``config``: Q18's :func:`seq2seq.model.build_model`, then, unless ``config.output`` is
    ``"linear"``, its decoder replaced by an :class:`AttentionalOutputDecoder` around the same attention module.

    Raises:
        ValueError: an unknown ``output``, a variant without attention, or ``output_dropout`` asked of the
            course's linear output layer (which has no dropout).
    """
    if config.output not in OUTPUTS:
        raise ValueError(f"unknown output {config.output!r}: use one of {', '.join(OUTPUTS)}")
    if config.output == "linear":
        if config.output_dropout:
            raise ValueError("output_dropout needs output='attentional' or 'tied' (the linear output has no dropout)")
        return build_model(config)
    if config.attention == "none":
        raise ValueError(f"output={config.output!r} needs attention (the vanilla decoder keeps the linear output)")
    model = build_model(config)
    old = model.decoder
    enc_hidden = config.hidden_size * (2 if config.bidirectional else 1)
    model.decoder = AttentionalOutputDecoder(config.tgt_vocab, config.emb_dim, enc_hidden, config.dec_hidden,
                                             old.attention, config.dropout, tie=config.output == "tied",
                                             output_dropout=config.output_dropout)
    return model
