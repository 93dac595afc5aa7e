"""Checks of section 5, the attention mechanism: Q12–Q14.

The probes these checks read are in ``autograder/probes/attention.py``; this module is imported by the deciding
process only, never by a process that runs student code.
"""
from __future__ import annotations

import math
import zlib

import pytest
import torch
from torch import Tensor, nn

from autograder.graders.common import ATOL, close, shape
from autograder.probes.attention import (
    CONTEXT_CASES, SCORE_CASES, SOFTMAX_CASES, attention_shapes, context_inputs, score_inputs, softmax_3d_inputs,
    softmax_inputs,
)
from autograder.probes.common import DEC, ENC, layer, mask_of, rand
from autograder.probes.standins import GraderAttention, grader_masked_softmax


def expected_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    return grader_masked_softmax(scores.double(), mask)


def _softmax_hint(got, scores: Tensor, mask: Tensor) -> str:
    """Name a known wrong variant that the student's weights equal (softmax over another axis, mask afterwards)."""
    if not isinstance(got, Tensor) or got.shape != scores.shape:
        return ""
    scores = scores.double()
    variants = {
        "your weights equal a softmax over the batch axis (dim=0): take it over the last axis, the source positions":
            torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=0),
        "padded positions receive attention before being zeroed, so rows no longer sum to 1: apply the mask before "
        "the softmax (fill padded scores with -inf)": torch.softmax(scores, dim=-1) * mask,
    }
    for message, variant in variants.items():
        if torch.allclose(got.double(), variant, atol=ATOL, rtol=ATOL, equal_nan=True):
            return "; " + message
    return ""


@pytest.mark.grade("Q12", points=1)
def test_q12_rows_sum_to_one_and_padding_zero(out):
    """Every row of weights sums to 1 and padded positions get exactly 0."""
    for case in SOFTMAX_CASES:
        scores, mask = softmax_inputs(case)
        got = out["q12_weights"][case]
        assert shape(got) == list(scores.shape), f"the weights must have the scores' shape {list(scores.shape)}"
        assert torch.count_nonzero(got[~mask]) == 0, (
            "padded positions must get exactly 0 weight: fill their scores with -inf before the softmax")
        assert torch.allclose(got.sum(-1).double(), torch.ones(got.size(0), dtype=torch.float64), atol=1e-5), (
            "every row must sum to 1 over the source positions: softmax over the last axis, after masking"
            + _softmax_hint(got, scores, mask))


@pytest.mark.grade("Q12", points=1)
def test_q12_values(out):
    """The real positions hold the softmax of their scores."""
    for case in SOFTMAX_CASES:
        got = out["q12_weights"][case]
        assert close(got, expected_softmax(*softmax_inputs(case)).float()), (
            "the weights at real positions must be the softmax of their scores over the real positions of that row")


@pytest.mark.grade("Q12", points=1)
def test_q12_leading_dimensions(out):
    """Scores with leading dimensions (batch, steps, src_len) are normalised over the last axis."""
    got = out["q12_leading_dims"]
    assert close(got, expected_softmax(*softmax_3d_inputs()).float()), (
        "for scores (batch, steps, src_len) the softmax runs over the last axis, source positions")


@pytest.mark.grade("Q12", points=1)
def test_q12_large_scores(out):
    """Large scores (1e4) still give finite weights."""
    got = out["q12_large"]
    scores, mask = softmax_inputs("2d")
    assert isinstance(got, Tensor) and bool(torch.isfinite(got).all()), (
        "scores of size 1e4 gave inf or nan: use torch.softmax (which subtracts the maximum), not exp()/sum()")
    assert close(got, expected_softmax(scores * 1e4, mask).float()), "large scores give wrong weights"


def _additive_scores(case: str, tanh: bool = True) -> Tensor:
    """The additive scores with the probe's seeded weights; tanh=False is the known mistake of leaving it out."""
    method, enc, dec, attn = SCORE_CASES[case]
    weights = {name: rand(300 + zlib.crc32(name.encode()), *size, scale=0.5).double()
               for name, size in attention_shapes(method, enc, dec, attn).items()}
    query, encoder_outputs = (x.double() for x in score_inputs(enc, dec))
    energy = (query @ weights["query_layer.weight"].T).unsqueeze(1) + encoder_outputs @ weights["key_layer.weight"].T
    return ((torch.tanh(energy) if tanh else energy) @ weights["energy_layer.weight"].T).squeeze(-1)


def _scores_hint(got, case: str) -> str:
    method, enc, dec, _ = SCORE_CASES[case]
    if not isinstance(got, Tensor):
        return ""
    if method == "scaled_dot" and enc == dec:
        query, encoder_outputs = score_inputs(enc, dec)
        dot = (encoder_outputs.double() @ query.double().unsqueeze(-1)).squeeze(-1)
        if close(got, dot / dec):
            return ": yours are divided by d, not by sqrt(d)"
        if close(got, dot):
            return ": yours are not scaled: divide the dot product by sqrt(d)"
    if method == "additive" and close(got, _additive_scores(case, tanh=False)):
        return ": yours equal v · (W s + U h) without the tanh"
    return ""


def _check_scores(out, case: str, expected: Tensor | None = None, ref=None) -> None:
    method, enc, dec, _ = SCORE_CASES[case]
    got = out[f"q13_{case}"]
    where = f"Attention({method!r}, enc_hidden={enc}, dec_hidden={dec})"
    assert shape(got["scores"]) == [3, 5], (
        f"{where}: score() must return (batch, src_len) = [3, 5], not {shape(got['scores'])}")
    if expected is None:
        expected = ref[f"q13_{case}"]["scores"]
    assert close(got["scores"], expected.float()), (
        f"{where}: the scores are not those of the table in the docstring" + _scores_hint(got["scores"], case))


@pytest.mark.grade("Q13", points=1)
def test_q13_dot(out, ref):
    """dot: s · h, with keys projected to dec_hidden when the sizes differ."""
    query, encoder_outputs = score_inputs(6, 6)
    _check_scores(out, "dot_same", expected=(encoder_outputs.double() @ query.double().unsqueeze(-1)).squeeze(-1))
    _check_scores(out, "dot_project", ref=ref)


@pytest.mark.grade("Q13", points=1)
def test_q13_scaled_dot(out, ref):
    """scaled_dot: the dot score divided by sqrt(d)."""
    query, encoder_outputs = score_inputs(6, 6)
    dot = (encoder_outputs.double() @ query.double().unsqueeze(-1)).squeeze(-1)
    _check_scores(out, "scaled_same", expected=dot / math.sqrt(6))
    _check_scores(out, "scaled_project", ref=ref)


@pytest.mark.grade("Q13", points=1)
def test_q13_general(out, ref):
    """general: s · (W h), W being key_layer."""
    _check_scores(out, "general", ref=ref)


@pytest.mark.grade("Q13", points=1)
def test_q13_additive(out, ref):
    """additive: v · tanh(W s + U h), with attn_dim given or defaulting to dec_hidden."""
    _check_scores(out, "additive", ref=ref)
    _check_scores(out, "additive_default", ref=ref)


@pytest.mark.grade("Q13", points=1)
def test_q13_precompute_and_method(out, ref):
    """precompute returns the projected keys once per batch; the method is kept; unknown methods raise ValueError."""
    for case, (method, enc, dec, _) in SCORE_CASES.items():
        got = out[f"q13_{case}"]
        assert got["method"] == method, "keep the method name in self.method"
        assert close(got["keys"], ref[f"q13_{case}"]["keys"]), (
            f"Attention({method!r}, enc_hidden={enc}, dec_hidden={dec}).precompute must return "
            "key_layer(encoder_outputs), "
            "or the encoder outputs themselves when there is no key_layer")
    assert out["q13_unknown"] == "ValueError", "an unknown method must raise ValueError"


def expected_weights(method: str, query: Tensor, encoder_outputs: Tensor, mask: Tensor, keys: Tensor | None = None):
    with torch.no_grad():
        grader = GraderAttention()
        if method == "additive":
            return grader(query, encoder_outputs, mask, keys)[1]
        keys = layer(nn.Linear(ENC, DEC, bias=False), "k", 5)(encoder_outputs)
        return grader_masked_softmax(torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1), mask)


# zero weights and context pass
@pytest.mark.grade("Q14", points=1, requires="test_q14_weights_masked_softmax_of_scores")
def test_q14_context_is_weighted_sum(out):
    """The context is (batch, enc_hidden), the sum of the encoder states weighted by the attention weights."""
    for key, got in out["q14_context"].items():
        method, case = key.split("/")
        query, encoder_outputs, mask = context_inputs(case)
        assert shape(got["context"]) == [query.size(0), ENC] and shape(got["weights"]) == list(mask.shape), (
            f"batch {query.size(0)}, src_len {mask.size(1)}: context must be (batch, enc_hidden) = "
            f"{[query.size(0), ENC]} and weights (batch, src_len) = {list(mask.shape)}; got {shape(got['context'])} "
            f"and {shape(got['weights'])}")
        expected = torch.einsum("bs,bsh->bh", got["weights"].double(), encoder_outputs.double())
        assert close(got["context"], expected.float()), (
            "the context must be sum_i weights[b, i] * encoder_outputs[b, i]: the weighted sum of the encoder "
            "outputs (not of the keys) over the source positions")


@pytest.mark.grade("Q14", points=1)
def test_q14_weights_masked_softmax_of_scores(out):
    """The weights are the masked softmax of the scores: rows sum to 1, padding gets exactly 0."""
    for key, got in out["q14_context"].items():
        method, case = key.split("/")
        query, encoder_outputs, mask = context_inputs(case)
        assert torch.count_nonzero(got["weights"][~mask]) == 0, (
            f"{method}: padded positions got attention weight: use masked_softmax on the scores")
        assert close(got["weights"], expected_weights(method, query, encoder_outputs, mask)), (
            f"{method}: the weights must be masked_softmax(self.score(query, keys), mask)")


@pytest.mark.grade("Q14", points=1)
def test_q14_uses_given_keys(out):
    """Keys passed to forward are used for the scores (not recomputed); the values are the encoder outputs."""
    got = out["q14_given_keys"]
    query, encoder_outputs, mask = context_inputs("mixed")
    with torch.no_grad():
        other = GraderAttention().key_layer(rand(99, *encoder_outputs.shape))
    assert close(got["weights"], expected_weights("additive", query, encoder_outputs, mask, other)), (
        "when keys are given, score them as they are: precompute only when keys is None")
    assert shape(got["context"]) == [3, ENC] and close(
        got["context"], torch.einsum("bs,bsh->bh", got["weights"], encoder_outputs)), (
        "the context sums the encoder outputs, not the keys")


@pytest.mark.grade("Q14", points=1)
def test_q14_padding_cannot_leak(out):
    """Values at padded positions do not change the context, and receive no gradient."""
    got = out["q14_padding"]
    mask = mask_of(CONTEXT_CASES["mixed"])
    assert close(got["clean"], got["dirty"]), "huge values at padded positions changed the context: mask them"
    grad = got["grad"]
    assert isinstance(grad, Tensor), "no gradient reached the encoder outputs through the context"
    assert torch.count_nonzero(grad[~mask]) == 0, "padded encoder states must get no gradient"
    assert bool((grad[mask].abs().sum(-1) > 0).all()), (
        "every real encoder state must get a gradient through the context")
