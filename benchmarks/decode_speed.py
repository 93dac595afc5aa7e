"""Decoding and training speed of the reference-size model (a benchmark, not a test).

    .venv/bin/python benchmarks/decode_speed.py [--data-dir DIR] [--threads 2] [--repeats 3]

Model: embedding 256, hidden 512 (bidirectional GRU encoder, so enc_hidden 1024), decoder state 512, additive
attention, vocabularies of Multi30k de->en at min_freq 2 (7,853 German and 5,893 English types).

Sentences: the 1,000 pairs of the Multi30k test set (``test_2016_flickr.de``/``.en``), as lengths only: a
sentence's length is its whitespace token count. Decoding time does not depend on which ids are fed, so the ids
are random and the weights untrained. An untrained model does not say <eos> where a trained one would, so each
sentence is decoded for as many tokens as its reference translation has, plus the <eos> step (``max_len`` as a
``(batch,)`` tensor, the same limit for every method): the work is that of a trained model with perfect lengths.

Reported (medians of ``--repeats`` runs; the machine is shared, so single runs are noisy):

* one-at-a-time greedy, the notebook way: one sentence per forward pass, ``.item()`` per step, on a sample;
* batched greedy (``seq2seq.search.greedy_search``) and batched beam search with beam 5, batches of sentences
  of similar length (sorted by source length, as a translation tool would);
* the same two in bfloat16 autocast (``--bf16``; weights stay float32, matrix products run in bfloat16, about
  3x faster on CPUs with AVX512-BF16; tokens can differ where two scores nearly tie, so it is reported apart);
* training steps: teacher forcing 1.0, batch 128, cross-entropy, backward and Adam, as target tokens per second.

Every figure is the median of the repeats, with the best run beside it: on a shared machine the best run is the
closest to what the code does alone.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions" / "attention_seq2seq"))

from seq2seq import EOS, PAD, SOS  # noqa: E402
from seq2seq.model import ModelConfig, build_model  # noqa: E402
from seq2seq.search import beam_search, greedy_search  # noqa: E402

SRC_VOCAB, TGT_VOCAB = 7853, 5893


def lengths(path: Path) -> list[int]:
    return [max(1, len(line.split())) for line in path.read_text(encoding="utf-8").splitlines()]


def random_batch(src_lengths: list[int], tgt_lengths: list[int] | None, generator: torch.Generator):
    """Random ids in padded tensors: source ``(batch, max_len)``; target ``<sos> ... <eos>`` when lengths are given."""
    src = torch.randint(4, SRC_VOCAB, (len(src_lengths), max(src_lengths)), generator=generator)
    for row, n in enumerate(src_lengths):
        src[row, n:] = PAD
    if tgt_lengths is None:
        return src, torch.tensor(src_lengths)
    tgt = torch.randint(4, TGT_VOCAB, (len(tgt_lengths), max(tgt_lengths) + 2), generator=generator)
    tgt[:, 0] = SOS
    for row, n in enumerate(tgt_lengths):
        tgt[row, n + 1] = EOS
        tgt[row, n + 2:] = PAD
    return src, torch.tensor(src_lengths), tgt


@torch.inference_mode()
def notebook_greedy(model: nn.Module, src: torch.Tensor, max_len: int) -> list[int]:
    """The well-known notebook way: one sentence, one step at a time, a Python int per step."""
    encoder_outputs, hidden, mask, keys = model.encode(src, torch.tensor([src.size(1)]))
    tokens, prev = [], torch.tensor([SOS])
    for _ in range(max_len):
        logits, hidden, _ = model.decoder.forward_step(prev, hidden, encoder_outputs, mask, keys)
        token = logits.argmax(-1).item()
        tokens.append(token)
        if token == EOS:
            break
        prev = torch.tensor([token])
    return tokens


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_rate(count: int, fn, repeats: int) -> tuple[float, list[float]]:
    seconds = [timed(fn) for _ in range(repeats)]
    return count / statistics.median(seconds), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("SEQ2SEQ_DATA_DIR", ROOT.parent / "shared" / "data")))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sample", type=int, default=100, help="sentences for the one-at-a-time baseline")
    parser.add_argument("--batch", type=int, default=256, help="sentences per batch for batched greedy decoding")
    parser.add_argument("--beam-batch", type=int, default=128, help="sentences per batch for beam search (x5 rows)")
    parser.add_argument("--bf16", action="store_true", help="also decode in bfloat16 autocast")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)

    src_lens = lengths(args.data_dir / "multi30k" / "test_2016_flickr.de")
    tgt_lens = lengths(args.data_dir / "multi30k" / "test_2016_flickr.en")
    model = build_model(ModelConfig(SRC_VOCAB, TGT_VOCAB, emb_dim=256, hidden_size=512, dec_hidden=512,
                                    bidirectional=True, attention="additive", dropout=0.5)).eval()
    print(f"model: {sum(p.numel() for p in model.parameters()):,} parameters; {len(src_lens)} test sentences, "
          f"source {statistics.mean(src_lens):.1f} and reference {statistics.mean(tgt_lens):.1f} tokens on average; "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")

    # One at a time, on a sample: every sentence alone, no padding.
    sample = [random_batch([n], None, generator)[0] for n in src_lens[:args.sample]]
    limits = [n + 1 for n in tgt_lens[:args.sample]]
    one_rate, one_s = median_rate(len(sample), lambda: [notebook_greedy(model, s, m) for s, m in zip(sample, limits)],
                                  args.repeats)
    print(f"one-at-a-time greedy   {one_rate:8.1f} sentences/s   ({len(sample)} sentences; best "
          f"{len(sample) / min(one_s):.1f}/s; runs {_fmt(one_s)})")

    # Batched: sorted by source length so that a batch holds sentences of similar length.
    order = sorted(range(len(src_lens)), key=lambda i: src_lens[i])

    def batched(size: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        batches = []
        for start in range(0, len(order), size):
            rows = order[start:start + size]
            src, src_lengths = random_batch([src_lens[i] for i in rows], None, generator)
            batches.append((src, src_lengths, torch.tensor([tgt_lens[i] + 1 for i in rows])))
        return batches

    greedy_batches, beam_batches = batched(args.batch), batched(args.beam_batch)
    for precision in ["float32"] + (["bfloat16"] if args.bf16 else []):
        def autocast():
            return (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bfloat16"
                    else contextlib.nullcontext())

        def greedy():
            with autocast():
                return [greedy_search(model, s, n, max_len=m) for s, n, m in greedy_batches]

        def beam():
            with autocast():
                return [beam_search(model, s, n, beam_size=5, max_len=m) for s, n, m in beam_batches]

        for name, fn, size in [("batched greedy", greedy, args.batch), ("batched beam search 5", beam, args.beam_batch)]:
            rate, seconds = median_rate(len(src_lens), fn, args.repeats)
            print(f"{name:<22} {rate:8.1f} sentences/s   ({precision}, batches of {size}; best "
                  f"{len(src_lens) / min(seconds):.1f}/s; runs {_fmt(seconds)}); {rate / one_rate:.1f}x one-at-a-time")

    # Training steps: teacher forcing 1.0, batch 128 of test-set lengths (cycled).
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    steps = []
    for start in range(0, 128 * (args.repeats + 1), 128):
        rows = [(start + k) % len(src_lens) for k in range(128)]
        steps.append(random_batch([src_lens[i] for i in rows], [tgt_lens[i] for i in rows], generator))

    def train_step(src, src_lengths, tgt) -> None:
        optimiser.zero_grad()
        logits, _ = model(src, src_lengths, tgt, teacher_forcing_ratio=1.0)
        loss = loss_fn(logits[:, 1:].reshape(-1, logits.size(-1)), tgt[:, 1:].reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()

    train_step(*steps[0])  # warm-up: allocations, Adam's state
    rates = []
    for src, src_lengths, tgt in steps[1:]:
        rates.append(int((tgt[:, 1:] != PAD).sum()) / timed(lambda: train_step(src, src_lengths, tgt)))
    print(f"training (tf 1.0)      {statistics.median(rates):8.0f} target tokens/s (batch 128; best {max(rates):.0f}/s; "
          f"runs {', '.join(f'{r:.0f}' for r in rates)})")
    return 0


def _fmt(seconds: list[float]) -> str:
    return ", ".join(f"{s:.2f} s" for s in seconds)


if __name__ == "__main__":
    sys.exit(main())
