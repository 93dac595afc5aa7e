"""Decoding with several models at once (provided code, no question): an ensemble for greedy and beam search.

An ensemble of models trained from different seeds scores each next token by the *average of their
probabilities*, ``log(mean_m p_m(y | ...))`` (Sutskever et al., 2014, section 3.6, and most NMT systems since):
their errors are partly independent, so the average is a better model than any of them.

:class:`Ensemble` looks like one ``Seq2Seq`` to :mod:`seq2seq.search`, which never changes: ``encode`` returns
the members' encodings concatenated along the feature dimension, and ``decoder.forward_step`` splits them back,
steps every member and returns the averaged log-probabilities as the "logits" (``log_softmax`` leaves them as
they are, since they are already normalised) and the members' mean attention. Every row operation of the search
(selecting rows, repeating them per hypothesis) acts on all members' states at once, because they share rows.
The members need the same vocabularies, not the same sizes.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn


def _log_mean_probabilities(logits: Sequence[Tensor]) -> Tensor:
    """``log(mean_m softmax(logits_m))`` over the members, in float32: ``(..., vocab)``, already normalised."""
    log_probs = torch.stack([torch.log_softmax(x.float(), dim=-1) for x in logits])
    return torch.logsumexp(log_probs, dim=0) - math.log(len(logits))


class _EnsembleDecoder(nn.Module):
    """The members' decoders, stepped together on states concatenated along the last dimension."""

    out = None  # no single output layer: seq2seq.onednn's swap leaves the members' as they are

    def __init__(self, decoders: Sequence[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(decoders)
        self.sizes: dict[str, list[int]] = {}  # per member: the feature sizes of its states, set by encode

    def forward_step(self, prev_tokens: Tensor, hidden: Tensor, encoder_outputs: Tensor, mask: Tensor,
                     keys: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step of every member: ``(log mean probabilities (batch, vocab), hidden, mean weights)``, the
        hidden state concatenated as it came in."""
        split = {name: tensor.split(self.sizes[name], dim=-1)
                 for name, tensor in (("hidden", hidden), ("outputs", encoder_outputs), ("keys", keys))}
        member_logits, states, weights = [], [], []
        for i, decoder in enumerate(self.members):
            logits, state, attention = decoder.forward_step(prev_tokens, split["hidden"][i], split["outputs"][i],
                                                            mask, split["keys"][i])
            member_logits.append(logits)
            states.append(state)
            weights.append(attention)
        return _log_mean_probabilities(member_logits), torch.cat(states, dim=-1), torch.stack(weights).mean(dim=0)


class Ensemble(nn.Module):
    """Several trained ``Seq2Seq`` models with the same vocabularies, decoded as one (see the module docstring)."""

    def __init__(self, models: Sequence[nn.Module]) -> None:
        super().__init__()
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.members = nn.ModuleList(models)
        self.decoder = _EnsembleDecoder([model.decoder for model in models])

    def encode(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Every member's ``encode``, concatenated: ``(batch, src_len, sum enc_hidden)``, ``(batch, sum
        dec_hidden)``, the shared mask ``(batch, src_len)`` and ``(batch, src_len, sum key_dim)``."""
        encodings = [model.encode(src, src_lengths) for model in self.members]
        outputs, hidden, masks, keys = zip(*encodings)
        self.decoder.sizes = {"outputs": [x.size(-1) for x in outputs], "hidden": [x.size(-1) for x in hidden],
                              "keys": [x.size(-1) for x in keys]}
        return torch.cat(outputs, dim=-1), torch.cat(hidden, dim=-1), masks[0], torch.cat(keys, dim=-1)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt: Tensor,
                teacher_forcing_ratio: float = 1.0) -> tuple[Tensor, Tensor]:
        """Teacher-forced scores for the loss, as ``Seq2Seq.forward`` gives them: ``(log mean probabilities
        (batch, tgt_len, vocab), mean attention (batch, tgt_len, src_len))``, position 0 zeros in both.
        Only teacher forcing 1.0: the members would each feed back their own predictions otherwise."""
        if teacher_forcing_ratio != 1.0:
            raise ValueError("an ensemble scores references with teacher forcing 1.0 only")
        member_logits, weights = [], []
        for model in self.members:
            logits, attention = model(src, src_lengths, tgt, 1.0)
            member_logits.append(logits)
            weights.append(attention)
        averaged = _log_mean_probabilities(member_logits)
        averaged[:, 0] = 0.0
        return averaged, torch.stack(weights).mean(dim=0)
