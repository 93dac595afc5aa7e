"""Section 9, evaluating the model: Q25 (loss, perplexity and BLEU of a model), Q26 (corpus BLEU, from scratch)
and Q27 (attention vs. no attention).

BLEU here is always computed on *tokens*: the hypotheses and references are the lower-cased spaCy tokens the
model works with, joined by single spaces, and sacrebleu is told not to tokenise again (``tokenize="none"``),
the "tokenised, lower-cased" BLEU that papers on Multi30k report. :func:`bleu` holds that choice in one place.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import sacrebleu
import torch
from torch import nn

from seq2seq import PAD
from seq2seq.data import Data, Vocab, keeps_dataset_order
from seq2seq.environment import set_seed
from seq2seq.model import ModelConfig, build_model
from seq2seq.search import translate
from seq2seq.training import make_optimizer, perplexity, sequence_loss, train_epoch


def bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> sacrebleu.metrics.bleu.BLEUScore:
    """sacrebleu's corpus BLEU of token lists (joined by spaces, ``tokenize="none"``, default exp smoothing).

    ``bleu(h, r).score`` is the number on the 0–100 scale; :func:`bleu_signature` says how it was computed.

    Raises:
        ValueError: the two lists differ in length (sacrebleu alone would quietly score the pairs that exist).
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references: BLEU pairs the i-th "
                         "hypothesis with the i-th reference, so there must be exactly one reference per hypothesis")
    return _BLEU.corpus_score([" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]])


def bleu_signature() -> str:
    """sacrebleu's signature of :func:`bleu`, e.g. ``nrefs:1|case:mixed|eff:no|tok:none|smooth:exp|version:2.6.0``."""
    metric = sacrebleu.metrics.BLEU(tokenize="none", force=True)
    metric.corpus_score(["a"], [["a"]])  # sacrebleu knows the number of references only after one corpus
    return str(metric.get_signature())


_BLEU = sacrebleu.metrics.BLEU(tokenize="none", force=True)  # force: the tokens are tokenised on purpose


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
    if max_n < 1:
        raise ValueError(f"max_n must be at least 1, got {max_n}")
    matches = [0] * max_n
    totals = [0] * max_n
    hyp_length = ref_length = 0
    for hypothesis, reference in zip(hypotheses, references):
        hyp_length += len(hypothesis)
        ref_length += len(reference)
        for n in range(1, max_n + 1):
            hyp_counts, ref_counts = ngrams(hypothesis, n), ngrams(reference, n)
            matches[n - 1] += sum(min(count, ref_counts[gram]) for gram, count in hyp_counts.items())
            totals[n - 1] += sum(hyp_counts.values())
    if any(total == 0 for total in totals) or any(match == 0 for match in matches):
        return 0.0
    log_precision = sum(math.log(match / total) for match, total in zip(matches, totals)) / max_n
    if hyp_length == 0:
        return 0.0
    brevity = 1.0 if hyp_length > ref_length else math.exp(1.0 - ref_length / hyp_length)
    return 100.0 * brevity * math.exp(log_precision)


def evaluate(model: nn.Module, loader: Any, tgt_vocab: Vocab, *, device: torch.device | str | None = None,
             beam_size: int = 1, max_len: int | None = None, length_penalty: float = 1.0,
             references: Sequence[Sequence[str]] | None = None) -> dict[str, Any]:
    """Q25: the loss, perplexity and BLEU of a model on one split, with dropout off and no gradients.

    Put the model in evaluation mode (``model.eval()``: dropout off, so two calls give the same result) and run
    everything under ``torch.no_grad()`` (no graph is recorded: faster, less memory). Give the model back in
    the mode it came in (``model.train(was_training)``), so a training loop that evaluates after each epoch
    goes on training with dropout. For every batch (moved to ``device``; ``None``: the model's device):

    * the loss: ``model(batch.src, batch.src_lengths, batch.tgt, 1.0)`` (teacher forcing, as in training) and
      ``sequence_loss`` (Q21); the result is the mean over every target token of the split (weighted by each
      batch's non-PAD tokens of ``tgt[:, 1:]``, as ``train_epoch`` does), and ``ppl = perplexity(loss)``;
    * the translations: ``seq2seq.search.translate(model, batch.src, batch.src_lengths, beam_size, limit,
      length_penalty)`` with ``limit = max_len`` or, when ``max_len`` is None, ``2 * batch.src_lengths + 10``
      per sentence; each hypothesis is ``tgt_vocab.decode(translation.tokens)``;
    * the references: ``tgt_vocab.decode`` of each row of ``batch.tgt`` (specials and PAD stripped), unless
      ``references`` gives the true tokenised sentences (words outside the vocabulary would otherwise read
      ``<unk>`` in the reference, and an ``<unk>`` in a hypothesis would match them);
    * the source lengths: ``batch.src_lengths - 2`` per sentence, the source's words without ``<sos>`` and
      ``<eos>`` (what :func:`compare_models` buckets by).

    BLEU is :func:`bleu` (sacrebleu on space-joined tokens, ``tokenize="none"``) of all hypotheses against all
    references, the i-th hypothesis against the i-th reference, in the order the loader yields the sentences.
    ``references`` are paired by position only, so they must come in that same order: with
    ``references=[tgt for _, tgt in data.tokens[split]]``, evaluate on ``data.loader(split, batch_size)``, whose
    evaluation splits keep dataset order by default. A loader that shuffles, buckets or sorts is refused then.
    They must be exactly one per sentence the loader yields: with more or fewer, :func:`bleu` raises
    ``ValueError`` after the last batch, instead of quietly scoring only the pairs that exist (as sacrebleu would).

    Args:
        model: a ``Seq2Seq``.
        loader: yields ``Batch(src, src_lengths, tgt)``, e.g. ``data.loader("valid", 64)`` (dataset order).
        tgt_vocab: the target vocabulary (ids to tokens).
        device: where to run; ``None``: where the model is.
        beam_size: 1 for greedy decoding, more for beam search.
        max_len: the most tokens to generate per sentence (``<eos>`` included); None: ``2 * src_len + 10``.
        length_penalty: beam search's length penalty.
        references: optional tokenised references, one per sentence in the order the loader yields them.

    Returns:
        ``{"loss": float, "ppl": float, "bleu": float (0-100), "hypotheses": list[list[str]],
        "references": list[list[str]], "src_lengths": list[int]}``, the last three one entry per sentence in
        the loader's order; ``src_lengths`` counts source words, without ``<sos>``/``<eos>``.

    Raises:
        ValueError: ``references`` given with a loader that reorders its dataset
            (:func:`seq2seq.data.keeps_dataset_order`), or not one per sentence the loader yields (:func:`bleu`).
    """
    if references is not None and not keeps_dataset_order(loader):
        raise ValueError("references= pairs the i-th reference with the i-th sentence the loader yields, but this "
                         "loader shuffles, buckets or sorts its dataset: evaluate on data.loader(split, batch_size) "
                         "(dataset order for valid and test), or leave references out")
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    hypotheses: list[list[str]] = []
    gold: list[list[str]] = []
    src_lengths: list[int] = []
    try:
        with torch.no_grad():
            for batch in loader:
                batch = batch.to(device)
                logits, _ = model(batch.src, batch.src_lengths, batch.tgt, 1.0)
                n = int((batch.tgt[:, 1:] != PAD).sum())
                if n:
                    total += sequence_loss(logits, batch.tgt).item() * n
                    tokens += n
                limit = max_len if max_len is not None else 2 * batch.src_lengths + 10
                for translation in translate(model, batch.src, batch.src_lengths, beam_size, limit, length_penalty):
                    hypotheses.append(tgt_vocab.decode(translation.tokens))
                if references is None:
                    gold.extend(tgt_vocab.decode(row) for row in batch.tgt.tolist())
                src_lengths.extend((batch.src_lengths - 2).tolist())
    finally:
        model.train(was_training)
    if references is not None:
        gold = [list(reference) for reference in references]
    loss = total / tokens if tokens else float("nan")
    score = bleu(hypotheses, gold).score  # raises ValueError when the references are not one per sentence
    return {"loss": loss, "ppl": perplexity(loss), "bleu": float(score), "hypotheses": hypotheses,
            "references": gold, "src_lengths": [int(length) for length in src_lengths]}


BUCKETS = ((1, 10), (11, 20), (21, 40))


def compare_models(data: Data, configs: dict[str, ModelConfig], *, epochs: int = 5, batch_size: int = 64,
                   lr: float = 1e-3, clip: float = 1.0, seed: int = 0,
                   buckets: Sequence[tuple[int, int]] = BUCKETS, split: str = "test",
                   device: torch.device | str | None = None, progress: bool = False) -> list[dict[str, Any]]:
    """Q27: train several models with the same budget and data, and tabulate their BLEU by source length.

    For each ``name, config`` in ``configs`` (e.g. ``{"attention": ModelConfig(...), "vanilla":
    ModelConfig(..., attention="none")}``), in order: ``set_seed(seed)``, ``build_model(config)`` (moved to
    ``device``, default CPU), ``make_optimizer(model, lr)``, then ``epochs`` calls of ``train_epoch`` on
    ``data.loader("train", batch_size, seed=seed)`` (one loader per model, built after ``set_seed``, so both
    see the same batches) with ``clip`` and teacher forcing 1.0; finally ``evaluate`` (greedy, no
    ``references``) on ``data.loader(split, batch_size)``. Same seed, data, epochs and batches: only the model
    differs.

    Then split the evaluated sentences by *source* length in words (``<sos>``/``<eos>`` not counted, as
    ``evaluate``'s ``src_lengths``) into ``buckets`` (inclusive bounds) and compute :func:`bleu` of each model's
    hypotheses in each bucket against its own ``evaluate`` result's ``"references"``: position i of a result's
    ``hypotheses``, ``references`` and ``src_lengths`` is the same sentence, the i-th the loader yields (dataset
    order), and every model sees the sentences in that same order.

    Args:
        data: a prepared corpus (``seq2seq.data.prepare``).
        configs: the models to compare, by name (the names become columns).
        epochs, batch_size, lr, clip, seed: the shared training budget.
        buckets: ``(low, high)`` source-length ranges, inclusive.
        split: the split to evaluate on.
        device: where to train; ``None``: the CPU.
        progress: tqdm bars while training.

    Returns:
        One row per bucket, then one for the whole split: ``{"bucket": "11-20" (or "all"), "sentences": int,
        name: BLEU, ...}`` with one BLEU (float, 0–100) per model name. A bucket without sentences gets BLEU
        ``nan``.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    results: dict[str, dict[str, Any]] = {}
    for name, config in configs.items():
        set_seed(seed)
        model = build_model(config).to(device)
        optimizer = make_optimizer(model, lr)
        train_loader = data.loader("train", batch_size, seed=seed)
        for _ in range(epochs):
            train_epoch(model, train_loader, optimizer, clip=clip, teacher_forcing_ratio=1.0, device=device,
                        progress=progress)
        results[name] = evaluate(model, data.loader(split, batch_size), data.tgt_vocab, device=device)
    names = list(configs)
    lengths = results[names[0]]["src_lengths"] if names else []
    groups = [(f"{low}-{high}", [i for i, length in enumerate(lengths) if low <= length <= high])
              for low, high in buckets]
    groups.append(("all", list(range(len(lengths)))))
    table: list[dict[str, Any]] = []
    for label, members in groups:
        row: dict[str, Any] = {"bucket": label, "sentences": len(members)}
        for name in names:
            result = results[name]
            if members:
                row[name] = float(bleu([result["hypotheses"][i] for i in members],
                                       [result["references"][i] for i in members]).score)
            else:
                row[name] = float("nan")
        table.append(row)
    return table
