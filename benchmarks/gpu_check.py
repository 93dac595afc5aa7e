"""A GPU run ready to go: the CUDA paths checked against the CPU, then the reference recipe on Multi30k.

    benchmarks/gpu_check.sh [--data-dir DIR] [--out DIR] [--minutes 8]     # on a machine with one NVIDIA GPU
    benchmarks/gpu_check.sh --dry-run                                      # the same steps on the CPU, toy size

1. Environment: ``python -m seq2seq env`` (Python, the pinned packages against the installed ones, the device).
2. Checks, one line each, ``check NAME: ok (...)`` or ``check NAME: FAILED (...)``:

   * ``packages``: the pinned packages the run imports are installed (other versions than the lock's are named);
   * ``device``: ``get_device("auto")`` is the GPU (dry run: the CPU, and asking for ``cuda`` without one is an
     error);
   * ``forward``: teacher-forced logits and attention of one model on the device against a CPU copy (float32,
     TF32 off for the comparison);
   * ``fast paths``: teacher forcing 1.0's single output-layer product against one product per step; batched
     greedy search (finished rows leave the batch; on the CPU the output layer runs through oneDNN) against
     decoding one sentence at a time with plain ``forward_step``; beam search with beam 1 against greedy;
   * ``search``: greedy and beam 5 tokens on the device against the CPU;
   * ``amp bf16``, ``amp fp16``: ``train_epoch`` under the runner's mixed precision (``seq2seq.precision``:
     autocast, and for float16 the runner's ``GradScaler``) against float32 from the same weights: first loss,
     epoch loss, finite weights and scale;
   * ``pinned``: the device's loader pins its batches (the CPU's does not) and copies them unchanged.

3. Training: ``python -m seq2seq train --config benchmarks/multi30k_reference.json`` (the README's reference
   recipe) on the device, then ``python -m seq2seq evaluate best.pt --beam 5``; prints seconds per epoch, target
   tokens per second, the time to the best validation BLEU (from the start of the training command, data
   preparation included) and the test BLEU, greedy and beam 5. The dry run trains the same config at toy size
   on the synthetic corpus, on the CPU.

The last line says whether everything passed and how long it took; the exit status is 0 only then.
"""
from __future__ import annotations

import argparse
import copy
import csv
import json
import os
import re
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "solutions" / "attention_seq2seq"
sys.path.insert(0, str(PACKAGE))

from seq2seq import EOS, PAD, SOS  # noqa: E402
from seq2seq.data import Batch  # noqa: E402
from seq2seq.environment import check_requirements, get_device, read_requirements, set_seed  # noqa: E402
from seq2seq.model import ModelConfig, build_model  # noqa: E402
from seq2seq.precision import mixed_precision  # noqa: E402
from seq2seq.runner import RunConfig, make_scaler, prepare_data, resolve_amp  # noqa: E402
from seq2seq.search import beam_search, greedy_search  # noqa: E402
from seq2seq.training import make_optimizer, sequence_loss, train_epoch  # noqa: E402

REFERENCE_CONFIG = ROOT / "benchmarks" / "multi30k_reference.json"
# The dry run's training: the reference config with these fields replaced (CPU, synthetic corpus, toy size).
TOY_RUN = dict(corpus="synthetic", src=None, tgt=None, synthetic_train=200, synthetic_eval=20, min_freq=1,
               emb_dim=32, hidden_size=32, dec_hidden=48, batch_size=32, epochs=2, threads=2, device="cpu",
               amp="off", progress=False)


@dataclass
class Size:
    """The checks' model and batch sizes."""

    src_vocab: int
    tgt_vocab: int
    emb_dim: int
    hidden: int
    batch: int
    batches: int


TOY = Size(60, 70, 32, 32, 16, 3)
REFERENCE = Size(7853, 5893, 256, 512, 64, 3)  # the Multi30k vocabularies; batch 64 keeps the CPU side quick


class Checks:
    """Runs named checks, prints one line each, and remembers the failures."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def __call__(self, name: str, fn, *args) -> None:
        try:
            ok, detail = fn(*args)
        except Exception as error:  # a check that crashes has failed; say how, and go on with the others
            ok, detail = False, f"{type(error).__name__}: {error}"
        if not ok:
            self.failed.append(name)
        print(f"check {name}: {'ok' if ok else 'FAILED'} ({detail})", flush=True)


# ================================================================================================== inputs
def random_batches(size: Size, generator: torch.Generator) -> list[Batch]:
    """``size.batches`` batch-first batches of random ids, sources and targets 3..20 tokens with <sos>/<eos>."""
    batches = []
    for _ in range(size.batches):
        src_len = torch.randint(3, 21, (size.batch,), generator=generator)
        tgt_len = torch.randint(3, 21, (size.batch,), generator=generator)
        src = torch.randint(4, size.src_vocab, (size.batch, int(src_len.max())), generator=generator)
        tgt = torch.randint(4, size.tgt_vocab, (size.batch, int(tgt_len.max())), generator=generator)
        for row in range(size.batch):
            src[row, 0], src[row, src_len[row] - 1], src[row, src_len[row]:] = SOS, EOS, PAD
            tgt[row, 0], tgt[row, tgt_len[row] - 1], tgt[row, tgt_len[row]:] = SOS, EOS, PAD
        batches.append(Batch(src, src_len, tgt))
    return batches


def model_of(size: Size, seed: int = 0) -> torch.nn.Module:
    set_seed(seed)
    return build_model(ModelConfig(size.src_vocab, size.tgt_vocab, emb_dim=size.emb_dim, hidden_size=size.hidden,
                                   dec_hidden=size.hidden, attention="additive", dropout=0.1))


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    """The fraction of rows of two padded token tensors that are identical (different widths: not identical)."""
    if a.shape != b.shape:
        width = max(a.size(1), b.size(1))
        a, b = (torch.nn.functional.pad(x, (0, width - x.size(1)), value=-1) for x in (a, b))
    return float((a == b).all(dim=1).float().mean())


# ================================================================================================== checks
RUN_NEEDS = ("torch", "numpy", "spacy", "sacrebleu", "matplotlib", "tqdm")  # the pins the training run imports


def check_packages() -> tuple[bool, str]:
    """Every package the run imports is installed; versions other than the lock's are named (results may differ)."""
    pins = {name: version for name, version in read_requirements().items() if name in RUN_NEEDS}
    status = check_requirements(pins)
    missing = [f"{name}=={pins[name]}" for name, state in status.items() if state == "missing"]
    other = [name for name, state in status.items() if state == "wrong version"]
    detail = "; ".join(filter(None, [f"missing: {', '.join(missing)} (pip install them, or carry their wheels)"
                                     if missing else "", f"not the lock's version: {', '.join(other)}" if other else "",
                                     "all at the lock's versions" if not missing and not other else ""]))
    return not missing, detail


def check_device(dry_run: bool) -> tuple[bool, str]:
    chosen = get_device("auto")
    if not dry_run:
        ok = chosen.type == "cuda"
        return ok, f"auto -> {chosen}" + (f" ({torch.cuda.get_device_name(chosen)})" if ok else ": no CUDA device")
    if torch.cuda.is_available():
        return chosen.type == "cuda", f"auto -> {chosen} (a GPU is here; the dry run still runs on the CPU)"
    try:
        get_device("cuda")
    except RuntimeError:
        return chosen.type == "cpu", f"auto -> {chosen}; asking for cuda without one is an error, as it should be"
    return False, "get_device('cuda') gave a device on a machine without CUDA"


def check_forward(cpu_model, dev_model, batch: Batch, device: torch.device) -> tuple[bool, str]:
    with torch.no_grad():
        logits, attention = cpu_model.eval()(batch.src, batch.src_lengths, batch.tgt, 1.0)
        moved = batch.to(device)
        dev_logits, dev_attention = dev_model.eval()(moved.src, moved.src_lengths, moved.tgt, 1.0)
    logit_error = float((dev_logits.cpu() - logits).abs().max())
    attention_error = float((dev_attention.cpu() - attention).abs().max())
    return max(logit_error, attention_error) < 1e-4, \
        f"largest difference {logit_error:.1e} in logits, {attention_error:.1e} in attention; tolerance 1e-4"


def check_fast_paths(model, batch: Batch, device: torch.device) -> tuple[bool, str]:
    model.eval()
    batch = batch.to(device)
    with torch.no_grad():
        fast, _ = model(batch.src, batch.src_lengths, batch.tgt, 1.0)
        encoder_outputs, hidden, mask, keys = model.encode(batch.src, batch.src_lengths)
        slow = []
        for t in range(1, batch.tgt.size(1)):
            hidden, context, _ = model.decoder.step(batch.tgt[:, t - 1], hidden, encoder_outputs, mask, keys)
            slow.append(model.decoder.project(hidden, context))
    projection_error = float((fast[:, 1:] - torch.stack(slow, dim=1)).abs().max())
    # Per-sentence limits of 2..9 tokens, so that rows leave the batch at different steps.
    limits = torch.arange(batch.src.size(0), device=device) % 8 + 2
    greedy = greedy_search(model, batch.src, batch.src_lengths, max_len=limits)[0]
    one_by_one = [one_sentence_greedy(model, batch.src[i:i + 1, :int(batch.src_lengths[i])], int(limits[i]))
                  for i in range(batch.src.size(0))]
    same_alone = sum(greedy[i, :len(tokens)].tolist() == tokens and bool((greedy[i, len(tokens):] == PAD).all())
                     for i, tokens in enumerate(one_by_one)) / len(one_by_one)
    beam_one = agreement(beam_search(model, batch.src, batch.src_lengths, beam_size=1, max_len=limits)[0], greedy)
    ok = projection_error < 1e-4 and same_alone >= 0.9 and beam_one >= 0.9
    return ok, (f"tf 1.0 one product vs one per step: {projection_error:.1e}; batched greedy = one at a time for "
                f"{same_alone:.0%} of sentences, beam 1 = greedy for {beam_one:.0%} (at least 90%: near-ties "
                "may flip with float rounding)")


@torch.no_grad()
def one_sentence_greedy(model, src: torch.Tensor, limit: int) -> list[int]:
    """Plain greedy decoding of one sentence with ``forward_step`` (no batch, no fast path)."""
    encoder_outputs, hidden, mask, keys = model.encode(src, torch.tensor([src.size(1)]))
    prev, tokens = torch.tensor([SOS], device=src.device), []
    for _ in range(limit):
        logits, hidden, _ = model.decoder.forward_step(prev, hidden, encoder_outputs, mask, keys)
        logits[:, [PAD, SOS]] = float("-inf")
        prev = logits.argmax(-1)
        tokens.append(int(prev))
        if tokens[-1] == EOS:
            break
    return tokens


def check_search(cpu_model, dev_model, batch: Batch, device: torch.device) -> tuple[bool, str]:
    moved = batch.to(device)
    results = []
    for beam in (1, 5):
        ours = beam_search(cpu_model, batch.src, batch.src_lengths, beam_size=beam, max_len=12)
        theirs = beam_search(dev_model, moved.src, moved.src_lengths, beam_size=beam, max_len=12)
        results.append((agreement(ours[0], theirs[0].cpu()), float((ours[2] - theirs[2].cpu()).abs().max())))
    (greedy, greedy_score), (beam, beam_score) = results
    ok = greedy >= 0.9 and beam >= 0.9
    return ok, (f"device = CPU for {greedy:.0%} of greedy and {beam:.0%} of beam-5 outputs (at least 90%), "
                f"largest score difference {max(greedy_score, beam_score):.1e}")


def check_amp(dtype: torch.dtype, size: Size, batches: list[Batch], device: torch.device,
              dry_run: bool) -> tuple[bool, str]:
    if dry_run:  # the runner's scaler is CUDA's; the CPU's own does the same steps here
        scaler = torch.amp.GradScaler("cpu") if dtype == torch.float16 else None
        with warnings.catch_warnings():  # CUDA's GradScaler warns that it is off without CUDA
            warnings.simplefilter("ignore")
            assert (make_scaler(dtype) is None) == (dtype == torch.bfloat16), "make_scaler: a scaler for fp16 only"
    else:
        scaler = make_scaler(dtype)
    reference = model_of(size).to(device)
    amp_model = copy.deepcopy(reference)
    first = batches[0].to(device)
    with torch.no_grad():
        loss32 = float(sequence_loss(reference.eval()(first.src, first.src_lengths, first.tgt, 1.0)[0], first.tgt))
        with torch.autocast(device.type, dtype=dtype):
            loss_amp = float(sequence_loss(amp_model.eval()(first.src, first.src_lengths, first.tgt, 1.0)[0],
                                           first.tgt))
    epochs = []
    for model, amp_dtype, amp_scaler in ((reference, None, None), (amp_model, dtype, scaler)):
        set_seed(1)  # the same dropout masks on both sides
        # the runner's way: Q23's loop unchanged, autocast and the scaler around its model and optimizer
        optimizer = make_optimizer(model, 1e-3)
        trainer, optimizer, clip = mixed_precision(model, optimizer, 1.0, device, amp_dtype, amp_scaler)
        epochs.append(train_epoch(trainer, batches, optimizer, clip=clip, device=device))
    finite = all(bool(torch.isfinite(p).all()) for p in amp_model.parameters())
    scale = "" if scaler is None else f", scale {scaler.get_scale():g}"
    first_gap, epoch_gap = abs(loss_amp - loss32) / loss32, abs(epochs[1] - epochs[0]) / epochs[0]
    ok = first_gap < 0.01 and epoch_gap < 0.02 and finite and (scaler is None or 0 < scaler.get_scale() < float("inf"))
    return ok, (f"first loss {loss_amp:.4f} vs float32 {loss32:.4f}, {len(batches)}-batch epoch {epochs[1]:.4f} vs "
                f"{epochs[0]:.4f} (within 1% and 2%), weights finite: {finite}{scale}")


def check_pinned(device: torch.device) -> tuple[bool, str]:
    data = prepare_data(RunConfig(corpus="synthetic", synthetic_train=64, synthetic_eval=8, min_freq=1))
    batch = next(iter(data.loader("train", 16, device=device)))
    pinned = batch.src.is_pinned() and batch.tgt.is_pinned()
    moved = batch.to(device, non_blocking=True)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    same = torch.equal(moved.src.cpu(), batch.src) and torch.equal(moved.tgt.cpu(), batch.tgt)
    wanted = device.type == "cuda"
    return pinned == wanted and same, (f"batches pinned: {pinned} (wanted {wanted}); copied to {device} "
                                       f"unchanged: {same}")


def run_checks(dry_run: bool, device: torch.device) -> list[str]:
    size = TOY if dry_run else REFERENCE
    checks = Checks()
    checks("packages", check_packages)
    checks("device", check_device, dry_run)
    batches = random_batches(size, torch.Generator().manual_seed(0))
    cpu_model = model_of(size)
    dev_model = copy.deepcopy(cpu_model).to(device)
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False  # float32 means float32 here
    try:
        checks("forward", check_forward, cpu_model, dev_model, batches[0], device)
        checks("fast paths", check_fast_paths, dev_model, batches[0], device)
        checks("search", check_search, cpu_model, dev_model, batches[0], device)
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    if dry_run:
        checks("amp auto", lambda: (resolve_amp("auto", device) is None, "auto on the CPU is float32"))
    else:
        checks("amp auto", lambda: (resolve_amp("auto", device) in (torch.bfloat16, torch.float16),
                                    f"auto on {device} is {resolve_amp('auto', device)}"))
    for dtype in (torch.bfloat16, torch.float16):
        checks(f"amp {str(dtype).split('.')[-1].replace('bfloat', 'bf').replace('float', 'fp')}", check_amp, dtype,
               size, batches, device, dry_run)
    checks("pinned", check_pinned, device)
    return checks.failed


# ================================================================================================== training
def seq2seq_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "seq2seq", *args]


def stream(command: list[str], out: Path, timeout: float, data_dir: str | None) -> tuple[int, list[tuple[float, str]]]:
    """Run a command of the package's CLI, echo its output, and return its exit status and its lines, each with
    the seconds since the start; killed after ``timeout`` seconds (status -9)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE), os.environ.get("PYTHONPATH")]))}
    if data_dir:
        env["SEQ2SEQ_DATA_DIR"] = data_dir
    start = time.monotonic()
    process = subprocess.Popen(command, cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append((time.monotonic() - start, line.rstrip()))
            print(f"  | {line.rstrip()}", flush=True)
            if time.monotonic() - start > timeout:
                process.kill()
        return process.wait(timeout=max(1.0, timeout - (time.monotonic() - start))), lines
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(), lines


def write_config(dry_run: bool, out: Path, device: torch.device) -> Path:
    """The reference config for this run (the dry run's: at toy size on the CPU), with out_dir and device."""
    values = json.loads(REFERENCE_CONFIG.read_text(encoding="utf-8"))
    values.update(out_dir=str(out / "run"), device=str(device))
    if dry_run:
        values.update(TOY_RUN)
    path = out / "gpu_check_config.json"
    path.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")
    return path


def train_and_evaluate(dry_run: bool, device: torch.device, out: Path, seconds_left: float,
                       data_dir: str | None) -> list[str]:
    """Train with the CLI, evaluate best.pt with it, print the summary; return the names of the failed steps."""
    config = write_config(dry_run, out, device)
    print(f"training: python -m seq2seq train --config {config}", flush=True)
    status, lines = stream(seq2seq_command("train", "--config", str(config)), out, seconds_left - 60, data_dir)
    log = out / "run" / "log.csv"
    if status != 0 or not log.is_file():
        print(f"training FAILED (exit status {status})", flush=True)
        return ["training"]
    with log.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    seconds = [float(row["seconds"]) for row in rows]
    rates = [float(row["tokens_per_s"]) for row in rows]
    best = max(rows, key=lambda row: float(row["valid_bleu"]))
    epoch_done = {int(m.group(1)): t for t, line in lines if (m := re.match(r"\s*epoch\s+(\d+)\b", line))}
    when = epoch_done.get(int(best["epoch"]))
    when_text = (f"{when / 60:.1f} min after the start of the training command (data preparation included)"
                 if when is not None else f"{sum(seconds[:int(best['epoch'])]) / 60:.1f} min of training epochs")
    print(f"training: {len(rows)} epochs, median {statistics.median(seconds):.1f} s/epoch, "
          f"{statistics.median(rates):,.0f} tgt tok/s (median)", flush=True)
    print(f"best validation BLEU {float(best['valid_bleu']):.2f} at epoch {best['epoch']}, {when_text}", flush=True)
    status, lines = stream(seq2seq_command("evaluate", str(out / "run" / "best.pt"), "--beam", "5",
                                           "--device", str(device)), out, 600.0, data_dir)
    text = "\n".join(line for _, line in lines)
    greedy, beam = re.search(r"BLEU greedy: ([\d.]+)", text), re.search(r"BLEU beam 5[^:]*: ([\d.]+)", text)
    if status != 0 or not greedy or not beam:
        print(f"evaluation FAILED (exit status {status})", flush=True)
        return ["evaluation"]
    print(f"test BLEU: greedy {greedy.group(1)}, beam 5 {beam.group(1)} (best.pt: the epoch of the lowest "
          "validation loss)", flush=True)
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU at toy size")
    parser.add_argument("--data-dir", default=None, help="where multi30k/ is (default: $SEQ2SEQ_DATA_DIR)")
    parser.add_argument("--out", default=None, help="checkpoints and logs (default: /tmp/gpu_check[_dry_run])")
    parser.add_argument("--minutes", type=float, default=8.0, help="the whole run's time budget")
    args = parser.parse_args(argv)
    started = time.monotonic()
    out = Path(args.out or f"/tmp/gpu_check{'_dry_run' if args.dry_run else ''}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    if args.dry_run:
        torch.set_num_threads(2)
    device = torch.device("cpu") if args.dry_run else get_device("auto")
    print(f"gpu_check{' --dry-run' if args.dry_run else ''}: torch {torch.__version__}, device {device}, "
          f"output in {out}", flush=True)
    status, _ = stream(seq2seq_command("env", "--device", str(device)), out, 120.0, args.data_dir)
    failed = [] if status == 0 else ["env"]
    failed += run_checks(args.dry_run, device)
    if device.type != "cuda" and not args.dry_run:
        failed.append("training (not started: no GPU; use --dry-run on a CPU)")
    else:
        failed += train_and_evaluate(args.dry_run, device, out, args.minutes * 60 - (time.monotonic() - started),
                                     args.data_dir)
    minutes = (time.monotonic() - started) / 60
    print(f"gpu_check: {'all passed' if not failed else 'FAILED: ' + ', '.join(failed)} in {minutes:.1f} min",
          flush=True)
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
