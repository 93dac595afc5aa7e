"""Checks of section 7, the attention seq2seq model: Q18–Q20.

The probes these checks read are in ``autograder/probes/model.py``; this module is imported by the deciding
process only, never by a process that runs student code.
"""
from __future__ import annotations

import pytest
import torch
from torch import Tensor

from autograder.graders.common import close, shape
from autograder.probes.common import TGT_V, mask_of
from autograder.probes.model import BUILD_CONFIGS, FORWARD_CASES, tf_inputs


def _parts(got: dict, part: str) -> list[dict]:
    return [arguments for name, arguments in got["calls"] if name == part]


@pytest.mark.grade("Q18", points=1)
def test_q18_encoder_and_attention_sizes(out, ref):
    """build_model builds one Encoder and an Attention sized for the encoder's states (enc_hidden)."""
    for name, fields in BUILD_CONFIGS.items():
        got, expected = out["q18_build"][name], ref["q18_build"][name]
        for part in ("Encoder", "Attention"):
            assert _parts(got, part) == _parts(expected, part), (
                f"{name} config: the {part} is not built as the docstring says "
                f"(bidirectional={fields.get('bidirectional', True)}: enc_hidden = hidden_size * directions)")


@pytest.mark.grade("Q18", points=1)
def test_q18_decoder_and_wiring(out, ref):
    """build_model builds the right decoder around that attention and returns Seq2Seq(encoder, decoder)."""
    for name in BUILD_CONFIGS:
        got, expected = out["q18_build"][name], ref["q18_build"][name]
        for part in ("AttentionDecoder", "VanillaDecoder"):
            assert _parts(got, part) == _parts(expected, part), (
                f"{name} config: the decoder is not built as the docstring says (attention='none' means "
                "VanillaDecoder; otherwise AttentionDecoder with the attention just built and enc_hidden)")
        assert got["type"] == "Seq2Seq", "build_model must return a Seq2Seq"
        assert [got["encoder"], got["decoder"]] == [expected["encoder"], expected["decoder"]], (
            "the Seq2Seq must hold the encoder and the decoder that build_model built")


@pytest.mark.grade("Q18", points=1)
def test_q18_encode_outputs_and_mask(out, ref):
    """encode returns the encoder's states and initial state, and the mask src != PAD (bool)."""
    got, expected = out["q18_encode"], ref["q18_encode"]
    assert close(got["outputs"], expected["outputs"]) and close(got["hidden"], expected["hidden"]), (
        "encode must return self.encoder(src, src_lengths)'s outputs and hidden state")
    mask = got["mask"]
    assert isinstance(mask, Tensor) and mask.dtype == torch.bool, "the mask must be a bool tensor"
    assert torch.equal(mask, expected["mask"]), "the mask must be True at real tokens (src != PAD), False at padding"


@pytest.mark.grade("Q18", points=1)
def test_q18_keys_once(out, ref):
    """encode precomputes the attention keys exactly once, with self.decoder.precompute."""
    got = out["q18_encode"]
    assert got["precomputed"] == 1, (
        f"decoder.precompute was called {got['precomputed']} times during encode; call it exactly once")
    assert close(got["keys"], ref["q18_encode"]["keys"]), "return the keys that self.decoder.precompute gave"


def _kinds(choices: list, gold: Tensor, logits: Tensor) -> list[str]:
    predicted = logits.argmax(-1)
    return ["gold" if torch.equal(c, gold) else "predicted" if torch.equal(c, predicted) else "mixed"
            if isinstance(c, Tensor) and c.shape == gold.shape else "other" for c in choices]


# returning gold is right at 1.0 alone
@pytest.mark.grade("Q19", points=1, requires="test_q19_ratio_zero_is_prediction")
def test_q19_ratio_one_is_gold(out):
    """Ratio 1.0 always feeds the gold tokens, as a (batch,) int64 tensor."""
    gold, logits = tf_inputs(1)
    for choice in out["q19_extremes"]["one"]:
        assert isinstance(choice, Tensor) and choice.dtype == torch.int64, "return an int64 tensor of token ids"
        assert torch.equal(choice, gold), "with ratio 1.0 the next input must always be the gold token" + (
            "; yours fed the prediction: is the comparison inverted? feed gold when torch.rand(()) < ratio"
            if isinstance(choice, Tensor) and torch.equal(choice, logits.argmax(-1)) else "")


@pytest.mark.grade("Q19", points=1)
def test_q19_ratio_zero_is_prediction(out):
    """Ratio 0.0 always feeds the model's most likely token of each row."""
    gold, logits = tf_inputs(1)
    for choice in out["q19_extremes"]["zero"]:
        assert isinstance(choice, Tensor) and choice.shape == gold.shape, (
            "return one token per sentence: (batch,), the argmax over the vocabulary (the last axis)")
        assert torch.equal(choice, logits.argmax(-1)), (
            "with ratio 0.0 the next input must always be the prediction: the argmax over the vocabulary (last axis)")


@pytest.mark.grade("Q19", points=1)
def test_q19_ratio_half(out):
    """Ratio 0.5 draws once per step with torch's generator: the whole batch gets gold or predicted, about half each."""
    gold, logits = tf_inputs(2)
    kinds = _kinds(out["q19_half"]["first"], gold, logits)
    assert set(kinds) <= {"gold", "predicted"}, (
        "draw one number per step for the whole batch: every sentence gets the gold token, or every one the prediction")
    assert 60 <= kinds.count("gold") <= 140, (
        f"with ratio 0.5, {kinds.count('gold')} of 200 steps fed the gold tokens: feed gold with probability ratio")
    assert _kinds(out["q19_half"]["again"], gold, logits) == kinds[:50], (
        "after torch.manual_seed with the same seed the choices must repeat: draw with torch's generator")


@pytest.mark.grade("Q20", points=1, requires="test_q20_teacher_forcing_matches")  # zeros of the right shape pass
def test_q20_shapes_and_first_position(out):
    """Logits are (batch, tgt_len, vocab) and attention (batch, tgt_len, src_len); position 0 is all zeros."""
    for key, got in out["q20_outputs"].items():
        case, ratio = key.split("/")
        lengths, src_len, tgt_len = FORWARD_CASES[case]
        want = [[len(lengths), tgt_len, TGT_V], [len(lengths), tgt_len, src_len]]
        assert [shape(got["logits"]), shape(got["attention"])] == want, (
            f"batch {len(lengths)}, src_len {src_len}, tgt_len {tgt_len}: expected logits and attention of shapes "
            f"{want}, got {[shape(got['logits']), shape(got['attention'])]}")
        assert torch.count_nonzero(got["logits"][:, 0]) == 0 and torch.count_nonzero(got["attention"][:, 0]) == 0, (
            "position 0 (the <sos>, never predicted) must hold zeros in both the logits and the attention")


@pytest.mark.grade("Q20", points=1)
def test_q20_teacher_forcing_matches(out, ref):
    """With teacher forcing 1.0 the logits and attention match the reference."""
    for case in FORWARD_CASES:
        got, expected = out["q20_outputs"][f"{case}/1.0"], ref["q20_outputs"][f"{case}/1.0"]
        assert close(got["logits"], expected["logits"]) and close(got["attention"], expected["attention"]), (
            f"{case} batch, teacher forcing 1.0: the outputs differ from the expected ones (start from tgt[:, 0] and "
            "the encoder's state, carry the new state from step to step, feed tgt[:, t] after step t)")


@pytest.mark.grade("Q20", points=1)
def test_q20_target_shifted(out):
    """Position t is predicted from the tokens before it: changing tgt[:, 3] changes positions 4 on, not 0–3."""
    before, after = out["q20_changed_target"]["1.0"]
    assert close(before[:, :4], after[:, :4], 0), (
        "changing tgt[:, 3] changed the prediction at positions 0–3: position t must be predicted only from "
        "tgt[:, :t] (feed the previous gold token, not the current one)")
    assert not close(before[:, 4], after[:, 4]), (
        "changing tgt[:, 3] did not change the prediction at position 4: with teacher forcing 1.0, feed the gold token")


@pytest.mark.grade("Q20", points=1)
def test_q20_no_teacher_forcing(out, ref):
    """With teacher forcing 0.0 the model feeds its own predictions: the gold tokens after <sos> do not matter."""
    before, after = out["q20_changed_target"]["0.0"]
    assert close(before, after, 0), ("with teacher forcing 0.0 the gold tokens after <sos> must not "
                                "change the output: below ratio 1.0, choose each next input with teacher_force")
    for case in FORWARD_CASES:
        got, expected = out["q20_outputs"][f"{case}/0.0"], ref["q20_outputs"][f"{case}/0.0"]
        assert close(got["logits"], expected["logits"]) and close(got["attention"], expected["attention"]), (
            f"{case} batch, teacher forcing 0.0: the outputs differ from the expected ones (feed each step's "
            "prediction, chosen with teacher_force, as the next input)")


@pytest.mark.grade("Q20", points=1)
def test_q20_gradient_reaches_encoder(out):
    """The loss's gradient reaches every real encoder state through the attention."""
    grad = out["q20_gradient"]
    mask = mask_of(FORWARD_CASES["mixed"][0])
    assert isinstance(grad, Tensor), "no gradient reached the encoder outputs: do not detach them or use no_grad"
    assert bool((grad[mask].abs().sum(-1) > 0).all()), "every real encoder state must get a gradient"
