"""Checks of section 4, the encoder: Q9–Q11.

The probes these checks read are in ``autograder/probes/encoder.py``; this module is imported by the deciding
process only, never by a process that runs student code.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor, nn

from autograder.graders.common import close, shape
from autograder.probes.common import HID
from autograder.probes.encoder import CASES, ENCODER_CONFIGS, FORMULA_CONFIGS, encoder_shapes


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
        assert kind == {"gru": "GRU", "lstm": "LSTM"}[rnn_type], (
            f"rnn_type={rnn_type!r} must give an nn.{rnn_type.upper()}, not {kind}")
        assert batch_first is True, "build the RNN with batch_first=True: batches are (batch, src_len)"
        assert bidirectional == bi and num_layers == layers, "pass bidirectional and n_layers to the RNN"
        assert math.isclose(between or 0.0, p if layers > 1 else 0.0), (
            "the RNN's own dropout (between stacked layers) must be `dropout` when n_layers > 1, else 0")
        assert got["dropout"] == ["Dropout", p], "self.dropout must be nn.Dropout(dropout)"
        assert got["enc_hidden"] == HID * (2 if bi else 1), "self.enc_hidden must be hidden_size * directions"


@pytest.mark.grade("Q9", points=1)
def test_q9_unknown_rnn_type(out):
    """An unknown rnn_type raises ValueError."""
    assert out["q9_unknown_rnn"] == "ValueError", (
        f"rnn_type='transformer' must raise ValueError ({out['q9_unknown_rnn']})")


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
