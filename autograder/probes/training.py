"""Probes of section 8, training: Q21–Q24.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_training.py``.
"""
from __future__ import annotations

import contextlib
import time
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn

from autograder.probes.common import EOS, PAD, SOS, Batch  # noqa: F401  (PAD, SOS, EOS used by other graders too)
from autograder.probes.standins import StandInConfig, StandInModel, TaskData, greedy
from autograder.registry import probe, question

question("Q21", "loss over shifted targets, padding ignored", points=3, timeout=60)
question("Q22", "Adam over encoder and decoder parameters", points=2, timeout=60)
# The BLEU-threshold probe trains a small model for ~15 s on one free CPU thread (30-40 s on a busy machine).
question("Q23", "training loop: one epoch", points=5, timeout=180)
question("Q24", "monitoring: perplexity, smoothing, divergence, early stopping", points=3, timeout=60)


def grader_loss(logits: torch.Tensor, tgt: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """The grader's own Q21: mean cross-entropy per real token of tgt[:, 1:] against logits[:, 1:]."""
    return F.cross_entropy(logits[:, 1:].reshape(-1, logits.size(-1)).float(), tgt[:, 1:].reshape(-1),
                           ignore_index=PAD, label_smoothing=label_smoothing)


def targets(lengths: list[int], vocab: int, generator: torch.Generator) -> torch.Tensor:
    """``<sos> y_1 .. y_n <eos>`` rows (n = lengths[i]) padded with PAD: ``(batch, max(lengths) + 2)``."""
    tgt = torch.full((len(lengths), max(lengths) + 2), PAD, dtype=torch.long)
    for row, n in enumerate(lengths):
        tgt[row, 0], tgt[row, n + 1] = SOS, EOS
        tgt[row, 1:n + 1] = torch.randint(4, vocab, (n,), generator=generator)
    return tgt


# ---------------------------------------------------------------------------------------------------- Q21
VOCAB21 = 11
LOSS_CASES = {"plain": ([5, 3, 1, 4], 0.0), "uneven": ([9, 1, 1, 1, 1, 1], 0.0), "smoothing": ([5, 3, 1, 4], 0.1)}


def q21_inputs(case: str) -> tuple[torch.Tensor, torch.Tensor, float]:
    lengths, smoothing = LOSS_CASES[case]
    generator = torch.Generator().manual_seed(21 + len(case))
    tgt = targets(lengths, VOCAB21, generator)
    logits = 3 * torch.randn(len(lengths), tgt.size(1), VOCAB21, generator=generator)
    logits[:, 0] = 0.0  # as the model returns it
    return logits, tgt, smoothing


@probe("Q21")
def q21_losses(s):
    result = {}
    for case in LOSS_CASES:
        logits, tgt, smoothing = q21_inputs(case)
        logits.requires_grad_(True)
        loss = s.training.sequence_loss(logits, tgt, label_smoothing=smoothing) if smoothing else \
            s.training.sequence_loss(logits, tgt)
        entry = {"is_tensor": isinstance(loss, torch.Tensor)}
        if entry["is_tensor"]:
            entry.update(shape=list(loss.shape), value=float(loss.detach().float().sum()),
                         differentiable=loss.requires_grad)
            if loss.requires_grad:
                loss.sum().backward()
                grad = logits.grad.abs().sum(-1)  # (batch, tgt_len): which positions the loss depends on
                entry["grad_positions"] = (grad > 0).tolist()
        result[case] = entry
    return result


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
            "before": before, "after": {name: p.detach().clone() for name, p in named}}  # compared in the parent


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


# ---------------------------------------------------------------------------------------------------- Q23
VOCAB23, CLIP, RATIO = 13, 0.5, 0.37
BATCH_LENGTHS = [[7, 9, 8, 9], [1], [3, 2, 4, 1, 2, 3, 2, 1], [6, 6]]  # token counts very unequal per batch


def q23_batches() -> list[Batch]:
    generator = torch.Generator().manual_seed(23)
    batches = []
    for lengths in BATCH_LENGTHS:
        tgt = targets(lengths, VOCAB23, generator)
        src = targets([n + 1 for n in lengths], VOCAB23, generator)
        batches.append(Batch((src, torch.tensor([n + 3 for n in lengths]), tgt)))
    return batches


class Recorder(nn.Module):
    """A tiny model with the Seq2Seq call signature that records how it is called; large weights, so that
    gradients are large enough to need clipping."""

    def __init__(self, nan_at: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(5)
        self.embedding = nn.Embedding(VOCAB23, 8)
        self.out = nn.Linear(8, VOCAB23)
        with torch.no_grad():
            self.out.weight.mul_(40)
        self.calls, self.events, self.nan_at = [], [], nan_at
        self.out.weight.register_hook(lambda grad: self.events.append("backward"))

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio=1.0):
        self.events.append("forward")
        self.calls.append({"training": self.training, "ratio": teacher_forcing_ratio,
                           "grad": torch.is_grad_enabled()})
        logits = self.out(torch.tanh(self.embedding(torch.roll(tgt, 1, dims=1))))
        logits = torch.cat([torch.zeros_like(logits[:, :1]), logits[:, 1:]], dim=1)
        if self.nan_at is not None and len(self.calls) == self.nan_at:
            logits = logits * float("nan")
        self.logged = getattr(self, "logged", []) + [(logits.detach().clone(), tgt.clone())]
        return logits, torch.zeros(tgt.size(0), tgt.size(1), src.size(1))


class RecordingSGD(torch.optim.SGD):
    def __init__(self, model: Recorder) -> None:
        super().__init__(model.parameters(), lr=0.01)
        self.model, self.norms = model, []

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.model.events.append("zero_grad")
        super().zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        self.model.events.append("step")
        grads = [p.grad.norm() for p in self.model.parameters() if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(torch.stack(grads))) if grads else 0.0)
        return super().step(closure)


@contextlib.contextmanager
def grader_loss_in(s):
    """The student's training module uses the grader's sequence_loss (a Q21 bug must not cost Q23 points)."""
    with mock.patch.object(s.training, "sequence_loss", grader_loss, create=True):
        yield


@probe("Q23")
def q23_mechanics(s):
    from seq2seq.training import History  # provided class, not a question

    model = Recorder()
    model.eval()  # train_epoch must switch it to training mode itself
    optimizer = RecordingSGD(model)
    history = History()
    with grader_loss_in(s):
        returned = s.training.train_epoch(model, q23_batches(), optimizer, clip=CLIP, teacher_forcing_ratio=RATIO,
                                          device="cpu", history=history)
    losses = [float(grader_loss(logits, tgt)) for logits, tgt in model.logged]
    tokens = [int((tgt[:, 1:] != PAD).sum()) for _, tgt in model.logged]
    # The same first batch without clipping: how large its gradient really is.
    probe_model = Recorder()
    grader_loss(probe_model(*q23_batches()[0])[0], q23_batches()[0][2]).backward()
    unclipped = float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in probe_model.parameters()])))
    return {"returned": float(returned) if isinstance(returned, (int, float, torch.Tensor)) else repr(returned),
            "calls": model.calls, "events": model.events, "norms": optimizer.norms, "unclipped": unclipped,
            "losses": losses, "tokens": tokens, "history": [float(x) for x in history.steps]}


@probe("Q23")
def q23_nan(s):
    model = Recorder(nan_at=2)
    optimizer = RecordingSGD(model)
    try:
        with grader_loss_in(s):
            value = s.training.train_epoch(model, q23_batches(), optimizer, clip=CLIP, device="cpu")
        raised = None
    except Exception as error:  # noqa: BLE001 - which error is the point
        raised, value = type(error).__name__, None
    finite = all(bool(torch.isfinite(p).all()) for p in model.parameters())
    return {"raised": raised, "steps": model.events.count("step"),
            "value": float(value) if isinstance(value, (int, float)) else None, "finite_weights": finite}


# The BLEU threshold: the student's own model (Q18-Q20) and loop (Q23) on the synthetic corpus.
# The BLEU threshold trains the grader's stand-in model (not the student's Q9-Q20) with the student's loop on a
# task of the grader's own (not the student's Q5-Q8 data): a sentence reversed and renamed word by word.
THRESHOLD_TASK = dict(seed=23, sizes=(2000, 20, 300), words=20, lengths=(3, 10), reverse=True)
THRESHOLD_MODEL = dict(emb_dim=32, hidden_size=64, dec_hidden=64, attention="additive")
THRESHOLD_TRAINING = dict(epochs=4, batch_size=32, lr=1e-2, seed=0)


@probe("Q23")
def q23_bleu(s):
    started = time.monotonic()
    data, cfg = TaskData(**THRESHOLD_TASK), THRESHOLD_TRAINING
    torch.manual_seed(cfg["seed"])
    model = StandInModel(StandInConfig(len(data.src_vocab), len(data.tgt_vocab), **THRESHOLD_MODEL))
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    train = data.loader("train", cfg["batch_size"], seed=cfg["seed"])
    losses = []
    with grader_loss_in(s):
        for _ in range(cfg["epochs"]):
            losses.append(float(s.training.train_epoch(model, train, optimizer, clip=1.0, device="cpu")))
    hypotheses = []
    for batch in data.loader("test", 100):
        hypotheses += [data.tgt_vocab.decode(row) for row in greedy(model, batch.src, batch.src_lengths, 20)]
    return {"hypotheses": hypotheses, "losses": losses, "seconds": time.monotonic() - started}
