"""Visible sanity checks for Q22, Q24 and Q26 (run: ``python -m seq2seq check Q26``)."""
import math

import torch
from torch import nn

from seq2seq import evaluation, training


def test_q22_adam_over_all_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    optimizer = training.make_optimizer(model, lr=0.01)
    assert isinstance(optimizer, torch.optim.Adam)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    assert len(params) == 4 and {id(p) for p in params} == {id(p) for p in model.parameters()}


def test_q24_perplexity_and_smoothing():
    assert training.perplexity(0.0) == 1.0
    assert training.smooth([2.0, 2.0, 2.0]) == [2.0, 2.0, 2.0] or all(
        abs(x - 2.0) < 1e-12 for x in training.smooth([2.0, 2.0, 2.0])), "a constant series stays constant"


def test_q24_divergence_and_early_stopping():
    assert training.diverged([3.0, float("nan")]) and not training.diverged([3.0, 2.0])
    stopper = training.EarlyStopping(patience=1)
    assert not stopper.step(2.0) and stopper.improved
    assert stopper.step(2.5) and stopper.best == 2.0


def test_q26_perfect_and_disjoint_translations():
    ref = "the cat sat on the mat".split()
    assert math.isclose(evaluation.corpus_bleu([ref], [ref]), 100.0)
    assert evaluation.corpus_bleu([["dog"] * 6], [ref]) == 0.0
