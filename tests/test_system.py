"""The runnable system (seq2seq.runner and the CLI) of the solution: a tiny end-to-end run, argument errors, and
the CUDA/AMP choices (checked with CUDA patched in: no GPU is needed)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import asdict, fields
from unittest import mock

import pytest
import torch

from tests.helpers import SOLUTION

sys.path.insert(0, str(SOLUTION))
from seq2seq import __main__ as cli  # noqa: E402
from seq2seq import checkpoint, runner  # noqa: E402
from seq2seq.model import ModelConfig  # noqa: E402

TINY = dict(synthetic_train=120, synthetic_eval=16, min_freq=1, emb_dim=8, hidden_size=8, dec_hidden=8,
            dropout=0.0, batch_size=32, lr=0.01, lr_decay_after=1, device="cpu", threads=None, progress=False,
            beam_size=2, patience=5)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    config = runner.RunConfig(**TINY, epochs=1, out_dir=str(out))
    first = runner.train(config)
    resumed = runner.train(runner.RunConfig(**TINY, epochs=2, out_dir=str(out)), resume=True)
    return out, first, resumed


def test_train_writes_checkpoints_log_and_config(run):
    out, first, _ = run
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    assert json.loads((out / "config.json").read_text())["emb_dim"] == 8
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2], "the resumed run appends epoch 2 to the same log"
    assert {"train_loss", "valid_loss", "valid_bleu", "tokens_per_s"} <= set(rows[0])


def test_resume_goes_on_from_the_last_epoch(run):
    out, first, resumed = run
    state = torch.load(out / "last.pt", weights_only=False)
    assert state["epoch"] == 2 and len(resumed["history"].epochs) == 2
    assert len(resumed["history"].steps) == 2 * len(first["history"].steps), "step losses of both epochs kept"
    assert state["format"] == 2 and state["languages"] == {"src": "en", "tgt": "fr"}
    assert state["vocab"]["src"][:4] == ["<pad>", "<sos>", "<eos>", "<unk>"] and state["model_config"]["emb_dim"] == 8


def test_evaluate_and_translate_from_the_checkpoint(run, tmp_path, capsys):
    out, first, _ = run
    results = runner.evaluate_checkpoint(out / "best.pt", beams=(1, 2), device="cpu", data=first["data"])
    assert set(results) == {1, 2} and all(0 <= r["bleu"] <= 100 for r in results.values())
    assert "sacrebleu signature: nrefs:1" in capsys.readouterr().out
    sentences = [src for src, _ in first["data"].corpus.test[:2]]
    outputs = runner.translate_sentences(out / "best.pt", sentences, device="cpu", heatmaps=tmp_path)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["attention_1.png", "attention_2.png"]


def test_learning_rate_decays_after_the_given_epoch_also_when_resumed(run):
    out, _, _ = run
    rows = list(csv.DictReader((out / "log.csv").open()))
    assert [float(r["lr"]) for r in rows] == [0.01, 0.005], "epoch 1 at lr, epoch 2 (resumed) halved"
    state = torch.load(out / "last.pt", weights_only=False)
    assert [g["lr"] for g in state["optimizer"]["param_groups"]] == [0.005]
    config = runner.RunConfig(lr=1e-3, lr_decay_after=5, lr_decay=0.5)
    assert [config.lr_at(e) for e in (1, 5, 6, 8)] == [1e-3, 1e-3, 5e-4, 1.25e-4]
    assert runner.RunConfig(lr=1e-3).lr_at(20) == 1e-3, "lr_decay_after=0: constant"
    for bad in (dict(lr_decay=0.0), dict(lr_decay=1.5), dict(lr_decay_after=-1)):
        with pytest.raises(ValueError, match="lr_decay"):
            runner.RunConfig(**bad)


def test_length_penalty_reaches_beam_search(run):
    out, first, _ = run
    sentence = [first["data"].corpus.test[0][0]]
    with mock.patch.object(runner, "translate", wraps=runner.translate) as search:
        runner.translate_sentences(out / "best.pt", sentence, beam_size=2, device="cpu", length_penalty=0.3)
        runner.translate_sentences(out / "best.pt", sentence, beam_size=2, device="cpu")
    assert [c.args[-1] for c in search.call_args_list] == [0.3, 1.0], "given, then the run config's default"
    with mock.patch.object(runner, "evaluate_checkpoint") as evaluate:
        assert cli.main(["evaluate", str(out / "best.pt"), "--length-penalty", "0.6"]) == 0
        assert cli.main(["evaluate", str(out / "best.pt"), "--amp", "bf16"]) == 0
    assert [c.kwargs["length_penalty"] for c in evaluate.call_args_list] == [0.6, None]
    assert [c.kwargs["amp"] for c in evaluate.call_args_list] == ["off", "bf16"]


@pytest.mark.skipif(not runner.onednn.bf16_native(), reason="this CPU has no native bfloat16 products")
def test_bfloat16_decoding_on_the_cpu(run):
    out, first, _ = run
    sentences = [src for src, _ in first["data"].corpus.test[:4]]
    with mock.patch.object(runner, "translate", wraps=runner.translate) as search:
        runner.translate_sentences(out / "best.pt", sentences, beam_size=2, device="cpu", amp="bf16")
    assert search.call_count == 1
    with mock.patch("torch.autocast", wraps=torch.autocast) as autocast:
        runner.evaluate_checkpoint(out / "best.pt", beams=(1,), device="cpu", amp="bf16")
    assert autocast.call_args.kwargs["dtype"] == torch.bfloat16


def test_translate_decodes_sentences_in_batches(run):
    out, first, _ = run
    sentences = [src for src, _ in first["data"].corpus.test[:5]]
    one_by_one = [runner.translate_sentences(out / "best.pt", [s], beam_size=2, device="cpu")[0] for s in sentences]
    with mock.patch.object(runner, "translate", wraps=runner.translate) as search:
        batched = runner.translate_sentences(out / "best.pt", sentences, beam_size=2, device="cpu", batch_size=3)
    assert [c.args[1].size(0) for c in search.call_args_list] == [3, 2], "two batches of at most 3 sentences"
    assert batched == one_by_one, "padding a sentence into a batch does not change its translation"


def test_old_or_foreign_checkpoints_are_refused_with_a_reason(run, tmp_path):
    out, _, _ = run
    state = torch.load(out / "last.pt", weights_only=True)
    del state["format"], state["languages"]  # what checkpoints looked like before format 2
    torch.save(state, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="format-1 checkpoint.*did not store the languages"):
        checkpoint.load_checkpoint(tmp_path / "old.pt")
    assert cli.main(["translate", str(tmp_path / "old.pt"), "a cat"]) == 2
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a checkpoint"):
        checkpoint.load_checkpoint(tmp_path / "other.pt")


def test_run_config_takes_the_model_defaults_from_model_config():
    model_fields = {f.name: f.default for f in fields(ModelConfig) if f.name not in ("src_vocab", "tgt_vocab")}
    run_config = runner.RunConfig()
    assert {name: getattr(run_config, name) for name in model_fields} == model_fields
    assert asdict(run_config.model_config(11, 12)) == {**model_fields, "src_vocab": 11, "tgt_vocab": 12}
    assert asdict(runner.RunConfig(dropout=0.3, attention="dot").model_config(5, 5))["attention"] == "dot"


def test_on_epoch_hook_sees_each_epoch_and_can_stop_the_run(tmp_path):
    seen = []
    result = runner.train(runner.RunConfig(**TINY, epochs=3, out_dir=str(tmp_path)),
                          on_epoch=lambda epoch, model, row: seen.append((epoch, row["epoch"])) or True)
    assert seen == [(1, 1)] and len(result["history"].epochs) == 1, "True from the hook stops after that epoch"


def test_patience_zero_stops_after_the_first_epoch(tmp_path):
    """EarlyStopping(patience=0) stops at once (Q24's docstring): the run trains one epoch, not none."""
    result = runner.train(runner.RunConfig(**{**TINY, "patience": 0}, epochs=3, out_dir=str(tmp_path)))
    assert len(result["history"].epochs) == 1 and (tmp_path / "last.pt").is_file()


def test_resume_refuses_other_vocabularies(run):
    out, _, _ = run
    other = runner.RunConfig(**{**TINY, "synthetic_train": 60}, epochs=3, out_dir=str(out))
    with pytest.raises(ValueError, match="other vocabularies"):
        runner.train(other, resume=True)


def test_cli_argument_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--epochs", "many"])
    assert cli.main(["train", "--corpus", "wmt", "--out-dir", str(tmp_path)]) == 2
    assert "unknown corpus" in capsys.readouterr().err
    assert cli.main(["evaluate", str(tmp_path / "missing.pt")]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"epochs": 2, "learning_rate": 1}')
    assert cli.main(["train", "--config", str(bad)]) == 2
    assert "unknown config keys" in capsys.readouterr().err


def test_cli_config_file_and_flags(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"epochs": 7, "emb_dim": 16, "bidirectional": False}))
    parser_args = ["train", "--config", str(path), "--epochs", "3", "--no-progress"]
    with mock.patch.object(runner, "train") as train:
        assert cli.main(parser_args) == 0
    config = train.call_args.args[0]
    assert (config.epochs, config.emb_dim, config.bidirectional, config.progress) == (3, 16, False, False)


def test_amp_choices_on_cuda_and_cpu():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert runner.resolve_amp("auto", cpu) is None and runner.resolve_amp("off", cuda) is None
    with mock.patch.object(runner.onednn, "bf16_native", return_value=False):  # float32 instead, said in one line
        assert runner.resolve_amp("bf16", cpu) is None
    with mock.patch.object(runner.onednn, "bf16_native", return_value=True):
        assert runner.resolve_amp("bf16", cpu) == torch.bfloat16 and runner.resolve_amp("auto", cpu) is None
        assert runner.resolve_amp("fp16", cpu) is None
    with mock.patch("torch.cuda.is_bf16_supported", return_value=True):
        assert runner.resolve_amp("auto", cuda) == torch.bfloat16
    with mock.patch("torch.cuda.is_bf16_supported", return_value=False):
        assert runner.resolve_amp("auto", cuda) == torch.float16
        assert runner.resolve_amp("bf16", cuda) is None  # a GPU without bfloat16: float32, said in one line
    assert runner.resolve_amp("fp16", cuda) == torch.float16
    assert runner.make_scaler(torch.bfloat16) is None and runner.make_scaler(None) is None
    assert not isinstance(runner.decoding_precision("off", cpu), torch.autocast)
    with mock.patch.object(runner.onednn, "bf16_native", return_value=True):
        precision = runner.decoding_precision("bf16", cpu)
        assert isinstance(precision, torch.autocast) and precision.fast_dtype == torch.bfloat16
        assert not isinstance(runner.decoding_precision("fp16", cpu), torch.autocast)  # float32 off CUDA
    with mock.patch("torch.cuda.is_available", return_value=True):
        assert runner.get_device("auto") == cuda
        assert isinstance(runner.make_scaler(torch.float16), torch.amp.GradScaler)


def test_pinned_memory_only_on_cuda():
    data = runner.prepare_data(runner.RunConfig(**TINY))
    assert not data.loader("train", 8, device=torch.device("cpu")).pin_memory
    assert data.loader("train", 8, device=torch.device("cuda")).pin_memory


def test_cli_help_lists_the_commands():
    done = subprocess.run([sys.executable, "-m", "seq2seq", "--help"], cwd=SOLUTION, capture_output=True, text=True)
    assert done.returncode == 0
    assert all(name in done.stdout for name in ("train", "evaluate", "translate", "compare", "demo"))


def test_detokenised_bleu_scores_the_raw_references():
    """The figure others report: detokenised output against the raw, cased references (sacrebleu's defaults)."""
    from seq2seq.data import Corpus, prepare
    pairs = [("Ein Mann läuft.", "A man runs."), ("Zwei Hunde, die spielen!", "Two dogs, playing!"),
             ("Die Frau (links) lacht.", "The woman (left) can't stop laughing.")]
    data = prepare(Corpus("tiny", "de", "en", pairs, pairs, pairs), min_freq=1)
    exact = [tgt for _, tgt in data.tokens["test"]]  # lower-cased tokens, as a model writes them
    scores = runner.detokenised_bleu(exact, data, "test")
    assert scores["lowercased"][0] == pytest.approx(100.0) and "case:lc" in scores["lowercased"][1]
    assert scores["cased"][0] < 100.0 and "tok:13a" in scores["cased"][1] and "case:mixed" in scores["cased"][1]
    worse = runner.detokenised_bleu([tokens[:-2] for tokens in exact], data, "test")
    assert worse["lowercased"][0] < scores["lowercased"][0]


def test_a_cased_model_reads_and_writes_capitals(tmp_path, monkeypatch, capsys):
    """``lowercase=False``: the tokens keep their case, ``translate`` reads capitals and writes them, detokenised
    (what a person would write), and evaluation gives the lower-cased token BLEU beside the cased one."""
    from seq2seq.data import Corpus
    pairs = [("Ein Mann läuft.", "A man runs."), ("Zwei Hunde spielen im Park!", "Two dogs play in the park!"),
             ("Die Frau lacht.", "The woman laughs.")] * 8
    monkeypatch.setattr(runner, "load_corpus", lambda config: Corpus("cased", "de", "en", pairs, pairs[:3], pairs[:3]))
    config = runner.RunConfig(**{**TINY, "emb_dim": 32, "hidden_size": 32, "dec_hidden": 32, "batch_size": 8,
                                 "lr_decay_after": 0, "lr": 0.05}, corpus="multi30k", lowercase=False, epochs=4,
                              out_dir=str(tmp_path))
    run = runner.train(config)
    assert ["A", "man", "runs", "."] in [tgt for _, tgt in run["data"].tokens["train"]]
    results = runner.evaluate_checkpoint(run["best"], beams=(1,), device="cpu", data=run["data"])
    said = capsys.readouterr().out
    assert "lower-cased tokens: " in said and "(cased tokens, joined by spaces)" in said
    assert results[1]["bleu"] == pytest.approx(100.0) and results[1]["lowercased"][0] == pytest.approx(100.0)
    assert "case:lc" in results[1]["lowercased"][1] and results[1]["detokenised"]["cased"][0] == pytest.approx(100.0)
    assert runner.translate_sentences(run["best"], ["Die Frau lacht.", "Ein Mann läuft."], beam_size=1,
                                      device="cpu") == ["The woman laughs.", "A man runs."]
