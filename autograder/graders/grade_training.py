"""Checks for section 8, training the model: Q21 (loss), Q22 (optimizer), Q23 (training loop) and Q24
(monitoring the loss).

Isolation: the Q23 probes replace ``sequence_loss`` (Q21) in the student's ``seq2seq.training`` with the
grader's own, so a loss bug costs points in Q21 only. Q23's BLEU threshold trains the grader's stand-in model
(``autograder/probes/standins.py``) on a task of the grader's own with the student's loop, so a bug in the data
(Q5–Q8) or model (Q9–Q20) questions costs nothing here.

The probes these checks read are in ``autograder/probes/training.py``; this module is imported by the
deciding process only, never by a process that runs student code.
"""
from __future__ import annotations

import math

import pytest
import sacrebleu
import torch
import torch.nn.functional as F

from autograder.graders.common import hinted
from autograder.probes.common import PAD
from autograder.probes.standins import TaskData
from autograder.probes.training import (
    BATCH_LENGTHS, CLIP, DIVERGENCE, LOSSES, LOSS_CASES, RATIO, SERIES, THRESHOLD_TASK, THRESHOLD_TRAINING, VALID,
    q21_inputs,
)


def _candidates(case: str) -> dict[str, float]:
    """The right value and the values of common mistakes, for precise feedback."""
    logits, tgt, smoothing = q21_inputs(case)
    v = logits.size(-1)
    ce = lambda lg, tg, **kw: float(F.cross_entropy(lg.reshape(-1, v), tg.reshape(-1),  # noqa: E731
                                                    label_smoothing=smoothing, **kw))
    return {"right": ce(logits[:, 1:], tgt[:, 1:], ignore_index=PAD),
            "not shifted (logits[:, 1:] must be compared with tgt[:, 1:])": ce(logits, tgt, ignore_index=PAD),
            "shifted the wrong way (logits[:, :-1])": ce(logits[:, :-1], tgt[:, 1:], ignore_index=PAD),
            "PAD counted as a target (use ignore_index=PAD)": ce(logits[:, 1:], tgt[:, 1:]),
            "averaged per sentence instead of per target token":
                ce(logits[:, 1:], tgt[:, 1:], ignore_index=PAD, reduction="sum") / tgt.size(0),
            "computed without label smoothing (pass label_smoothing on to F.cross_entropy)":
                float(F.cross_entropy(logits[:, 1:].reshape(-1, v), tgt[:, 1:].reshape(-1), ignore_index=PAD))}


def _diagnose(got: float, case: str) -> str:
    for name, value in _candidates(case).items():
        if name != "right" and abs(got - value) <= 1e-4 * max(1.0, abs(value)):
            return f": it looks {name}"
    return ""


@pytest.mark.grade("Q21", points=1)
def test_q21_returns_scalar_tensor(out):
    """sequence_loss returns a scalar tensor that backward() can run on."""
    got = out["q21_losses"]["plain"]
    assert got["is_tensor"], "sequence_loss must return a torch.Tensor (not a float): training calls backward() on it"
    assert got["shape"] == [], f"the loss must be a scalar (shape []), not shape {got['shape']}"
    assert got["differentiable"], "the loss does not require grad: do not detach it or call .item() inside"


@pytest.mark.grade("Q21", points=1)
@pytest.mark.parametrize("case", ["plain", "uneven"])
def test_q21_value(out, case):
    """The loss is the mean cross-entropy per real target token over logits[:, 1:] and tgt[:, 1:]."""
    got = out["q21_losses"][case]
    want = _candidates(case)["right"]
    assert got["is_tensor"] and abs(got["value"] - want) <= 1e-4 * max(1.0, want), (
        f"wrong loss value on a batch of targets of lengths {LOSS_CASES[case][0]}"
        + _diagnose(got.get("value", 0), case))


@pytest.mark.grade("Q21", points=1)
def test_q21_ignores_start_and_padding(out):
    """The loss depends neither on position 0 (<sos>, never predicted) nor on PAD positions."""
    got = out["q21_losses"]["plain"]
    _, tgt, _ = q21_inputs("plain")
    assert got.get("grad_positions") is not None, "the loss must be differentiable"
    used = torch.tensor(got["grad_positions"])
    assert not used[:, 0].any(), "the logits at position 0 must not enter the loss: position t predicts tgt[:, t]"
    assert not (used[:, 1:] & (tgt[:, 1:] == PAD)).any(), "positions whose target is PAD must not enter the loss"
    assert used[:, 1:][tgt[:, 1:] != PAD].all(), "every real target token (including <eos>) must enter the loss"


@pytest.mark.grade("Q21", points=1)
def test_q21_label_smoothing(out):
    """label_smoothing is passed to the cross-entropy."""
    got = out["q21_losses"]["smoothing"]
    want = _candidates("smoothing")["right"]
    assert got["is_tensor"] and abs(got["value"] - want) <= 1e-4 * max(1.0, want), (
        "with label_smoothing=0.1 the loss is not F.cross_entropy(..., label_smoothing=0.1) over the real tokens"
        + _diagnose(got.get("value", 0), "smoothing"))


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
    assert not missing, f"these parameters are never updated: {missing}" + (
        "; give the optimizer every trainable parameter of the model (model.parameters()), not the decoder's only"
        if not any(name.startswith("decoder") for name in missing) else "")
    assert not set(indices) - wanted, "a frozen parameter (requires_grad=False) was given to the optimizer"


@pytest.mark.grade("Q22", points=1)
def test_q22_step_updates_encoder_and_decoder(out):
    """One optimizer step changes the encoder's and the decoder's weights."""
    got = out["q22_groups"]
    before, after = got["before"], got["after"]
    moved = {name: not (isinstance(after.get(name), torch.Tensor) and torch.equal(before[name], after[name]))
             for name in before}
    assert moved.get("encoder.weight_hh_l0") and moved.get("decoder.weight"), (
        "after backward() and step(), both the encoder and the decoder weights must change")
    assert not moved.get("frozen"), "a frozen parameter changed"


def _smooth(values, beta):
    out, m = [], 0.0
    for t, x in enumerate(values, start=1):
        m = beta * m + (1 - beta) * x
        out.append(m / (1 - beta ** t))
    return out


@pytest.mark.grade("Q24", points=1)
def test_q24_perplexity(out):
    """perplexity is exp(loss), inf when that overflows, NaN for NaN, and never raises."""
    got = hinted(out, "q24_perplexity", {"OverflowError": "math.exp overflows for large losses: catch OverflowError "
                                                          "and return math.inf"})
    expected = [1.0, math.exp(1.5), math.exp(-0.25), math.inf, math.inf]
    for loss, value, want in zip(LOSSES, got["values"], expected):
        base2 = isinstance(value, float) and want != math.inf and abs(value - 2.0 ** loss) <= 1e-9 * max(1.0, value)
        assert isinstance(value, float) and (value == want or abs(value - want) <= 1e-9 * want), (
            f"perplexity({loss}) is wrong: it is exp of the mean per-token loss in nats"
            + (" (inf when it overflows)" if want == math.inf else "")
            + ("; yours is 2 ** loss: the loss is in nats, so use math.exp" if base2 else ""))
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
# Test BLEU (sacrebleu, tokenize="none") under this probe (the grader's stand-in model and task, so the student's
# loop alone decides), measured on the course machine with the reference solution's train_epoch: training seeds
# 0, 1, 2, 3 (other initial weights and batch orders): 75.2, 82.1, 77.8, 77.3, in 5-8 s of one thread. Broken loops
# (the mutants of tests/test_graders_training_evaluation.py): no zero_grad 27.4, no optimizer.step 0.1, the loss's
# sign flipped 0.0. The threshold sits well below the worst seed and well above every broken loop.
BLEU_THRESHOLD = 50.0


def corpus_bleu(hypotheses, references) -> float:
    return sacrebleu.metrics.BLEU(tokenize="none", force=True).corpus_score(
        [" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]]).score


@pytest.mark.grade("Q23", points=0.5)
def test_q23_training_mode(out):
    """train_epoch puts the model in training mode (dropout on) and runs forward with gradients."""
    calls = out["q23_mechanics"]["calls"]
    assert calls, "train_epoch never called the model"
    assert all(c["training"] for c in calls), "call model.train() before the first batch (dropout must be on)"
    assert all(c["grad"] for c in calls), "the forward pass must record gradients (no torch.no_grad() here)"


@pytest.mark.grade("Q23", points=0.5)
def test_q23_teacher_forcing_ratio(out):
    """The teacher-forcing ratio reaches the model unchanged, once per batch."""
    calls = out["q23_mechanics"]["calls"]
    assert len(calls) == len(BATCH_LENGTHS), f"the model was called {len(calls)} times for {len(BATCH_LENGTHS)} batches"
    assert all(c["ratio"] == RATIO for c in calls), "pass teacher_forcing_ratio to the model as the 4th argument"


@pytest.mark.grade("Q23", points=1)
def test_q23_step_order(out):
    """Every batch: forward, zero_grad, backward, step, in an order that never mixes two batches' gradients."""
    events = out["q23_mechanics"]["events"]
    steps = events.count("step")
    assert steps == len(BATCH_LENGTHS), f"optimizer.step() ran {steps} times for {len(BATCH_LENGTHS)} batches"
    batches, current = [], []
    for event in events:
        current.append(event)
        if event == "step":
            batches.append(current)
            current = []
    for i, seen in enumerate(batches, start=1):
        assert "backward" in seen, f"batch {i}: no backward() before optimizer.step()"
        assert "zero_grad" in seen and seen.index("zero_grad") < seen.index("backward"), (
            f"batch {i}: call optimizer.zero_grad() before backward(), or gradients pile up from batch to batch")


@pytest.mark.grade("Q23", points=1)
def test_q23_gradient_clipping(out):
    """Gradients are clipped to the total norm `clip` before every step."""
    got = out["q23_mechanics"]
    assert got["unclipped"] > 2 * CLIP  # the test needs gradients that clipping changes
    assert got["norms"] and all(n <= CLIP * (1 + 1e-4) for n in got["norms"]), (
        f"with clip={CLIP} the total gradient norm at optimizer.step() was up to {max(got['norms'] or [0]):.3g}: "
        "call nn.utils.clip_grad_norm_(model.parameters(), clip) after backward() and before step()")
    assert all(n > 0 for n in got["norms"]), "the gradients were zero at step(): clip after backward(), not before"


@pytest.mark.grade("Q23", points=1)
def test_q23_token_weighted_mean(out):
    """The epoch loss is the mean per target token over the epoch (batches weighted by their tokens)."""
    got = out["q23_mechanics"]
    want = sum(loss * n for loss, n in zip(got["losses"], got["tokens"])) / sum(got["tokens"])
    value = got["returned"]
    assert isinstance(value, float), f"train_epoch must return a float, not {value!r}"
    batch_mean = sum(got["losses"]) / len(got["losses"])
    assert abs(value - want) <= 1e-4 * max(1.0, want), (
        "the returned loss is not the mean over every target token of the epoch"
        + (": it is the mean of the batch losses; weight each batch by its non-PAD tokens of tgt[:, 1:]"
           if abs(value - batch_mean) <= 1e-4 * max(1.0, batch_mean) else ""))


@pytest.mark.grade("Q23", points=0.5)
def test_q23_history_and_nan(out):
    """Each step's loss goes into the history; a NaN loss raises FloatingPointError before any update."""
    got = out["q23_mechanics"]
    assert len(got["history"]) == len(got["losses"]) and all(
        abs(a - b) <= 1e-4 * max(1.0, b) for a, b in zip(got["history"], got["losses"])), (
        "history.log_step(loss) must be called once per batch with that batch's loss"
        + ("; your losses are not sequence_loss(logits, batch.tgt) (Q21) of the batch: compute the loss with it"
           if len(got["history"]) == len(got["losses"]) else ""))
    nan = out["q23_nan"]
    assert nan["raised"] == "FloatingPointError", (
        "a NaN loss must raise FloatingPointError, got "
        f"{nan['raised'] or 'no error (returned ' + str(nan['value']) + ')'}")
    assert nan["steps"] == 1 and nan["finite_weights"], (
        "no optimizer step may run on a NaN loss (check before backward)")


@pytest.mark.grade("Q23", points=1.5)
def test_q23_reaches_bleu_threshold(out):
    """Your training loop trains a model to a test BLEU threshold within a fixed budget (the grader's model and task)."""  # noqa: E501 - a check's name is one line
    got = out["q23_bleu"]
    data = TaskData(**THRESHOLD_TASK)  # the references, rebuilt here: the child only says what the model translated
    references = [data.tgt_vocab.decode(row) for batch in data.loader("test", 100)
                  for row in batch.tgt.tolist()]
    score = corpus_bleu(got["hypotheses"], references)
    losses = ", ".join(f"{x:.3f}" for x in got["losses"])
    assert score >= BLEU_THRESHOLD, (
        f"after {THRESHOLD_TRAINING['epochs']} epochs (training losses {losses}) the test BLEU is {score:.1f}, "
        f"below {BLEU_THRESHOLD:.0f} (a correct loop reaches it with a clear margin): check the training steps")
