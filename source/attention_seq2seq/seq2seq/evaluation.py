"""Section 9, evaluating the model: Q26 (corpus BLEU, from scratch).

Q25 (validation loss, perplexity and BLEU of a model) and Q27 (attention vs. no attention) build on the model
and training sections and join this module with them.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence


def ngrams(tokens: Sequence[str], n: int) -> Counter:
    """Counts of the n-grams (as tuples) of one token sequence: ``ngrams(["a", "b", "a"], 1)`` counts a twice."""
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]], max_n: int = 4) -> float:
    """Q26: corpus-level BLEU of tokenised translations against one reference each, on a 0–100 scale.

    BLEU as Papineni et al. (2002) define it, and as ``sacrebleu.corpus_bleu(hyps, [refs], tokenize="none",
    smooth_method="none")`` computes it on the same tokens joined by spaces:

    1. For each order n = 1..max_n, the *clipped* n-gram matches: each hypothesis n-gram counts at most as
       often as it occurs in that sentence's reference. Sum matches and hypothesis n-gram totals over the
       whole corpus (not per sentence), and p_n = matches_n / total_n.
    2. The geometric mean of p_1..p_max_n, with equal weights. No smoothing: when any p_n is 0 (or has no
       n-grams at all), BLEU is 0.
    3. The brevity penalty, from the corpus hypothesis length c and reference length r (token counts):
       BP = 1 when c > r, else exp(1 - r / c) (and 0 when c = 0).

    BLEU = 100 * BP * exp(mean_n log p_n).

    Args:
        hypotheses: one token list per sentence, e.g. ``[["the", "cat", "sat"], ...]``.
        references: one token list per sentence, aligned with ``hypotheses``.
        max_n: the largest n-gram order (4 is standard).

    Returns:
        BLEU as a float in [0, 100].

    Raises:
        ValueError: the two lists differ in length, or are empty.
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ValueError("BLEU of an empty corpus is undefined")
    ### BEGIN SOLUTION
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hyp, ref in zip(hypotheses, references):
        hyp_len, ref_len = hyp_len + len(hyp), ref_len + len(ref)
        for n in range(1, max_n + 1):
            hyp_counts, ref_counts = ngrams(hyp, n), ngrams(ref, n)
            matches[n - 1] += sum(min(count, ref_counts[gram]) for gram, count in hyp_counts.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    if min(matches) == 0 or hyp_len == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n
    brevity = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return 100 * brevity * math.exp(log_precision)
    ### END SOLUTION
