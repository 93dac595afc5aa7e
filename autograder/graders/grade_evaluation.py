"""Graders for section 9, evaluating the model: Q25 (loss, perplexity, BLEU of a model), Q26 (corpus BLEU from
scratch) and Q27 (attention vs. vanilla).

The expected BLEU values come from sacrebleu itself (computed here, in the deciding process). Isolation: Q25
evaluates the grader's own tiny model and vocabulary, with the grader's ``sequence_loss``; Q27 runs the
student's ``compare_models`` with the grader's own ``train_epoch``, ``evaluate`` and optimizer put in its
place, so only the comparison itself (and the student's model, Q18-Q20) is graded there.
"""
from __future__ import annotations

import contextlib
import math
import random
import time
from unittest import mock

import pytest
import sacrebleu
import torch
from torch import nn

from autograder.graders.common import EOS, PAD, SOS, Batch, TinyVocab  # noqa: F401
from autograder.graders.grade_training import grader_loss, split_tokens, targets
from autograder.registry import probe, question

question("Q25", "evaluation: loss, perplexity and BLEU", points=3, timeout=120)  # ~6 s quiet; the machine may be busy
question("Q26", "corpus BLEU from scratch", points=4, timeout=60)
# Trains two small models: ~30 s on one free CPU thread, up to ~2 min on a busy machine.
question("Q27", "attention vs. vanilla seq2seq", points=3, timeout=240)

WORDS = "the a cat dog sat on mat red runs big small house".split()


def _corpus(seed: int, size: int, noise: float) -> tuple[list[list[str]], list[list[str]]]:
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
           for seed, size, noise in [(1, 1, 0.1), (2, 3, 0.2), (3, 20, 0.3), (4, 100, 0.2), (5, 400, 0.4), (6, 50, 0.0)]}

REAL = ([s.split() for s in ["the cat sat on the mat", "there is a cat on the mat today", "a big red house"]],
        [s.split() for s in ["the cat is on the mat", "there is a cat on the mat", "the big red house"]])


def _sacrebleu(hyps: list[list[str]], refs: list[list[str]], max_n: int = 4) -> float:
    if max_n == 4:
        return sacrebleu.corpus_bleu([" ".join(h) for h in hyps], [[" ".join(r) for r in refs]],
                                     tokenize="none", smooth_method="none").score
    metric = sacrebleu.BLEU(tokenize="none", smooth_method="none", max_ngram_order=max_n)
    return metric.corpus_score([" ".join(h) for h in hyps], [[" ".join(r) for r in refs]]).score


@probe("Q26")
def q26_random(s):
    return {name: s.evaluation.corpus_bleu(*_corpus(*args)) for name, args in CORPORA.items()}


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


def _variant_bleu(hyps, refs, max_n=4, *, clip=True, mean="geometric", brevity="exp(1 - r/c)", scale=100.0):
    """BLEU with one known mistake at a time, to tell the student which one their value matches."""
    from collections import Counter

    matches, totals, hyp_len, ref_len = [0] * max_n, [0] * max_n, 0, 0
    for hyp, ref in zip(hyps, refs):
        hyp_len, ref_len = hyp_len + len(hyp), ref_len + len(ref)
        for n in range(1, max_n + 1):
            h = Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
            r = Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
            matches[n - 1] += sum(min(c, r[g]) if clip else (c if g in r else 0) for g, c in h.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if hyp_len == 0 or min(matches) == 0:
        return 0.0
    if mean == "geometric":
        precision = math.exp(sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n)
    else:
        precision = sum(m / t for m, t in zip(matches, totals)) / max_n
    bp = {"exp(1 - r/c)": 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len),
          "exp(1 - c/r)": 1.0 if hyp_len > ref_len else math.exp(1 - hyp_len / ref_len), "none": 1.0}[brevity]
    return scale * bp * precision


BLEU_MISTAKES = {  # a known mistake -> what the student reads when their BLEU equals it
    "your value is BLEU on the 0-1 scale: multiply by 100": dict(scale=1.0),
    "your value is what unclipped n-gram matches give: clip each n-gram's count by its count in the reference":
        dict(clip=False),
    "your value is what the arithmetic mean of the n-gram precisions gives: BLEU takes their geometric mean "
    "(the mean of the logs)": dict(mean="arithmetic"),
    "your value is what a reversed brevity penalty gives: BP = exp(1 - r/c) for c <= r (r: reference length, "
    "c: hypothesis length)": dict(brevity="exp(1 - c/r)"),
    "your value is what BLEU without the brevity penalty gives: short hypotheses must be penalised by exp(1 - r/c)":
        dict(brevity="none"),
}


def _bleu_hint(got, hyps, refs, max_n=4) -> str:
    if not isinstance(got, (int, float)) or not math.isfinite(got):
        return ""
    for message, mistake in BLEU_MISTAKES.items():
        variant = _variant_bleu(hyps, refs, max_n, **mistake)
        if abs(got - variant) <= 1e-6 and abs(variant - _variant_bleu(hyps, refs, max_n)) > 1e-6:
            return "; " + message
    return ""


def _close(got, expected: float) -> bool:
    return isinstance(got, (int, float)) and math.isfinite(got) and abs(got - expected) <= 1e-6


@pytest.mark.grade("Q26", points=2)
def test_q26_matches_sacrebleu_on_random_corpora(out):
    """corpus_bleu equals sacrebleu (tokenize="none", no smoothing) to 1e-6 on random corpora of many sizes."""
    got = out["q26_random"]
    for name, args in CORPORA.items():
        assert _close(got[name], _sacrebleu(*_corpus(*args))), (
            f"on a random corpus of {args[1]} sentences your BLEU is {got[name]!r}, which is not sacrebleu's value: "
            "sum clipped matches and n-gram totals over the whole corpus before dividing"
            + _bleu_hint(got[name], *_corpus(*args)))


@pytest.mark.grade("Q26", points=1)
def test_q26_real_sentences(out):
    """corpus_bleu equals sacrebleu on three real sentence pairs (in [0, 100], not [0, 1])."""
    got = out["q26_cases"]["real"]
    assert _close(got, _sacrebleu(*REAL)), (
        f"your BLEU is {got!r}" + (": report it on the 0-100 scale" if isinstance(got, float) and got < 1 else ""))


@pytest.mark.grade("Q26", points=1)
def test_q26_brevity_penalty(out):
    """The brevity penalty lowers short hypotheses (exp(1 - r/c)) and leaves longer ones alone."""
    got = out["q26_cases"]
    assert _close(got["short"], _sacrebleu([["a", "b", "c", "d"]], [["a", "b", "c", "d", "e", "f", "g", "h"]])), (
        "a hypothesis with perfect precision and half the reference length must be scaled by exp(1 - r/c)")
    assert _close(got["long"], _sacrebleu([["a", "b", "c", "d", "e", "f"]], [["a", "b", "c", "d", "e"]])), (
        "a hypothesis longer than its reference has no brevity penalty (BP = 1), only lower precision")


@pytest.mark.grade("Q26", points=1)
def test_q26_clipped_counts_and_orders(out):
    """n-gram matches are clipped by the reference counts, max_n is honoured, missing 4-grams give 0."""
    got = out["q26_cases"]
    assert _close(got["clipped1"], _sacrebleu([["the"] * 6], [["the", "cat", "the", "mat", "x", "y"]], 1)), (
        "a word repeated in the hypothesis counts at most as often as in the reference (clipping)")
    assert _close(got["clipped2"], _sacrebleu([["the", "cat"] * 3], [["the", "cat", "sat", "the", "cat", "x"]], 2)), (
        "with max_n=2, only unigrams and bigrams count, each clipped")
    assert _close(got["no_4gram"], 0.0), "a 3-token corpus has no 4-grams, so p_4 is 0 and BLEU is 0 (no smoothing)"


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
        outputs, hidden, mask, keys = self.encode(src, src_lengths)
        logits, weights = [], []
        for t in range(1, tgt.size(1)):
            step, hidden, w = self.decoder.forward_step(tgt[:, t - 1], hidden, outputs, mask, keys)
            logits.append(step)
            weights.append(w)
        logits, weights = torch.stack(logits, 1), torch.stack(weights, 1)
        return (torch.cat([torch.zeros_like(logits[:, :1]), logits], 1),
                torch.cat([torch.zeros_like(weights[:, :1]), weights], 1))


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
    results["expected_loss"] = sum(l * n for l, n in losses) / sum(n for _, n in losses)
    results["batch_mean_loss"] = sum(l for l, _ in losses) / len(losses)
    results["true_references"] = [TinyVocab(V25).decode(row) for b in loader for row in b.tgt.tolist()]
    results["other_references"] = [TinyVocab(V25).decode(row) for b in other for row in b.tgt.tolist()]
    results["other_sources"] = [TinyVocab(V25).decode(row) for b in other for row in b.src.tolist()]
    return results


def _sacrebleu_tokens(hypotheses, references) -> float:
    return sacrebleu.metrics.BLEU(tokenize="none", force=True).corpus_score(
        [" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]]).score


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@pytest.mark.grade("Q25", points=1)
def test_q25_loss_and_perplexity(out):
    """The loss is the mean per target token over the whole split (dropout off), and ppl = exp(loss)."""
    got = out["q25_evaluate"]
    loss, want = got["first"]["loss"], got["expected_loss"]
    assert _number(loss), f"'loss' must be a float, got {loss!r}"
    hint = ("; it is the mean of the batch losses: weight each batch by its non-PAD target tokens"
            if abs(loss - got["batch_mean_loss"]) <= 1e-5 else "")
    assert abs(loss - want) <= 1e-5 * max(1.0, want), f"the loss {loss:.5f} is not the per-token mean with dropout off{hint}"
    assert _number(got["first"]["ppl"]) and abs(got["first"]["ppl"] - math.exp(want)) <= 1e-4 * math.exp(want), (
        "'ppl' must be exp(loss)")


@pytest.mark.grade("Q25", points=1, requires="test_q25_loss_and_perplexity")  # passes without evaluating
def test_q25_no_gradients(out):
    """Evaluation records no gradients (torch.no_grad())."""
    got = out["q25_evaluate"]
    assert got["calls"], "evaluate never called the model's forward (the loss needs it)"
    assert not any(c["grad"] for c in got["calls"]) and not got["grads"], (
        "the model ran with gradients enabled: wrap evaluation in torch.no_grad()")


@pytest.mark.grade("Q25", points=1, requires="test_q25_loss_and_perplexity")  # passes without evaluating
def test_q25_eval_mode(out):
    """Evaluation runs in eval mode (dropout off): two calls give the same result; training mode comes back."""
    got = out["q25_evaluate"]
    assert not any(c["training"] for c in got["calls"]), "call model.eval() before evaluating (dropout must be off)"
    assert got["first"]["loss"] == got["again"]["loss"] and got["first"]["hypotheses"] == got["again"]["hypotheses"], (
        "two evaluations of the same model differ: dropout is still on")
    assert got["first"]["training_after"], (
        "a model that came in training mode must leave evaluate in training mode (model.train(was_training))")


@pytest.mark.grade("Q25", points=1.5)
def test_q25_bleu(out, ref):
    """The hypotheses are the greedy translations, and BLEU is sacrebleu's on them (tokenize="none")."""
    got, want = out["q25_evaluate"]["first"], ref["q25_evaluate"]["first"]
    assert got["references"] == out["q25_evaluate"]["true_references"], (
        "'references' must be the target sentences as tokens, in the loader's order, without <sos>, <eos> and PAD")
    other = out["q25_evaluate"]["other"]["references"]
    assert other == out["q25_evaluate"]["other_references"], (
        "your references are the source sentences: BLEU compares the translations with the targets (batch.tgt)"
        if other == out["q25_evaluate"]["other_sources"] else
        "on a split whose targets differ from the sources, 'references' are not the target sentences (batch.tgt)")
    assert got["hypotheses"] == want["hypotheses"], (
        "the hypotheses are not the greedy translations (seq2seq.search.translate, decoded with tgt_vocab.decode)")
    score = _sacrebleu_tokens(got["hypotheses"], got["references"])
    assert _number(got["bleu"]) and abs(got["bleu"] - score) <= 1e-6, (
        f"'bleu' is {got['bleu']!r} but sacrebleu (tokenize=\"none\") gives {score:.4f} on your hypotheses")


@pytest.mark.grade("Q25", points=0.5)
def test_q25_beam_search(out, ref):
    """beam_size reaches the search: beam 3 gives beam search's translations."""
    got, want = out["q25_evaluate"]["beam"], ref["q25_evaluate"]["beam"]
    greedy = out["q25_evaluate"]["first"]["hypotheses"]
    assert got["hypotheses"] == want["hypotheses"], (
        "with beam_size=3 your hypotheses are the greedy ones: pass beam_size on to translate (beam search)"
        if got["hypotheses"] == greedy != want["hypotheses"] else
        "with beam_size=3 the hypotheses must come from beam search")


# ---------------------------------------------------------------------------------------------------- Q27
COMPARE_CORPUS = dict(n_train=1500, n_valid=20, n_test=300, seed=1, max_len=25)
COMPARE_MODEL = dict(emb_dim=32, hidden_size=64, dec_hidden=64, dropout=0.0)
COMPARE_TRAINING = dict(epochs=3, batch_size=32, lr=5e-3, seed=0)
BUCKETS = ((1, 10), (11, 16), (17, 25))
# Measured with the reference solution under this probe on the course machine (deterministic for a given seed on
# one thread), BLEU on sources of 17-25 words, attention / vanilla: training seed 0: 33.7 / 4.4; seeds 1, 2, 3:
# 35.2 / 4.1, 39.6 / 7.2, 33.7 / 4.0 (leads 29-32; whole test split 47-52 / 12-14). 12-16 s on a quiet machine.
# The checks ask for at least LONG_MIN for attention and a lead of at least LEAD: well below every measured run.
LONG_MIN, LEAD = 20.0, 15.0


def grader_train_epoch(model, loader, optimizer, *, clip=1.0, teacher_forcing_ratio=1.0, device=None, history=None,
                       progress=False, **_):
    model.train()
    total = tokens = 0
    for batch in loader:
        logits, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)
        loss = grader_loss(logits, batch.tgt)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        n = int((batch.tgt[:, 1:] != PAD).sum())
        total, tokens = total + loss.item() * n, tokens + n
    RECORD["train"].append({"model": id(model), "decoder": type(model.decoder).__name__,
                            "first": int(next(iter(loader)).tgt.sum()), "clip": clip})
    return total / max(tokens, 1)


def grader_evaluate(model, loader, tgt_vocab, *, device=None, beam_size=1, max_len=None, **_):
    from seq2seq.search import translate  # provided code, not a question

    model.eval()
    hypotheses, references, lengths = [], [], []
    with torch.no_grad():
        for batch in loader:
            for result in translate(model, batch.src, batch.src_lengths, beam_size, 2 * batch.src_lengths + 10):
                hypotheses.append(tgt_vocab.decode(result.tokens))
            references.extend(tgt_vocab.decode(row) for row in batch.tgt.tolist())
            lengths.extend(int(n) - 2 for n in batch.src_lengths)
    RECORD["evaluate"].append({"model": id(model), "sentences": len(hypotheses)})
    RECORD["hypotheses"][id(model)] = hypotheses
    return {"loss": 0.0, "ppl": 1.0, "bleu": _sacrebleu_tokens(hypotheses, references), "hypotheses": hypotheses,
            "references": references, "src_lengths": lengths}


def grader_optimizer(model, lr=1e-3, weight_decay=0.0):
    RECORD["lr"].append(lr)
    return torch.optim.Adam(model.parameters(), lr=lr)


RECORD: dict = {}


@probe("Q27")
def q27_compare(s):
    from autograder.graders.grade_training import synthetic_data

    started = time.monotonic()
    RECORD.update(train=[], evaluate=[], lr=[], hypotheses={})
    data = synthetic_data(s, **COMPARE_CORPUS)
    configs = {name: s.model.ModelConfig(len(data.src_vocab), len(data.tgt_vocab), attention=kind, **COMPARE_MODEL)
               for name, kind in (("attention", "additive"), ("vanilla", "none"))}
    with grader_parts(s, train_epoch=grader_train_epoch, evaluate=grader_evaluate, make_optimizer=grader_optimizer):
        table = s.evaluation.compare_models(data, configs, buckets=BUCKETS, device="cpu", **COMPARE_TRAINING)
    lengths = [len(split_tokens(src, "en")) for src, _ in data.corpus.test]
    return {"table": table, "record": {k: v for k, v in RECORD.items() if k != "hypotheses"},
            "lengths": lengths, "seconds": time.monotonic() - started}


def _rows(out) -> dict:
    table = out["q27_compare"]["table"]
    assert isinstance(table, list) and all(isinstance(row, dict) for row in table), (
        "compare_models must return a list of dicts (one row per bucket, then one for all sentences)")
    return {str(row.get("bucket")): row for row in table}


@pytest.mark.grade("Q27", points=1)
def test_q27_table_buckets(out):
    """The table has one row per source-length bucket and one for all, with the right sentence counts."""
    rows = _rows(out)
    lengths = out["q27_compare"]["lengths"]
    for low, high in BUCKETS:
        name = f"{low}-{high}"
        assert name in rows, f"no row with bucket '{name}' (rows: {list(rows)})"
        want = sum(low <= n <= high for n in lengths)
        assert rows[name].get("sentences") == want, (
            f"bucket {name} should hold the {want} test sentences whose source has {low} to {high} words "
            f"(without <sos>/<eos>), not {rows[name].get('sentences')}")
    assert "all" in rows and rows["all"].get("sentences") == len(lengths), "the 'all' row covers every test sentence"
    for row in rows.values():
        assert all(_number(row.get(name)) for name in ("attention", "vanilla")), (
            "every row needs a BLEU (a float) under each model's name")


@pytest.mark.grade("Q27", points=1)
def test_q27_same_budget(out):
    """Both models get the same training: same epochs, batches, learning rate and clipping; each is evaluated."""
    record = out["q27_compare"]["record"]
    by_model: dict = {}
    for call in record["train"]:
        by_model.setdefault(call["model"], []).append(call)
    assert len(by_model) == 2, f"expected two models trained, found {len(by_model)}"
    epochs = [len(calls) for calls in by_model.values()]
    assert epochs == [COMPARE_TRAINING["epochs"]] * 2, f"each model must train for `epochs` epochs, got {epochs}"
    firsts = [[c["first"] for c in calls] for calls in by_model.values()]
    assert firsts[0] == firsts[1], "the two models did not see the same batches (seed the loader the same way)"
    assert record["lr"] == [COMPARE_TRAINING["lr"]] * 2, f"both optimizers must use lr, got {record['lr']}"
    kinds = sorted({c["decoder"] for calls in by_model.values() for c in calls})
    assert len(kinds) == 2, f"both trained models have the same decoder ({kinds[0]}): build each from its own config"
    assert sorted(e["model"] for e in record["evaluate"]) == sorted(by_model), "evaluate each trained model once"


@pytest.mark.grade("Q27", points=2)
def test_q27_attention_wins_on_long_sentences(out):
    """Trained the same way, attention beats vanilla clearly on the longest source sentences."""
    rows = _rows(out)
    low, high = BUCKETS[-1]
    row = rows.get(f"{low}-{high}", {})
    att, van = row.get("attention"), row.get("vanilla")
    assert _number(att) and _number(van), f"no BLEU for both models in bucket {low}-{high}"
    assert att >= LONG_MIN and att - van >= LEAD, (
        f"on sources of {low}-{high} words attention reached BLEU {att:.1f} and vanilla {van:.1f}; a correct "
        f"comparison gives attention at least {LONG_MIN:.0f} and a lead of at least {LEAD:.0f}")
