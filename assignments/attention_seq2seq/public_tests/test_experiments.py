"""Visible sanity checks for Q31-Q34 (run: ``python -m seq2seq check Q31``): tiny studies on a tiny corpus."""
import math

import torch

from seq2seq import experiments
from seq2seq.model import ModelConfig, build_model

KEYS = {"train_loss", "valid_loss", "bleu", "diverged", "parameters", "epochs", "seconds"}
BUDGET = experiments.Budget(epochs=1, batch_size=32, lr=1e-2, seed=0)


def _tiny():
    from seq2seq.runner import RunConfig, prepare_data

    torch.set_num_threads(1)
    data = prepare_data(RunConfig(synthetic_train=120, synthetic_eval=20, min_freq=1))
    config = ModelConfig(len(data.src_vocab), len(data.tgt_vocab), emb_dim=8, hidden_size=8, dec_hidden=8,
                         bidirectional=False, dropout=0.0)
    return data, config


def test_q31_run_setting_and_divergence():
    data, config = _tiny()
    record = experiments.run_setting(data, config, experiments.Budget(epochs=2, batch_size=32, lr=1e-2))
    assert KEYS <= set(record), f"run_setting's record needs the keys {sorted(KEYS)}"
    assert record["epochs"] == 2 and len(record["train_loss"]) == 2, "one training loss per epoch"
    assert not record["diverged"] and math.isfinite(record["valid_loss"]) and 0 <= record["bleu"] <= 100
    assert record["parameters"] == sum(p.numel() for p in build_model(config).parameters()), (
        "'parameters' counts every parameter of the model")
    records = experiments.learning_rate_study(data, config, (1e-2, 30.0), BUDGET)
    assert [r["lr"] for r in records] == [1e-2, 30.0], "one record per learning rate, in order"
    assert [r["diverged"] for r in records] == [False, True], "lr=30 must be reported as diverged, not crash"


def test_q32_hidden_size_study():
    data, config = _tiny()
    records = experiments.hidden_size_study(data, config, (4, 8), BUDGET)
    assert [r["hidden_size"] for r in records] == [4, 8] and all(KEYS <= set(r) for r in records)
    assert records[0]["parameters"] < records[1]["parameters"], "a larger hidden size gives a larger model"
    assert config.hidden_size == 8 and config.dec_hidden == 8, "the study must not change the config it was given"


def test_q33_teacher_forcing_study():
    data, config = _tiny()
    records = experiments.teacher_forcing_study(data, config, (1.0, 0.0), BUDGET)
    assert [r["teacher_forcing_ratio"] for r in records] == [1.0, 0.0] and all(KEYS <= set(r) for r in records)
    assert records[0]["train_loss"] != records[1]["train_loss"], "each ratio trains its own model, differently"


def test_q34_score_function_study():
    data, config = _tiny()
    records = experiments.score_function_study(data, config, ("dot", "general"), BUDGET)
    assert [r["attention"] for r in records] == ["dot", "general"] and all(KEYS <= set(r) for r in records)
    assert records[0]["parameters"] < records[1]["parameters"], (
        "'general' learns a matrix that 'dot' does not have: build each model with its own score function")
    assert config.attention == "additive", "the study must not change the config it was given"
