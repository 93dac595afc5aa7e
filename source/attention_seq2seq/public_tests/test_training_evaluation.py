"""Visible sanity checks for Q21-Q27 (run: ``python -m seq2seq check Q26``)."""
import math

import torch
from torch import nn

from seq2seq import EOS, PAD, SOS, evaluation, training
from seq2seq.data import Batch
from seq2seq.model import ModelConfig, build_model


def _tiny_data(n_train=200):
    from seq2seq.runner import RunConfig, prepare_data

    return prepare_data(RunConfig(synthetic_train=n_train, synthetic_eval=20, min_freq=1))


def _tiny_model(data, attention="additive"):
    torch.manual_seed(0)
    return build_model(ModelConfig(len(data.src_vocab), len(data.tgt_vocab), emb_dim=8, hidden_size=8,
                                   dec_hidden=8, attention=attention, dropout=0.1))


def test_q21_loss_shift_and_padding():
    tgt = torch.tensor([[1, 5, 6, 2], [1, 7, 2, PAD]])
    logits = torch.randn(2, 4, 9)
    loss = training.sequence_loss(logits, tgt)
    assert loss.dim() == 0, "the loss is a scalar tensor"
    real = tgt[:, 1:] != PAD
    want = torch.nn.functional.cross_entropy(logits[:, 1:][real], tgt[:, 1:][real])
    assert torch.allclose(loss, want, atol=1e-5), "mean cross-entropy of logits[:, 1:] vs tgt[:, 1:], PAD ignored"


def test_q23_one_epoch_lowers_the_loss():
    data = _tiny_data()
    model = _tiny_model(data)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    history = training.History()
    loader = data.loader("train", 32)
    first = training.train_epoch(model, loader, optimizer, history=history)
    second = training.train_epoch(model, loader, optimizer, history=history)
    assert isinstance(first, float) and second < first, "a second epoch should have a lower mean loss"
    assert len(history.steps) == 2 * len(loader), "one history step per batch"


class _NanAtSecondBatch(nn.Module):
    """A stand-in model with Seq2Seq's call signature whose logits turn NaN at its second call."""

    def __init__(self):
        super().__init__()
        self.out = nn.Embedding(9, 9)
        self.calls = 0

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio=1.0):
        self.calls += 1
        logits = self.out(tgt)
        return (logits * math.nan if self.calls == 2 else logits), torch.zeros(tgt.size(0), tgt.size(1), src.size(1))


class _CountingSGD(torch.optim.SGD):
    def __init__(self, params):
        super().__init__(params, lr=0.1)
        self.steps = 0

    def step(self, closure=None):
        self.steps += 1
        return super().step(closure)


def test_q23_nan_loss_is_logged_then_refused():
    model = _NanAtSecondBatch()
    optimizer = _CountingSGD(model.parameters())
    history = training.History()
    tgt = torch.tensor([[SOS, 5, 6, EOS], [SOS, 7, EOS, PAD]])
    batches = [Batch(tgt, torch.tensor([4, 3]), tgt) for _ in range(3)]
    try:
        training.train_epoch(model, batches, optimizer, history=history, device="cpu")
    except FloatingPointError:
        pass
    else:
        raise AssertionError("a NaN loss must raise FloatingPointError")
    assert optimizer.steps == 1, "no optimizer step on the NaN batch (raise before zero_grad, backward and step)"
    assert all(torch.isfinite(p).all() for p in model.parameters()), "the weights must stay finite"
    assert len(history.steps) == 2 and math.isnan(history.steps[-1]), (
        "log every step's loss, the NaN one too, before raising: the history ends with the NaN")


def test_q25_evaluate_keys_and_mode():
    data = _tiny_data()
    model = _tiny_model(data)
    model.train()
    result = evaluation.evaluate(model, data.loader("valid", 8), data.tgt_vocab, max_len=5)
    assert {"loss", "ppl", "bleu", "hypotheses", "references"} <= set(result)
    assert math.isclose(result["ppl"], math.exp(result["loss"]), rel_tol=1e-6)
    assert len(result["hypotheses"]) == len(result["references"]) == 20
    assert result.get("src_lengths") == [len(src) for src, _ in data.tokens["valid"]], (
        "src_lengths: each source's words without <sos>/<eos>, in the loader's order (valid: dataset order)")
    assert model.training, "evaluate gives the model back in the mode it came in"
    assert all(p.grad is None for p in model.parameters()), "no gradients during evaluation"


def test_q22_adam_over_all_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    optimizer = training.make_optimizer(model, lr=0.01)
    assert isinstance(optimizer, torch.optim.Adam)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    assert len(params) == 4 and {id(p) for p in params} == {id(p) for p in model.parameters()}


def test_q24_perplexity_and_smoothing():
    assert training.perplexity(0.0) == 1.0
    assert training.smooth([2.0, 2.0, 2.0]) == [2.0, 2.0, 2.0] or all(
        abs(x - 2.0) < 1e-12 for x in training.smooth([2.0, 2.0, 2.0])), "a constant series stays constant"


def test_q24_divergence_and_early_stopping():
    assert training.diverged([3.0, float("nan")]) and not training.diverged([3.0, 2.0])
    assert not training.diverged([2.0, 6.0]), "exactly factor (3) times the best is not divergence: strictly greater"
    assert training.diverged([2.0, 6.5]) and training.diverged([5.0, 1.0, 3.5]), (
        "compare the last loss with factor times the smallest loss before it")
    assert not training.diverged([float("nan"), 1.0, 2.0]), "NaN and inf among the earlier losses are skipped"
    stopper = training.EarlyStopping(patience=1)
    assert not stopper.step(2.0) and stopper.improved
    assert stopper.step(2.5) and stopper.best == 2.0
    stopper = training.EarlyStopping(patience=2)
    stopper.step(2.0)
    assert not stopper.step(2.0) and not stopper.improved, "a loss equal to the best does not improve"
    assert stopper.step(2.0) and stopper.best_epoch == 1, "the second epoch in a row without improvement stops"


def test_q26_perfect_and_disjoint_translations():
    ref = "the cat sat on the mat".split()
    assert math.isclose(evaluation.corpus_bleu([ref], [ref]), 100.0)
    assert evaluation.corpus_bleu([["dog"] * 6], [ref]) == 0.0


def test_q27_table_shape():
    data = _tiny_data(60)
    configs = {"attention": ModelConfig(len(data.src_vocab), len(data.tgt_vocab), emb_dim=8, hidden_size=8,
                                        dec_hidden=8),
               "vanilla": ModelConfig(len(data.src_vocab), len(data.tgt_vocab), emb_dim=8, hidden_size=8,
                                      dec_hidden=8, attention="none")}
    table = evaluation.compare_models(data, configs, epochs=1, batch_size=32, buckets=((1, 10), (11, 40)))
    assert [row["bucket"] for row in table] == ["1-10", "11-40", "all"]
    assert table[-1]["sentences"] == 20 and sum(row["sentences"] for row in table[:-1]) == 20
    assert all({"attention", "vanilla"} <= set(row) for row in table)
