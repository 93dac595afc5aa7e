"""Probes of section 9, evaluation: Q25–Q27.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_evaluation.py``.
"""
from __future__ import annotations

import contextlib
import math
import random
import time
from unittest import mock

import sacrebleu
import torch
from torch import nn

from autograder.probes.common import PAD, Batch, TinyVocab
from autograder.probes.standins import StandInConfig, StandInModel, TaskData, greedy, set_seed, teacher_forced
from autograder.probes.standins import train_epoch as stand_in_epoch
from autograder.probes.training import grader_loss, targets
from autograder.registry import probe, question

question("Q25", "evaluation: loss, perplexity and BLEU", points=3, timeout=120)  # ~6 s quiet; the machine may be busy
question("Q26", "corpus BLEU from scratch", points=4, timeout=60)
# Trains two small models: ~30 s on one free CPU thread, up to ~2 min on a busy machine.
question("Q27", "attention vs. vanilla seq2seq", points=3, timeout=240)

WORDS = "the a cat dog sat on mat red runs big small house".split()


def bleu_corpus(seed: int, size: int, noise: float) -> tuple[list[list[str]], list[list[str]]]:
    """Reference sentences, and hypotheses made from them by random edits (so that n-grams partly match)."""
    rng = random.Random(seed)
    hyps, refs = [], []
    for _ in range(size):
        ref = [rng.choice(WORDS) for _ in range(rng.randint(1, 22))]
        hyp = [w if rng.random() > noise else rng.choice(WORDS) for w in ref]
        cut = rng.random()
        hyp = hyp[:max(1, int(len(hyp) * 0.6))] if cut < 0.2 else hyp + ["extra"] * (cut > 0.85)
        hyps.append(hyp)
        refs.append(ref)
    return hyps, refs


CORPORA = {f"seed{seed}_n{size}_noise{noise}": (seed, size, noise)
           for seed, size, noise in [(1, 1, 0.1), (2, 3, 0.2), (3, 20, 0.3), (4, 100, 0.2), (5, 400, 0.4),
                                     (6, 50, 0.0)]}

REAL = ([s.split() for s in ["the cat sat on the mat", "there is a cat on the mat today", "a big red house"]],
        [s.split() for s in ["the cat is on the mat", "there is a cat on the mat", "the big red house"]])


@probe("Q26")
def q26_random(s):
    return {name: s.evaluation.corpus_bleu(*bleu_corpus(*args)) for name, args in CORPORA.items()}


@probe("Q26")
def q26_cases(s):
    bleu = s.evaluation.corpus_bleu
    return {
        "real": bleu(*REAL),
        # Perfect precision, half the reference length: only the brevity penalty lowers the score.
        "short": bleu([["a", "b", "c", "d"]], [["a", "b", "c", "d", "e", "f", "g", "h"]]),
        "long": bleu([["a", "b", "c", "d", "e", "f"]], [["a", "b", "c", "d", "e"]]),
        # "the" six times against a reference with it twice: only two unigram matches may count.
        "clipped1": bleu([["the"] * 6], [["the", "cat", "the", "mat", "x", "y"]], max_n=1),
        "clipped2": bleu([["the", "cat"] * 3], [["the", "cat", "sat", "the", "cat", "x"]], max_n=2),
        "no_4gram": bleu([["a", "b", "c"]], [["a", "b", "c"]]),
    }


# ---------------------------------------------------------------------------------------------------- Q25
V25, H25 = 9, 24


class TinyDecoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding, self.cell = nn.Embedding(V25, H25), nn.GRUCell(H25, H25)
        self.out, self.dropout = nn.Linear(2 * H25, V25), nn.Dropout(0.3)

    def forward_step(self, prev, hidden, encoder_outputs, mask, keys):
        hidden = self.cell(self.dropout(self.embedding(prev)), hidden)
        scores = torch.bmm(keys, hidden.unsqueeze(2)).squeeze(2).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        context = torch.bmm(weights.unsqueeze(1), encoder_outputs).squeeze(1)
        return self.out(self.dropout(torch.cat([hidden, context], dim=-1))), hidden, weights


class TinySeq2Seq(nn.Module):
    """A small attention model with Seq2Seq's interface (forward, encode, decoder.forward_step) that records
    how it is called; dropout makes training mode visible in its outputs."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(25)
        self.embedding, self.rnn = nn.Embedding(V25, H25), nn.GRU(H25, H25, batch_first=True)
        self.decoder, self.dropout = TinyDecoder(), nn.Dropout(0.3)
        self.calls = []

    def encode(self, src, src_lengths):
        outputs, hidden = self.rnn(self.dropout(self.embedding(src)))
        return outputs, hidden[-1], src != PAD, outputs

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio=1.0):
        self.calls.append({"training": self.training, "grad": torch.is_grad_enabled(), "ratio": teacher_forcing_ratio})
        return teacher_forced(self, src, src_lengths, tgt)


def copy_batches(seed: int, sizes: list[int]) -> list[Batch]:
    """A copy task: the target is the source; batches of very different token counts."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for size in sizes:
        lengths = torch.randint(1, 7, (size,), generator=generator).tolist()
        tgt = targets(lengths, V25, generator)
        batches.append(Batch((tgt.clone(), torch.tensor([n + 2 for n in lengths]), tgt)))
    return batches


def translation_batches(seed: int, sizes: list[int]) -> list[Batch]:
    """Batches whose target is another sentence than the source (as in translation)."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for size in sizes:
        lengths = torch.randint(1, 7, (size,), generator=generator).tolist()
        src, tgt = targets(lengths, V25, generator), targets(lengths[::-1], V25, generator)
        batches.append(Batch((src, torch.tensor([n + 2 for n in lengths]), tgt)))
    return batches


def trained_tiny_model() -> TinySeq2Seq:
    """The tiny model after a few hundred steps on the copy task: good but imperfect translations."""
    model = TinySeq2Seq()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for batch in copy_batches(1, [32] * 120):
        optimizer.zero_grad()
        grader_loss(model(*batch)[0], batch.tgt).backward()
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)  # so that any gradient found later comes from evaluate
    model.calls.clear()
    return model


@contextlib.contextmanager
def grader_parts(s, **parts):
    """Put the grader's own functions in the student's training and evaluation modules, wherever they are looked up."""
    with contextlib.ExitStack() as stack:
        for module in (s.training, s.evaluation):
            for name, value in parts.items():
                if hasattr(module, name):
                    stack.enter_context(mock.patch.object(module, name, value))
        yield


def _grader_perplexity(loss: float) -> float:
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


@probe("Q25")
def q25_evaluate(s):
    model = trained_tiny_model()
    model.train()  # evaluate must switch dropout off itself, and give the model back in training mode
    loader = copy_batches(2, [5, 1, 12])
    results = {}
    # The grader's loss and perplexity stand in for Q21's and Q24's: a mistake there costs those questions only.
    with grader_parts(s, sequence_loss=grader_loss, perplexity=_grader_perplexity):
        for name, kwargs in {"first": {}, "again": {}, "beam": {"beam_size": 3}}.items():
            got = s.evaluation.evaluate(model, loader, TinyVocab(V25), device="cpu", **kwargs)
            results[name] = {key: got.get(key) for key in ("loss", "ppl", "bleu", "hypotheses", "references")}
            results[name]["training_after"] = model.training
        # A translation-like split (the target is not the source): the references must come from batch.tgt.
        other = translation_batches(3, [4, 6])
        got = s.evaluation.evaluate(model, other, TinyVocab(V25), device="cpu")
        results["other"] = {key: got.get(key) for key in ("hypotheses", "references")}
    results["calls"] = model.calls
    results["grads"] = any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters())
    model.eval()
    with torch.no_grad():  # what the loss must be: dropout off, every target token counted once
        losses = [(float(grader_loss(model(*b)[0], b.tgt)), int((b.tgt[:, 1:] != PAD).sum())) for b in loader]
    results["expected_loss"] = sum(loss * n for loss, n in losses) / sum(n for _, n in losses)
    results["batch_mean_loss"] = sum(loss for loss, _ in losses) / len(losses)
    results["true_references"] = [TinyVocab(V25).decode(row) for b in loader for row in b.tgt.tolist()]
    results["other_references"] = [TinyVocab(V25).decode(row) for b in other for row in b.tgt.tolist()]
    results["other_sources"] = [TinyVocab(V25).decode(row) for b in other for row in b.src.tolist()]
    return results


def sacrebleu_tokens(hypotheses, references) -> float:
    return sacrebleu.metrics.BLEU(tokenize="none", force=True).corpus_score(
        [" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]]).score


# ---------------------------------------------------------------------------------------------------- Q27
# The comparison trains the grader's stand-in models (not the student's Q9-Q20) on a task of the grader's own (not
# the student's Q5-Q8 data): copying sentences of 1 to 25 words, where a fixed average context fails on long ones.
COMPARE_TASK = dict(seed=27, sizes=(1500, 20, 300), words=20, lengths=(1, 25), reverse=False)
COMPARE_MODEL = dict(emb_dim=32, hidden_size=64, dec_hidden=64)
COMPARE_TRAINING = dict(epochs=3, batch_size=32, lr=1e-2, seed=0)
BUCKETS = ((1, 10), (11, 16), (17, 25))


def grader_train_epoch(model, loader, optimizer, *, clip=1.0, teacher_forcing_ratio=1.0, device=None, history=None,
                       progress=False, **_):
    loss = stand_in_epoch(model, loader, optimizer, grader_loss, clip=clip, teacher_forcing_ratio=teacher_forcing_ratio)
    kind = getattr(model.decoder, "method", type(model.decoder).__name__)  # the stand-in's attention, or the class
    RECORD["train"].append({"model": id(model), "decoder": kind, "first": int(next(iter(loader)).tgt.sum()),
                            "clip": clip})
    return loss


def grader_evaluate(model, loader, tgt_vocab, *, device=None, beam_size=1, max_len=None, **_):
    model.eval()
    hypotheses, references, lengths = [], [], []
    with torch.no_grad():
        for batch in loader:
            rows = greedy(model, batch.src, batch.src_lengths, int(batch.src_lengths.max()) + 10)
            hypotheses.extend(tgt_vocab.decode(row) for row in rows)
            references.extend(tgt_vocab.decode(row) for row in batch.tgt.tolist())
            lengths.extend(int(n) - 2 for n in batch.src_lengths)
    RECORD["evaluate"].append({"model": id(model), "sentences": len(hypotheses)})
    RECORD["hypotheses"][id(model)] = hypotheses
    return {"loss": 0.0, "ppl": 1.0, "bleu": sacrebleu_tokens(hypotheses, references), "hypotheses": hypotheses,
            "references": references, "src_lengths": lengths}


def grader_optimizer(model, lr=1e-3, weight_decay=0.0):
    RECORD["lr"].append(lr)
    return torch.optim.Adam(model.parameters(), lr=lr)


RECORD: dict = {}


@probe("Q27")
def q27_compare(s):
    started = time.monotonic()
    RECORD.update(train=[], evaluate=[], lr=[], hypotheses={})
    data = TaskData(**COMPARE_TASK)
    configs = {name: StandInConfig(len(data.src_vocab), len(data.tgt_vocab), attention=kind, **COMPARE_MODEL)
               for name, kind in (("attention", "additive"), ("vanilla", "none"))}
    with grader_parts(s, train_epoch=grader_train_epoch, evaluate=grader_evaluate, make_optimizer=grader_optimizer,
                      build_model=StandInModel, set_seed=set_seed):
        table = s.evaluation.compare_models(data, configs, buckets=BUCKETS, device="cpu", **COMPARE_TRAINING)
    return {"table": table, "record": {k: v for k, v in RECORD.items() if k != "hypotheses"},
            "seconds": time.monotonic() - started}
