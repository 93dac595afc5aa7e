"""Decoding a trained model: batched greedy decoding and batched beam search.

Both work on a whole padded batch at once (the batch, times the beam, is the first dimension of every tensor;
there is no Python loop over sentences), stop a sentence at ``<eos>`` or at its length limit, and end as soon as
every sentence has stopped. Both return padded tensors; :func:`to_translations` cuts them into one
:class:`Translation` per sentence, and :func:`translate` does both.

Lengths: ``max_len`` is the number of tokens generated at most, ``<eos>`` included; give an int for every
sentence, or a ``(batch,)`` tensor for one limit per sentence (e.g. ``2 * src_lengths + 10``).

Length penalty (beam search): a finished hypothesis of ``n`` generated tokens (``<eos>`` included) and summed
log-probability ``log p`` is ranked by ``log p / ((5 + n) / 6) ** length_penalty`` (Wu et al., 2016); 0 ranks by
``log p`` alone, which favours short outputs; larger values favour longer ones. The search itself keeps the
``beam_size`` best prefixes by ``log p``; finished ones stay in the beam, unchanged, until the end.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seq2seq import EOS, PAD, SOS, onednn


@dataclass
class Translation:
    """One decoded sentence."""

    tokens: list[int]   # generated token ids, without <sos> and <eos>
    attention: Tensor   # (len(tokens), src_length): row i holds the weights used to produce tokens[i]
    score: float        # summed log-probability (beam search: divided by the length penalty)
    finished: bool      # True when the model produced <eos>, False when the length limit cut it


def _limits(max_len: int | Tensor, batch: int, device: torch.device) -> Tensor:
    """``(batch,)`` per-sentence length limits from an int or a tensor."""
    if isinstance(max_len, Tensor):
        return max_len.to(device=device, dtype=torch.long).expand(batch)
    return torch.full((batch,), int(max_len), dtype=torch.long, device=device)


def _log_probs(logits: Tensor) -> Tensor:
    """Log-probabilities of the next token; never PAD or SOS (a model can give them mass before it is trained)."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)  # float32 even under autocast: scores add up
    log_probs[:, [PAD, SOS]] = float("-inf")
    return log_probs


def _encode(model: nn.Module, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``model.encode``, with the encoder's states and keys already in autocast's dtype when autocast is on: every
    step multiplies them (the context, the scores), and autocast would cast them again at every step."""
    encoder_outputs, hidden, mask, keys = model.encode(src, src_lengths)
    device = encoder_outputs.device.type
    if torch.is_autocast_enabled(device):
        dtype = torch.get_autocast_dtype(device)
        encoder_outputs, keys = encoder_outputs.to(dtype), keys.to(dtype)
    return encoder_outputs, hidden, mask, keys


class _EvalMode:
    """Decode with dropout off, and give the model back as it came in.

    On the CPU in float32, or under bfloat16 autocast where the CPU multiplies bfloat16 natively, the decoder's
    output layer and GRU, which take most of a decoding step, run through oneDNN with packed weights for the
    search's duration (:mod:`seq2seq.onednn`): the same products, faster than the default BLAS on the CPUs
    measured; in float32 results differ by float rounding only (~1e-6).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model, self.was_training = model, model.training
        self.packed = onednn.packed_decoder(model)

    def __enter__(self) -> None:
        self.model.eval()
        self.packed.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.packed.__exit__(*exc)
        self.model.train(self.was_training)


@torch.inference_mode()
def greedy_search(model: nn.Module, src: Tensor, src_lengths: Tensor,
                  max_len: int | Tensor = 50) -> tuple[Tensor, Tensor, Tensor]:
    """Batched greedy decoding: at every step, every unfinished sentence takes its most likely token.

    Args:
        model: a ``Seq2Seq`` (``model.encode`` and ``model.decoder.forward_step`` are used).
        src: ``(batch, src_len)``; src_lengths: ``(batch,)``.
        max_len: tokens generated at most, an int or a ``(batch,)`` tensor.

    Returns:
        ``(tokens, attention, scores)``: ``(batch, steps)`` generated ids, ``PAD`` after a sentence's ``<eos>``
        (which is kept); ``(batch, steps, src_len)`` attention weights, zero after the end; ``(batch,)`` summed
        log-probabilities of the generated tokens.
    """
    with _EvalMode(model):
        encoder_outputs, hidden, mask, keys = _encode(model, src, src_lengths)
        batch, device = src.size(0), src.device
        limit = _limits(max_len, batch, device)
        steps = int(limit.max())
        tokens = torch.full((batch, steps), PAD, dtype=torch.long, device=device)
        attention = torch.zeros(batch, steps, src.size(1), device=device)
        scores = torch.zeros(batch, device=device)
        # The rows still decoding: a finished sentence leaves the batch, so no step is spent on it.
        active = torch.arange(batch, device=device)
        prev = torch.full((batch,), SOS, dtype=torch.long, device=device)
        for step in range(steps):
            logits, hidden, weights = model.decoder.forward_step(prev, hidden, encoder_outputs, mask, keys)
            best, prev = _log_probs(logits).max(dim=-1)
            tokens[active, step] = prev
            attention[active, step] = weights.float()
            scores[active] += best
            going = (prev != EOS) & (limit[active] > step + 1)
            if not bool(going.all()):  # one sync per step, and only then any copying
                if not bool(going.any()):
                    break
                active, prev, hidden = active[going], prev[going], hidden[going]
                encoder_outputs, mask, keys = encoder_outputs[going], mask[going], keys[going]
        return tokens[:, :step + 1], attention[:, :step + 1], scores


@torch.inference_mode()
def beam_search(model: nn.Module, src: Tensor, src_lengths: Tensor, beam_size: int = 5,
                max_len: int | Tensor = 50, length_penalty: float = 1.0) -> tuple[Tensor, Tensor, Tensor]:
    """Batched beam search: ``batch * beam_size`` hypotheses advance together, one row each.

    Args:
        model: a ``Seq2Seq``.
        src: ``(batch, src_len)``; src_lengths: ``(batch,)``.
        beam_size: hypotheses kept per sentence; 1 gives exactly greedy decoding.
        max_len: tokens generated at most, an int or a ``(batch,)`` tensor.
        length_penalty: the exponent ``alpha`` of the final ranking (see the module docstring).

    Returns:
        The best hypothesis of each sentence, as :func:`greedy_search` returns them, with ``scores`` the
        length-normalised ones.
    """
    with _EvalMode(model):
        encoding = _encode(model, src, src_lengths)
        batch, device, k = src.size(0), src.device, beam_size
        # Every hypothesis is a row: repeat each sentence's encoding beam_size times (rows b*k .. b*k+k-1).
        encoder_outputs, hidden, mask, keys = (x.repeat_interleave(k, dim=0) for x in encoding)
        limit = _limits(max_len, batch, device).repeat_interleave(k)
        # Only the first hypothesis of a sentence is alive at the start, else the beam would hold k copies of it.
        scores = torch.full((batch, k), float("-inf"), device=device)
        scores[:, 0] = 0.0
        scores = scores.view(-1)
        prev = torch.full((batch * k,), SOS, dtype=torch.long, device=device)
        finished = torch.zeros(batch * k, dtype=torch.bool, device=device)
        lengths = torch.zeros(batch * k, dtype=torch.long, device=device)
        tokens = torch.empty(batch * k, 0, dtype=torch.long, device=device)
        attention = torch.empty(batch * k, 0, src.size(1), device=device)
        steps = int(limit.max())
        out_tokens = torch.full((batch, steps), PAD, dtype=torch.long, device=device)
        out_attention = torch.zeros(batch, steps, src.size(1), device=device)
        out_scores = torch.zeros(batch, device=device)
        # The sentences still searching: once all k hypotheses of a sentence have ended, its best one is written
        # out and its rows leave the batch, so no step is spent on it.
        active = torch.arange(batch, device=device)
        for step in range(steps):
            n = active.numel()
            offsets = torch.arange(n, device=device).unsqueeze(1) * k  # (n, 1): first row of each sentence
            if step == 0:  # a sentence's k rows are still the same: decode one per sentence, then copy it k times
                first = model.decoder.forward_step(prev[::k], encoding[1], encoding[0], encoding[2], encoding[3])
                logits, hidden, weights = (x.repeat_interleave(k, dim=0) for x in first)
            else:
                logits, hidden, weights = model.decoder.forward_step(prev, hidden, encoder_outputs, mask, keys)
            log_probs = _log_probs(logits)
            vocab = log_probs.size(-1)
            # A finished hypothesis may only continue with PAD, at no cost: it keeps its score and its place.
            ended = torch.full_like(log_probs[:1], float("-inf"))
            ended[0, PAD] = 0.0
            log_probs = torch.where(finished.unsqueeze(1), ended, log_probs)
            candidates = (scores.unsqueeze(1) + log_probs).view(n, k * vocab)
            top_scores, top = candidates.topk(k, dim=1)                     # (n, k)
            rows = (offsets + torch.div(top, vocab, rounding_mode="floor")).view(-1)  # the parent of each new row
            prev = (top % vocab).view(-1)
            scores, hidden, finished, lengths = top_scores.view(-1), hidden[rows], finished[rows], lengths[rows]
            tokens = torch.cat([tokens[rows], prev.unsqueeze(1)], dim=1)
            step_weights = weights[rows].float().masked_fill(finished.unsqueeze(1), 0.0)
            attention = torch.cat([attention[rows], step_weights.unsqueeze(1)], dim=1)
            lengths += (~finished).long()
            finished = finished | (prev == EOS) | (limit <= step + 1)
            done = finished.view(n, k).all(dim=1)                           # (n,) sentences whose search ended
            if not bool(done.any()):
                continue
            normalised = scores / ((5.0 + lengths) / 6.0) ** length_penalty
            best = (offsets.view(-1) + normalised.view(n, k).argmax(dim=1))[done]
            out_tokens[active[done], :step + 1] = tokens[best]
            out_attention[active[done], :step + 1] = attention[best]
            out_scores[active[done]] = normalised[best]
            if bool(done.all()):
                break
            keep = (~done).repeat_interleave(k)
            active = active[~done]
            encoder_outputs, hidden, mask, keys, limit = (x[keep] for x in (encoder_outputs, hidden, mask, keys, limit))
            scores, prev, finished, lengths, tokens, attention = (
                x[keep] for x in (scores, prev, finished, lengths, tokens, attention))
        return out_tokens[:, :step + 1], out_attention[:, :step + 1], out_scores


def to_translations(tokens: Tensor, attention: Tensor, scores: Tensor, src_lengths: Tensor) -> list[Translation]:
    """Cut padded search results into one :class:`Translation` per sentence (ids without ``<eos>``)."""
    results = []
    alive = (tokens != PAD).sum(dim=1).tolist()  # steps a sentence was decoding (PAD is never generated)
    for row, weights, score, length, n in zip(tokens.tolist(), attention.cpu(), scores.tolist(),
                                              src_lengths.tolist(), alive):
        finished = n > 0 and row[n - 1] == EOS
        n -= finished
        results.append(Translation(row[:n], weights[:n, :length], score, finished))
    return results


def translate(model: nn.Module, src: Tensor, src_lengths: Tensor, beam_size: int = 1,
              max_len: int | Tensor = 50, length_penalty: float = 1.0) -> list[Translation]:
    """Decode a batch: greedy for ``beam_size == 1``, beam search otherwise; one :class:`Translation` each."""
    if beam_size == 1:
        results = greedy_search(model, src, src_lengths, max_len)
    else:
        results = beam_search(model, src, src_lengths, beam_size, max_len, length_penalty)
    return to_translations(*results, src_lengths)
