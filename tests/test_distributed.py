"""Training on several processes (seq2seq.distributed): how batches are shared, and ``torchrun --nproc-per-node 2
-m seq2seq train`` on the CPU (gloo) against one process with the same global batch.

Tolerance of the comparison: the two runs do the same arithmetic in another order (each process sums its own
shard's tokens, then the gradients and losses of the two shards are added), so float32 rounding differs, by
about 1e-7 relative per operation. Over the 8 steps here the step losses agree to 4e-7 and the weights to 3e-7;
the test allows 1e-5. Averaging the two shards' gradients as DDP does by itself, without weighting them by their
tokens, moves the step losses by 5e-4 on this same run: the tolerance tells the two apart by a factor of 50.
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
import torch

from tests.helpers import SOLUTION

sys.path.insert(0, str(SOLUTION))
from seq2seq import runner  # noqa: E402
from seq2seq.data import BucketBatchSampler  # noqa: E402
from seq2seq.distributed import Processes, ShardSampler  # noqa: E402

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

TOLERANCE = 1e-5
TINY = dict(synthetic_train=120, synthetic_eval=16, min_freq=1, emb_dim=8, hidden_size=8, dec_hidden=8, dropout=0.0,
            batch_size=32, lr=0.01, lr_decay_after=1, device="cpu", threads=1, progress=False, patience=5)


def _flags(**values) -> list[str]:
    flags = []
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        flags += [flag if value else "--no-" + flag[2:]] if isinstance(value, bool) else [flag, str(value)]
    return flags


# ------------------------------------------------------------------------------------------ sharing batches
def test_every_process_takes_a_strided_share_of_every_batch():
    lengths = [(n % 7 + 3, n % 5 + 3) for n in range(50)]
    epoch = list(BucketBatchSampler(lengths, 8, seed=2))
    assert [len(batch) for batch in epoch] == [8, 8, 8, 2, 8, 8, 8], "50 % 8: one batch of 2, shuffled to step 4"
    shards = [list(ShardSampler(BucketBatchSampler(lengths, 8, seed=2), rank, 3)) for rank in range(3)]
    whole = [*epoch[:2], epoch[2] + epoch[3], *epoch[4:]]  # 2 < 3 sentences: that batch joins the one before it
    for rank, shard in enumerate(shards):
        assert shard == [batch[rank::3] for batch in whole]
    assert sorted(i for s in shards for batch in s for i in batch) == list(range(50)), "every sentence, once"


def test_a_small_first_batch_joins_the_next_and_token_counts_follow_the_batches():
    sampler = ShardSampler(BucketBatchSampler([(3, 4)] * 2, 8, shuffle=False), 0, 2)
    sampler.sampler = [[0], [1, 2, 3]]  # a small first batch, as a shuffled epoch may order them
    assert list(sampler) == [[0, 2]] and sampler.batches == [[0, 1, 2, 3]]
    mine, total = sampler.tokens([(5, 4), (5, 6), (5, 2), (5, 9)])
    assert (mine, total) == ([3 + 1], [3 + 5 + 1 + 8]), "tokens of tgt[:, 1:]: target length less one"


def test_an_epoch_starts_with_its_first_batch_drawn_not_with_iter():
    """The DataLoader calls iter() on its batch sampler more than once before it draws a batch; an eager
    __iter__ would skip an epoch of the sampler's seeded order each time."""
    lengths = [(n % 9 + 2, n % 4 + 2) for n in range(40)]
    sampler = ShardSampler(BucketBatchSampler(lengths, 8, seed=1), 1, 2)
    iter(sampler)
    iter(sampler)
    expected = [batch[1::2] for batch in BucketBatchSampler(lengths, 8, seed=1)]
    assert list(sampler) == expected


def test_batch_size_smaller_than_the_processes_is_refused():
    with pytest.raises(ValueError, match="smaller than the 4 processes"):
        ShardSampler(BucketBatchSampler([(3, 3)] * 10, 3), 0, 4)


def test_one_process_is_the_plain_run():
    group, model = Processes(), torch.nn.Linear(2, 2)
    assert not group.active and group.is_main and group.wrap(model, torch.device("cpu")) is model
    assert group.combine([1.0, 2.0], 1.5, None, torch.device("cpu")) == ([1.0, 2.0], 1.5)
    assert group.from_main(lambda: 7) == 7 and group.device(torch.device("cpu")) == torch.device("cpu")


# ------------------------------------------------------------------------------------------ torchrun
def _torchrun(out, *extra: str) -> str:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "seq2seq", "train", *_flags(**TINY), "--out-dir", str(out), *extra]
    done = subprocess.run(command, cwd=SOLUTION, capture_output=True, text=True, timeout=600, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.slow
def test_two_processes_train_as_one_with_the_same_global_batch_and_resume(tmp_path):
    threads = torch.get_num_threads()
    try:
        one = runner.train(runner.RunConfig(**TINY, epochs=2, out_dir=str(tmp_path / "one")))
    finally:
        torch.set_num_threads(threads)
    two = tmp_path / "two"
    first = _torchrun(two, "--epochs", "1")
    assert first.count("epoch   1 ") == 1 and "2 processes sharing every batch" in first, "process 0 alone prints"
    assert len(list(csv.DictReader((two / "log.csv").open()))) == 1
    resumed = _torchrun(two, "--epochs", "2", "--resume")
    assert resumed.count("resumed from") == 1 and resumed.count("epoch   2 ") == 1
    assert [int(r["epoch"]) for r in csv.DictReader((two / "log.csv").open())] == [1, 2]
    assert sorted(p.name for p in two.iterdir()) == ["best.pt", "config.json", "last.pt", "log.csv"]

    state = torch.load(two / "last.pt", weights_only=True)
    steps = one["history"].steps
    assert len(state["history"]["steps"]) == len(steps) == 8, "4 batches of 32 sentences a epoch, 2 epochs"
    assert torch.allclose(torch.tensor(state["history"]["steps"]), torch.tensor(steps), rtol=0, atol=TOLERANCE)
    for ours, theirs in zip(state["history"]["epochs"], one["history"].epochs):
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], abs=TOLERANCE)
        assert ours["valid_loss"] == pytest.approx(theirs["valid_loss"], abs=TOLERANCE)
    single = torch.load(one["last"], weights_only=True)["model"]
    assert all(torch.allclose(state["model"][k], single[k], rtol=0, atol=TOLERANCE) for k in single)
