"""The CPU decoding fast path (seq2seq.onednn): the same results as the layers it stands in for, put back after."""
from __future__ import annotations

import sys
from unittest import mock

import pytest
import torch
from torch import nn

from tests.helpers import SOLUTION

sys.path.insert(0, str(SOLUTION))
from seq2seq import SOS, onednn, search  # noqa: E402
from seq2seq.model import ModelConfig, build_model  # noqa: E402

pytestmark = pytest.mark.skipif(not onednn.available(), reason="this PyTorch has no oneDNN packed products")


@pytest.fixture()
def model() -> nn.Module:
    torch.manual_seed(0)
    return build_model(ModelConfig(src_vocab=40, tgt_vocab=50, emb_dim=12, hidden_size=16, dec_hidden=20,
                                   attention="additive", dropout=0.2)).eval()


def batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([9, 7, 7, 4, 2, 1])
    src = torch.randint(4, 40, (6, 9), generator=torch.Generator().manual_seed(seed))
    src[torch.arange(9) >= lengths.unsqueeze(1)] = 0
    return src, lengths


def one_step(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    encoder_outputs, hidden, mask, keys = model.encode(*batch())
    prev = torch.full((6,), SOS)
    logits, hidden, _ = model.decoder.forward_step(prev, hidden, encoder_outputs, mask, keys)
    return logits, hidden


@torch.no_grad()
def test_swaps_the_layers_and_puts_them_back(model):
    out, rnn = model.decoder.out, model.decoder.rnn
    with onednn.packed_decoder(model):
        assert isinstance(model.decoder.out, onednn.PackedLinear) and isinstance(model.decoder.rnn, onednn.PackedGRU)
        assert model.decoder.rnn.hidden_size == 20 and model.decoder.out.out_features == 50  # attributes read through
    assert model.decoder.out is out and model.decoder.rnn is rnn
    with pytest.raises(RuntimeError, match="inside"), onednn.packed_decoder(model):
        raise RuntimeError("inside")
    assert model.decoder.out is out and model.decoder.rnn is rnn


@torch.no_grad()
def test_a_step_equals_the_original_layers(model):
    expected = one_step(model)
    with onednn.packed_decoder(model):
        got = one_step(model)
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)
        assert not torch.equal(g, torch.zeros_like(g))


@torch.no_grad()
@pytest.mark.parametrize("batch_first", [True, False])
def test_packed_gru_is_nn_gru(batch_first):
    torch.manual_seed(3)
    gru = nn.GRU(7, 5, batch_first=batch_first)
    x, h = torch.randn(4, 3, 7), torch.randn(1, 4 if batch_first else 3, 5)
    packed = onednn.PackedGRU(gru)
    for a, b in zip(packed(x, h), gru(x, h)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(packed(x), gru(x)):  # no state given: the original layer runs
        torch.testing.assert_close(a, b)


def test_only_what_it_can_run_exactly(model):
    with torch.no_grad():
        assert onednn.PackedGRU.usable(nn.GRU(4, 4)) and onednn.PackedGRU.usable(nn.GRU(4, 4, batch_first=True))
        assert not onednn.PackedGRU.usable(nn.GRU(4, 4, num_layers=2))
        assert not onednn.PackedGRU.usable(nn.GRU(4, 4, bidirectional=True))
        assert not onednn.PackedGRU.usable(nn.GRU(4, 4, bias=False))
        assert not onednn.PackedGRU.usable(nn.LSTM(4, 4))
        assert not onednn.PackedGRU.usable(nn.GRU(4, 4).double())
        with torch.autocast("cpu", dtype=torch.float16), onednn.packed_decoder(model):
            assert type(model.decoder.out) is nn.Linear and type(model.decoder.rnn) is nn.GRU
        with (mock.patch.object(onednn, "bf16_native", return_value=False),
              torch.autocast("cpu", dtype=torch.bfloat16), onednn.packed_decoder(model)):
            assert type(model.decoder.out) is nn.Linear and type(model.decoder.rnn) is nn.GRU  # emulated: slower
    with onednn.packed_decoder(model):  # gradients on: the packed products have no backward
        assert type(model.decoder.out) is nn.Linear and type(model.decoder.rnn) is nn.GRU
    with torch.no_grad():
        layer = onednn.PackedLinear(nn.Linear(3, 2))
    assert layer(torch.randn(4, 3)).requires_grad  # called with gradients on: the original layer ran


def test_a_weight_changed_in_place_is_packed_again(model):
    with torch.no_grad(), onednn.packed_decoder(model):
        before = one_step(model)[0]
    with torch.no_grad():
        model.decoder.out.weight.mul_(2.0)
        expected = one_step(model)[0]
        with onednn.packed_decoder(model):
            after = one_step(model)[0]
    torch.testing.assert_close(after, expected, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(after, before)


@pytest.mark.parametrize("beam_size", [1, 4])
def test_searches_find_the_same_translations(model, beam_size):
    src, lengths = batch(seed=5)
    with mock.patch.object(onednn, "available", lambda: False):
        expected = search.translate(model, src, lengths, beam_size=beam_size, max_len=12)
    got = search.translate(model, src, lengths, beam_size=beam_size, max_len=12)
    assert [t.tokens for t in got] == [t.tokens for t in expected]
    for g, e in zip(got, expected):
        assert g.score == pytest.approx(e.score, abs=1e-4)
        torch.testing.assert_close(g.attention, e.attention, rtol=1e-4, atol=1e-5)


@pytest.mark.skipif(not onednn.bf16_native(), reason="this CPU has no native bfloat16 products")
@torch.no_grad()
def test_bfloat16_autocast_packs_in_bfloat16(model):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = one_step(model)
        with onednn.packed_decoder(model):
            assert isinstance(model.decoder.out, onednn.PackedLinear) and isinstance(model.decoder.rnn, onednn.PackedGRU)
            got = one_step(model)
    assert got[0].dtype == torch.bfloat16 and got[1].dtype == torch.float32  # logits as autocast's; state float32
    for e, g in zip(expected, got):
        torch.testing.assert_close(g.float(), e.float(), rtol=0.05, atol=0.05)  # bfloat16: ~3 significant digits
        assert not torch.equal(g, torch.zeros_like(g))
    assert {key[1] for key in onednn._PACKED if key[0] == id(model.decoder.out.weight)} == {torch.bfloat16}
    exact = one_step(model)[0]
    with onednn.packed_decoder(model):  # float32 again: its own packed copy, not the bfloat16 one
        torch.testing.assert_close(one_step(model)[0], exact, rtol=1e-5, atol=1e-5)
    assert {key[1] for key in onednn._PACKED if key[0] == id(model.decoder.out.weight)} == {torch.bfloat16,
                                                                                          torch.float32}
