"""Training and decoding speed of the package against the notebook way, measured side by side (a benchmark).

    SEQ2SEQ_DATA_DIR=../shared/data .venv/bin/python benchmarks/side_by_side.py [--rounds 3] [--threads 2]
        [--train-batches 12] [--sample 100] [--decode 1000] [--batch-size 128] [--bf16]

A is the notebook way (``benchmarks/notebook_baseline.py``: a Python loop over target positions with the output
layer at every step and a teacher-forcing coin per step at 0.5, batches sorted only within pools of 100, greedy
decoding one sentence at a time); B is this package (``seq2seq.training.train_epoch`` at teacher forcing 1.0 on
``Data.loader``'s length-bucketed batches; ``seq2seq.search.greedy_search`` and ``beam_search`` on batches of
test sentences sorted by source length). Both have the reference size (embeddings 256, bidirectional GRU encoder
512 per direction, decoder 512, additive attention, dropout 0.5, the Multi30k de->en vocabularies at min_freq 2),
the same batch size and the same threads, and run in one process, alternately: A B, A B, A B (``--rounds``), with
the 1-minute load average printed before every run, since the machine may be shared.

Training: the first ``--train-batches`` batches of an epoch of each side's batching (round ``r`` shuffles with
seed ``r``), collated before the clock starts; the rate is target tokens (non-PAD ``tgt[1:]``) per second, and
the padding of those batches is printed beside it. Decoding: the weights are untrained, and an untrained model
does not say ``<eos>`` where a trained one would, so both decode with the ``<eos>`` logit pushed to -1e9 and the
length limit set to the reference's length plus the ``<eos>`` step: every sentence gets exactly as many steps as
its reference has tokens, on both sides (checked). A decodes the first ``--sample`` test sentences one at a time;
B decodes the first ``--decode``. Rates are sentences per second.

The ratios B/A are printed per round, with their medians and the issue's targets (training 3x, batched greedy
30x and beam 5 5x the one-at-a-time greedy). ``--bf16`` also trains and decodes B under bfloat16 autocast (what
``train --amp bf16`` and ``evaluate --amp bf16`` do on a CPU that multiplies bfloat16 natively), reported apart:
A stays float32, as the notebook is written; decoded tokens can differ where two scores nearly tie.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import itertools
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions" / "attention_seq2seq"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import notebook_baseline as notebook  # noqa: E402
from seq2seq import EOS, PAD, SOS  # noqa: E402
from seq2seq.data import Data  # noqa: E402
from seq2seq.model import ModelConfig, build_model  # noqa: E402
from seq2seq.precision import mixed_precision  # noqa: E402
from seq2seq.runner import RunConfig, prepare_data  # noqa: E402
from seq2seq.search import beam_search, greedy_search  # noqa: E402
from seq2seq.training import make_optimizer, train_epoch  # noqa: E402

TARGETS = {"training": 3.0, "greedy": 30.0, "beam 5": 5.0}


def padding(pairs_of_tensors) -> float:
    """The fraction of PAD positions in sources and targets together."""
    pad = sum(int((src == PAD).sum()) + int((tgt == PAD).sum()) for src, tgt in pairs_of_tensors)
    return pad / sum(src.numel() + tgt.numel() for src, tgt in pairs_of_tensors)


def no_eos(model: nn.Module, layer: str) -> nn.Module:
    """A copy for decoding whose output layer never prefers ``<eos>``: decoding runs to the length limit."""
    model = copy.deepcopy(model).eval()
    with torch.no_grad():
        model.get_submodule(layer).bias[EOS] = -1e9
    return model


@dataclass
class Setup:
    """Multi30k, both reference-size models, and their decoding copies (which never say ``<eos>``)."""

    data: Data
    ours: nn.Module
    theirs: nn.Module
    decode: int = 1000   # test sentences the package decodes

    @classmethod
    def load(cls, data_dir: str | None, decode: int = 1000) -> Setup:
        torch.manual_seed(0)
        data = prepare_data(RunConfig(corpus="multi30k", src="de", tgt="en", min_freq=2, data_dir=data_dir))
        ours = build_model(ModelConfig(len(data.src_vocab), len(data.tgt_vocab), emb_dim=256, hidden_size=512,
                                       dec_hidden=512, attention="additive", dropout=0.5))
        theirs = notebook.build(len(data.src_vocab), len(data.tgt_vocab), PAD, emb_dim=256, enc_hid_dim=512,
                                dec_hid_dim=512, dropout=0.5)
        return cls(data, ours, theirs, min(decode, len(data.datasets["test"])))

    def __post_init__(self) -> None:
        self.our_decoder, self.their_decoder = no_eos(self.ours, "decoder.out"), no_eos(self.theirs, "decoder.fc_out")

    def describe(self) -> str:
        return (f"Multi30k de->en, vocabularies {len(self.data.src_vocab)}/{len(self.data.tgt_vocab)}; parameters: "
                f"package {sum(p.numel() for p in self.ours.parameters()):,}, notebook "
                f"{sum(p.numel() for p in self.theirs.parameters()):,}; {torch.get_num_threads()} threads, "
                f"torch {torch.__version__}")

    def test_sources(self) -> list[tuple[list[int], int]]:
        """``(source ids, limit)`` of the test sentences decoded: the limit is the reference's tokens + <eos>."""
        test = self.data.datasets["test"]
        return [(test.src[i], len(test.tgt[i]) - 1) for i in range(self.decode)]

    def decode_batches(self, size: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """``(src, src_lengths, limits)`` batches of the test sentences sorted by source length."""
        sentences = sorted(self.test_sources(), key=lambda pair: len(pair[0]))
        batches = []
        for start in range(0, len(sentences), size):
            rows = sentences[start:start + size]
            src = nn.utils.rnn.pad_sequence([torch.tensor(s) for s, _ in rows], batch_first=True, padding_value=PAD)
            batches.append((src, torch.tensor([len(s) for s, _ in rows]), torch.tensor([m for _, m in rows])))
        return batches

    def package_decoding(self, batches, beam: int, bf16: bool = False):
        """A function that decodes ``batches`` with the package (greedy for beam 1) and checks the lengths."""
        def run() -> None:
            steps = 0
            with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext():
                for src, src_lengths, limit in batches:
                    if beam == 1:
                        tokens = greedy_search(self.our_decoder, src, src_lengths, max_len=limit)[0]
                    else:
                        tokens = beam_search(self.our_decoder, src, src_lengths, beam_size=beam, max_len=limit)[0]
                    steps += int((tokens != PAD).sum())
            assert steps == sum(int(b[2].sum()) for b in batches), "the package decoded other lengths"
        return run

    def notebook_decoding(self, sample: list[tuple[list[int], int]]):
        """A function that decodes ``sample`` one sentence at a time, the notebook's way, and checks the lengths."""
        def run() -> None:
            steps = sum(len(notebook.translate_sentence(self.their_decoder, src, SOS, EOS, limit)[0])
                        for src, limit in sample)
            assert steps == sum(limit for _, limit in sample), "the notebook decoded other lengths"
        return run


class Table:
    """Prints one row per run and keeps the rates: ``rates[(side, task)]`` lists one figure per round."""

    def __init__(self) -> None:
        self.rates: dict[tuple[str, str], list[float]] = {}
        print(f"{'round':>5}  {'side':<9} {'task':<36} {'load1':>5} {'seconds':>8}  rate")

    def run(self, round_: int, side: str, task: str, fn, count: int, unit: str, extra: str = "") -> None:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        fn()
        seconds = time.perf_counter() - start
        self.rates.setdefault((side, task), []).append(count / seconds)
        print(f"{round_:>5}  {side:<9} {task:<36} {load:>5.2f} {seconds:>8.2f}  {count / seconds:,.1f} {unit}{extra}",
              flush=True)

    def ratios(self, name: str, a: tuple[str, str], b: tuple[str, str]) -> None:
        ratios = [y / x for x, y in zip(self.rates[a], self.rates[b])]
        median = statistics.median(ratios)
        target = TARGETS.get(name.removesuffix(" bf16"))
        verdict = "" if target is None else f"   target {target:g}x: {'met' if median >= target else 'NOT met'}"
        print(f"{name:<14} {'  '.join(f'{r:6.1f}x' for r in ratios)}   median {median:5.1f}x "
              f"({statistics.median(self.rates[b]):,.0f} vs {statistics.median(self.rates[a]):,.1f}){verdict}")


def train_ours(setup: Setup, batches, optimizer: torch.optim.Optimizer, amp: torch.dtype | None) -> float:
    """One epoch of the package's loop on ``batches``, under ``amp``'s autocast as ``train --amp`` runs it."""
    model, optimizer, clip = mixed_precision(setup.ours, optimizer, 1.0, "cpu", amp)
    return train_epoch(model, batches, optimizer, clip=clip)


def training_batches(setup: Setup, batch_size: int, count: int, seed: int):
    """The first ``count`` batches of an epoch of each side's batching: ``(notebook's, package's)``."""
    train = setup.data.datasets["train"]
    theirs = notebook.pool_batches(list(zip(train.src, train.tgt)), batch_size, PAD, random.Random(seed))[:count]
    ours = list(itertools.islice(setup.data.loader("train", batch_size, seed=seed), count))
    return theirs, ours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="default: $SEQ2SEQ_DATA_DIR")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128, help="training and decoding batches, both sides")
    parser.add_argument("--train-batches", type=int, default=12, help="training batches per run")
    parser.add_argument("--sample", type=int, default=100, help="test sentences for the one-at-a-time greedy")
    parser.add_argument("--decode", type=int, default=1000, help="test sentences for the batched decoding")
    parser.add_argument("--bf16", action="store_true", help="also train and decode B under bfloat16 autocast (apart)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    setup = Setup.load(args.data_dir, args.decode)
    print(f"{setup.describe()}; batch size {args.batch_size}", flush=True)
    our_optimizer, their_optimizer = make_optimizer(setup.ours, 1e-3), torch.optim.Adam(setup.theirs.parameters())
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    batches, n = setup.decode_batches(args.batch_size), setup.decode
    sample = setup.test_sources()[:args.sample]
    one = ("notebook", f"greedy, one at a time ({len(sample)})")
    decoding = [(one, setup.notebook_decoding(sample), len(sample)),
                (("package", f"greedy, batched ({n})"), setup.package_decoding(batches, 1), n),
                (("package", f"beam 5, batched ({n})"), setup.package_decoding(batches, 5), n)]
    if args.bf16:
        decoding += [(("package", f"greedy, batched, bf16 ({n})"), setup.package_decoding(batches, 1, True), n),
                     (("package", f"beam 5, batched, bf16 ({n})"), setup.package_decoding(batches, 5, True), n)]

    # (the ratio's name, the package's task, autocast's dtype)
    training = [("training", f"train, tf 1.0 ({args.train_batches} batches)", None)]
    if args.bf16:
        training.append(("training bf16", f"train, tf 1.0, bf16 ({args.train_batches} batches)", torch.bfloat16))

    # Warm-up (allocations, Adam's state, oneDNN's weights), not timed.
    theirs, ours = training_batches(setup, args.batch_size, 1, seed=-1)
    notebook.train(setup.theirs, theirs, their_optimizer, criterion)
    for _, _, amp in training:
        train_ours(setup, ours, our_optimizer, amp)
    setup.notebook_decoding(sample[:2])()
    setup.package_decoding(batches[:1], 1)()

    table = Table()
    for round_ in range(1, args.rounds + 1):
        random.seed(round_)  # the notebook's teacher-forcing coins
        theirs, ours = training_batches(setup, args.batch_size, args.train_batches, seed=round_)
        table.run(round_, "notebook", f"train, tf 0.5 ({args.train_batches} batches)",
                  lambda b=theirs: notebook.train(setup.theirs, b, their_optimizer, criterion),
                  sum(int((trg[1:] != PAD).sum()) for _, _, trg in theirs), "tgt tok/s",
                  f"   padding {padding([(src, trg) for src, _, trg in theirs]):.0%}")
        for _, task, amp in training:
            table.run(round_, "package", task, lambda b=ours, amp=amp: train_ours(setup, b, our_optimizer, amp),
                      sum(int((b.tgt[:, 1:] != PAD).sum()) for b in ours), "tgt tok/s",
                      f"   padding {padding([(b.src, b.tgt) for b in ours]):.0%}")
        for (side, task), run, count in decoding:
            table.run(round_, side, task, run, count, "sentences/s")

    print("\nratios, package / notebook, per round, then the median (package vs notebook rate):")
    for name, task, _ in training:
        table.ratios(name, ("notebook", f"train, tf 0.5 ({args.train_batches} batches)"), ("package", task))
    for (side, task), _, _ in decoding[1:]:
        table.ratios(task.split(",")[0] + (" bf16" if "bf16" in task else ""), one, (side, task))
    return 0


if __name__ == "__main__":
    sys.exit(main())
