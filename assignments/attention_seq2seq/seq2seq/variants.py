"""The system's model variants beyond the questions (provided code, no question): a better output layer.

The course's decoder (Q15–Q17) scores the vocabulary straight from ``[s_t; c_t]`` with one ``nn.Linear``, and
drops out only the embedded input tokens. The variant here adds dropout before that projection (``output_dropout``:
the features the output layer reads are what overfits first on a small corpus), and can replace the projection
by the output layer of Luong et al. (2015), section 3, eq. 5–6: an *attentional vector* ``h~_t = tanh(W_c [s_t;
c_t])`` of ``emb_dim`` features, dropped out, then ``softmax(W_s h~_t)``. Because ``h~_t``
has the embedding's size, ``W_s`` can *be* the target embedding matrix (``output="tied"``; Press & Wolf, 2017,
"Using the output embedding to improve language models", section 3; Inan et al., 2017): one matrix learns
both what a word means as input and when to say it, which regularises a small corpus like Multi30k and removes
``(dec_hidden + enc_hidden - emb_dim) * vocab`` parameters and most of the output layer's multiply-adds.

:func:`build` is the one place the system builds a model from a :class:`seq2seq.model.ModelConfig`: Q18's
``build_model`` for the course's model (``output="linear"``, no ``output_dropout``), with the decoder swapped
for :class:`AttentionalOutputDecoder` otherwise. Training, checkpoints, evaluation and search see the same decoder
interface either way (``precompute``, ``step`` returning ``(hidden, context, weights)``, ``project``, and
``forward_step`` returning ``(logits, hidden, weights)``: see :mod:`seq2seq.decoder`).

:class:`WordDropout` is what training feeds the model with ``word_dropout``: whole input words replaced by
``<unk>`` (a regulariser for small corpora), the targets it is scored on left as they are.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seq2seq import SPECIALS, UNK
from seq2seq.decoder import AttentionDecoder
from seq2seq.model import ModelConfig, Seq2Seq, build_model

OUTPUTS = ("linear", "attentional", "tied")


class AttentionalOutputDecoder(AttentionDecoder):
    """:class:`seq2seq.decoder.AttentionDecoder` with dropout before its vocabulary projection and, unless
    ``mode`` is ``"linear"``, Luong's attentional output layer, tied to the target embedding with ``"tied"``.

    ``"linear"`` keeps Q15's ``out`` ``nn.Linear(dec_hidden + enc_hidden, vocab_size)`` on ``dropout([s_t; c_t])``.
    ``"attentional"`` and ``"tied"`` add ``combine`` ``nn.Linear(dec_hidden + enc_hidden, emb_dim)`` (``W_c``)
    and replace ``out`` by ``nn.Linear(emb_dim, vocab_size)`` (``W_s``, with bias) on ``dropout(h~_t)``; with
    ``"tied"``, ``out.weight`` is ``embedding.weight`` itself.
    """

    def __init__(self, vocab_size: int, emb_dim: int, enc_hidden: int, dec_hidden: int, attention: nn.Module,
                 dropout: float = 0.0, *, mode: str = "tied", output_dropout: float = 0.0) -> None:
        super().__init__(vocab_size, emb_dim, enc_hidden, dec_hidden, attention, dropout)
        self.mode = mode
        self.output_dropout = nn.Dropout(output_dropout)
        if mode == "linear":
            return
        self.combine = nn.Linear(dec_hidden + enc_hidden, emb_dim)
        self.out = nn.Linear(emb_dim, vocab_size)
        if mode == "tied":
            # nn.Embedding's N(0, 1) would start the logits with a standard deviation of ~sqrt(emb_dim) (about 8
            # here): a near one-hot first guess that trains slowly. Small uniform weights, as fairseq's LSTM
            # models start their embeddings (U(-0.1, 0.1), std ~ emb_dim ** -0.5 for 256), start both near 0.
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            with torch.no_grad():
                self.embedding.weight[self.embedding.padding_idx].zero_()
            self.out.weight = self.embedding.weight  # one Parameter: (vocab_size, emb_dim) serves both

    def project(self, hidden: Tensor, context: Tensor) -> Tensor:
        """Logits ``(..., vocab_size)`` from ``hidden`` ``(..., dec_hidden)`` and ``context`` ``(..., enc_hidden)``,
        one step or all steps at once: ``out(dropout([s_t; c_t]))``, or ``out(dropout(tanh(combine([s_t;
        c_t]))))`` with the attentional layer."""
        features = torch.cat([hidden, context], dim=-1)
        if self.mode != "linear":
            features = torch.tanh(self.combine(features))  # (..., emb_dim): Luong's h~_t
        return self.out(self.output_dropout(features))


def build(config: ModelConfig) -> Seq2Seq:
    """The model of ``config``: Q18's :func:`seq2seq.model.build_model`, its decoder replaced by an
    :class:`AttentionalOutputDecoder` around the same attention module unless the output is the course's own
    (``"linear"`` without ``output_dropout``); with ``tie_embeddings``, the encoder's embedding is the decoder's
    (a shared source-target vocabulary: one matrix for both languages, and with ``output="tied"`` for the
    output layer too, three-way tying as in Press & Wolf, 2017, section 3).

    Raises:
        ValueError: an unknown ``output``, a variant asked of the decoder without attention, or tied embeddings
            with two vocabularies.
    """
    if config.output not in OUTPUTS:
        raise ValueError(f"unknown output {config.output!r}: use one of {', '.join(OUTPUTS)}")
    if config.tie_embeddings and config.src_vocab != config.tgt_vocab:
        raise ValueError(f"tie_embeddings needs one vocabulary for both languages (shared_vocab), got "
                         f"{config.src_vocab} source and {config.tgt_vocab} target entries")
    model = build_model(config)
    if config.output != "linear" or config.output_dropout:
        if config.attention == "none":
            raise ValueError(f"output={config.output!r} and output_dropout need attention (the vanilla decoder of "
                             "Q27 keeps the course's output layer)")
        enc_hidden = config.hidden_size * (2 if config.bidirectional else 1)
        model.decoder = AttentionalOutputDecoder(config.tgt_vocab, config.emb_dim, enc_hidden, config.dec_hidden,
                                                 model.decoder.attention, config.dropout, mode=config.output,
                                                 output_dropout=config.output_dropout)
    if config.tie_embeddings:
        model.encoder.embedding.weight = model.decoder.embedding.weight  # one Parameter, in both state dict keys
    return model


class WordDropout(nn.Module):
    """The model, trained on inputs in which each word is ``<unk>`` with probability ``p``: the source tokens and
    the decoder's teacher-forced inputs, never a special token (``<pad> <sos> <eos> <unk>``), and only in training
    mode. Dropping whole words, not embedding features, makes the model read a sentence without leaning on any
    one word: Sennrich et al. (2016, "Edinburgh Neural Machine Translation Systems for WMT 16") drop full words
    on both sides for their small English-Romanian corpus; Gal & Ghahramani (2016, "A Theoretically Grounded
    Application of Dropout in Recurrent Neural Networks") drop word types, every occurrence at once, where each
    occurrence is dropped alone here. The loss is still computed on the batch's own targets: ``train_epoch``
    scores ``logits`` against ``batch.tgt``, and the model reads ``tgt`` only as its next inputs (``tgt[:, :-1]``),
    so only the inputs lose words."""

    def __init__(self, model: nn.Module, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"word dropout must be in [0, 1), got {p}")
        self.model, self.p = model, p

    def forward(self, src: Tensor, src_lengths: Tensor, tgt: Tensor,
                teacher_forcing_ratio: float = 1.0) -> tuple[Tensor, Tensor]:
        """``(logits, attention)`` of the wrapped model, on ``src`` ``(batch, src_len)`` and ``tgt`` ``(batch,
        tgt_len)`` with words dropped in training mode."""
        if self.training and self.p > 0:
            src, tgt = self.drop(src), self.drop(tgt)
        return self.model(src, src_lengths, tgt, teacher_forcing_ratio)

    def drop(self, tokens: Tensor) -> Tensor:
        """``tokens`` (any shape) with each non-special index replaced by ``UNK`` with probability ``p``."""
        hit = (torch.rand(tokens.shape, device=tokens.device) < self.p) & (tokens >= len(SPECIALS))
        return tokens.masked_fill(hit, UNK)


def trained(model: nn.Module, word_dropout: float = 0.0) -> nn.Module:
    """What ``train_epoch`` trains: ``model`` itself, or a :class:`WordDropout` around it (same parameters)."""
    return WordDropout(model, word_dropout) if word_dropout else model
