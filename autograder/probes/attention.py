"""Probes of section 5, building the attention mechanism: Q12–Q14.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_attention.py``. Each question is graded on its own
code alone: the probes supply every other part (see ``autograder/probes/standins.py``).
"""
from __future__ import annotations

from unittest import mock

import torch
from torch import Tensor, nn

from autograder.probes.common import ATT, DEC, ENC, construct, fill_, layer, mask_of, parameter_shapes, raised, rand
from autograder.probes.standins import GraderAttention, grader_masked_softmax
from autograder.registry import probe, question

question("Q12", "masked softmax over source positions", points=3, timeout=60)
question("Q13", "attention score functions", points=5, timeout=60)
question("Q14", "context vector", points=2, timeout=60)


# =============================================================================================== Q12 masked softmax
SOFTMAX_CASES = {"2d": ([4, 1, 6, 3], None), "one": ([1], None)}


def softmax_inputs(case: str) -> tuple[Tensor, Tensor]:
    lengths, _ = SOFTMAX_CASES[case]
    scores = rand(sum(lengths), len(lengths), max(lengths), scale=3.0)
    return scores, mask_of(lengths)


def softmax_3d_inputs() -> tuple[Tensor, Tensor]:
    mask = mask_of([5, 2, 3]).unsqueeze(1).expand(3, 4, 5).contiguous()
    return rand(3, 3, 4, 5, scale=3.0), mask


@probe("Q12")
def q12_weights(s):
    return {case: s.attention.masked_softmax(*softmax_inputs(case)) for case in SOFTMAX_CASES}


@probe("Q12")
def q12_leading_dims(s):
    return s.attention.masked_softmax(*softmax_3d_inputs())


@probe("Q12")
def q12_large(s):
    scores, mask = softmax_inputs("2d")
    return s.attention.masked_softmax(scores * 1e4, mask)


# =============================================================================================== Q13 score functions
def attention_shapes(method: str, enc: int, dec: int, attn: int | None) -> dict:
    if method == "additive":
        attn = attn or dec
        return {"key_layer.weight": (attn, enc), "query_layer.weight": (attn, dec), "energy_layer.weight": (1, attn)}
    if method == "general" or enc != dec:
        return {"key_layer.weight": (dec, enc)}
    return {}


SCORE_CASES = {  # name -> (method, enc, dec, attn_dim)
    "dot_same": ("dot", 6, 6, None), "dot_project": ("dot", ENC, DEC, None),
    "scaled_same": ("scaled_dot", 6, 6, None), "scaled_project": ("scaled_dot", ENC, DEC, None),
    "general": ("general", ENC, DEC, None), "additive": ("additive", ENC, DEC, ATT),
    "additive_default": ("additive", ENC, DEC, None)}


def score_inputs(enc: int, dec: int) -> tuple[Tensor, Tensor]:
    return rand(enc * 100 + dec, 3, dec), rand(enc * 100 + dec + 1, 3, 5, enc)


def score_probe(s, case: str) -> dict:
    method, enc, dec, attn = SCORE_CASES[case]
    att = s.attention.Attention(method, enc, dec, attn)
    params = parameter_shapes(att)
    fill_(att, attention_shapes(method, enc, dec, attn), seed=300)
    extra = sorted(set(params) - set(attention_shapes(method, enc, dec, attn)))
    if extra:
        raise ValueError(f"Attention({method!r}) has parameters the docstring does not list: {extra}")
    query, encoder_outputs = score_inputs(enc, dec)
    keys = att.precompute(encoder_outputs)
    return {"keys": keys, "scores": att.score(query, keys), "method": getattr(att, "method", None)}


def _register_score_probe(case: str) -> None:
    def run(s):
        return score_probe(s, case)
    run.__name__ = f"q13_{case}"
    probe("Q13")(run)


for _case in SCORE_CASES:  # one probe per case: a crash in one score function costs that function only
    _register_score_probe(_case)


@probe("Q13")
def q13_unknown(s):
    return raised(lambda: s.attention.Attention("cosine", ENC, DEC)) or "nothing raised"


# =============================================================================================== Q14 context
CONTEXT_CASES = {"mixed": [5, 2, 4], "one": [1], "full": [3, 3]}


def context_inputs(case: str) -> tuple[Tensor, Tensor, Tensor]:
    lengths = CONTEXT_CASES[case]
    return (rand(len(lengths), len(lengths), DEC), rand(len(lengths) + 50, len(lengths), max(lengths), ENC),
            mask_of(lengths))


def attention_under_test(s, method: str) -> nn.Module:
    """The student's Attention with the grader's layers, scores and keys (Q13 is graded on its own)."""
    att = construct(s.attention.Attention, method, ENC, DEC, ATT)
    grader = GraderAttention()
    att.method = method
    if method == "additive":
        att.key_layer, att.query_layer, att.energy_layer = grader.key_layer, grader.query_layer, grader.energy_layer

        def score(query, keys):
            return grader.energy_layer(torch.tanh(grader.query_layer(query).unsqueeze(1) + keys)).squeeze(-1)
    else:  # dot with a projection
        att.key_layer = layer(nn.Linear(ENC, DEC, bias=False), "k", 5)

        def score(query, keys):
            return torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)
    keys_of = att.key_layer
    att.score = score  # plain functions set on the instance shadow the student's methods
    att.precompute = lambda encoder_outputs: keys_of(encoder_outputs)
    return att


def attend(s, method: str, *args, **kwargs):
    with mock.patch.object(s.attention, "masked_softmax", grader_masked_softmax):
        return attention_under_test(s, method)(*args, **kwargs)


@probe("Q14")
def q14_context(s):
    result = {}
    for method in ("dot", "additive"):
        for case in CONTEXT_CASES:
            context, weights = attend(s, method, *context_inputs(case))
            result[f"{method}/{case}"] = {"context": context, "weights": weights}
    return result


@probe("Q14")
def q14_given_keys(s):
    """Keys passed in must be used as they are: here they come from other states than the values."""
    query, encoder_outputs, mask = context_inputs("mixed")
    att = attention_under_test(s, "additive")
    other = att.key_layer(rand(99, *encoder_outputs.shape))
    with mock.patch.object(s.attention, "masked_softmax", grader_masked_softmax):
        context, weights = att(query, encoder_outputs, mask, other)
    return {"context": context, "weights": weights}


@probe("Q14")
def q14_padding(s):
    query, encoder_outputs, mask = context_inputs("mixed")
    garbage = encoder_outputs.masked_fill(~mask.unsqueeze(-1), 1e6)
    clean, _ = attend(s, "dot", query, encoder_outputs, mask)
    dirty, _ = attend(s, "dot", query, garbage, mask)
    leaf = encoder_outputs.clone().requires_grad_(True)
    context, _ = attend(s, "additive", query, leaf, mask)
    context.sum().backward()
    return {"clean": clean, "dirty": dirty, "grad": leaf.grad}
