"""Evaluation pairs each hypothesis with its own reference on the default path: ``evaluate(model,
data.loader(split, n), vocab, references=[t for _, t in data.tokens[split]])`` needs no ``bucket=False`` any more,
and a loader that reorders its split is refused when ``references`` are given. Runs the generated solution."""
from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from tests.helpers import SOLUTION

if str(SOLUTION) not in sys.path:
    sys.path.insert(0, str(SOLUTION))
from seq2seq import data, evaluation  # noqa: E402
from seq2seq.search import Translation  # noqa: E402
from seq2seq.synthetic import synthetic_corpus  # noqa: E402


class Oracle(nn.Module):
    """Translates every source into the gold target of the pair it belongs to: a known function of the source, so
    that a correctly paired evaluation scores BLEU 100 (up to the target words outside the vocabulary)."""

    def __init__(self, prepared: data.Data, split: str) -> None:
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))  # evaluate finds the device from the parameters
        self.vocab_size = len(prepared.tgt_vocab)
        self.gold = {tuple(src.tolist()): tgt.tolist()[1:-1] for src, tgt in
                     (prepared.datasets[split][i] for i in range(len(prepared.datasets[split])))}
        assert len(self.gold) == len(prepared.datasets[split]), "every source must be distinct, for the lookup"

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio):
        logits = nn.functional.one_hot(tgt, self.vocab_size).float() * 10 + self.anchor
        return logits, None

    def translate(self, model, src, src_lengths, beam_size, max_len, length_penalty):
        assert model is self
        return [Translation(self.gold[tuple(row[:n])], torch.zeros(0, n), 0.0, True)
                for row, n in zip(src.tolist(), src_lengths.tolist())]


@pytest.fixture(scope="module")
def prepared() -> data.Data:
    corpus = synthetic_corpus(n_train=400, n_valid=60, n_test=60, seed=5)
    return data.prepare(corpus, min_freq=1, tokenizer=lambda text, lang, lower=True: text.split())


@pytest.fixture
def oracle(prepared, monkeypatch) -> Oracle:
    model = Oracle(prepared, "valid")
    monkeypatch.setattr(evaluation, "translate", model.translate)
    return model


def _in_vocabulary(prepared: data.Data, tokens: list[str]) -> list[str]:
    return [token if token in prepared.tgt_vocab else "<unk>" for token in tokens]


def test_default_valid_loader_scores_against_the_right_references(prepared, oracle):
    """The docstrings' own call, with no bucket=False: every hypothesis meets its own reference. Before the
    evaluation splits kept dataset order by default, the valid loader bucketed by length and this scored 0.5."""
    lengths = [len(src) for src, _ in prepared.tokens["valid"]]
    assert lengths != sorted(lengths), "a split of varied lengths in no sorted order: bucketing would reorder it"
    references = [tgt for _, tgt in prepared.tokens["valid"]]
    result = evaluation.evaluate(oracle, prepared.loader("valid", 8), prepared.tgt_vocab, device="cpu",
                                 references=references)
    assert result["references"] == references
    assert result["hypotheses"] == [_in_vocabulary(prepared, ref) for ref in references]
    assert result["src_lengths"] == lengths, "source words without <sos> and <eos>, in dataset order"
    expected = evaluation.bleu(result["hypotheses"], references).score
    assert result["bleu"] == pytest.approx(expected) and expected > 95


def test_references_with_a_reordering_loader_are_refused(prepared, oracle):
    references = [tgt for _, tgt in prepared.tokens["valid"]]
    for options in ({"bucket": True}, {"shuffle": True}, {"sort_by_length": True}):
        with pytest.raises(ValueError, match="shuffles, buckets or sorts"):
            evaluation.evaluate(oracle, prepared.loader("valid", 8, **options), prepared.tgt_vocab, device="cpu",
                                references=references)


def test_without_references_any_order_pairs_each_row_with_its_own_target(prepared, oracle):
    """compare_models' way: the references are the batches' own target rows, so a bucketed loader is fine."""
    result = evaluation.evaluate(oracle, prepared.loader("valid", 8, bucket=True), prepared.tgt_vocab, device="cpu")
    assert result["hypotheses"] == result["references"]
    assert result["bleu"] == pytest.approx(100.0)
    assert sorted(result["src_lengths"]) == sorted(len(src) for src, _ in prepared.tokens["valid"])
