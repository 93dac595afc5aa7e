"""Visible sanity checks for Q9–Q20, the model (run: ``python -m seq2seq check Q13`` or ``pytest public_tests``).

Small random batches, no data needed. Passing them is a good sign; the hidden graders check much more (exact
values with fixed weights, several shapes, gradients, dropout).
"""
import functools
import math

import torch

from seq2seq import PAD, SOS
from seq2seq.attention import Attention, masked_softmax
from seq2seq.decoder import AttentionDecoder, token_probabilities
from seq2seq.encoder import Encoder, count_parameters, encoder_parameter_formula
from seq2seq.model import ModelConfig, Seq2Seq, build_model, teacher_force

SRC_V, TGT_V, EMB, HID, DEC = 20, 15, 6, 5, 7


def batch(lengths=(4, 2, 3), vocab=SRC_V):
    src = torch.randint(4, vocab, (len(lengths), max(lengths)))
    for row, n in enumerate(lengths):
        src[row, n:] = PAD
    return src, torch.tensor(lengths)


def test_q9_encoder_layers():
    enc = Encoder(SRC_V, EMB, HID, DEC, n_layers=2, bidirectional=True)
    assert isinstance(enc.rnn, torch.nn.GRU) and enc.rnn.batch_first and enc.rnn.bidirectional
    assert enc.enc_hidden == 2 * HID
    assert enc.bridge.in_features == 2 * HID and enc.bridge.out_features == DEC


def test_q10_encoder_shapes_and_padding():
    enc = Encoder(SRC_V, EMB, HID, DEC).eval()
    src, lengths = batch()
    outputs, hidden = enc(src, lengths)
    assert outputs.shape == (3, 4, 2 * HID), "outputs: (batch, src_len, enc_hidden)"
    assert hidden.shape == (3, DEC), "hidden: (batch, dec_hidden)"
    assert torch.count_nonzero(outputs[1, 2:]) == 0, "padded positions must be exactly 0 (pack the sequence)"


def test_q11_formula_matches_count():
    for layers, bi, rnn_type in [(1, True, "gru"), (2, False, "lstm")]:
        enc = Encoder(SRC_V, EMB, HID, DEC, layers, bi, 0.0, rnn_type)
        assert encoder_parameter_formula(SRC_V, EMB, HID, DEC, layers, bi, rnn_type) == count_parameters(enc)


def test_q12_masked_softmax():
    scores = torch.randn(2, 4)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    weights = masked_softmax(scores, mask)
    assert torch.allclose(weights.sum(-1), torch.ones(2)), "every row must sum to 1"
    assert torch.count_nonzero(weights[0, 2:]) == 0, "padded positions must get exactly 0"


def test_q13_scaled_dot_is_dot_over_sqrt_d():
    query, keys = torch.randn(2, 6), torch.randn(2, 3, 6)
    dot, scaled = Attention("dot", 6, 6), Attention("scaled_dot", 6, 6)
    assert not list(dot.parameters()) and torch.equal(dot.precompute(keys), keys), (
        "dot with enc_hidden == dec_hidden has no layer: no parameters, and the keys are the encoder outputs")
    assert torch.allclose(scaled.score(query, scaled.precompute(keys)),
                          dot.score(query, dot.precompute(keys)) / math.sqrt(6))
    additive = Attention("additive", 2 * HID, DEC)
    assert additive.score(torch.randn(2, DEC), additive.precompute(torch.randn(2, 3, 2 * HID))).shape == (2, 3)


def test_q14_context_is_weighted_sum():
    attention = Attention("general", 2 * HID, DEC)
    encoder_outputs, mask = torch.randn(2, 3, 2 * HID), torch.tensor([[True, True, False], [True, True, True]])
    context, weights = attention(torch.randn(2, DEC), encoder_outputs, mask)
    assert context.shape == (2, 2 * HID) and weights.shape == (2, 3)
    assert torch.allclose(context, (weights.unsqueeze(-1) * encoder_outputs).sum(1), atol=1e-6)


def test_q15_decoder_layers():
    dec = AttentionDecoder(TGT_V, EMB, 2 * HID, DEC, Attention("additive", 2 * HID, DEC))
    assert dec.rnn.input_size == EMB + 2 * HID, "the GRU reads [embedded; context]"
    assert dec.out.in_features == DEC + 2 * HID, "the output layer reads [s_t; c_t]"


def test_q16_step_shapes():
    dec = AttentionDecoder(TGT_V, EMB, 2 * HID, DEC, Attention("additive", 2 * HID, DEC)).eval()
    encoder_outputs, mask = torch.randn(2, 3, 2 * HID), torch.ones(2, 3, dtype=torch.bool)
    hidden, context, weights = dec.step(torch.tensor([SOS, SOS]), torch.zeros(2, DEC), encoder_outputs, mask,
                                        dec.precompute(encoder_outputs))
    assert hidden.shape == (2, DEC), "step returns the new state as (batch, dec_hidden), not the GRU's (1, batch, dec)"
    assert context.shape == (2, 2 * HID) and weights.shape == (2, 3), "step returns (hidden, context, weights)"


def test_q17_probabilities():
    logits = torch.randn(3, TGT_V)
    assert torch.allclose(token_probabilities(logits).sum(-1), torch.ones(3))
    assert torch.isfinite(token_probabilities(logits * 1000, log=True)).all(), "use log_softmax"


def test_q18_build_and_encode():
    model = build_model(ModelConfig(SRC_V, TGT_V, emb_dim=EMB, hidden_size=HID, dec_hidden=DEC))
    assert isinstance(model, Seq2Seq)
    src, lengths = batch()
    outputs, hidden, mask, keys = model.encode(src, lengths)
    assert outputs.shape == (3, 4, 2 * HID) and hidden.shape == (3, DEC)
    assert torch.equal(mask, src != PAD)


def test_q19_teacher_force_extremes():
    gold, logits = torch.tensor([5, 6]), torch.randn(2, TGT_V)
    assert torch.equal(teacher_force(gold, logits, 1.0), gold)
    assert torch.equal(teacher_force(gold, logits, 0.0), logits.argmax(-1))


def _draws_after(seed, call):
    """How many torch.rand(()) draws ``call`` takes from torch's generator (up to 20)."""
    torch.manual_seed(seed)
    call()
    after = torch.rand(())
    torch.manual_seed(seed)
    for count in range(21):
        if torch.equal(torch.rand(()), after):
            return count
    return None


def test_q19_one_draw_per_call():
    gold, logits = torch.tensor([5, 6]), torch.randn(2, TGT_V)
    for ratio in (1.0, 0.5, 0.0):
        assert _draws_after(0, functools.partial(teacher_force, gold, logits, ratio)) == 1, (
            f"ratio {ratio}: draw exactly one number, torch.rand(()), per call (at 1.0 and 0.0 too)")


def test_q20_forward_shapes():
    model = build_model(ModelConfig(SRC_V, TGT_V, emb_dim=EMB, hidden_size=HID, dec_hidden=DEC)).eval()
    src, lengths = batch()
    tgt = torch.randint(4, TGT_V, (3, 5))
    tgt[:, 0] = SOS
    logits, attention = model(src, lengths, tgt, teacher_forcing_ratio=1.0)
    assert logits.shape == (3, 5, TGT_V) and attention.shape == (3, 5, 4)
    assert torch.count_nonzero(logits[:, 0]) == 0, "position 0 (<sos>) holds zeros"
    assert torch.allclose(attention[:, 1:].sum(-1), torch.ones(3, 4), atol=1e-6)
    assert _draws_after(0, lambda: model(src, lengths, tgt, teacher_forcing_ratio=1.0)) == 0, (
        "ratio 1.0 draws no random number (teacher_force is not called)")
    assert _draws_after(0, lambda: model(src, lengths, tgt, teacher_forcing_ratio=0.5)) == 4, (
        "below ratio 1.0, call teacher_force once per step t = 1 .. tgt_len - 1 (the last one too): 4 draws here")
