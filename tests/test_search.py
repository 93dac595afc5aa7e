"""Batched greedy decoding and beam search (seq2seq.search), on the generated solution."""
from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from tests.helpers import SOLUTION

sys.path.insert(0, str(SOLUTION))
from seq2seq import EOS, PAD  # noqa: E402
from seq2seq.model import ModelConfig, build_model  # noqa: E402
from seq2seq.search import beam_search, greedy_search, to_translations, translate  # noqa: E402

VOCAB = 13


@pytest.fixture(scope="module")
def model() -> nn.Module:
    torch.manual_seed(0)
    model = build_model(ModelConfig(src_vocab=17, tgt_vocab=VOCAB, emb_dim=8, hidden_size=6, dec_hidden=10))
    with torch.no_grad():  # with this seed and bias, some sentences end with <eos>, others run to the limit
        model.decoder.out.bias[EOS] = 0.0
    return model


def padded(lengths: list[int], seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.randint(4, 17, (len(lengths), max(lengths)), generator=torch.Generator().manual_seed(seed))
    for row, n in enumerate(lengths):
        src[row, n:] = PAD
    return src, torch.tensor(lengths)


class Scripted(nn.Module):
    """A stand-in model that emits 4, 5, 6, ... and then <eos> after ``stop[b]`` tokens, counting its steps."""

    def __init__(self, stop: list[int]) -> None:
        super().__init__()
        self.stop, self.steps = torch.tensor(stop, dtype=torch.float), 0
        object.__setattr__(self, "decoder", self)  # the decoder interface, without a module cycle

    def encode(self, src, src_lengths):
        batch, src_len = src.shape
        encoder_outputs = self.stop.view(batch, 1, 1).expand(batch, src_len, 1)  # rows follow the beam
        return encoder_outputs, torch.zeros(batch, 1), src != PAD, encoder_outputs

    def forward_step(self, prev, hidden, encoder_outputs, mask, keys):
        self.steps += 1
        step, stop = hidden[:, 0], encoder_outputs[:, 0, 0]
        token = torch.where(step >= stop, torch.full_like(step, EOS), 4 + step).long()
        logits = torch.full((prev.size(0), VOCAB + 10), -5.0).scatter(1, token.unsqueeze(1), 5.0)
        return logits, hidden + 1, mask.float() / mask.sum(-1, keepdim=True)


def test_beam_one_equals_greedy(model):
    src, lengths = padded([6, 2, 4, 1, 5])
    tokens, attention, _ = greedy_search(model, src, lengths, max_len=12)
    beam_tokens, beam_attention, _ = beam_search(model, src, lengths, beam_size=1, max_len=12)
    assert torch.equal(tokens, beam_tokens)
    assert torch.allclose(attention, beam_attention)


def test_batched_greedy_equals_one_at_a_time(model):
    src, lengths = padded([6, 2, 4, 1, 5], seed=2)
    batched = translate(model, src, lengths, max_len=12)
    ends = {t.finished for t in batched}
    assert ends == {True, False}, "the fixture should give sentences that end and sentences that are cut"
    for i, n in enumerate(lengths.tolist()):
        alone = translate(model, src[i:i + 1, :n], lengths[i:i + 1], max_len=12)[0]
        assert alone.tokens == batched[i].tokens
        assert torch.allclose(alone.attention, batched[i].attention, atol=1e-6)
        assert alone.score == pytest.approx(batched[i].score, abs=1e-4)


def test_batched_beam_equals_one_at_a_time(model):
    src, lengths = padded([5, 3, 6], seed=3)
    batched = translate(model, src, lengths, beam_size=4, max_len=10)
    for i, n in enumerate(lengths.tolist()):
        alone = translate(model, src[i:i + 1, :n], lengths[i:i + 1], beam_size=4, max_len=10)[0]
        assert alone.tokens == batched[i].tokens
        assert alone.score == pytest.approx(batched[i].score, abs=1e-4)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_stops_at_eos(beam_size):
    scripted = Scripted(stop=[2, 5, 0])
    src, lengths = padded([3, 3, 2])
    tokens, attention, _ = (greedy_search(scripted, src, lengths, max_len=50) if beam_size == 1 else
                            beam_search(scripted, src, lengths, beam_size=beam_size, max_len=50))
    # greedy ends right after the last <eos>; a beam may keep a weaker hypothesis one step longer
    assert scripted.steps == 6 if beam_size == 1 else scripted.steps <= 8, "stop once every sentence has ended"
    assert tokens[:, :6].tolist() == [[4, 5, EOS, PAD, PAD, PAD], [4, 5, 6, 7, 8, EOS], [EOS, PAD, PAD, PAD, PAD, PAD]]
    assert bool((tokens[:, 6:] == PAD).all())
    assert torch.count_nonzero(attention[0, 3:]) == 0, "no attention after a sentence's end"
    translations = to_translations(tokens, attention, torch.zeros(3), lengths)
    assert [t.tokens for t in translations] == [[4, 5], [4, 5, 6, 7, 8], []]
    assert all(t.finished for t in translations)
    assert [tuple(t.attention.shape) for t in translations] == [(2, 3), (5, 3), (0, 2)]


def test_length_limits(model):
    src, lengths = padded([4, 2, 3], seed=4)
    scripted = Scripted(stop=[50, 50, 50])
    tokens, _, _ = greedy_search(scripted, src, lengths, max_len=lengths + 1)
    assert (tokens != PAD).sum(1).tolist() == [5, 3, 4], "a (batch,) max_len limits each sentence"
    for beam_size in (1, 3):
        for t in translate(model, src, lengths, beam_size=beam_size, max_len=7):
            assert len(t.tokens) <= 7
            assert torch.allclose(t.attention.sum(-1), torch.ones(len(t.tokens)), atol=1e-5)


def test_length_penalty_changes_ranking_only(model):
    src, lengths = padded([5, 3, 6], seed=5)
    plain = translate(model, src, lengths, beam_size=4, max_len=10, length_penalty=0.0)
    assert all(isinstance(t.score, float) and t.score <= 0 for t in plain)
    long = translate(model, src, lengths, beam_size=4, max_len=10, length_penalty=2.0)
    assert sum(len(t.tokens) for t in long) >= sum(len(t.tokens) for t in plain), "a larger penalty favours length"


def test_search_keeps_training_mode(model):
    model.train()
    src, lengths = padded([3, 2])
    first = translate(model, src, lengths, beam_size=2, max_len=6)
    assert model.training, "decoding must give the model back in the mode it came in"
    again = translate(model, src, lengths, beam_size=2, max_len=6)
    assert [t.tokens for t in first] == [t.tokens for t in again], "decoding runs without dropout"
    model.eval()


def test_greedy_attention_equals_the_stepwise_extraction():
    """Q30 on the solution: the attention greedy decoding returns is what the decoder used at each step."""
    from seq2seq import EOS, SOS
    from seq2seq.model import ModelConfig, build_model
    from seq2seq.search import greedy_search
    from seq2seq.visualisation import stepwise_attention

    torch.manual_seed(0)
    model = build_model(ModelConfig(src_vocab=13, tgt_vocab=17, emb_dim=8, hidden_size=8, dec_hidden=8, dropout=0.3))
    src = torch.tensor([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0]])
    lengths = torch.tensor([5, 3])
    tokens, attention, _ = greedy_search(model, src, lengths, max_len=6)
    tgt = torch.cat([torch.full((2, 1), SOS), tokens], dim=1)
    again = stepwise_attention(model, src, lengths, tgt)
    for b in range(2):
        ended = (tokens[b] == EOS).nonzero()
        steps = int(ended[0]) + 1 if len(ended) else tokens.size(1)
        assert torch.allclose(again[b, :steps], attention[b, :steps], atol=1e-6)


@pytest.mark.parametrize("beam_size", [1, 3])
def test_autocast_casts_the_encoding_once_with_the_same_results(model, beam_size):
    """Under autocast the search gives the encoder's states to the steps in autocast's dtype (autocast would cast
    them at every step): the same translations, scores and attention as casting them step by step."""
    from unittest import mock

    from seq2seq import search

    src, lengths = padded([5, 3, 4, 2], seed=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        encoder_outputs, _, _, keys = search._encode(model, src, lengths)
        assert encoder_outputs.dtype == keys.dtype == torch.bfloat16
        with mock.patch.object(search, "_encode", lambda m, s, n: m.encode(s, n)):
            expected = translate(model, src, lengths, beam_size=beam_size, max_len=8)
        got = translate(model, src, lengths, beam_size=beam_size, max_len=8)
    assert [t.tokens for t in got] == [t.tokens for t in expected]
    for g, e in zip(got, expected):
        assert g.score == e.score and torch.equal(g.attention, e.attention)
    assert model.encode(src, lengths)[0].dtype == torch.float32  # outside autocast: nothing cast
