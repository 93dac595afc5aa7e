"""Where the time goes: one training step and one batch of greedy decoding, profiled (a benchmark, not a test).

    SEQ2SEQ_DATA_DIR=../shared/data .venv/bin/python benchmarks/profile_step.py [--threads 2] [--batch-size 128]
        [--bf16]

The reference-size model of the package and the notebook way's (``benchmarks/notebook_baseline.py``), on one
Multi30k training batch (the same sentences for both; each side batched its own way would differ only in
padding) and one batch of test sentences decoded greedily to their reference lengths (the package's batched
search; the notebook's one sentence at a time over the same sentences).

``torch.profiler`` records every operator; each one's own CPU time is put down to the part of the model whose
code called it, forward, or whose forward created the autograd node it runs for, backward:

* encoder: the bidirectional GRU over the source, its embedding and the bridge;
* recurrent loop: the decoder's step without the attention (embedding, the GRU cell, concatenations);
* attention: the scores, the softmax and the context vector (the package: also the keys, once per batch);
* output layer: ``[s; c] -> vocabulary`` (the package: ``decoder.project``; the notebook: ``fc_out``);
* loss: log-softmax and NLL; optimizer: gradient clipping, Adam, ``zero_grad``;
* other: what the model's own loop does between those (stacking, padding the logits), gradient accumulation
  into the parameters, and, in decoding, the search's bookkeeping (log-softmax, argmax, rows that leave).

The profiler's own overhead inflates the parts made of many small operators, so the shares are printed beside
the step's time without the profiler (the median of ``--repeats``).
"""
from __future__ import annotations

import argparse
import functools
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from torch import nn
from torch.profiler import profile, record_function

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions" / "attention_seq2seq"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import notebook_baseline as notebook  # noqa: E402
from seq2seq import EOS, PAD, SOS, onednn  # noqa: E402
from seq2seq.model import ModelConfig, build_model  # noqa: E402
from seq2seq.runner import RunConfig, prepare_data  # noqa: E402
from seq2seq.search import greedy_search  # noqa: E402
from seq2seq.training import make_optimizer, sequence_loss  # noqa: E402

PARTS = ("encoder", "recurrent loop", "attention", "output layer", "loss", "optimizer", "other")
MARK = "##"  # the profiler ranges that name a part


def labelled(fn, part: str):
    """``fn`` run inside a profiler range named after ``part``."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with record_function(MARK + part):
            return fn(*args, **kwargs)
    return wrapper


def label_package(model: nn.Module) -> None:
    decoder = model.decoder
    model.encoder.forward = labelled(model.encoder.forward, "encoder")
    decoder.precompute = labelled(decoder.precompute, "attention")
    decoder.attention.forward = labelled(decoder.attention.forward, "attention")
    decoder.step = labelled(decoder.step, "recurrent loop")  # the attention inside keeps its own label
    decoder.project = labelled(decoder.project, "output layer")


def label_notebook(model: nn.Module) -> None:
    model.encoder.forward = labelled(model.encoder.forward, "encoder")
    model.decoder.forward = labelled(model.decoder.forward, "recurrent loop")
    model.decoder.attention.forward = labelled(model.decoder.attention.forward, "attention")
    model.decoder.fc_out.forward = labelled(model.decoder.fc_out.forward, "output layer")


def shares(prof) -> dict[str, float]:
    """Self CPU seconds per part: an operator belongs to its innermost labelled range, a backward function to
    the part whose forward created its autograd node (by sequence number)."""
    events = prof.events()
    part_of_event: dict[int, str] = {}
    forward_part: dict[int, str] = {}

    def part(event) -> str:
        key = id(event)
        if key not in part_of_event:
            if event.name.startswith(MARK):
                part_of_event[key] = event.name[len(MARK):]
            elif event.name.startswith("autograd::engine::evaluate_function"):
                part_of_event[key] = forward_part.get(event.sequence_nr, "other")
            elif event.cpu_parent is not None:
                part_of_event[key] = part(event.cpu_parent)
            else:
                part_of_event[key] = "other"
        return part_of_event[key]

    def in_backward(event) -> bool:
        while event is not None:
            if event.name.startswith("autograd::engine::evaluate_function"):
                return True
            event = event.cpu_parent
        return False

    for event in sorted(events, key=lambda e: e.time_range.start):
        if event.sequence_nr >= 0 and not in_backward(event) and event.sequence_nr not in forward_part:
            forward_part[event.sequence_nr] = part(event)
    seconds: dict[str, float] = defaultdict(float)
    for event in events:
        seconds[part(event)] += event.self_cpu_time_total / 1e6
    return seconds


def forward_mflop(src_tokens: float, steps: float, vocab: int, *, notebook_way: bool = False, rows: int = 1,
                  emb: int = 256, hid: int = 512, dec: int = 512) -> float:
    """MFLOP of the matrix products (2 per multiply-add) in the forward pass over one sentence of ``src_tokens``
    source tokens and ``steps`` decoder steps, ``rows`` hypotheses (beam search: the beam size), at these sizes."""
    enc = 2 * hid
    encoder = src_tokens * 2 * 3 * hid * (emb + hid) + enc * dec          # biGRU, bridge
    gru = 3 * dec * (emb + enc + dec)
    if notebook_way:  # attention: Linear([s; h]) at every source position, then v; output layer reads [s; c; e]
        step = gru + src_tokens * ((enc + dec) * dec + dec + enc) + (dec + enc + emb) * vocab
    else:             # keys once per sentence; per step the query, the energies and the context
        encoder += src_tokens * enc * dec
        step = gru + dec * dec + src_tokens * (dec + enc) + (dec + enc) * vocab
    return 2 * (encoder + rows * steps * step) / 1e6


def product_speed(rows: int, vocab: int, enc: int = 1024, dec: int = 512) -> float:
    """GFLOP/s of this machine's float32 output-layer product ``(rows, dec + enc) x (dec + enc, vocab)`` through
    oneDNN (as the package's search runs it), the best of 10: what the decoding's largest product can reach."""
    x, layer = torch.randn(rows, dec + enc), onednn.PackedLinear(nn.Linear(dec + enc, vocab, bias=False), rows)
    best = float("inf")
    for _ in range(11):
        start = time.perf_counter()
        layer(x)
        best = min(best, time.perf_counter() - start)
    return 2 * rows * (dec + enc) * vocab / best / 1e9


def ceilings(sources: list[list[int]], limits: torch.Tensor, vocab: int, batch: int, notebook_rate: float) -> None:
    """How fast batched decoding could be if every matrix product ran at the output layer's measured speed."""
    src_tokens, steps = statistics.mean(len(s) for s in sources), float(limits.float().mean())
    greedy, beam = forward_mflop(src_tokens, steps, vocab), forward_mflop(src_tokens, steps, vocab, rows=5)
    theirs = forward_mflop(src_tokens, steps, vocab, notebook_way=True)
    speed = product_speed(batch, vocab)
    print(f"\nmatrix products per test sentence ({src_tokens:.1f} source tokens, {steps:.1f} steps): package greedy "
          f"{greedy:.0f} MFLOP, beam 5 {beam:.0f} MFLOP; notebook {theirs:.0f} MFLOP")
    print(f"the output layer's product for {batch} rows runs at {speed:.0f} GFLOP/s here: at that speed throughout, "
          f"greedy could do at most {speed * 1e3 / greedy:.0f} sentences/s and beam 5 {speed * 1e3 / beam:.0f}; "
          f"the targets are {30 * notebook_rate:.0f} and {5 * notebook_rate:.0f} (30x and 5x the notebook's "
          f"{notebook_rate:.1f}/s one at a time)")


def float32(fn):
    return fn


def bf16(fn):
    """``fn`` run under the CPU's bfloat16 autocast (what ``--amp bf16`` does)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return fn(*args, **kwargs)
    return wrapper


def train_step(model, optimizer, forward, loss_of) -> None:
    """One step as each side's training loop takes it (``forward()``, ``loss_of(outputs)``), parts labelled."""
    model.train()
    outputs = forward()
    with record_function(MARK + "loss"):
        loss = loss_of(outputs)
    loss.backward()
    with record_function(MARK + "optimizer"):
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)


def time_and_profile(step, repeats: int) -> tuple[float, dict[str, float]]:
    step()  # warm-up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    with profile() as prof:
        step()
    return statistics.median(seconds), shares(prof)


def report(title: str, seconds: float, parts: dict[str, float], gflop: float) -> None:
    total = sum(parts.values())
    print(f"\n{title}: {seconds:.3f} s without the profiler; {gflop:.0f} GFLOP of matrix products, "
          f"{gflop / seconds:.0f} GFLOP/s")
    for name in PARTS:
        if parts.get(name):
            print(f"  {name:<15} {parts[name] / total:6.1%}   ~{seconds * parts[name] / total:.3f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bf16", action="store_true",
                        help="also the package's training step and greedy decoding under bfloat16 autocast")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    random.seed(0)
    data = prepare_data(RunConfig(corpus="multi30k", src="de", tgt="en", min_freq=2, data_dir=args.data_dir))
    ours = build_model(ModelConfig(len(data.src_vocab), len(data.tgt_vocab), emb_dim=256, hidden_size=512,
                                   dec_hidden=512, attention="additive", dropout=0.5))
    theirs = notebook.build(len(data.src_vocab), len(data.tgt_vocab), PAD)
    label_package(ours)
    label_notebook(theirs)
    batch = next(iter(data.loader("train", args.batch_size, seed=args.seed)))
    pairs = [(s[s != PAD].tolist(), t[t != PAD].tolist()) for s, t in zip(batch.src, batch.tgt)]
    src, src_len, trg = notebook.collate(pairs, PAD)
    print(f"one batch of {batch.src.size(0)} pairs: source {tuple(batch.src.shape)}, target {tuple(batch.tgt.shape)}, "
          f"{int((batch.tgt[:, 1:] != PAD).sum())} target tokens; {torch.get_num_threads()} threads")

    our_optimizer, their_optimizer = make_optimizer(ours, 1e-3), torch.optim.Adam(theirs.parameters())
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    vocab = len(data.tgt_vocab)
    # Training: forward and backward, about 3x the forward's products, over every padded position.
    shape = batch.src.size(0), batch.src.size(1), batch.tgt.size(1) - 1
    train_gflop = [3 * shape[0] * forward_mflop(shape[1], shape[2], vocab, notebook_way=way) / 1e3
                   for way in (False, True)]
    def package_step(precision):
        return lambda: train_step(ours, our_optimizer,
                                  precision(lambda: ours(batch.src, batch.src_lengths, batch.tgt, 1.0)[0]),
                                  precision(lambda logits: sequence_loss(logits, batch.tgt)))

    runs = [("package, training step (teacher forcing 1.0)", package_step(float32), train_gflop[0])]
    if args.bf16:
        runs.append(("package, training step, bf16 autocast", package_step(bf16), train_gflop[0]))
    runs.append(("notebook, training step (teacher forcing 0.5)",
                 lambda: train_step(theirs, their_optimizer, lambda: theirs(src, src_len, trg, 0.5),
                                    lambda out: criterion(out[1:].view(-1, out.shape[-1]), trg[1:].view(-1))),
                 train_gflop[1]))
    for title, step, gflop in runs:
        report(title, *time_and_profile(step, args.repeats), gflop)

    test = data.datasets["test"]
    rows = range(min(args.batch_size, len(test)))
    limits = torch.tensor([len(test.tgt[i]) - 1 for i in rows])
    with torch.no_grad():
        ours.decoder.out.bias[EOS] = theirs.decoder.fc_out.bias[EOS] = -1e9  # decode to the reference lengths
    sources = [test.src[i] for i in rows]
    padded = nn.utils.rnn.pad_sequence([torch.tensor(s) for s in sources], batch_first=True, padding_value=PAD)
    lengths = torch.tensor([len(s) for s in sources])
    decode_gflop = [sum(forward_mflop(len(s), int(m), vocab, notebook_way=way) for s, m in zip(sources, limits)) / 1e3
                    for way in (False, True)]
    for title, precision in [("", float32)] + [(", bf16 autocast", bf16)] * args.bf16:
        report(f"package, batched greedy decoding of {len(sources)} sentences{title}",
               *time_and_profile(precision(lambda: greedy_search(ours, padded, lengths, max_len=limits)),
                                 args.repeats), decode_gflop[0])
    seconds, parts = time_and_profile(lambda: [notebook.translate_sentence(theirs, s, SOS, EOS, int(m))
                                               for s, m in zip(sources, limits)], 1)
    report(f"notebook, greedy decoding of the same {len(sources)} sentences one at a time", seconds, parts,
           decode_gflop[1])
    ceilings(sources, limits, vocab, args.batch_size, len(sources) / seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
