"""Graders for section 8, training the model: Q22 (optimizer) and Q24 (monitoring the loss)."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from autograder.registry import probe, question

question("Q22", "Adam over encoder and decoder parameters", timeout=60)
question("Q24", "monitoring: perplexity, smoothing, divergence, early stopping", timeout=60)


class _Toy(nn.Module):
    """A stand-in seq2seq: an encoder and a decoder sharing an embedding, plus a frozen buffer-like weight."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(7, 4)
        self.encoder = nn.GRU(4, 5, batch_first=True)
        self.decoder = nn.Linear(5, 7)
        self.decoder_embedding = self.embedding  # tied: the same Parameter reachable twice
        self.frozen = nn.Parameter(torch.ones(3), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.encoder(self.embedding(x))
        return self.decoder(states)


# ---------------------------------------------------------------------------------------------------- Q22
@probe("Q22")
def q22_groups(s):
    torch.manual_seed(0)
    model = _Toy()
    named = list(model.named_parameters())  # deduplicated, in registration order
    index = {id(p): i for i, (_, p) in enumerate(named)}
    optimizer = s.training.make_optimizer(model, lr=0.05, weight_decay=0.01)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    before = {name: p.detach().clone() for name, p in named}
    optimizer.zero_grad()
    model(torch.tensor([[1, 2, 3]])).sum().backward()
    optimizer.step()
    return {"type": type(optimizer).__name__, "is_adam": isinstance(optimizer, torch.optim.Adam),
            "indices": [index.get(id(p), -1) for p in params],
            "names": [name for name, _ in named], "trainable": [p.requires_grad for _, p in named],
            "lr": [group["lr"] for group in optimizer.param_groups],
            "weight_decay": [group.get("weight_decay") for group in optimizer.param_groups],
            "moved": {name: not torch.equal(before[name], p.detach()) for name, p in named}}


@pytest.mark.grade("Q22", points=1)
def test_q22_is_adam_with_settings(out):
    """make_optimizer returns torch.optim.Adam with the requested learning rate and weight decay."""
    got = out["q22_groups"]
    assert got["is_adam"], f"make_optimizer returned {got['type']}, not torch.optim.Adam"
    assert got["lr"] and all(lr == 0.05 for lr in got["lr"]), "use the learning rate passed as lr"
    assert all(wd == 0.01 for wd in got["weight_decay"]), "use the weight_decay passed in"


@pytest.mark.grade("Q22", points=2)
def test_q22_every_trainable_parameter_once(out):
    """Every trainable parameter (encoder and decoder) is optimised exactly once; frozen ones are left out."""
    got = out["q22_groups"]
    indices = got["indices"]
    assert -1 not in indices, "the optimizer holds tensors that are not parameters of the model"
    assert len(indices) == len(set(indices)), (
        "some parameters are given to Adam twice (e.g. encoder.parameters() plus model.parameters()): "
        "they would be updated twice per step")
    wanted = {i for i, trainable in enumerate(got["trainable"]) if trainable}
    missing = [got["names"][i] for i in sorted(wanted - set(indices))]
    assert not missing, f"these parameters are never updated: {missing}"
    assert not set(indices) - wanted, "a frozen parameter (requires_grad=False) was given to the optimizer"


@pytest.mark.grade("Q22", points=1)
def test_q22_step_updates_encoder_and_decoder(out):
    """One optimizer step changes the encoder's and the decoder's weights."""
    moved = out["q22_groups"]["moved"]
    assert moved.get("encoder.weight_hh_l0") and moved.get("decoder.weight"), (
        "after backward() and step(), both the encoder and the decoder weights must change")
    assert not moved.get("frozen"), "a frozen parameter changed"


# ---------------------------------------------------------------------------------------------------- Q24
LOSSES = [0.0, 1.5, -0.25, 800.0, float("inf")]
SERIES = [4.0, 3.0, 3.5, 2.0, 2.5, 1.0]
DIVERGENCE = {"empty": [], "one": [5.0], "steady": [5.0, 4.0, 3.0, 3.5], "spike": [5.0, 2.0, 3.0, 6.5],
              "below_first": [5.0, 1.0, 4.0], "nan": [2.0, float("nan")], "inf": [float("inf")],
              "edge": [2.0, 6.0]}
VALID = {"improving": [5, 4, 3, 2], "plateau": [3.0, 2.0, 2.5, 2.4, 2.2, 1.0], "equal": [2.0, 2.0, 2.0, 2.0],
         "delta": [3.0, 2.95, 2.9, 2.0]}


# One probe per function, so that an unfinished function costs only its own part of the question.
@probe("Q24")
def q24_perplexity(s):
    return {"values": [s.training.perplexity(x) for x in LOSSES], "nan": s.training.perplexity(float("nan"))}


@probe("Q24")
def q24_smooth(s):
    return {"smooth": s.training.smooth(SERIES), "smooth_half": s.training.smooth(SERIES, beta=0.5),
            "smooth_empty": s.training.smooth([])}


@probe("Q24")
def q24_diverged(s):
    return {"cases": {name: bool(s.training.diverged(series)) for name, series in DIVERGENCE.items()},
            "factor": bool(s.training.diverged([2.0, 5.0], factor=2.0))}


@probe("Q24")
def q24_stopping(s):
    stops = {}
    for name, series in VALID.items():
        stopper = s.training.EarlyStopping(patience=2, min_delta=0.1 if name == "delta" else 0.0)
        trace = []
        for loss in series:
            stop = stopper.step(float(loss))
            trace.append([bool(stop), bool(stopper.improved), float(stopper.best), int(stopper.best_epoch)])
        stops[name] = trace
    return stops


def _smooth(values, beta):
    out, m = [], 0.0
    for t, x in enumerate(values, start=1):
        m = beta * m + (1 - beta) * x
        out.append(m / (1 - beta ** t))
    return out


@pytest.mark.grade("Q24", points=1)
def test_q24_perplexity(out):
    """perplexity is exp(loss), inf when that overflows, NaN for NaN, and never raises."""
    got = out["q24_perplexity"]
    expected = [1.0, math.exp(1.5), math.exp(-0.25), math.inf, math.inf]
    for loss, value, want in zip(LOSSES, got["values"], expected):
        assert isinstance(value, float) and (value == want or abs(value - want) <= 1e-9 * want), (
            f"perplexity({loss}) is wrong: it is exp of the mean per-token loss in nats"
            + (" (inf when it overflows)" if want == math.inf else ""))
    assert math.isnan(got["nan"]), "perplexity(nan) must be nan"


@pytest.mark.grade("Q24", points=1)
def test_q24_smoothing(out):
    """smooth is the bias-corrected exponential moving average (the first value is kept as is)."""
    got = out["q24_smooth"]
    for key, beta in (("smooth", 0.9), ("smooth_half", 0.5)):
        assert isinstance(got[key], list) and len(got[key]) == len(SERIES), "one smoothed value per input value"
        assert all(abs(a - b) <= 1e-9 for a, b in zip(got[key], _smooth(SERIES, beta))), (
            f"smooth(..., beta={beta}) is not the bias-corrected moving average: "
            "check the first values (they must not be pulled towards 0) and the role of beta")
    assert got["smooth_empty"] == [], "smooth([]) is []"


@pytest.mark.grade("Q24", points=1)
def test_q24_divergence(out):
    """diverged flags NaN/inf and spikes above factor times the best earlier loss, and nothing else."""
    got = out["q24_diverged"]["cases"]
    expected = {"empty": False, "one": False, "steady": False, "spike": True, "below_first": True,
                "nan": True, "inf": True, "edge": False}
    for name, want in expected.items():
        assert got[name] == want, (
            f"diverged({DIVERGENCE[name]}) should be {want}: compare the last loss with factor times the "
            "smallest loss before it, and treat NaN/inf as divergence")
    assert out["q24_diverged"]["factor"], "diverged must use the factor argument"


def _trace(series, patience=2, min_delta=0.0):
    best, best_epoch, bad, trace = math.inf, 0, 0, []
    for epoch, loss in enumerate(series, start=1):
        improved = loss < best - min_delta
        if improved:
            best, best_epoch, bad = loss, epoch, 0
        else:
            bad += 1
        trace.append([bad >= patience, improved, float(best), best_epoch])
    return trace


@pytest.mark.grade("Q24", points=0.5)
@pytest.mark.parametrize("series", list(VALID))
def test_q24_early_stopping(out, series):
    """EarlyStopping stops after `patience` epochs without improvement beyond min_delta, and tracks the best."""
    got = out["q24_stopping"][series]
    want = _trace([float(x) for x in VALID[series]], min_delta=0.1 if series == "delta" else 0.0)
    for epoch, (g, w) in enumerate(zip(got, want), start=1):
        assert g[1] == w[1], (f"epoch {epoch} of {VALID[series]}: improved should be {w[1]} "
                              "(an improvement must beat the best by more than min_delta; equal is not better)")
        assert g[2:] == w[2:], f"epoch {epoch} of {VALID[series]}: best / best_epoch are wrong"
        assert g[0] == w[0], (f"epoch {epoch} of {VALID[series]}: step() should return {w[0]} with patience=2 "
                              "(stop after exactly `patience` epochs in a row without improvement)")
