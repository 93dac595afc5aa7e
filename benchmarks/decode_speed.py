"""Decoding speed of the package alone, by batch size and precision (a benchmark, not a test).

    SEQ2SEQ_DATA_DIR=../shared/data .venv/bin/python benchmarks/decode_speed.py [--threads 2] [--repeats 3]
        [--batches 64,128,256] [--bf16] [--blas]

``benchmarks/side_by_side.py`` compares the package with the notebook way; this one looks inside the package's
decoding only: batched greedy search and beam search (beam 5) over the 1,000 Multi30k test sentences, sorted by
source length and cut into batches of each ``--batches`` size, in float32, with ``--bf16`` also under bfloat16
autocast (weights stay float32; tokens can differ where two scores nearly tie), and with ``--blas`` also with the
search's oneDNN fast path turned off (``seq2seq.onednn``: the output layer and the GRU then multiply through the
default BLAS, as ``nn.Linear`` and ``nn.GRU`` do). Model and inputs are ``side_by_side.py``'s: the reference size,
untrained, the ``<eos>`` logit pushed down and each sentence decoded for exactly as many steps as its reference
has tokens.

Every figure is sentences per second, the median of ``--repeats`` runs, with the 1-minute load average before
the first run (the machine may be shared).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import side_by_side  # noqa: E402  (puts the package on the path)
from seq2seq import onednn  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", default="64,128,256", help="batch sizes, comma-separated")
    parser.add_argument("--bf16", action="store_true", help="also under bfloat16 autocast")
    parser.add_argument("--blas", action="store_true", help="also without the oneDNN fast path")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    setup = side_by_side.Setup.load(args.data_dir)
    print(f"{setup.describe()}; {len(setup.test_sources())} test sentences", flush=True)
    variants = [("float32", False, False)] + ([("bfloat16", True, False)] if args.bf16 else []) \
        + ([("float32, BLAS", False, True)] if args.blas else [])
    print(f"{'search':<8} {'batch':>5}  {'precision':<14} {'load1':>5}  sentences/s (median; runs)")
    for size in (int(b) for b in args.batches.split(",")):
        batches = setup.decode_batches(size)
        for beam in (1, 5):
            for name, bf16, blas in variants:
                off = mock.patch.object(onednn, "available", lambda: False) if blas else contextlib.nullcontext()
                load = os.getloadavg()[0]
                with off:
                    run = setup.package_decoding(batches, beam, bf16)
                    run()  # warm-up
                    seconds = []
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        run()
                        seconds.append(time.perf_counter() - start)
                n = setup.decode
                print(f"{'greedy' if beam == 1 else f'beam {beam}':<8} {size:>5}  {name:<14} {load:>5.2f}  "
                      f"{n / statistics.median(seconds):8.1f}   ({', '.join(f'{n / s:.0f}' for s in seconds)})",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
