"""Checks of section 6, the decoder with attention: Q15–Q17.

The probes these checks read are in ``autograder/probes/decoder.py``; this module is imported by the deciding
process only, never by a process that runs student code.
"""
from __future__ import annotations

import pytest
import torch
from torch import Tensor

from autograder.graders.common import close, shape
from autograder.probes.common import DEC, EMB, ENC, TGT_V, mask_of
from autograder.probes.decoder import DECODER_SHAPES, STEP_CASES, logits_inputs, step_inputs


@pytest.mark.grade("Q15", points=1)
def test_q15_parameter_names_and_shapes(out):
    """The decoder's own parameters are embedding, rnn and out, with the shapes the docstring gives."""
    got = out["q15_layers"]["params"]
    want = {k: list(v) for k, v in DECODER_SHAPES.items()}
    assert sorted(got) == sorted(want), (
        f"the decoder's parameters (besides attention.*) are {sorted(got)}; expected {sorted(want)}")
    for key in want:
        assert got[key] == want[key], (
            f"{key} has shape {got[key]}, expected {want[key]}: the GRU reads [embedding; context], "
            "the output layer reads [s_t; c_t]")


@pytest.mark.grade("Q15", points=1)
def test_q15_layer_types(out):
    """The attention module is kept; rnn is a one-layer batch-first GRU on [embedding; context]; out is nn.Linear."""
    got = out["q15_layers"]
    assert got["attention_kept"], "store the given attention module as self.attention"
    assert got["rnn"] == ["GRU", EMB + ENC, DEC, 1, True], (
        "self.rnn must be nn.GRU(emb_dim + enc_hidden, dec_hidden, batch_first=True)")
    assert got["out"] == ["Linear", DEC + ENC, TGT_V], "self.out must be nn.Linear(dec_hidden + enc_hidden, vocab_size)"


@pytest.mark.grade("Q15", points=1)
def test_q15_dropout(out):
    """self.dropout is nn.Dropout with the given probability."""
    assert out["q15_layers"]["dropout"] == ["Dropout", 0.3], "self.dropout must be nn.Dropout(dropout)"


@pytest.mark.grade("Q16", points=1, requires="test_q16_matches_reference")  # zeros of the right shapes pass
def test_q16_shapes(out):
    """step returns hidden (batch, dec_hidden), context (batch, enc_hidden), weights (batch, src_len)."""
    for case, lengths in STEP_CASES.items():
        hidden, context, weights = out["q16_steps"][case][0]
        want = [[len(lengths), DEC], [len(lengths), ENC], [len(lengths), max(lengths)]]
        assert [shape(hidden), shape(context), shape(weights)] == want, (
            f"batch {len(lengths)}, src_len {max(lengths)}: expected (hidden, context, weights) of shapes {want}, got "
            f"{[shape(hidden), shape(context), shape(weights)]}")


@pytest.mark.parametrize("part", ["first step", "second step, from the new state"])
@pytest.mark.grade("Q16", points=1)
def test_q16_matches_reference(out, ref, part):
    """With the same weights, the new state, context and weights match the reference (two steps in a row)."""
    index = 0 if part == "first step" else 1
    for case in STEP_CASES:
        got, expected = out["q16_steps"][case][index], ref["q16_steps"][case][index]
        assert isinstance(got, list) and len(got) == 3, "step must return (hidden, context, weights)"
        for name, g, e in zip(["attention weights", "context", "new hidden state"], got[::-1], expected[::-1],
                              strict=True):
            unchanged = index == 0 and name == "new hidden state" and close(g, step_inputs(case)[1])
            assert close(g, e), (
                f"{part}, {case} batch: the {name} differ from the expected ones (attend with the previous state, "
                "then one GRU step on [embedded; context], in that order, from the previous state, and return the "
                "new state)" + ("; yours is the previous state unchanged: return the GRU's new state"
                                if unchanged else ""))


@pytest.mark.grade("Q16", points=1)
def test_q16_gradient_reaches_encoder(out):
    """Gradients flow from the new state back to every real encoder state through the attention, none to padding."""
    grad = out["q16_gradient"]
    mask = mask_of(STEP_CASES["mixed"])
    assert isinstance(grad, Tensor), ("no gradient reached the encoder outputs: the context must feed "
                                               "the GRU (do not detach it)")
    assert bool((grad[mask].abs().sum(-1) > 0).all()), (
        "every real encoder state must get a gradient through the context")
    assert torch.count_nonzero(grad[~mask]) == 0, "padded encoder states must get no gradient"


@pytest.mark.grade("Q16", points=1)
def test_q16_eval_disables_dropout(out):
    """In eval() mode a step is deterministic; in train() mode dropout acts on the embedded tokens."""
    got = out["q16_dropout"]
    assert close(got["eval"][0], got["eval"][1], 0), (
        "after eval(), two identical steps must agree (no dropout): use the module self.dropout, which eval() turns "
        "off, not an always-on functional dropout")
    assert not close(got["train"][0], got["train"][1], 0), (
        "in train() mode with dropout 0.5, apply self.dropout to the embedded previous tokens")


@pytest.mark.grade("Q17", points=1)
def test_q17_project(out, ref):
    """project applies out to [s_t; c_t], for one step (batch, ...) and for all steps (batch, tgt_len, ...)."""
    for part, want in [("step", [3, TGT_V]), ("all_steps", [2, 4, TGT_V])]:
        got = out["q17_project"][part]
        assert shape(got) == want, f"project gave {shape(got)} for {part.replace('_', ' ')}, expected {want}"
        assert close(got, ref["q17_project"][part]), (
            "the logits must be self.out(torch.cat([hidden, context], dim=-1)): the state first, then the context")


@pytest.mark.grade("Q17", points=1)
def test_q17_probabilities(out):
    """token_probabilities is the softmax over the vocabulary (the last axis)."""
    for name in ("2d", "3d"):
        got = out["q17_probabilities"][name]
        assert close(got, torch.softmax(logits_inputs()[name].double(), -1).float()), (
            "the probabilities must be the softmax over the vocabulary, the last axis (each row sums to 1)")


@pytest.mark.grade("Q17", points=1)
def test_q17_log_probabilities(out):
    """token_probabilities(log=True) is log_softmax, finite even when probabilities underflow."""
    for name in ("2d", "3d", "large"):
        got = out["q17_log_probabilities"][name]
        assert isinstance(got, Tensor) and bool(torch.isfinite(got).all()), (
            "log-probabilities must stay finite for large logits: use log_softmax, not log(softmax(...))")
        assert close(got, torch.log_softmax(logits_inputs()[name].double(), -1).float(), atol=1e-4), (
            "log=True must give log_softmax over the vocabulary (the last axis)")
