"""Validity of the Q21-Q27 graders: stub 0, solution full, realistic bugs caught, alternatives pass.

A mutant is graded on its own question and every question whose probes enter a function it edits
(tests/bug_reach.py); that a bug elsewhere cannot cost Q23 or Q27 points (they inject the grader's own loss, loop
and evaluation) is also shown directly, by test_bugs_elsewhere_keep_training_questions.
"""
from __future__ import annotations

import pytest

from autograder.harness import grade
from tests.bug_reach import assert_costs_only_its_question
from tests.helpers import SOLUTION, STUB, Mutant, assert_hint, full_marks, mutant, scores

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

QUESTIONS = ["Q21", "Q22", "Q23", "Q24", "Q25", "Q26", "Q27"]
TRAIN, EVAL = "seq2seq/training.py", "seq2seq/evaluation.py"


@pytest.fixture(scope="module")
def maximum():
    return full_marks(QUESTIONS)


def test_solution_full_marks_and_stub_zero(maximum):
    assert scores(SOLUTION, QUESTIONS) == maximum
    assert scores(STUB, QUESTIONS) == {q: 0 for q in QUESTIONS}


# Each mutant must cost points on its own question and nothing elsewhere, and the feedback must say its hint
# (lower-case; issue #7, point 6): the likely cause, in the student's terms.
MUTANTS: dict[str, Mutant] = {
    "Q21 not shifted": Mutant("Q21", {TRAIN: [
        ("logits[:, 1:].reshape(-1, vocab).float(), tgt[:, 1:].reshape(-1)",
         "logits.reshape(-1, vocab).float(), tgt.reshape(-1)"),
    ]}, hint="it looks not shifted"),
    "Q21 shifted the wrong way": Mutant("Q21", {TRAIN: [
        ("logits[:, 1:].reshape(-1, vocab).float()", "logits[:, :-1].reshape(-1, vocab).float()"),
    ]}, hint="it looks shifted the wrong way"),
    "Q21 PAD counted": Mutant("Q21", {TRAIN: [
        ("ignore_index=PAD, label_smoothing=label_smoothing)", "label_smoothing=label_smoothing)"),
    ]}, hint="pad counted as a target (use ignore_index=pad)"),
    "Q21 mean over sentences": Mutant("Q21", {TRAIN: [
        ("ignore_index=PAD, label_smoothing=label_smoothing)",
         "ignore_index=PAD, label_smoothing=label_smoothing, "
         "reduction='sum') / logits.size(0)"),
    ]}, hint="averaged per sentence instead of per target token"),
    "Q21 smoothing ignored": Mutant("Q21", {TRAIN: [
        ("ignore_index=PAD, label_smoothing=label_smoothing)", "ignore_index=PAD)"),
    ]}, hint="computed without label smoothing"),
    "Q22 decoder only": Mutant("Q22", {TRAIN: [
        ("trainable = [p for p in model.parameters() if p.requires_grad]",
         "trainable = [p for p in model.decoder.parameters() if p.requires_grad]"),
    ]}, hint="not the decoder's only"),
    "Q22 parameters twice": Mutant("Q22", {TRAIN: [
        ("trainable = [p for p in model.parameters() if p.requires_grad]",
         "trainable = list(model.encoder.parameters()) + list(model.parameters())"),
    ]}, hint="some parameters are given to adam twice"),
    "Q22 lr ignored": Mutant("Q22", {TRAIN: [
        ("torch.optim.Adam(trainable, lr=lr, weight_decay=weight_decay)",
         "torch.optim.Adam(trainable, weight_decay=weight_decay)"),
    ]}, hint="use the learning rate passed as lr"),
    "Q22 SGD": Mutant("Q22", {TRAIN: [
        ("return torch.optim.Adam(trainable, lr=lr", "return torch.optim.SGD(trainable, lr=lr"),
    ]}, hint="returned sgd, not torch.optim.adam"),
    "Q22 frozen included": Mutant("Q22", {TRAIN: [
        ("[p for p in model.parameters() if p.requires_grad]", "list(model.parameters())"),
    ]}, hint="a frozen parameter (requires_grad=false) was given to the optimizer"),
    "Q23 no optimizer.step": Mutant("Q23", {TRAIN: [
        ("        optimizer.step()\n        n = int(", "        pass\n        n = int("),
    ]}, hint="optimizer.step() ran 0 times"),
    "Q23 no zero_grad": Mutant("Q23", {TRAIN: [
        ("optimizer.zero_grad(set_to_none=True)", "pass"),
    ]}, hint="call optimizer.zero_grad() before backward()"),
    "Q23 no clipping": Mutant("Q23", {TRAIN: [
        ("            nn.utils.clip_grad_norm_(model.parameters(), clip)", "            pass"),
    ]}, hint="call nn.utils.clip_grad_norm_"),
    "Q23 ratio not passed": Mutant("Q23", {TRAIN: [
        ("            logits, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)",
         "            logits, _ = model(batch.src, batch.src_lengths, batch.tgt)"),
    ]}, hint="pass teacher_forcing_ratio to the model"),
    "Q23 mean of batch losses": Mutant("Q23", {TRAIN: [
        ("total, tokens = total + value * n, tokens + n", "total, tokens = total + value, tokens + 1"),
    ]}, hint="it is the mean of the batch losses"),
    "Q23 inline loss shifted the wrong way": Mutant("Q23", {TRAIN: [
        ("            loss = sequence_loss(logits, batch.tgt, label_smoothing)",
         "            loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.size(-1)), "
         "batch.tgt[:, 1:].reshape(-1), ignore_index=PAD)"),
    ]}, hint="your losses are not sequence_loss(logits, batch.tgt)"),
    "Q23 no model.train()": Mutant("Q23", {TRAIN: [
        ("    model.train()\n    total, tokens, steps", "    total, tokens, steps"),
    ]}, hint="call model.train() before the first batch"),
    "Q23 NaN not detected": Mutant("Q23", {TRAIN: [
        ("if not math.isfinite(value):", "if False:"),
    ]}, hint="a nan loss must raise floatingpointerror"),
    "Q24 perplexity base 2": Mutant("Q24", {TRAIN: [
        ("        return math.exp(loss)\n", "        return 2.0 ** loss\n"),
    ]}, hint="yours is 2 ** loss"),
    "Q24 perplexity overflow raises": Mutant("Q24", {TRAIN: [
        ("    except OverflowError:\n        return math.inf",
         "    except ZeroDivisionError:\n        return math.inf"),
    ]}, hint="catch overflowerror and return math.inf"),
    "Q24 no bias correction": Mutant("Q24", {TRAIN: [
        ("out.append(m / (1 - beta ** t))", "out.append(m)"),
    ]}, hint="they must not be pulled towards 0"),
    "Q24 divergence vs first loss": Mutant("Q24", {TRAIN: [
        ("last > factor * min(earlier)", "last > factor * earlier[0]"),
    ]}, hint="the smallest loss before it"),
    "Q24 equal counts as better": Mutant("Q24", {TRAIN: [
        ("valid_loss < self.best - self.min_delta", "valid_loss <= self.best - self.min_delta"),
    ]}, hint="equal is not better"),
    "Q24 patience off by one": Mutant("Q24", {TRAIN: [
        ("return self.bad_epochs >= self.patience", "return self.bad_epochs > self.patience"),
    ]}, hint="stop after exactly `patience` epochs"),
    "Q25 no model.eval()": Mutant("Q25", {EVAL: [
        ("    model.eval()\n    total, tokens = 0.0, 0", "    total, tokens = 0.0, 0"),
    ]}, hint="call model.eval() before evaluating"),
    "Q25 gradients recorded": Mutant("Q25", {EVAL: [
        ("        with torch.no_grad():\n            for batch in loader:",
         "        with torch.enable_grad():\n            for batch in loader:"),
    ]}, hint="wrap evaluation in torch.no_grad()"),
    "Q25 mean of batch losses": Mutant("Q25", {EVAL: [
        ("sequence_loss(logits, batch.tgt).item() * n, tokens + n",
         "sequence_loss(logits, batch.tgt).item(), tokens + 1"),
    ]}, hint="it is the mean of the batch losses"),
    "Q25 training mode not restored": Mutant("Q25", {EVAL: [
        ("    finally:\n        model.train(was_training)", "    finally:\n        pass"),
    ]}, hint="model.train(was_training)"),
    "Q25 beam size ignored": Mutant("Q25", {EVAL: [
        ("translate(model, batch.src, batch.src_lengths, beam_size, limit, length_penalty)",
         "translate(model, batch.src, batch.src_lengths, 1, limit, length_penalty)"),
    ]}, hint="your hypotheses are the greedy ones"),
    "Q25 references from source": Mutant("Q25", {EVAL: [
        ("refs.extend(tgt_vocab.decode(row) for row in batch.tgt.tolist())",
         "refs.extend(tgt_vocab.decode(row) for row in batch.src.tolist())"),
    ]}, hint="your references are the source sentences"),
    "Q26 no clipping": Mutant("Q26", {EVAL: [
        ("sum(min(count, ref_counts[gram]) for gram, count in hyp_counts.items())",
         "sum(count for gram, count in hyp_counts.items() if gram in ref_counts)"),
    ]}, hint="unclipped n-gram matches"),
    "Q26 brevity reversed": Mutant("Q26", {EVAL: [
        ("math.exp(1 - ref_len / hyp_len)", "math.exp(1 - hyp_len / ref_len)"),
    ]}, hint="a reversed brevity penalty"),
    "Q26 arithmetic mean": Mutant("Q26", {EVAL: [
        ("log_precision = sum(math.log(m / t) for m, t in zip(matches, totals)) / max_n",
         "log_precision = math.log(sum(m / t for m, t in zip(matches, totals)) / max_n)"),
    ]}, hint="the arithmetic mean of the n-gram precisions"),
    "Q26 scale 0-1": Mutant("Q26", {EVAL: [
        ("return 100 * brevity * math.exp(log_precision)", "return brevity * math.exp(log_precision)"),
    ]}, hint="on the 0-1 scale: multiply by 100"),
    "Q26 no brevity penalty": Mutant("Q26", {EVAL: [
        ("brevity = 1.0 if hyp_len > ref_len else", "brevity = 1.0 if True else"),
    ]}, hint="bleu without the brevity penalty"),
    "Q27 lengths counted with <sos>/<eos>": Mutant("Q27", {EVAL: [
        ("if low <= n <= high]", "if low <= n + 2 <= high]"),
    ]}, hint="(without <sos>/<eos>)"),
    "Q27 one config for both": Mutant("Q27", {EVAL: [
        ("model = build_model(config).to(device)", "model = build_model(next(iter(configs.values()))).to(device)"),
    ]}, hint="build each from its own config"),
    "Q27 unequal budget": Mutant("Q27", {EVAL: [
        ("        for _ in range(epochs):\n            train_epoch(",
         "        for _ in range(epochs if not results else 1):\n            train_epoch("),
    ]}, hint="each model must train for `epochs` epochs"),
    "Q27 batches differ": Mutant("Q27", {EVAL: [
        ('train = data.loader("train", batch_size, seed=seed)',
         'train = data.loader("train", batch_size, seed=len(results))'),
    ]}, hint="did not see the same batches"),
}


def test_every_mutant_has_a_hint():
    assert [name for name, m in MUTANTS.items() if not m.hint or m.qid not in QUESTIONS] == []


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_loses_points_on_its_question_only(name, tmp_path, reached):
    m = MUTANTS[name]
    assert_hint(assert_costs_only_its_question(m, tmp_path, reached, name), m.qid, m.hint, name)


def test_bugs_elsewhere_keep_training_questions(tmp_path, maximum):
    """Q23 and Q27 inject the grader's loss, loop and evaluation: bugs in Q21, Q25 and Q22 cost them nothing."""
    edits = {TRAIN: MUTANTS["Q21 not shifted"].edits[TRAIN] + MUTANTS["Q22 lr ignored"].edits[TRAIN],
             EVAL: MUTANTS["Q25 mean of batch losses"].edits[EVAL]}
    got = scores(mutant(tmp_path, edits), ["Q21", "Q23", "Q25", "Q27"])
    assert got["Q23"] == maximum["Q23"] and got["Q27"] == maximum["Q27"], got
    assert got["Q21"] < maximum["Q21"] and got["Q25"] < maximum["Q25"], got


@pytest.mark.parametrize("name", ["Q23 no optimizer.step", "Q23 inline loss shifted the wrong way", "Q23 no zero_grad"])
def test_broken_loops_miss_the_bleu_threshold(name, tmp_path):
    """The BLEU-threshold check itself (not only the mechanics checks) fails for loops that cannot learn."""
    results = grade(MUTANTS[name].build(tmp_path), questions=["Q23"])
    feedback = " ".join(test.get("output", "") for test in results["tests"])
    assert "the test BLEU is" in feedback, f"{name}: the BLEU threshold was reached: {feedback}"


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


ALTERNATIVE_TRAINING = '''

def sequence_loss(logits, tgt, label_smoothing=0.0):  # by hand: log-softmax, gather, mask, sum / count
    log_probs = torch.log_softmax(logits[:, 1:].float(), dim=-1)
    gold = tgt[:, 1:]
    nll = -log_probs.gather(-1, gold.unsqueeze(-1)).squeeze(-1)
    if label_smoothing:
        nll = (1 - label_smoothing) * nll - label_smoothing * log_probs.mean(-1)
    mask = gold != PAD
    return (nll * mask).sum() / mask.sum()


def train_epoch(model, loader, optimizer, *, clip=1.0, teacher_forcing_ratio=1.0, device=None, history=None,
                progress=False, **_):  # another order: zero_grad first, move_to, a running sum of tensors
    from seq2seq.environment import move_to
    model.train()
    device = device or next(model.parameters()).device
    sums = torch.zeros(2, dtype=torch.float64)
    for batch in loader:
        optimizer.zero_grad()
        src, src_lengths, tgt = move_to(tuple(batch), device)
        loss = sequence_loss(model(src, src_lengths, tgt, teacher_forcing_ratio)[0], tgt)
        if torch.isnan(loss) or torch.isinf(loss):
            raise FloatingPointError("the loss is not finite")
        loss.backward()
        if clip:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
        optimizer.step()
        if history is not None:
            history.log_step(loss.item())
        sums += torch.tensor([loss.item() * (tgt[:, 1:] != PAD).sum().item(), (tgt[:, 1:] != PAD).sum().item()],
                             dtype=torch.float64)
    return float(sums[0] / sums[1])
'''

ALTERNATIVE_EVALUATION = '''

def evaluate(model, loader, tgt_vocab, *, device=None, beam_size=1, max_len=None, references=None, **_):
    mode = model.training
    model.eval()
    with torch.no_grad():
        loss_sum = count = 0
        hyps, refs, lengths = [], [], []
        for src, src_lengths, tgt in loader:
            logits = model(src, src_lengths, tgt, 1.0)[0]
            n = (tgt[:, 1:] != PAD).sum().item()
            loss_sum += sequence_loss(logits, tgt).item() * n
            count += n
            found = translate(model, src, src_lengths, beam_size, max_len or 2 * src_lengths + 10)
            hyps += [tgt_vocab.decode(t.tokens) for t in found]
            refs += [tgt_vocab.decode(row.tolist()) for row in tgt]
            lengths += (src_lengths - 2).tolist()
    model.train(mode)
    score = sacrebleu.corpus_bleu([" ".join(h) for h in hyps], [[" ".join(r) for r in refs]], tokenize="none",
                                  force=True).score
    return {"loss": loss_sum / count, "ppl": math.exp(loss_sum / count), "bleu": score, "hypotheses": hyps,
            "references": refs, "src_lengths": lengths}


def compare_models(data, configs, *, epochs=5, batch_size=64, lr=1e-3, clip=1.0, seed=0, buckets=BUCKETS,
                   split="test", device=None, progress=False):  # columns filled bucket by bucket
    evaluated = {}
    for name in configs:
        set_seed(seed)
        model = build_model(configs[name])
        optimizer = make_optimizer(model, lr=lr)
        loader = data.loader("train", batch_size, seed=seed)
        for epoch in range(epochs):
            train_epoch(model, loader, optimizer, clip=clip)
        evaluated[name] = evaluate(model, data.loader(split, batch_size), data.tgt_vocab)
    lengths = next(iter(evaluated.values()))["src_lengths"]
    table = []
    for bucket, (low, high) in [(f"{a}-{b}", (a, b)) for a, b in buckets] + [("all", (0, 10 ** 9))]:
        idx = [i for i, n in enumerate(lengths) if low <= n <= high]
        row = {"bucket": bucket, "sentences": len(idx)}
        for name, result in evaluated.items():
            pick = lambda key: [result[key][i] for i in idx]  # noqa: E731
            row[name] = bleu(pick("hypotheses"), pick("references")).score if idx else float("nan")
        table.append(row)
    return table
'''


def test_independent_training_and_evaluation_score_full_marks(tmp_path, maximum):
    sub = mutant(tmp_path, {})
    (sub / TRAIN).write_text((sub / TRAIN).read_text() + ALTERNATIVE_TRAINING)
    (sub / EVAL).write_text((sub / EVAL).read_text() + ALTERNATIVE_EVALUATION)
    questions = ["Q21", "Q23", "Q25", "Q27"]
    assert scores(sub, questions) == {q: maximum[q] for q in questions}


def test_partial_credit_for_finished_functions(tmp_path, maximum):
    """Q24 has four functions: one left unfinished costs its own points only."""
    sub = mutant(tmp_path, {TRAIN: [("    if math.isnan(loss):\n        return math.nan\n",
                                     "    raise NotImplementedError()\n")]})
    # perplexity's check weighs 1 of Q24's 5: 3 points * 1 / 5 = 0.6 lost
    assert scores(sub, ["Q24"])["Q24"] == pytest.approx(maximum["Q24"] - 0.6, abs=1e-3)
