"""Train the reference setup on Multi30k de->en and report speed and BLEU per epoch (a benchmark, not a test).

    SEQ2SEQ_DATA_DIR=../shared/data .venv/bin/python benchmarks/train_multi30k.py [--threads 2] [--epochs 10]
        [--minutes 90] [--checkpoint-dir /tmp/m30k] [--label-smoothing 0.1] [--decay-after 5] [--decay 0.5]
    ... train_multi30k.py --finish-only --checkpoint-dir /tmp/m30k   # only the selection and test at the end
    ... train_multi30k.py --speed 30 [--repeats 3]                   # throughput only, 30 batches x 3

Reference setup (issue 5): Multi30k de->en, spaCy blank tokenisers, lower-cased, ``min_freq=2``, embedding 256,
bidirectional GRU encoder of 512 per direction, decoder state 512, additive attention, batch 128, dropout 0.5,
Adam 1e-3, gradient clipping 1.0. Differences from the well-known notebook, on purpose: teacher forcing 1.0
(the notebook uses 0.5; 1.0 lets the output layer run once over all time steps), length-bucketed batches, and
the loss averaged over target tokens. The training recipe on top of that model (same size, same family):
label smoothing 0.1, and the learning rate halved every epoch after the fifth (``--label-smoothing 0
--decay-after 0`` gives the plain reference recipe).

Training is ``seq2seq.runner.train``, the epoch loop and learning-rate schedule of ``python -m seq2seq train``
(which also writes ``last.pt``, ``best.pt`` and ``log.csv`` into ``--checkpoint-dir``; no early stopping here).
Every epoch prints the runner's line (train and valid loss, greedy valid BLEU, seconds, target tokens per second:
non-PAD tokens of ``tgt[:, 1:]`` divided by the wall time of ``train_epoch``, data loading included), then one of
this benchmark's: learning rate, greedy test BLEU (sacrebleu on the lower-cased spaCy tokens,
``tokenize="none"``, the true references, not ones read back through the vocabulary) and the minutes of training
to that epoch's weights (data preparation plus the epochs' training time; evaluation excluded). Every epoch's
weights are kept in ``--checkpoint-dir`` (``epochN.pt``). At the end, everything is chosen on the validation set
only: the weights (the best epoch, or the average of the last 2..``--average`` epochs' weights), then beam
search's length penalty; that choice's test BLEU, greedy and beam 5, is printed last, also detokenised against
the raw references with sacrebleu's default signature (case-sensitive, 13a) and lower-cased. The machine is shared:
quote medians of the epoch figures.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import itertools
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "solutions" / "attention_seq2seq"))

from seq2seq.checkpoint import average_weights  # noqa: E402
from seq2seq.config import RunConfig  # noqa: E402
from seq2seq.environment import get_device  # noqa: E402
from seq2seq.evaluation import bleu_signature, evaluate  # noqa: E402
from seq2seq.precision import mixed_precision  # noqa: E402
from seq2seq.runner import detokenised_bleu, prepare_data, start_run, train, true_references  # noqa: E402
from seq2seq.training import train_epoch  # noqa: E402
from seq2seq.variants import build  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=90.0, help="stop starting new epochs after this")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--decay-after", type=int, default=5,
                        help="after this epoch multiply the learning rate by --decay every epoch (0: constant)")
    parser.add_argument("--decay", type=float, default=0.5)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--average", type=int, default=3, help="also try averaging the last 2..N epochs' weights")
    parser.add_argument("--checkpoint-dir", default="/tmp/m30k")
    parser.add_argument("--finish-only", action="store_true",
                        help="skip training: select and test from the epoch checkpoints already in --checkpoint-dir")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--config", default=None,
                        help="a RunConfig JSON (e.g. python -m seq2seq train's config.json): its fields replace the "
                             "reference setup's and the flags above (out_dir and progress excepted)")
    parser.add_argument("--speed", type=int, default=0, help="only time this many training batches per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    # The reference model is ModelConfig's defaults (embedding 256, biGRU 512, decoder 512, additive attention).
    config = RunConfig(corpus="multi30k", src="de", tgt="en", data_dir=args.data_dir, min_freq=2,
                       dropout=args.dropout, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       lr_decay_after=args.decay_after, lr_decay=args.decay, clip=1.0,
                       label_smoothing=args.label_smoothing, patience=args.epochs + 1, seed=args.seed,
                       device=args.device, threads=args.threads, out_dir=args.checkpoint_dir, progress=False)
    if args.config:
        values = json.loads(Path(args.config).read_text(encoding="utf-8"))
        values.pop("out_dir", None), values.pop("progress", None)
        config = dataclasses.replace(config, **values)
        config.patience = config.epochs + 1  # no early stopping: every epoch is a candidate, chosen on valid
        args.batch_size, args.seed, args.device = config.batch_size, config.seed, config.device
    print(f"config: {json.dumps(dataclasses.asdict(config))}", flush=True)
    torch.set_num_threads(config.threads or args.threads)
    started = time.monotonic()
    data = prepare_data(config)
    print(f"data: {data.corpus.sizes()} vocab de {len(data.src_vocab)} en {len(data.tgt_vocab)} "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    if args.speed:
        run = start_run(config, data)
        train_tokens = sum(len(t) - 1 for t in data.datasets["train"].tgt)  # tgt[:, 1:] without PAD
        speed(run, data.loader("train", args.batch_size, seed=args.seed), args.speed, args.repeats, train_tokens)
        return
    folder = Path(args.checkpoint_dir)
    folder.mkdir(parents=True, exist_ok=True)
    if not args.finish_only:
        rows = train(config, data=data, on_epoch=EpochReport(args, data, folder, started))["history"].epochs
        print(f"median over {len(rows)} epochs: {statistics.median(r['tokens_per_s'] for r in rows):.0f} tgt tok/s, "
              f"{statistics.median(r['seconds'] for r in rows):.0f} s/epoch", flush=True)
    model = build(config.model_config(len(data.src_vocab), len(data.tgt_vocab))).to(get_device(args.device))
    finish(args, model, data, folder, started)


class EpochReport:
    """``runner.train``'s ``on_epoch`` hook: keep the epoch's weights, print its greedy test BLEU and the minutes
    of training to its weights (data preparation plus the epochs' training seconds: evaluation excluded), and
    stop the run once ``--minutes`` have passed."""

    def __init__(self, args: argparse.Namespace, data, folder: Path, started: float) -> None:
        self.args, self.data, self.folder, self.started = args, data, folder, started
        self.seconds = time.monotonic() - started  # data preparation
        self.test = data.loader("test", args.batch_size, bucket=False)  # dataset order, as the true references
        self.references = true_references(data, "test")

    def __call__(self, epoch: int, model: torch.nn.Module, row: dict[str, float]) -> bool:
        self.seconds += row["seconds"]
        torch.save(model.state_dict(), self.folder / f"epoch{epoch}.pt")
        test = evaluate(model, self.test, self.data.tgt_vocab, references=self.references)
        print(f"epoch {epoch}: lr {row['lr']:.2e}, test BLEU greedy {test['bleu']:.2f}, weights after "
              f"{self.seconds / 60:.1f} min of training", flush=True)
        return (time.monotonic() - self.started) / 60 > self.args.minutes


def finish(args, model, data, folder: Path, started: float) -> None:
    """Choose on the validation set only: the weights (one epoch, or the average of the last k), then the
    beam search's length penalty; report that choice's test BLEU, greedy and beam 5."""
    valid, test = (data.loader(split, args.batch_size, bucket=False) for split in ("valid", "test"))
    refs = {split: true_references(data, split) for split in ("valid", "test")}
    epochs = sorted(int(p.stem[5:]) for p in folder.glob("epoch*.pt"))
    if not epochs:
        raise SystemExit(f"no epoch checkpoints in {folder}")
    candidates = {f"epoch {e}": [e] for e in epochs}
    for k in range(2, min(args.average, len(epochs)) + 1):
        candidates[f"average of epochs {epochs[-k]}-{epochs[-1]}"] = epochs[-k:]
    states = {e: torch.load(folder / f"epoch{e}.pt") for e in epochs}  # each file read once
    weights, scores = {}, {}
    for name, members in candidates.items():
        weights[name] = average_weights([states[e] for e in members])
        model.load_state_dict(weights[name])
        scores[name] = evaluate(model, valid, data.tgt_vocab, references=refs["valid"])["bleu"]
        print(f"{name}: valid BLEU greedy {scores[name]:.2f}", flush=True)
    chosen = max(scores, key=scores.get)
    model.load_state_dict(weights[chosen])
    penalties = {}
    for alpha in (0.0, 0.5, 1.0, 1.5, 2.0):
        penalties[alpha] = evaluate(model, valid, data.tgt_vocab, beam_size=5, length_penalty=alpha,
                                    references=refs["valid"])["bleu"]
        print(f"{chosen}, beam 5, length penalty {alpha}: valid BLEU {penalties[alpha]:.2f}", flush=True)
    alpha = max(penalties, key=penalties.get)
    for beam in (1, 5):
        result = evaluate(model, test, data.tgt_vocab, beam_size=beam, length_penalty=alpha,
                          references=refs["test"])
        print(f"chosen on valid: {chosen}; test_2016_flickr BLEU beam {beam}"
              f"{f' (length penalty {alpha})' if beam > 1 else ''}: {result['bleu']:.2f} ({bleu_signature()}), "
              f"elapsed {(time.monotonic() - started) / 60:.1f} min", flush=True)
        for bleu, signature in detokenised_bleu(result["hypotheses"], data, "test").values():
            print(f"  detokenised: {bleu:.2f} ({signature})", flush=True)


def speed(run, loader, batches: int, repeats: int, epoch_tokens: int) -> None:
    """Target tokens per second of ``train_epoch`` over the first ``batches`` batches of shuffled epochs, with the
    run's autocast and scaler (``amp`` in the config), as the training runs it."""
    rates = []
    for repeat in range(repeats):
        chosen = list(itertools.islice(iter(loader), batches))  # collated before timing, as a worker would
        tokens = sum(int((b.tgt[:, 1:] != 0).sum()) for b in chosen)
        t0 = time.monotonic()
        model, optimizer, clip = mixed_precision(run.model, run.optimizer, 1.0, run.device, run.amp_dtype, run.scaler)
        train_epoch(model, chosen, optimizer, clip=clip)
        rates.append(tokens / (time.monotonic() - t0))
        print(f"repeat {repeat + 1}: {rates[-1]:.0f} tgt tok/s over {batches} batches ({tokens} tokens)", flush=True)
    rate = statistics.median(rates)
    print(f"median {rate:.0f} tgt tok/s (best {max(rates):.0f}); a Multi30k epoch ({epoch_tokens:,} target tokens) "
          f"would take {epoch_tokens / rate:.0f} s at the median", flush=True)


if __name__ == "__main__":
    main()
