"""Probes of section 6, building the decoder with attention: Q15–Q17.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_decoder.py``. Each question is graded on its own
code alone: the probes supply every other part (see ``autograder/probes/standins.py``).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from autograder.probes.common import (
    DEC, EMB, ENC, PAD, TGT_V, construct, fill_, mask_of, parameter_shapes, rand, rnn_shapes,
)
from autograder.probes.standins import GraderAttention
from autograder.registry import probe, question

question("Q15", "decoder layers", points=2, timeout=60)
question("Q16", "decoder step with attention", points=4, timeout=60)
question("Q17", "output layer and probabilities", points=2, timeout=60)


# =============================================================================================== Q15 decoder layers
@probe("Q15")
def q15_layers(s):
    attention = GraderAttention()
    dec = s.decoder.AttentionDecoder(TGT_V, EMB, ENC, DEC, attention, 0.3)
    rnn, out_layer, drop = getattr(dec, "rnn", None), getattr(dec, "out", None), getattr(dec, "dropout", None)
    return {"params": parameter_shapes(dec, skip="attention."),
            "attention_kept": getattr(dec, "attention", None) is attention,
            "rnn": [type(rnn).__name__, getattr(rnn, "input_size", None), getattr(rnn, "hidden_size", None),
                    getattr(rnn, "num_layers", None), getattr(rnn, "batch_first", None)],
            "out": [type(out_layer).__name__, getattr(out_layer, "in_features", None),
                    getattr(out_layer, "out_features", None)],
            "dropout": [type(drop).__name__, getattr(drop, "p", None)]}


DECODER_SHAPES = {"embedding.weight": (TGT_V, EMB), **rnn_shapes("rnn.", 3, EMB + ENC, DEC, 1, False),
                  "out.weight": (TGT_V, DEC + ENC), "out.bias": (TGT_V,)}


# =============================================================================================== Q16 decoder step
def decoder_under_test(s, dropout: float = 0.0, seed: int = 400) -> nn.Module:
    """The student's decoder with the grader's layers and attention (Q15 and Q12–Q14 are graded on their own)."""
    attention = GraderAttention()
    dec = construct(s.decoder.AttentionDecoder, TGT_V, EMB, ENC, DEC, attention, dropout)
    dec.embedding = nn.Embedding(TGT_V, EMB, padding_idx=PAD)
    dec.attention = attention
    dec.rnn = nn.GRU(EMB + ENC, DEC, batch_first=True)
    dec.out = nn.Linear(DEC + ENC, TGT_V)
    dec.dropout = nn.Dropout(dropout)
    fill_(dec, DECODER_SHAPES, seed)
    return dec.eval()


STEP_CASES = {"mixed": [5, 2, 4], "one": [1], "single_sentence": [4]}


def step_inputs(case: str, seed: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """A step's inputs for a batch of sentences of ``STEP_CASES[case]`` lengths: previous tokens ``(batch,)``,
    state ``(batch, DEC)``, encoder outputs ``(batch, src_len, ENC)`` and mask ``(batch, src_len)``."""
    lengths = STEP_CASES[case]
    batch = len(lengths)
    prev = torch.randint(3, TGT_V, (batch,), generator=torch.Generator().manual_seed(seed + batch))
    return prev, rand(seed + 1, batch, DEC), rand(seed + 2, batch, max(lengths), ENC), mask_of(lengths)


def run_steps(dec: nn.Module, prev: Tensor, hidden: Tensor, encoder_outputs: Tensor, mask: Tensor) -> list:
    keys = dec.attention.precompute(encoder_outputs)
    first = dec.step(prev, hidden, encoder_outputs, mask, keys)
    second = dec.step((prev + 1) % TGT_V, first[0], encoder_outputs, mask, keys)  # from the new state
    return [list(first), list(second)]


@probe("Q16")
def q16_steps(s):
    dec = decoder_under_test(s)
    return {case: run_steps(dec, *step_inputs(case)) for case in STEP_CASES}


@probe("Q16")
def q16_gradient(s):
    dec = decoder_under_test(s)
    prev, hidden, encoder_outputs, mask = step_inputs("mixed")
    leaf = encoder_outputs.clone().requires_grad_(True)
    new_hidden, _, _ = dec.step(prev, hidden, leaf, mask, dec.attention.precompute(leaf))
    new_hidden.sum().backward()
    return leaf.grad


@probe("Q16")
def q16_dropout(s):
    dec = decoder_under_test(s, dropout=0.5)
    args = step_inputs("mixed")
    evals = [run_steps(dec, *args)[0][0] for _ in range(2)]
    dec.train()
    trains = [run_steps(dec, *args)[0][0] for _ in range(2)]
    return {"eval": evals, "train": trains}


# =============================================================================================== Q17 output layer
@probe("Q17")
def q17_project(s):
    dec = decoder_under_test(s, seed=500)
    return {"step": dec.project(rand(1, 3, DEC), rand(2, 3, ENC)),
            "all_steps": dec.project(rand(3, 2, 4, DEC), rand(4, 2, 4, ENC))}


def logits_inputs() -> dict[str, Tensor]:
    return {"2d": rand(5, 4, TGT_V, scale=3.0), "3d": rand(6, 2, 3, TGT_V, scale=3.0),
            "large": rand(7, 4, TGT_V, scale=3.0) * 300}


@probe("Q17")
def q17_probabilities(s):
    return {name: s.decoder.token_probabilities(x) for name, x in logits_inputs().items()}


@probe("Q17")
def q17_log_probabilities(s):
    return {name: s.decoder.token_probabilities(x, log=True) for name, x in logits_inputs().items()}
