"""Checks for sections 4–7, the model: encoder (Q9–Q11), attention (Q12–Q14), decoder (Q15–Q17) and the whole
seq2seq model (Q18–Q20).

How a question is isolated from the others: a probe tests one question's code and supplies everything else
itself. Weights are set by *name* (the names the docstrings give) to values drawn from a seed, the same in the
student's and the reference's child, so outputs compare to 1e-5. When a method under test needs layers that
another question defines (``__init__``), the probe overwrites those attributes with layers it builds; when it
needs another question's function or module (``masked_softmax``, the attention inside the decoder, the encoder
and decoder inside ``Seq2Seq``, ``encode``, ``teacher_force``), it injects the grader's own small versions below.
A bug therefore costs points in its own question only.

The probes these checks read are in ``autograder/probes/model.py``; this module is imported by the
deciding process only, never by a process that runs student code.
"""
from __future__ import annotations

import math
import zlib

import pytest
import torch
from torch import Tensor, nn

from autograder.probes.model import (
    BUILD_CONFIGS, CASES, CONTEXT_CASES, DEC, DECODER_SHAPES, EMB, ENC, ENCODER_CONFIGS, FORMULA_CONFIGS,
    FORWARD_CASES, GraderAttention, HID, SCORE_CASES, SOFTMAX_CASES, STEP_CASES, TGT_V, attention_shapes,
    context_inputs, encoder_shapes, grader_masked_softmax, layer, logits_inputs, mask_of, rand, score_inputs, shape,
    softmax_3d_inputs, softmax_inputs, step_inputs, tf_inputs,
)


ATOL = 1e-5


def close(a, b, atol: float = ATOL) -> bool:
    return (isinstance(a, Tensor) and isinstance(b, Tensor) and a.shape == b.shape
            and torch.allclose(a.double(), b.double(), atol=atol, rtol=atol))


@pytest.mark.grade("Q9", points=1)
def test_q9_parameter_names_and_shapes(out):
    """The encoder has the embedding, RNN and bridge parameters the docstring names, with the right shapes."""
    for name, (layers, bi, rnn_type, _) in ENCODER_CONFIGS.items():
        want = {k: list(v) for k, v in encoder_shapes(layers, bi, rnn_type).items()}
        got = out["q9_layers"][name]["params"]
        where = f"Encoder(..., n_layers={layers}, bidirectional={bi}, rnn_type={rnn_type!r})"
        assert sorted(got) == sorted(want), (
            f"{where} has parameters {sorted(got)}; expected exactly {sorted(want)} (embedding, rnn, bridge)")
        for key in want:
            assert got[key] == want[key], (
                f"{where}: {key} has shape {got[key]}; check the sizes the docstring gives "
                "(the bridge reads enc_hidden = hidden_size * directions features)")


@pytest.mark.grade("Q9", points=1)
def test_q9_layer_settings(out):
    """The RNN is batch-first with the requested type, directions, layers and dropout; enc_hidden is kept."""
    for name, (layers, bi, rnn_type, p) in ENCODER_CONFIGS.items():
        got = out["q9_layers"][name]
        kind, batch_first, bidirectional, num_layers, between = got["rnn"]
        assert kind == {"gru": "GRU", "lstm": "LSTM"}[rnn_type], f"rnn_type={rnn_type!r} must give an nn.{rnn_type.upper()}, not {kind}"
        assert batch_first is True, "build the RNN with batch_first=True: batches are (batch, src_len)"
        assert bidirectional == bi and num_layers == layers, "pass bidirectional and n_layers to the RNN"
        assert math.isclose(between or 0.0, p if layers > 1 else 0.0), (
            "the RNN's own dropout (between stacked layers) must be `dropout` when n_layers > 1, else 0")
        assert got["dropout"] == ["Dropout", p], "self.dropout must be nn.Dropout(dropout)"
        assert got["enc_hidden"] == HID * (2 if bi else 1), "self.enc_hidden must be hidden_size * directions"


@pytest.mark.grade("Q9", points=1)
def test_q9_unknown_rnn_type(out):
    """An unknown rnn_type raises ValueError."""
    assert out["q9_unknown_rnn"] == "ValueError", f"rnn_type='transformer' must raise ValueError ({out['q9_unknown_rnn']})"


@pytest.mark.grade("Q10", points=1, requires="test_q10_outputs_match")  # zeros of the right shape pass
def test_q10_shapes(out, ref):
    """Outputs are (batch, src_len, enc_hidden) and the initial decoder state (batch, dec_hidden), for many shapes."""
    for key, expected in ref["q10_outputs"].items():
        got = out["q10_outputs"][key]
        config, case = key.split("/")
        lengths, src_len = CASES[case]
        for part in ("outputs", "hidden"):
            assert shape(got[part]) == list(expected[part].shape), (
                f"{config} encoder, batch {len(lengths)}, src_len {src_len}, lengths {lengths}: {part} has shape "
                f"{shape(got[part])}, expected {list(expected[part].shape)} (outputs: [forward; backward] "
                "concatenated, padded to src.size(1); hidden: the bridge's output)")


@pytest.mark.grade("Q10", points=1)
def test_q10_outputs_match(out, ref):
    """With the same weights, every token's hidden state matches the reference (GRU, 2 layers, LSTM)."""
    for key, expected in ref["q10_outputs"].items():
        got = out["q10_outputs"][key]["outputs"]
        assert close(got, expected["outputs"]), (
            f"{key}: the encoder outputs differ from the expected ones (embedding -> dropout -> packed RNN -> "
            "unpacked top-layer states, forward and backward concatenated)")


@pytest.mark.grade("Q10", points=1)
def test_q10_initial_state_match(out, ref):
    """The decoder's initial state is tanh(bridge([last forward; last backward])) of the top layer."""
    for key, expected in ref["q10_outputs"].items():
        got = out["q10_outputs"][key]["hidden"]
        no_tanh = isinstance(got, Tensor) and bool((got.abs() > 1).any())
        assert close(got, expected["hidden"]), (
            f"{key}: the initial decoder state differs from tanh(bridge(...)) of the top layer's last states "
            "(the forward state after the last real token, the backward state after the first token)"
            + ("; yours has values outside (-1, 1): apply tanh to the bridge's output" if no_tanh else ""))


@pytest.mark.grade("Q10", points=1, requires="test_q10_outputs_match")  # all-zero outputs pass
def test_q10_padding_is_invisible(out):
    """Padding changes nothing: padded positions are exactly 0, and a sentence encodes the same alone or in a batch."""
    got = out["q10_alone_vs_batch"]
    outputs, hidden = got["batch"]
    for i, (alone_out, alone_hidden) in enumerate(got["alone"]):
        n = int(got["lengths"][i])
        assert torch.count_nonzero(outputs[i, n:]) == 0, (
            "the outputs at padded positions must be exactly 0: pack the padded batch (pack_padded_sequence, "
            "enforce_sorted=False) and unpack it (pad_packed_sequence)")
        assert close(outputs[i, :n], alone_out[0]) and close(hidden[i], alone_hidden[0]), (
            "a sentence encoded inside a padded batch must give the same states as encoded alone: padding "
            "must not enter the RNN (pack the sequence)")


@pytest.mark.grade("Q10", points=1)
def test_q10_eval_disables_dropout(out):
    """In eval() mode the encoder is deterministic; in train() mode dropout changes its outputs."""
    got = out["q10_dropout"]
    (o1, h1), (o2, h2) = got["eval"]
    assert close(o1, o2, 0) and close(h1, h2, 0), "after eval(), two calls on the same batch must agree (no dropout)"
    (t1, _), (t2, _) = got["train"]
    assert not close(t1, t2, 0), "in train() mode with dropout 0.5, apply self.dropout to the embeddings"


def reference_encoder_count(vocab, emb, hidden, dec, layers, bi, rnn_type) -> int:
    """Built from torch's own layers, so the count is torch's, not anybody's formula."""
    rnn = (nn.GRU if rnn_type == "gru" else nn.LSTM)(emb, hidden, layers, bidirectional=bi)
    parts = [nn.Embedding(vocab, emb), rnn, nn.Linear(hidden * (2 if bi else 1), dec)]
    return sum(p.numel() for part in parts for p in part.parameters())


@pytest.mark.grade("Q11", points=1)
def test_q11_count_trainable(out):
    """count_parameters counts every trainable number, and only trainable ones."""
    got = out["q11_count"]
    assert got["plain"] == 18 + 2 * 3 * 2 * (3 + 2 + 2), "count_parameters must add up numel() of every parameter"
    assert got["frozen"] == 3 * 4 * (3 + 4 + 2) + 10, "parameters with requires_grad=False are not trainable: skip them"


def _formula_variant(vocab, emb, hidden, dec, layers, bi, rnn_type, *, biases=2, later_read_emb=False) -> int:
    """Known wrong counts, to name the likely mistake (one bias per gate block; every layer reading emb_dim)."""
    gates, directions = (3 if rnn_type == "gru" else 4), (2 if bi else 1)
    rnn = sum(directions * gates * hidden * ((emb if layer == 0 or later_read_emb else hidden * directions)
                                             + hidden + biases) for layer in range(layers))
    return vocab * emb + rnn + hidden * directions * dec + dec


def _formula_hint(got, config) -> str:
    if got == _formula_variant(*config, biases=1):
        return ("; your count is what one bias vector per gate block gives: PyTorch's GRU/LSTM have two "
                "(bias_ih and bias_hh)")
    if got == _formula_variant(*config, later_read_emb=True):
        return ("; your count is what every layer reading emb_dim features gives: layers after the first read the "
                "previous layer's enc_hidden = hidden_size * directions features")
    return ""


@pytest.mark.parametrize("group", ["single layer GRU", "stacked and bidirectional GRU", "LSTM"])
@pytest.mark.grade("Q11", points=1)
def test_q11_formula(out, group):
    """encoder_parameter_formula equals the real parameter count."""
    names = {"single layer GRU": ["gru1", "bigru1"], "stacked and bidirectional GRU": ["gru3", "bigru2"],
             "LSTM": ["lstm2", "bilstm3"]}[group]
    for name in names:
        v, e, h, d, n, bi, r = FORMULA_CONFIGS[name]
        got = out["q11_formula"][name]
        assert isinstance(got, int), f"return an int, not {type(got).__name__}"
        assert got == reference_encoder_count(*FORMULA_CONFIGS[name]), (
            f"the formula is off for vocab={v}, emb={e}, hidden={h}, dec_hidden={d}, n_layers={n}, "
            f"bidirectional={bi}, rnn_type={r!r}: count the embedding, every layer and direction (the first "
            "layer reads the embeddings, later ones enc_hidden features; two bias vectors per gate block), "
            "and the bridge" + _formula_hint(got, FORMULA_CONFIGS[name]))


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
SCORE_LENGTHS = [5, 2, 1]


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
    assert shape(got["scores"]) == [3, 5], f"{where}: score() must return (batch, src_len) = [3, 5], not {shape(got['scores'])}"
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
    for case, (method, enc, dec, attn) in SCORE_CASES.items():
        got = out[f"q13_{case}"]
        assert got["method"] == method, "keep the method name in self.method"
        assert close(got["keys"], ref[f"q13_{case}"]["keys"]), (
            f"Attention({method!r}, enc_hidden={enc}, dec_hidden={dec}).precompute must return key_layer(encoder_outputs), "
            "or the encoder outputs themselves when there is no key_layer")
    assert out["q13_unknown"] == "ValueError", "an unknown method must raise ValueError"


def expected_weights(method: str, query: Tensor, encoder_outputs: Tensor, mask: Tensor, keys: Tensor | None = None):
    with torch.no_grad():
        grader = GraderAttention()
        if method == "additive":
            return grader(query, encoder_outputs, mask, keys)[1]
        keys = layer(nn.Linear(ENC, DEC, bias=False), "k", 5)(encoder_outputs)
        return grader_masked_softmax(torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1), mask)


@pytest.mark.grade("Q14", points=1, requires="test_q14_weights_masked_softmax_of_scores")  # zero weights and context pass
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
    assert bool((grad[mask].abs().sum(-1) > 0).all()), "every real encoder state must get a gradient through the context"


@pytest.mark.grade("Q15", points=1)
def test_q15_parameter_names_and_shapes(out):
    """The decoder's own parameters are embedding, rnn and out, with the shapes the docstring gives."""
    got = out["q15_layers"]["params"]
    want = {k: list(v) for k, v in DECODER_SHAPES.items()}
    assert sorted(got) == sorted(want), f"the decoder's parameters (besides attention.*) are {sorted(got)}; expected {sorted(want)}"
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
    mask = mask_of(CONTEXT_CASES["mixed"])
    assert isinstance(grad, Tensor), ("no gradient reached the encoder outputs: the context must feed "
                                               "the GRU (do not detach it)")
    assert bool((grad[mask].abs().sum(-1) > 0).all()), "every real encoder state must get a gradient through the context"
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


@pytest.mark.grade("Q19", points=1, requires="test_q19_ratio_zero_is_prediction")  # returning gold is right at 1.0 alone
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
