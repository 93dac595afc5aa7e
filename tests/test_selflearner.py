"""The self-learner's path on any machine (issue #27 item 6), through the real command line as a user types it:
``python -m seq2seq ...`` in a subprocess, in a copy of the generated solution, on the embedded synthetic corpus
with tiny models.

* a recipe saying ``"amp": "bf16"`` trains in float32 where the CPU has no native bfloat16, saying so once;
* ``translate`` decodes with beam 5 and the checkpoint's length penalty by default, and takes ``--ensemble``;
* ``train --max-steps`` / ``--max-minutes`` and Ctrl-C stop cleanly with a checkpoint that ``evaluate`` and
  ``--resume`` use;
* ``translate --heatmaps DIR`` twice keeps the first run's files;
* a failed download names its URL and the files to put in ``$SEQ2SEQ_DATA_DIR`` by hand.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import HANG_GUARD, REPO, SOLUTION

TINY = ["--corpus", "synthetic", "--synthetic-train", "120", "--synthetic-eval", "16", "--min-freq", "1",
        "--emb-dim", "8", "--hidden-size", "8", "--dec-hidden", "8", "--dropout", "0.0", "--batch-size", "32",
        "--lr", "0.01", "--device", "cpu", "--threads", "1", "--no-progress", "--patience", "50"]
SENTENCES = ["the cat sees the dog", "a small bird eats"]

# Every test runs the command line (training, decoding): the full tier only (make test), not make check.
pytestmark = pytest.mark.slow


def cli(app: Path, *args: str, patch: str = "") -> subprocess.CompletedProcess:
    """``python -m seq2seq ARGS`` in ``app``; ``patch``: Python run first (the same ``main``, a probe patched)."""
    code = f"import sys; from seq2seq import onednn; {patch}; from seq2seq.__main__ import main; sys.exit(main())"
    command = [sys.executable, "-c", code, *args] if patch else [sys.executable, "-m", "seq2seq", *args]
    return subprocess.run(command, cwd=app, capture_output=True, text=True, timeout=HANG_GUARD)


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Path:
    """A copy of the generated solution, as a learner would have it."""
    target = tmp_path_factory.mktemp("selflearner") / "attention_seq2seq"
    shutil.copytree(SOLUTION, target, ignore=shutil.ignore_patterns("__pycache__", "runs"))
    return target


@pytest.fixture(scope="module")
def capped(app) -> tuple[Path, subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """``train --max-steps 3`` (in the first epoch of 4 batches), then ``--resume`` to the end of epoch 2."""
    first = cli(app, "train", *TINY, "--epochs", "2", "--max-steps", "3", "--length-penalty", "0.7",
                "--out-dir", "runs/capped")
    resumed = cli(app, "train", *TINY, "--epochs", "2", "--length-penalty", "0.7", "--out-dir", "runs/capped",
                  "--resume")
    return app / "runs" / "capped", first, resumed


def test_bf16_recipe_trains_in_float32_where_the_cpu_has_no_native_bf16(app):
    recipe = REPO / "benchmarks" / "multi30k_bpe4000_bf16.json"
    done = cli(app, "train", "--config", str(recipe), *TINY, "--src", "en", "--tgt", "fr", "--subwords", "0",
               "--average-last", "0", "--epochs", "1", "--out-dir", "runs/bf16",
               patch="onednn.bf16_native = lambda: False")
    assert done.returncode == 0, done.stderr
    said = [line for line in done.stdout.splitlines() if line.startswith("amp=bf16")]
    assert said == ["amp=bf16: this CPU has no native bfloat16 products (AVX512-BF16 or AMX); running in float32 "
                    "instead"], done.stdout
    assert "autocast" not in done.stdout and (app / "runs" / "bf16" / "best.pt").is_file()


def test_max_steps_stops_with_a_checkpoint_that_evaluate_and_resume_use(app, capped):
    out, first, resumed = capped
    assert first.returncode == 0, first.stderr
    assert "stopped: the cap max_steps=3 reached after 3 steps, after 3 batches of epoch 1" in first.stdout
    assert "--resume" in first.stdout
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout and "after epoch 0 and 3 batches of epoch 1" in resumed.stdout
    state = torch.load(out / "last.pt", weights_only=False)
    assert state["epoch"] == 2 and state["batches_done"] == 0
    assert len(state["history"]["steps"]) == 2 * 4, "the resumed epoch trained only on the batches left"
    assert [row["epoch"] for row in state["history"]["epochs"]] == [1, 2]
    done = cli(app, "evaluate", str(out / "best.pt"), "--beam", "2", "--device", "cpu")
    assert done.returncode == 0 and "test BLEU greedy" in done.stdout, done.stderr


def test_max_minutes_stops_and_evaluate_reads_the_checkpoint(app):
    done = cli(app, "train", *TINY, "--epochs", "3", "--max-minutes", "1e-9", "--out-dir", "runs/minutes")
    assert done.returncode == 0, done.stderr
    assert "stopped: the cap max_minutes=1e-09 reached after 0 steps" in done.stdout
    out = app / "runs" / "minutes"
    assert torch.load(out / "last.pt", weights_only=False)["epoch"] == 0
    evaluated = cli(app, "evaluate", str(out / "best.pt"), "--beam", "1", "--device", "cpu")
    assert evaluated.returncode == 0, evaluated.stderr


def test_ctrl_c_saves_a_checkpoint_and_resume_goes_on(app):
    command = [sys.executable, "-m", "seq2seq", "train", *TINY, "--epochs", "1000", "--out-dir", "runs/ctrl-c"]
    process = subprocess.Popen(command, cwd=app, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in process.stdout:  # the first epoch's line: training is under way
            lines.append(line)
            if line.startswith("epoch "):
                break
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=HANG_GUARD)
    finally:
        process.kill()
    out = "".join(lines) + rest
    assert process.returncode == 130, err
    assert "stopped: Ctrl-C" in out and "interrupted by Ctrl-C" in err and "--resume" in err
    epoch = torch.load(app / "runs" / "ctrl-c" / "last.pt", weights_only=False)["epoch"]
    assert epoch >= 1
    resumed = cli(app, "train", *TINY, "--epochs", str(epoch + 1), "--out-dir", "runs/ctrl-c", "--resume")
    assert resumed.returncode == 0 and f"epoch {epoch + 1:>3}" in resumed.stdout, resumed.stderr


def test_translate_defaults_to_beam_5_with_the_checkpoints_length_penalty(capped):
    out, _, _ = capped
    app = out.parent.parent
    default = cli(app, "translate", str(out / "best.pt"), *SENTENCES, "--device", "cpu")
    assert default.returncode == 0, default.stderr
    assert "decoding: beam 5, length penalty 0.7" in default.stdout
    explicit = cli(app, "translate", str(out / "best.pt"), *SENTENCES, "--beam", "5", "--length-penalty", "0.7",
                   "--device", "cpu")
    assert explicit.stdout == default.stdout
    greedy = cli(app, "translate", str(out / "best.pt"), *SENTENCES, "--beam", "1", "--device", "cpu")
    assert "decoding: greedy" in greedy.stdout


def test_translate_takes_an_ensemble(capped):
    out, _, _ = capped
    app = out.parent.parent
    done = cli(app, "translate", str(out / "best.pt"), *SENTENCES, "--device", "cpu",
               "--ensemble", str(out / "last.pt"))
    assert done.returncode == 0, done.stderr
    assert "ensemble of 2 checkpoints" in done.stdout and done.stdout.count("  -> ") == 2


def test_heatmaps_twice_keep_the_first_runs_files(capped, tmp_path):
    out, _, _ = capped
    app, maps = out.parent.parent, tmp_path / "maps"
    first = cli(app, "translate", str(out / "best.pt"), *SENTENCES, "--device", "cpu", "--heatmaps", str(maps))
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in maps.glob("*.png")) == ["attention_1.png", "attention_2.png"]
    before = {p.name: p.read_bytes() for p in maps.glob("*.png")}
    again = cli(app, "translate", str(out / "best.pt"), "a bird", "--device", "cpu", "--heatmaps", str(maps))
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in maps.glob("*.png")) == ["attention_1.png", "attention_1_run2.png",
                                                          "attention_2.png"]
    assert all((maps / name).read_bytes() == data for name, data in before.items())
    assert "attention_N_run2.png" in cli(app, "translate", "--help").stdout


def test_download_error_names_the_url_and_the_offline_way(app, tmp_path):
    with socket.socket() as probe:  # a port nobody listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "seq2seq.corpora", "download", "--data-dir", str(tmp_path / "d"),
                           "--mirror", f"http://127.0.0.1:{port}"], cwd=app, capture_output=True, text=True,
                          timeout=HANG_GUARD)
    assert done.returncode == 1
    assert f"could not fetch http://127.0.0.1:{port}/tutorial/data.zip" in done.stderr
    assert "by hand" in done.stderr and "SEQ2SEQ_DATA_DIR" in done.stderr
    assert str(tmp_path / "d" / "eng-fra.txt") in done.stderr and "multi30k/train.de" in done.stderr


def test_a_checkpoint_remembers_its_data_folder(app, tmp_path):
    """Trained on a real corpus from $SEQ2SEQ_DATA_DIR, ``evaluate`` finds the data again without it; a checkpoint
    whose folder is gone (brought from another machine) falls back to $SEQ2SEQ_DATA_DIR."""
    folder = tmp_path / "data" / "multi30k"
    folder.mkdir(parents=True)
    words = [("hund", "dog"), ("katze", "cat"), ("vogel", "bird"), ("mann", "man"), ("frau", "woman")]
    pairs = [(f"ein {a} sieht einen {b} .", f"a {c} sees a {d} .") for a, c in words for b, d in words]
    for split, rows in (("train", pairs * 2), ("val", pairs[:8]), ("test_2016_flickr", pairs[8:16])):
        (folder / f"{split}.de").write_text("".join(de + "\n" for de, _ in rows), encoding="utf-8")
        (folder / f"{split}.en").write_text("".join(en + "\n" for _, en in rows), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "SEQ2SEQ_DATA_DIR"}
    real = [*TINY[TINY.index("--min-freq"):], "--corpus", "multi30k", "--src", "de", "--tgt", "en"]

    def run(*args: str, data: Path | None = None) -> subprocess.CompletedProcess:
        extra = {"SEQ2SEQ_DATA_DIR": str(data)} if data else {}
        return subprocess.run([sys.executable, "-m", "seq2seq", *args], cwd=app, capture_output=True, text=True,
                              timeout=HANG_GUARD, env={**env, **extra})

    trained = run("train", *real, "--epochs", "1", "--out-dir", "runs/real", data=tmp_path / "data")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    evaluated = run("evaluate", "runs/real/last.pt", "--beam", "1")
    assert evaluated.returncode == 0 and "BLEU" in evaluated.stdout, evaluated.stdout + evaluated.stderr
    (tmp_path / "data").rename(tmp_path / "moved")
    lost = run("evaluate", "runs/real/last.pt", "--beam", "1")
    assert lost.returncode != 0 and "does not exist" in lost.stderr, lost.stdout + lost.stderr
    moved = run("evaluate", "runs/real/last.pt", "--beam", "1", data=tmp_path / "moved")
    assert moved.returncode == 0 and "not found: using $SEQ2SEQ_DATA_DIR" in moved.stdout, moved.stdout + moved.stderr
