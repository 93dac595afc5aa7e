"""Checks for section 9, evaluating the model: Q25 (loss, perplexity, BLEU of a model), Q26 (corpus BLEU from
scratch) and Q27 (attention vs. vanilla).

The expected BLEU values come from sacrebleu itself (computed here, in the deciding process). Isolation: Q25
evaluates the grader's own tiny model and vocabulary, with the grader's ``sequence_loss``; Q27 runs the
student's ``compare_models`` with the grader's own ``set_seed``, ``build_model`` (stand-in models),
``train_epoch``, ``evaluate`` and optimizer put in its place, on a task of the grader's own, so only the
comparison itself is graded there: a bug in Q4, Q5-Q8 or Q9-Q25 costs nothing in Q27.

The probes these checks read are in ``autograder/probes/evaluation.py``; this module is imported by the
deciding process only, never by a process that runs student code.
"""
from __future__ import annotations

import math

import pytest
import sacrebleu

from autograder.probes.evaluation import (
    BUCKETS, COMPARE_TASK, COMPARE_TRAINING, CORPORA, REAL, bleu_corpus, sacrebleu_tokens,
)
from autograder.probes.standins import TaskData


def _sacrebleu(hyps: list[list[str]], refs: list[list[str]], max_n: int = 4) -> float:
    if max_n == 4:
        return sacrebleu.corpus_bleu([" ".join(h) for h in hyps], [[" ".join(r) for r in refs]],
                                     tokenize="none", smooth_method="none").score
    metric = sacrebleu.BLEU(tokenize="none", smooth_method="none", max_ngram_order=max_n)
    return metric.corpus_score([" ".join(h) for h in hyps], [[" ".join(r) for r in refs]]).score


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
        assert _close(got[name], _sacrebleu(*bleu_corpus(*args))), (
            f"on a random corpus of {args[1]} sentences your BLEU is {got[name]!r}, which is not sacrebleu's value: "
            "sum clipped matches and n-gram totals over the whole corpus before dividing"
            + _bleu_hint(got[name], *bleu_corpus(*args)))


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
    assert abs(loss - want) <= 1e-5 * max(1.0, want), (
        f"the loss {loss:.5f} is not the per-token mean with dropout off{hint}")
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
    score = sacrebleu_tokens(got["hypotheses"], got["references"])
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
# Measured with the reference solution's compare_models under this probe (the grader's stand-in models on the
# grader's copy task) on the course machine, deterministic for a given seed on one thread: BLEU on sources of
# 17-25 words, attention / vanilla: training seed 0: 40.8 / 4.9; seeds 1, 2, 3: 47.8 / 3.7, 49.4 / 4.7,
# 47.8 / 2.1 (leads 36-46; whole test split 48-59 / 6-8); 9-14 s each.
# The checks ask for at least LONG_MIN for attention and a lead of at least LEAD: well below every measured run.
LONG_MIN, LEAD = 20.0, 15.0


def _rows(out) -> dict:
    table = out["q27_compare"]["table"]
    assert isinstance(table, list) and all(isinstance(row, dict) for row in table), (
        "compare_models must return a list of dicts (one row per bucket, then one for all sentences)")
    return {str(row.get("bucket")): row for row in table}


@pytest.mark.grade("Q27", points=1)
def test_q27_table_buckets(out):
    """The table has one row per source-length bucket and one for all, with the right sentence counts."""
    rows = _rows(out)
    lengths = [len(source) for source, _ in TaskData(**COMPARE_TASK).tokens["test"]]
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
