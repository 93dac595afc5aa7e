"""Probes of section 7, combining the encoder and the decoder into an attention seq2seq model: Q18–Q20.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_model.py``. Each question is graded on its own
code alone: the probes supply every other part (see ``autograder/probes/standins.py``).
"""
from __future__ import annotations

import contextlib
import inspect
import types
from unittest import mock

import torch
from torch import Tensor, nn

from autograder.probes.common import DEC, EMB, HID, SOS, SRC_V, TGT_V, rand, tokens
from autograder.probes.standins import GraderDecoder, GraderEncoder, grader_encode, grader_teacher_force
from autograder.registry import probe, question

question("Q18", "building and encoding with the seq2seq model", points=2, timeout=60)
question("Q19", "teacher forcing", points=3, timeout=60)
question("Q20", "seq2seq forward pass", points=4, timeout=60)


# =============================================================================================== Q18 build and encode
BUILD_CONFIGS = {
    "reference": dict(src_vocab=SRC_V, tgt_vocab=TGT_V, emb_dim=EMB, hidden_size=HID, dec_hidden=DEC),
    "unidirectional": dict(src_vocab=31, tgt_vocab=17, emb_dim=4, hidden_size=9, dec_hidden=6, n_layers=2,
                           bidirectional=False, rnn_type="lstm", attention="general", dropout=0.2),
    "additive": dict(src_vocab=12, tgt_vocab=13, emb_dim=3, hidden_size=4, dec_hidden=5, attention="additive",
                     attn_dim=7, dropout=0.3),
    "vanilla": dict(src_vocab=12, tgt_vocab=13, emb_dim=3, hidden_size=4, dec_hidden=5, attention="none")}
PARTS = ("Encoder", "Attention", "AttentionDecoder", "VanillaDecoder")


def recorder(real: type, calls: list) -> type:
    signature = inspect.signature(real)

    class Recorded(nn.Module):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__()
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            self.arguments, self.part = dict(bound.arguments), real.__name__
            calls.append(self)

    return Recorded


def label(value, calls: list):
    """``<Attention #0>``: which recorded part, counted per kind (so the order of building does not matter)."""
    if not any(value is c for c in calls):
        return None
    same = [c for c in calls if c.part == value.part]
    return f"<{value.part} #{[id(c) for c in same].index(id(value))}>"


def plain_arguments(module: nn.Module, calls: list) -> dict:
    arguments = dict(module.arguments)
    if module.part == "Attention" and arguments.get("attn_dim") is None:
        arguments["attn_dim"] = arguments.get("dec_hidden")  # None means dec_hidden: either way is right
    return {key: label(value, calls) if any(value is c for c in calls)
            else value if isinstance(value, (int, float, str, bool, type(None))) else type(value).__name__
            for key, value in arguments.items()}


@probe("Q18")
def q18_build(s):
    result = {}
    for name, fields in BUILD_CONFIGS.items():
        calls: list = []
        with contextlib.ExitStack() as stack:
            # Replace each part's class wherever build_model may look it up: seq2seq.model or its own module.
            for module in (s.model, s.encoder, s.attention, s.decoder):
                for part in PARTS:
                    if isinstance(getattr(module, part, None), type):
                        stack.enter_context(mock.patch.object(module, part, recorder(getattr(module, part), calls)))
            model = s.model.build_model(s.model.ModelConfig(**fields))
        result[name] = {"calls": [[c.part, plain_arguments(c, calls)] for c in calls],
                        "type": type(model).__name__,
                        "encoder": label(getattr(model, "encoder", None), calls),
                        "decoder": label(getattr(model, "decoder", None), calls)}
    return result


def encode_inputs():
    return tokens(21, [5, 1, 3], 6)


@probe("Q18")
def q18_encode(s):
    decoder = GraderDecoder()
    model = s.model.Seq2Seq(GraderEncoder(), decoder).eval()
    outputs, hidden, mask, keys = model.encode(*encode_inputs())
    return {"outputs": outputs, "hidden": hidden, "mask": mask, "keys": keys,
            "precomputed": decoder.attention.precomputed}


# =============================================================================================== Q19 teacher forcing
def tf_inputs(seed: int) -> tuple[Tensor, Tensor]:
    logits = rand(seed, 4, TGT_V)
    gold = (logits.argmax(-1) + 1 + torch.arange(4)) % TGT_V  # never the prediction
    return gold, logits


@probe("Q19")
def q19_extremes(s):
    gold, logits = tf_inputs(1)
    return {"one": [s.model.teacher_force(gold, logits, 1.0) for _ in range(20)],
            "zero": [s.model.teacher_force(gold, logits, 0.0) for _ in range(20)]}


@probe("Q19")
def q19_half(s):
    gold, logits = tf_inputs(2)
    torch.manual_seed(3)
    first = [s.model.teacher_force(gold, logits, 0.5) for _ in range(200)]
    torch.manual_seed(3)
    again = [s.model.teacher_force(gold, logits, 0.5) for _ in range(50)]
    return {"first": first, "again": again}


# =============================================================================================== Q20 forward
FORWARD_CASES = {  # name -> (source lengths, src_len, target length)
    "mixed": ([5, 2, 4], 5, 6), "one": ([1], 1, 2), "longer_target": ([3, 3], 3, 8)}


def forward_inputs(case: str) -> tuple[Tensor, Tensor, Tensor]:
    lengths, src_len, tgt_len = FORWARD_CASES[case]
    src, lens = tokens(len(lengths) * 7 + tgt_len, lengths, src_len)
    tgt = torch.randint(3, TGT_V, (len(lengths), tgt_len), generator=torch.Generator().manual_seed(tgt_len))
    tgt[:, 0] = SOS
    return src, lens, tgt


def model_under_test(s) -> nn.Module:
    """The student's Seq2Seq around the grader's encoder and decoder, with the grader's encode and teacher_force."""
    model = s.model.Seq2Seq(GraderEncoder(), GraderDecoder()).eval()
    model.encode = types.MethodType(grader_encode, model)
    return model


def forward(s, model: nn.Module, *args):
    with mock.patch.object(s.model, "teacher_force", grader_teacher_force):
        return model(*args)


@probe("Q20")
def q20_outputs(s):
    model = model_under_test(s)
    result = {}
    for case in FORWARD_CASES:
        for ratio in (1.0, 0.0):
            logits, attention = forward(s, model, *forward_inputs(case), ratio)
            result[f"{case}/{ratio}"] = {"logits": logits, "attention": attention}
    return result


@probe("Q20")
def q20_changed_target(s):
    """Forward again with one gold token changed, at either ratio."""
    model = model_under_test(s)
    src, lens, tgt = forward_inputs("longer_target")
    changed = tgt.clone()
    changed[:, 3] = (changed[:, 3] + 1) % TGT_V
    return {str(ratio): [forward(s, model, src, lens, t, ratio)[0] for t in (tgt, changed)] for ratio in (1.0, 0.0)}


@probe("Q20")
def q20_gradient(s):
    model = model_under_test(s).train()
    logits, _ = forward(s, model, *forward_inputs("mixed"), 1.0)
    (logits * rand(9, *logits.shape)).sum().backward()
    return model.encoder.last_outputs.grad
