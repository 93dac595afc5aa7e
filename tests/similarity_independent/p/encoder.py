"""Section 4, building the encoder: Q9–Q11.

Q9   the encoder's layers: embedding, a (bi)directional GRU or LSTM, dropout, and a bridge to the decoder;
Q10  its forward pass over a padded batch: one hidden state per source token (not a single context vector),
     plus the decoder's initial state;
Q11  how the hidden size and the number of layers change the size of the model and of its outputs.

Shapes use ``batch`` (sentences), ``src_len`` (the padded source length, ``src.size(1)``),
``enc_hidden = hidden_size * (2 if bidirectional else 1)`` and ``dec_hidden`` (the decoder's state size).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seq2seq import PAD


class Encoder(nn.Module):
    """Reads a padded batch of source sentences and returns one hidden state per token."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_size: int, dec_hidden: int, n_layers: int = 1,
                 bidirectional: bool = True, dropout: float = 0.0, rnn_type: str = "gru") -> None:
        """Q9: define the encoder's layers.

        Args:
            vocab_size: size of the source vocabulary.
            emb_dim: size of a token embedding.
            hidden_size: state size of the RNN, per direction.
            dec_hidden: state size of the decoder, which the bridge maps the final states to.
            n_layers: stacked RNN layers.
            bidirectional: read the sentence in both directions (then ``enc_hidden = 2 * hidden_size``).
            dropout: dropout probability on the embeddings and between stacked RNN layers.
            rnn_type: ``"gru"`` or ``"lstm"`` (anything else: ``ValueError``).

        Create exactly these attributes (the graders copy weights into them by name):

        ================  ==========================================================================================
        attribute         layer
        ================  ==========================================================================================
        ``embedding``     ``nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)``
        ``rnn``           ``nn.GRU`` (or ``nn.LSTM``) ``(emb_dim, hidden_size, num_layers=n_layers,
                          batch_first=True, bidirectional=bidirectional, dropout=dropout if n_layers > 1 else 0)``
        ``dropout``       ``nn.Dropout(dropout)``
        ``bridge``        ``nn.Linear(enc_hidden, dec_hidden)`` (with bias): the decoder's initial state
        ================  ==========================================================================================

        and keep ``self.enc_hidden`` (an int, ``hidden_size * (2 if bidirectional else 1)``). No other parameters.
        """
        super().__init__()
        rnn_classes = {"gru": nn.GRU, "lstm": nn.LSTM}
        if rnn_type not in rnn_classes:
            raise ValueError(f"rnn_type must be 'gru' or 'lstm', got {rnn_type!r}")
        self.rnn_type = rnn_type
        self.hidden_size, self.n_layers, self.bidirectional = hidden_size, n_layers, bidirectional
        self.enc_hidden = hidden_size * (2 if bidirectional else 1)
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=PAD)
        self.rnn = rnn_classes[rnn_type](emb_dim, hidden_size, num_layers=n_layers, batch_first=True,
                                         bidirectional=bidirectional, dropout=dropout if n_layers > 1 else 0)
        self.dropout = nn.Dropout(dropout)
        self.bridge = nn.Linear(self.enc_hidden, dec_hidden)

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Q10: encode a padded batch.

        Embed the tokens, apply ``self.dropout``, run ``self.rnn`` over a *packed* sequence
        (``pack_padded_sequence(..., batch_first=True, enforce_sorted=False)``, lengths on the CPU) so that
        padding never enters the recurrence, and unpack to the full padded length.

        Args:
            src: ``(batch, src_len)`` token ids, padded with ``PAD`` after each sentence.
            src_lengths: ``(batch,)`` true lengths (at least 1, at most ``src_len``; ``max(src_lengths)`` may be
                smaller than ``src_len``).

        Returns:
            ``(outputs, hidden)``:

            * ``outputs``: ``(batch, src_len, enc_hidden)``, the top layer's states for every token, forward and
              backward concatenated as ``[forward; backward]`` (the order ``nn.GRU`` uses); exactly zero at
              padded positions;
            * ``hidden``: ``(batch, dec_hidden)``, the decoder's initial state
              ``tanh(bridge([last forward state; last backward state]))`` of the top layer, where the last
              forward state is the one after the sentence's final real token and the last backward state the
              one after reading back to its first token (unidirectional: ``tanh(bridge(last state))``). For an
              LSTM, use its hidden states ``h`` (not the cell states).
        """
        embedded = self.dropout(self.embedding(src))                      # (batch, src_len, emb_dim)
        lengths = src_lengths.detach().to("cpu", torch.int64)
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        packed_outputs, final = self.rnn(packed)
        if isinstance(final, tuple):                                      # LSTM: (h, c); keep the hidden states h
            final = final[0]
        outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, padding_value=0.0,
                                         total_length=src.size(1))        # (batch, src_len, enc_hidden)
        # final: (n_layers * directions, batch, hidden_size), in the batch's own order; the top layer comes last
        if self.rnn.bidirectional:
            last = torch.cat([final[-2], final[-1]], dim=-1)              # [last forward; last backward]
        else:
            last = final[-1]
        hidden = torch.tanh(self.bridge(last))                            # (batch, dec_hidden)
        return outputs, hidden


def count_parameters(module: nn.Module) -> int:
    """Q11 (part a): the number of trainable numbers in ``module`` (parameters with ``requires_grad``)."""
    return sum(parameter.numel() for parameter in module.parameters() if parameter.requires_grad)


def encoder_parameter_formula(vocab_size: int, emb_dim: int, hidden_size: int, dec_hidden: int, n_layers: int = 1,
                              bidirectional: bool = True, rnn_type: str = "gru") -> int:
    """Q11 (part b): the parameter count of ``Encoder(...)`` with these arguments, by a closed formula.

    Compute it from the sizes alone, without building any layer. An RNN layer has ``gates`` weight blocks
    (GRU 3, LSTM 4), each with an input matrix, a recurrent matrix and two bias vectors (``b_ih``, ``b_hh``);
    layer 1 reads the embeddings, every later layer reads the previous layer's ``enc_hidden`` outputs, and a
    bidirectional layer has two such sets. Add the embedding table and the bridge (weights and bias).
    Dropout has no parameters.

    Returns:
        The count, an int: it must equal ``count_parameters(Encoder(...))`` for the same arguments.
    """
    gates = {"gru": 3, "lstm": 4}.get(rnn_type)
    if gates is None:
        raise ValueError(f"rnn_type must be 'gru' or 'lstm', got {rnn_type!r}")
    directions = 2 if bidirectional else 1
    enc_hidden = hidden_size * directions
    rnn = 0
    for layer in range(n_layers):
        inputs = emb_dim if layer == 0 else enc_hidden
        per_direction = gates * hidden_size * (inputs + hidden_size + 2)  # W_ih, W_hh, b_ih, b_hh
        rnn += directions * per_direction
    embedding = vocab_size * emb_dim
    bridge = enc_hidden * dec_hidden + dec_hidden
    return embedding + rnn + bridge
