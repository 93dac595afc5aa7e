"""Validity of the Q22, Q24 and Q26 graders: stub 0, solution full, realistic bugs caught, alternatives pass."""
from __future__ import annotations

import pytest

from tests.helpers import SOLUTION, STUB, assert_costs_only, full_marks, mutant, scores

QUESTIONS = ["Q22", "Q24", "Q26"]
TRAIN, EVAL = "seq2seq/training.py", "seq2seq/evaluation.py"


@pytest.fixture(scope="module")
def maximum():
    return full_marks(QUESTIONS)


def test_solution_full_marks_and_stub_zero(maximum):
    assert scores(SOLUTION, QUESTIONS) == maximum
    assert scores(STUB, QUESTIONS) == {q: 0 for q in QUESTIONS}


MUTANTS = {
    "Q22 decoder only": ("Q22", TRAIN, [("trainable = [p for p in model.parameters() if p.requires_grad]",
                                         "trainable = [p for p in model.decoder.parameters() if p.requires_grad]")]),
    "Q22 parameters twice": ("Q22", TRAIN, [("trainable = [p for p in model.parameters() if p.requires_grad]",
                                             "trainable = list(model.encoder.parameters()) + list(model.parameters())")]),
    "Q22 lr ignored": ("Q22", TRAIN, [("torch.optim.Adam(trainable, lr=lr, weight_decay=weight_decay)",
                                       "torch.optim.Adam(trainable, weight_decay=weight_decay)")]),
    "Q22 SGD": ("Q22", TRAIN, [("return torch.optim.Adam(trainable, lr=lr",
                                "return torch.optim.SGD(trainable, lr=lr")]),
    "Q22 frozen included": ("Q22", TRAIN, [("[p for p in model.parameters() if p.requires_grad]",
                                            "list(model.parameters())")]),
    "Q24 perplexity base 2": ("Q24", TRAIN, [("        return math.exp(loss)\n", "        return 2.0 ** loss\n")]),
    "Q24 perplexity overflow raises": ("Q24", TRAIN, [("    except OverflowError:\n        return math.inf",
                                                       "    except ZeroDivisionError:\n        return math.inf")]),
    "Q24 no bias correction": ("Q24", TRAIN, [("out.append(m / (1 - beta ** t))", "out.append(m)")]),
    "Q24 divergence vs first loss": ("Q24", TRAIN, [("last > factor * min(earlier)", "last > factor * earlier[0]")]),
    "Q24 equal counts as better": ("Q24", TRAIN, [("valid_loss < self.best - self.min_delta",
                                                   "valid_loss <= self.best - self.min_delta")]),
    "Q24 patience off by one": ("Q24", TRAIN, [("return self.bad_epochs >= self.patience",
                                                "return self.bad_epochs > self.patience")]),
    "Q26 no clipping": ("Q26", EVAL, [("sum(min(count, ref_counts[gram]) for gram, count in hyp_counts.items())",
                                       "sum(count for gram, count in hyp_counts.items() if gram in ref_counts)")]),
    "Q26 brevity reversed": ("Q26", EVAL, [("math.exp(1 - ref_len / hyp_len)", "math.exp(1 - hyp_len / ref_len)")]),
    "Q26 arithmetic mean": ("Q26", EVAL, [("log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n",
                                           "log_precision = math.log(sum(m / t for m, t in zip(matches, totals)) / max_n)")]),
    "Q26 scale 0-1": ("Q26", EVAL, [("return 100 * brevity * math.exp(log_precision)",
                                     "return brevity * math.exp(log_precision)")]),
    "Q26 no brevity penalty": ("Q26", EVAL, [("brevity = 1.0 if hyp_len > ref_len else", "brevity = 1.0 if True else")]),
}


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_loses_points_on_its_question_only(name, tmp_path, maximum):
    broken, path, edits = MUTANTS[name]
    assert_costs_only(scores(mutant(tmp_path, {path: edits}), QUESTIONS), broken, maximum, name)


SENTENCE_AVERAGE = '''
def corpus_bleu(hypotheses, references, max_n=4):  # a common mistake: the mean of sentence-level scores
    scores = []
    for h, r in zip(hypotheses, references):
        m = [sum(min(c, ngrams(r, n)[g]) for g, c in ngrams(h, n).items()) for n in range(1, max_n + 1)]
        t = [max(len(h) - n + 1, 0) for n in range(1, max_n + 1)]
        if min(m) == 0:
            scores.append(0.0)
            continue
        bp = 1.0 if len(h) > len(r) else math.exp(1 - len(r) / len(h))
        scores.append(100 * bp * math.exp(sum(math.log(a / b) for a, b in zip(m, t)) / max_n))
    return sum(scores) / len(scores)
'''

ALTERNATIVE = '''
def corpus_bleu(hypotheses, references, max_n=4):  # another correct way: counters merged over the corpus
    import numpy as np
    if len(hypotheses) != len(references) or not hypotheses:
        raise ValueError("bad corpus")
    stats = np.zeros((max_n, 2))
    c = sum(map(len, hypotheses)); r = sum(map(len, references))
    for h, ref in zip(hypotheses, references):
        for n in range(max_n):
            hc = Counter(zip(*[h[i:] for i in range(n + 1)]))
            rc = Counter(zip(*[ref[i:] for i in range(n + 1)]))
            stats[n] += [sum((hc & rc).values()), sum(hc.values())]
    if c == 0 or (stats[:, 0] == 0).any():
        return 0.0
    bp = min(1.0, math.exp(1 - r / c))
    return float(100 * bp * np.exp(np.mean(np.log(stats[:, 0] / stats[:, 1]))))


def smooth(values, beta=0.9):  # vectorised, same definition
    import numpy as np
    v = np.asarray(values, dtype=float)
    out, m = [], 0.0
    for t in range(1, len(v) + 1):
        m = beta * m + (1 - beta) * v[t - 1]
        out.append(float(m / (1 - beta ** t)))
    return out
'''


def test_sentence_level_average_is_caught(tmp_path, maximum):
    sub = mutant(tmp_path, {})
    (sub / EVAL).write_text((sub / EVAL).read_text() + SENTENCE_AVERAGE)
    got = scores(sub, ["Q26"])
    assert got["Q26"] < maximum["Q26"]


def test_independent_correct_implementations_score_full_marks(tmp_path, maximum):
    sub = mutant(tmp_path, {})
    (sub / EVAL).write_text((sub / EVAL).read_text() + ALTERNATIVE.split("\n\n\ndef smooth")[0] + "\n")
    (sub / TRAIN).write_text((sub / TRAIN).read_text() + "\n\ndef smooth" + ALTERNATIVE.split("\n\n\ndef smooth")[1])
    assert scores(sub, QUESTIONS) == maximum


def test_partial_credit_for_finished_functions(tmp_path, maximum):
    """Q24 has four functions: one left unfinished costs its own points only."""
    sub = mutant(tmp_path, {TRAIN: [("    if math.isnan(loss):\n        return math.nan\n",
                                     "    raise NotImplementedError()\n")]})
    assert scores(sub, ["Q24"]) == {"Q24": maximum["Q24"] - 1}
