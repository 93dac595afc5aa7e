"""benchmarks/gpu_check.sh: its dry run (the same steps on the CPU at toy size) passes and prints every step, and
its checks fail when the device's results differ from the CPU's or a fast path goes wrong."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from tests.helpers import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import gpu_check  # noqa: E402

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

CPU = torch.device("cpu")


@pytest.fixture()
def toy():
    torch.set_num_threads(1)
    return gpu_check.model_of(gpu_check.TOY), gpu_check.random_batches(gpu_check.TOY, torch.Generator().manual_seed(0))


def test_parity_checks_fail_when_the_device_model_differs(toy):
    model, batches = toy
    other = gpu_check.model_of(gpu_check.TOY, seed=1)  # other weights stand for a device that computes otherwise
    assert gpu_check.check_forward(model, model, batches[0], CPU)[0]
    ok, detail = gpu_check.check_forward(model, other, batches[0], CPU)
    assert not ok and "largest difference" in detail
    assert gpu_check.check_search(model, model, batches[0], CPU)[0]
    assert not gpu_check.check_search(model, other, batches[0], CPU)[0]


def test_fast_path_check_fails_when_batched_greedy_mixes_up_rows(toy, monkeypatch):
    model, batches = toy
    assert gpu_check.check_fast_paths(model, batches[0], CPU)[0]
    greedy = gpu_check.greedy_search

    def rows_reversed(*args, **kwargs):
        tokens, attention, scores = greedy(*args, **kwargs)
        return tokens.flip(0), attention.flip(0), scores.flip(0)

    monkeypatch.setattr(gpu_check, "greedy_search", rows_reversed)
    ok, detail = gpu_check.check_fast_paths(model, batches[0], CPU)
    assert not ok and "one at a time" in detail


def test_a_crashing_check_is_a_failure_with_its_error(capsys):
    checks = gpu_check.Checks()
    checks("fine", lambda: (True, "yes"))
    checks("broken", lambda: 1 / 0)
    assert checks.failed == ["broken"]
    assert "check broken: FAILED (ZeroDivisionError" in capsys.readouterr().out


@pytest.mark.slow
def test_dry_run_runs_every_step_on_the_cpu(tmp_path):
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--dry-run", "--out", str(tmp_path)],
                          check=False, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""})
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("packages", "device", "forward", "fast paths", "search", "amp auto", "amp bf16", "amp fp16", "pinned"):
        assert any(line.startswith(f"check {name}: ok (") for line in lines), f"no passing 'check {name}' line"
    assert any(line.startswith("training: 2 epochs, median ") and line.endswith("tgt tok/s (median)")
               for line in lines)
    assert any(line.startswith("best validation BLEU ") and " at epoch " in line for line in lines)
    assert any(line.startswith("test BLEU: greedy ") and ", beam 5 " in line for line in lines)
    assert lines[-1].startswith("gpu_check: all passed in ")
    assert (tmp_path / "run" / "best.pt").is_file() and (tmp_path / "run" / "log.csv").is_file()


def test_packages_check_names_what_is_missing_and_what_differs(monkeypatch):
    monkeypatch.setattr(gpu_check, "check_requirements",
                        lambda pins: {name: {"spacy": "missing", "torch": "wrong version"}.get(name, "ok") for name in pins})
    ok, detail = gpu_check.check_packages()
    assert not ok and "missing: spacy==" in detail and "not the lock's version: torch" in detail
