"""Graders for section 9, evaluating the model: Q26 (corpus BLEU from scratch).

The expected values come from sacrebleu itself (computed here, in the deciding process), on corpora that the
probe and the checks build from the same seeds.
"""
from __future__ import annotations

import math
import random

import pytest
import sacrebleu

from autograder.registry import probe, question

question("Q26", "corpus BLEU from scratch", timeout=60)

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


def _close(got, expected: float) -> bool:
    return isinstance(got, (int, float)) and math.isfinite(got) and abs(got - expected) <= 1e-6


@pytest.mark.grade("Q26", points=2)
def test_q26_matches_sacrebleu_on_random_corpora(out):
    """corpus_bleu equals sacrebleu (tokenize="none", no smoothing) to 1e-6 on random corpora of many sizes."""
    got = out["q26_random"]
    for name, args in CORPORA.items():
        assert _close(got[name], _sacrebleu(*_corpus(*args))), (
            f"on a random corpus of {args[1]} sentences your BLEU is {got[name]!r}, which is not sacrebleu's value: "
            "sum clipped matches and n-gram totals over the whole corpus before dividing")


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
