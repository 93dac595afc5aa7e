"""Probes of section 4, building the encoder: Q9–Q11.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_encoder.py``. Each question is graded on its own
code alone: the probes supply every other part (see ``autograder/probes/standins.py``).
"""
from __future__ import annotations

import zlib

from torch import nn

from autograder.probes.common import (
    DEC, EMB, HID, PAD, SRC_V, construct, fill_, parameter_shapes, raised, rnn_shapes, tokens,
)
from autograder.registry import probe, question

question("Q9", "encoder layers", points=2, timeout=60)
question("Q10", "encoder forward pass", points=4, timeout=60)
question("Q11", "encoder size: parameter count", points=2, timeout=60)


# =============================================================================================== Q9 encoder
def encoder_shapes(layers: int = 1, bidirectional: bool = True, rnn_type: str = "gru", dec: int = DEC) -> dict:
    """The parameter shapes the docstring gives ``Encoder``: embedding, rnn, bridge."""
    enc = HID * (2 if bidirectional else 1)
    return {"embedding.weight": (SRC_V, EMB),
            **rnn_shapes("rnn.", 3 if rnn_type == "gru" else 4, EMB, HID, layers, bidirectional),
            "bridge.weight": (dec, enc), "bridge.bias": (dec,)}


ENCODER_CONFIGS = {  # name -> (n_layers, bidirectional, rnn_type, dropout)
    "bigru": (1, True, "gru", 0.0), "gru2": (2, False, "gru", 0.25), "bilstm2": (2, True, "lstm", 0.5)}


@probe("Q9")
def q9_layers(s):
    result = {}
    for name, (layers, bi, rnn_type, p) in ENCODER_CONFIGS.items():
        enc = s.encoder.Encoder(SRC_V, EMB, HID, DEC, layers, bi, p, rnn_type)
        rnn, drop = getattr(enc, "rnn", None), getattr(enc, "dropout", None)
        result[name] = {
            "params": parameter_shapes(enc),
            "rnn": [type(rnn).__name__, getattr(rnn, "batch_first", None), getattr(rnn, "bidirectional", None),
                    getattr(rnn, "num_layers", None), getattr(rnn, "dropout", None)],
            "dropout": [type(drop).__name__, getattr(drop, "p", None)],
            "enc_hidden": getattr(enc, "enc_hidden", None),
        }
    return result


@probe("Q9")
def q9_unknown_rnn(s):
    return raised(lambda: s.encoder.Encoder(SRC_V, EMB, HID, DEC, 1, True, 0.0, "transformer")) or "nothing raised"


# =============================================================================================== Q10 encoder forward
def encoder_under_test(s, layers: int, bi: bool, rnn_type: str, p: float, seed: int) -> nn.Module:
    """The student's Encoder with the documented layers replaced by seeded ones (Q9 is graded on its own)."""
    enc = construct(s.encoder.Encoder, SRC_V, EMB, HID, DEC, layers, bi, p, rnn_type)
    rnn = nn.GRU if rnn_type == "gru" else nn.LSTM
    enc.embedding = nn.Embedding(SRC_V, EMB, padding_idx=PAD)
    enc.rnn = rnn(EMB, HID, num_layers=layers, batch_first=True, bidirectional=bi, dropout=p if layers > 1 else 0.0)
    enc.dropout = nn.Dropout(p)
    enc.bridge = nn.Linear(HID * (2 if bi else 1), DEC)
    enc.enc_hidden = HID * (2 if bi else 1)
    fill_(enc, encoder_shapes(layers, bi, rnn_type), seed)
    return enc.eval()


CASES = {"one": ([1], 1), "mixed": ([5, 2, 4], 5), "extra_padding": ([3, 1, 2, 3], 6), "full": ([7, 7], 7)}
ENCODER_FORWARD = {"bigru": (1, True, "gru"), "gru2": (2, False, "gru"), "bigru2": (2, True, "gru"),
                   "bilstm": (1, True, "lstm")}


@probe("Q10")
def q10_outputs(s):
    result = {}
    for config, (layers, bi, rnn_type) in ENCODER_FORWARD.items():
        enc = encoder_under_test(s, layers, bi, rnn_type, 0.0, seed=100)
        for case, (lengths, src_len) in CASES.items():
            src, lens = tokens(zlib.crc32(f"{config}/{case}".encode()) % 1000, lengths, src_len)
            outputs, hidden = enc(src, lens)
            result[f"{config}/{case}"] = {"outputs": outputs, "hidden": hidden}
    return result


@probe("Q10")
def q10_alone_vs_batch(s):
    """Each sentence encoded alone (no padding) and inside a padded batch."""
    enc = encoder_under_test(s, 2, True, "gru", 0.0, seed=101)
    src, lens = tokens(5, [6, 2, 4])
    batch_out, batch_hidden = enc(src, lens)
    alone = [enc(src[i:i + 1, :n], lens[i:i + 1]) for i, n in enumerate(lens.tolist())]
    return {"batch": [batch_out, batch_hidden], "alone": [[o, h] for o, h in alone], "lengths": lens}


@probe("Q10")
def q10_dropout(s):
    enc = encoder_under_test(s, 1, True, "gru", 0.5, seed=102)
    src, lens = tokens(6, [6, 3])
    evals = [enc(src, lens) for _ in range(2)]
    enc.train()
    trains = [enc(src, lens) for _ in range(2)]
    return {"eval": [list(x) for x in evals], "train": [list(x) for x in trains]}


# =============================================================================================== Q11 parameter counts
FORMULA_CONFIGS = {  # name -> (vocab, emb, hidden, dec, layers, bidirectional, rnn_type)
    "gru1": (100, 8, 6, 5, 1, False, "gru"), "bigru1": (57, 16, 9, 11, 1, True, "gru"),
    "gru3": (30, 4, 7, 3, 3, False, "gru"), "bigru2": (41, 6, 5, 8, 2, True, "gru"),
    "lstm2": (30, 4, 7, 3, 2, False, "lstm"), "bilstm3": (12, 3, 4, 6, 3, True, "lstm")}


@probe("Q11")
def q11_count(s):
    frozen = nn.Sequential(nn.Embedding(10, 3), nn.GRU(3, 4), nn.Linear(4, 2))
    frozen[0].weight.requires_grad_(False)
    return {"plain": s.encoder.count_parameters(nn.Sequential(nn.Linear(5, 3), nn.GRU(3, 2, bidirectional=True))),
            "frozen": s.encoder.count_parameters(frozen)}


@probe("Q11")
def q11_formula(s):
    return {name: s.encoder.encoder_parameter_formula(v, e, h, d, n_layers=n, bidirectional=bi, rnn_type=r)
            for name, (v, e, h, d, n, bi, r) in FORMULA_CONFIGS.items()}
