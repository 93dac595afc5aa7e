"""The runnable system: train, evaluate, translate and compare from one plain config (provided code, no question).

``python -m seq2seq train|evaluate|translate|compare|demo`` (see ``seq2seq.__main__``) calls the functions here;
the notebook can call them too. Everything a run needs is in :class:`seq2seq.config.RunConfig`, read from a JSON
file and/or command-line flags; a run writes into ``config.out_dir``:

* ``last.pt`` after every epoch and ``best.pt`` whenever the validation loss improves (:mod:`seq2seq.checkpoint`:
  the weights, the optimizer and AMP scaler states, both vocabularies and languages, the model and run configs,
  the history and the early-stopping state), so that ``--resume`` goes on exactly where the run stopped, and
  ``evaluate``/``translate`` need nothing but the checkpoint;
* with ``average_last`` N > 0, ``averaged.pt`` at the end: a checkpoint of the mean of the weights after the last N
  epochs (kept meanwhile as ``weights-epochE.pt``, so that a resumed run averages the same epochs), its validation
  loss and BLEU printed and in ``averaged.json``;
* ``log.csv``, one row per epoch (losses, perplexities, validation BLEU, learning rate, seconds, target tokens
  per second);
* ``config.json``, the run config as used.

Devices: ``auto`` picks CUDA when there is one. Mixed precision (``amp``): on CUDA, ``auto`` chooses bfloat16
where the GPU supports it, else float16 with a ``GradScaler`` (float16 gradients underflow without one). On the
CPU, ``auto`` means float32 (the course's default: exact and the same on every machine); ``amp=bf16`` trains under
bfloat16 autocast where the CPU multiplies bfloat16 natively (AVX512-BF16 or AMX: about 1.75x the float32 tokens
per second for the reference model on the 2-core machine measured); elsewhere, where oneDNN would emulate it
slower than float32, the run says so in one line and goes on in float32 (fp16 likewise, off CUDA). Q23's
``train_epoch`` trains in every precision unchanged: :mod:`seq2seq.precision` wraps the model in autocast and the
optimizer in the ``GradScaler``'s steps. Batches are pinned in memory on CUDA (faster copies).
"""
from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sacrebleu
import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence

from seq2seq import ASSIGNMENT_DIR, PAD, onednn
from seq2seq.checkpoint import Checkpoint, average_weights, load_checkpoint, save_checkpoint
from seq2seq.config import RunConfig
from seq2seq.corpora import load_multi30k, load_tatoeba, synthetic_corpus
from seq2seq.data import DATA_ENV, Corpus, Data, TranslationDataset, detokenize, prepare, resolve_data_dir, tokenize
from seq2seq.distributed import Processes, processes
from seq2seq.ensemble import Ensemble
from seq2seq.environment import get_device, set_seed
from seq2seq.evaluation import bleu_signature, compare_models, evaluate
from seq2seq.model import ModelConfig
from seq2seq.precision import mixed_precision
from seq2seq.search import translate
from seq2seq.stopping import CappedLoader, StopGuard, ctrl_c_stops
from seq2seq.subwords import SubwordVocab, vocabularies
from seq2seq.training import EarlyStopping, History, diverged, make_optimizer, smooth, train_epoch
from seq2seq.variants import build, trained
from seq2seq.visualisation import alignment_report


# ================================================================================================== devices
def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device``, or None for float32 (see the module docstring).

    ``bf16`` and ``fp16`` mean "where this device does it natively": elsewhere the run goes on in float32 and
    says so in one line (a recipe written on a machine with native bfloat16 still runs on an AVX2 laptop)."""
    if amp == "off" or (amp == "auto" and device.type != "cuda"):
        return None
    if device.type == "cuda":
        if amp == "auto":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if amp == "fp16" or torch.cuda.is_bf16_supported():
            return {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]
        why = "this GPU has no bfloat16"
    elif amp == "bf16" and device.type == "cpu" and onednn.bf16_native():
        return torch.bfloat16
    else:
        why = ("this CPU has no native bfloat16 products (AVX512-BF16 or AMX)" if amp == "bf16" and
               device.type == "cpu" else f"{amp} autocast needs a CUDA device and this run is on {device}")
    _say(f"amp={amp}: {why}; running in float32 instead")
    return None


def decoding_precision(amp: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Decoding under autocast for ``amp`` (``off``: float32; ``bf16``/``fp16`` as :func:`resolve_amp` allows on
    ``device``). On the CPU, bf16 runs the decoder's products in bfloat16 (:mod:`seq2seq.onednn`): faster, and a
    translation may change where two words are nearly tied."""
    dtype = resolve_amp(amp, device)
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def make_scaler(amp_dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """A GradScaler for float16 only: bfloat16 has float32's range, so its gradients do not underflow."""
    return torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None


# ================================================================================================== data
def load_corpus(config: RunConfig) -> Corpus:
    """The run's corpus. For a real one, ``config.data_dir`` is set to the folder it came from (absolute), so that
    the run's checkpoints remember it: ``evaluate`` and ``translate`` find the data again without being told."""
    if config.corpus == "synthetic":
        reverse = config.src == "fr"
        return synthetic_corpus(config.synthetic_train, config.synthetic_eval, config.synthetic_eval,
                                seed=config.seed, reverse=reverse)
    config.data_dir = str(data_folder(config.data_dir))
    if config.corpus == "tatoeba":
        return load_tatoeba(config.data_dir, reverse=config.src == "fr")
    return load_multi30k(config.data_dir, config.src or "de", config.tgt or "en")


def data_folder(recorded: str | None) -> Path:
    """The data folder: ``recorded`` (given, or remembered by a checkpoint) or ``$SEQ2SEQ_DATA_DIR``; where the
    remembered folder is gone (a checkpoint brought from another machine), ``$SEQ2SEQ_DATA_DIR`` when it is set."""
    if recorded is not None and not Path(recorded).is_dir() and os.environ.get(DATA_ENV):
        print(f"data folder {recorded} not found: using ${DATA_ENV} ({os.environ[DATA_ENV]})")
        recorded = None
    return resolve_data_dir(recorded).resolve()


def split_tokens(text: str, lang: str, *, lower: bool = True) -> list[str]:
    """The synthetic corpus's tokens are its space-separated words (spaCy agrees and takes seconds to load)."""
    return (text.lower() if lower else text).split()


def tokenizer_for(corpus_name: str):
    return split_tokens if corpus_name == "synthetic" else tokenize


def prepare_data(config: RunConfig) -> Data:
    """The run's corpus, tokenised into words, with word vocabularies (``min_freq``) or, with ``subwords``,
    SentencePiece vocabularies learnt on the training split (:mod:`seq2seq.subwords`; the tokens stay words)."""
    data = prepare(load_corpus(config), min_freq=config.min_freq, lower=config.lowercase,
                   tokenizer=tokenizer_for(config.corpus))
    if not config.subwords:
        return data
    train = data.tokens["train"]
    src_vocab, tgt_vocab = vocabularies(train, config.subwords, model_type=config.subword_model,
                                        shared=config.shared_vocab)
    datasets = {split: TranslationDataset(pairs, src_vocab, tgt_vocab) for split, pairs in data.tokens.items()}
    return Data(data.corpus, src_vocab, tgt_vocab, data.tokens, datasets)


def true_references(data: Data, split: str) -> list[list[str]]:
    """The split's target sentences as tokens, in dataset order (words outside the vocabulary kept as they are)."""
    return [tgt for _, tgt in data.tokens[split]]


def detokenised_bleu(hypotheses: list[list[str]], data: Data, split: str) -> dict[str, tuple[float, str]]:
    """BLEU as others report it: the hypotheses detokenised against the split's raw target sentences, with
    sacrebleu's default settings (13a tokenisation, case-sensitive: a lower-cased model's every missing capital
    counts against it) and case-insensitive (``-lc``).

    Returns ``{"cased": (bleu, signature), "lowercased": (bleu, signature)}``."""
    outputs = [detokenize(tokens, data.corpus.tgt_lang) for tokens in hypotheses]
    references = [[tgt for _, tgt in data.corpus[split]]]
    scores = {}
    for name, metric in (("cased", sacrebleu.metrics.BLEU()), ("lowercased", sacrebleu.metrics.BLEU(lowercase=True))):
        scores[name] = (metric.corpus_score(outputs, references).score, str(metric.get_signature()))
    return scores


# ================================================================================================== train
def _say(message: str) -> None:
    print(message, flush=True)


@dataclass
class TrainingRun:
    """What a training run carries from epoch to epoch; ``epoch`` is the last one done (0 before the first).
    ``guard`` stops it early (:mod:`seq2seq.stopping`). ``trainer`` is what ``train_epoch`` trains: the model, in
    a ``variants.WordDropout`` with ``word_dropout``, in DDP under torchrun (:mod:`seq2seq.distributed`); ``model``
    is always the plain model (evaluated, saved)."""

    config: RunConfig
    data: Data
    device: torch.device
    model: nn.Module
    optimizer: torch.optim.Optimizer
    amp_dtype: torch.dtype | None
    scaler: torch.amp.GradScaler | None
    group: Processes = field(default_factory=Processes)
    trainer: nn.Module | None = None
    history: History = field(default_factory=History)
    stopper: EarlyStopping = field(default_factory=EarlyStopping)
    epoch: int = 0
    batches_done: int = 0  # of epoch ``epoch + 1``, when the run stopped within it (seq2seq.stopping)
    guard: StopGuard = field(default_factory=StopGuard)

    def say(self, message: str) -> None:
        """Print, from one process only."""
        if self.group.is_main:
            _say(message)


def start_run(config: RunConfig, data: Data | None = None, *, resume: bool = False,
              group: Processes | None = None) -> TrainingRun:
    """Seed, prepare the data (unless given), build the model and its optimizer; with ``resume``, load the state
    of ``out_dir/last.pt`` into them (the data options must give the checkpoint's vocabularies). ``group``: the
    processes of a torchrun run (None: this process alone)."""
    group = group or Processes()
    if config.threads:
        torch.set_num_threads(config.threads)
    device = group.device(get_device(config.device))
    amp_dtype = resolve_amp(config.amp, device)
    set_seed(config.seed)
    data = data or prepare_data(config)
    model = build(config.model_config(len(data.src_vocab), len(data.tgt_vocab))).to(device)
    run = TrainingRun(config, data, device, model, make_optimizer(model, config.lr, config.weight_decay), amp_dtype,
                      make_scaler(amp_dtype), group, stopper=EarlyStopping(config.patience),
                      guard=StopGuard(config.max_steps, config.max_minutes))
    if resume:
        _resume(run, Path(config.out_dir) / "last.pt")
    run.trainer = group.wrap(trained(model, config.word_dropout), device)
    return run


def _resume(run: TrainingRun, last: Path) -> None:
    """Load a run's state from its last checkpoint (every process reads it)."""
    checkpoint = load_checkpoint(last, run.device)
    if checkpoint.src_vocab != run.data.src_vocab or checkpoint.tgt_vocab != run.data.tgt_vocab:
        raise ValueError(f"{last} was trained on other vocabularies: resume with the same data options")
    state = checkpoint.state
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    if run.scaler is not None and state["scaler"] is not None:
        run.scaler.load_state_dict(state["scaler"])
    run.history = History(state["history"]["steps"], state["history"]["epochs"])
    run.stopper = EarlyStopping(**state["stopper"])
    torch.set_rng_state(state["torch_rng"].cpu())
    run.epoch, run.batches_done = state["epoch"], state.get("batches_done", 0)
    within = f" and {run.batches_done} batches of epoch {run.epoch + 1}" if run.batches_done else ""
    run.say(f"resumed from {last} after epoch {run.epoch}{within}")


def train_one_epoch(run: TrainingRun, loader: Any) -> tuple[float, float]:
    """Epoch ``run.epoch + 1``: set its learning rate (:meth:`RunConfig.lr_at`) and train on ``loader`` with
    Q23's ``train_epoch``; return ``(mean training loss per target token, seconds)``. Under torchrun, the loss
    and the step losses logged are those of the whole batches, every process's shard together. A
    :class:`CappedLoader` that stopped early leaves ``run.epoch`` as it was and ``run.batches_done`` set."""
    epoch, config = run.epoch + 1, run.config
    for param_group in run.optimizer.param_groups:
        param_group["lr"] = config.lr_at(epoch)
    run.group.seed_epoch(config.seed, epoch)
    first = run.batches_done  # a run resumed within this epoch goes on after the batches it trained on
    shards = History()
    started = time.perf_counter()
    # Q23's loop knows nothing of mixed precision: autocast and the GradScaler come with the model and optimizer
    trainer, optimizer, clip = mixed_precision(run.trainer, run.optimizer, config.clip, run.device, run.amp_dtype,
                                               run.scaler)
    loss = train_epoch(trainer, loader, optimizer, clip=clip, teacher_forcing_ratio=config.teacher_forcing_ratio,
                       device=run.device, history=shards, progress=config.progress and run.group.is_main,
                       label_smoothing=config.label_smoothing)
    seconds = time.perf_counter() - started
    steps, loss = run.group.combine(shards.steps, loss, getattr(loader, "loader", loader), run.device, first)
    run.history.steps.extend(steps)
    if getattr(loader, "stopped", False):
        run.batches_done = loader.position
    else:
        run.epoch, run.batches_done = epoch, 0
    return loss, seconds


EpochHook = Callable[[int, nn.Module, dict[str, float]], bool | None]


def train(config: RunConfig, *, resume: bool = False, data: Data | None = None,
          on_epoch: EpochHook | None = None) -> dict[str, Any]:
    """Train as the config says; return ``{"best": path, "last": path, "history": History, "data": Data}``.

    Every epoch: train (:func:`train_one_epoch`), evaluate on the validation split (loss, greedy BLEU), append a
    row to ``log.csv``, save ``last.pt`` (and ``best.pt`` when the validation loss improved), print one line;
    stop early on ``patience`` epochs without improvement or on divergence. ``on_epoch(epoch, model, row)``, when
    given, is called after that with the epoch's ``log.csv`` row; returning True stops the run (the benchmark's
    time budget). Under ``torchrun`` the processes share every batch (:mod:`seq2seq.distributed`), and process 0
    alone evaluates, writes, prints and calls ``on_epoch``.

    ``max_steps``/``max_minutes`` or a first Ctrl-C stop the run after its current step: ``last.pt`` is saved
    within the epoch (and ``best.pt`` too when no epoch was validated yet), so that ``evaluate`` and ``--resume``
    work, and the result's ``"stopped"`` says why (None: the run ended as configured)."""
    with processes(get_device(config.device)) as group:
        run = start_run(config, data, resume=resume, group=group)
        with ctrl_c_stops(run.guard):
            return _train_epochs(run, on_epoch)


def _train_epochs(run: TrainingRun, on_epoch: EpochHook | None) -> dict[str, Any]:
    config, data, group, out = run.config, run.data, run.group, Path(run.config.out_dir)
    if group.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n", encoding="utf-8")
    n_params = sum(p.numel() for p in run.model.parameters())
    autocast = f", autocast {str(run.amp_dtype).split('.')[-1]}" if run.amp_dtype else ""
    sharing = f"; {group.world_size} processes sharing every batch" if group.active else ""
    run.say(f"{data.corpus!r}; vocab {len(data.src_vocab)}/{len(data.tgt_vocab)}; model {n_params:,} parameters; "
            f"device {run.device}{autocast}{sharing}")
    train_loader = group.shard(data.loader("train", config.batch_size, seed=config.seed, device=run.device))
    train_loader.batch_sampler.set_epoch(run.epoch)  # a resumed run sees the batches it would have seen
    train_loader = CappedLoader(train_loader, run.guard, skip=run.batches_done,
                                agree=lambda stop: group.from_main(lambda: stop))
    valid_loader = data.loader("valid", config.batch_size, device=run.device)
    valid_refs = true_references(data, "valid")
    tokens_per_epoch = sum(len(t) - 1 for t in data.datasets["train"].tgt)
    last, best = out / "last.pt", out / "best.pt"
    # A resumed run whose stopper had stopped it trains no more; patience=0 still trains one epoch, then stops.
    while run.epoch < config.epochs and not (run.epoch and run.stopper.bad_epochs >= run.stopper.patience):
        train_loss, seconds = train_one_epoch(run, train_loader)
        if train_loader.stopped:
            _save_stopped(run, out)
            break
        valid = group.from_main(lambda s=seconds: _validate(run, valid_loader, valid_refs) | {"seconds": s})
        run.history.log_epoch(train_loss, valid["loss"], valid_bleu=valid["bleu"], lr=config.lr_at(run.epoch),
                              seconds=valid["seconds"], tokens_per_s=tokens_per_epoch / valid["seconds"])
        stop = run.stopper.step(valid["loss"])
        if group.is_main:
            run.history.to_csv(out / "log.csv")
            save_checkpoint(last, model=run.model, optimizer=run.optimizer, scaler=run.scaler, data=data,
                            config=config, history=run.history, stopper=run.stopper, epoch=run.epoch)
            if run.stopper.improved:
                best.write_bytes(last.read_bytes())
            _keep_weights(run, out)
        run.say(f"epoch {run.epoch:>3}  train {train_loss:.3f}  valid {valid['loss']:.3f} (ppl {valid['ppl']:.2f})  "
                f"valid BLEU {valid['bleu']:.2f}  {valid['seconds']:.1f}s  "
                f"{tokens_per_epoch / valid['seconds']:,.0f} tgt tok/s{'  *' if run.stopper.improved else ''}")
        if diverged([row["train_loss"] for row in run.history.epochs]):
            run.say("training diverged (the epoch loss rose far above its best): stopping; lower lr or clip harder")
            break
        if stop:
            run.say(f"early stop: no improvement for {run.stopper.patience} epochs "
                    f"(best epoch {run.stopper.best_epoch})")
            break
        if on_epoch is not None and group.from_main(lambda: on_epoch(run.epoch, run.model, run.history.epochs[-1])):
            break
    result = {"best": best, "last": last, "history": run.history, "data": data, "stopped": run.guard.reason}
    if config.average_last and run.epoch and run.guard.reason is None:
        result["averaged"] = out / "averaged.pt"
        group.from_main(lambda: _write_average(run, out, valid_loader, valid_refs))
    return result


def _save_stopped(run: TrainingRun, out: Path) -> None:
    """Save a run stopped within an epoch (:mod:`seq2seq.stopping`): ``last.pt`` with the batches done, and
    ``best.pt`` as well when no epoch has been validated yet (so there is a checkpoint to evaluate)."""
    last, best = out / "last.pt", out / "best.pt"
    if run.group.is_main:
        save_checkpoint(last, model=run.model, optimizer=run.optimizer, scaler=run.scaler, data=run.data,
                        config=run.config, history=run.history, stopper=run.stopper, epoch=run.epoch,
                        batches_done=run.batches_done)
        if not best.is_file():
            best.write_bytes(last.read_bytes())
    run.say(f"stopped: {run.guard.reason}, after {run.batches_done} batches of epoch {run.epoch + 1}; saved {last}. "
            "Go on with the same command and --resume")


def _keep_weights(run: TrainingRun, out: Path) -> None:
    """Keep the weights after this epoch for ``averaged.pt``, and drop those too old to be averaged."""
    if run.config.average_last:
        torch.save(run.model.state_dict(), out / f"weights-epoch{run.epoch}.pt")
        (out / f"weights-epoch{run.epoch - run.config.average_last}.pt").unlink(missing_ok=True)


def _write_average(run: TrainingRun, out: Path, loader: Any, references: list[list[str]]) -> None:
    """Write ``averaged.pt`` (and ``averaged.json``): the mean weights of the last ``average_last`` epochs kept,
    validated like an epoch; the run's model gets its last weights back after."""
    epochs = [e for e in range(run.epoch - run.config.average_last + 1, run.epoch + 1)
              if (out / f"weights-epoch{e}.pt").is_file()]
    if not epochs:
        raise ValueError(f"average_last={run.config.average_last}: no weights-epochE.pt kept in {out} for the last "
                         "epochs (the run was started without average_last)")
    states = [torch.load(out / f"weights-epoch{e}.pt", map_location=run.device, weights_only=True) for e in epochs]
    last_weights = {key: value.clone() for key, value in run.model.state_dict().items()}
    run.model.load_state_dict(average_weights(states))
    valid = _validate(run, loader, references)
    save_checkpoint(out / "averaged.pt", model=run.model, optimizer=run.optimizer, scaler=run.scaler,
                    data=run.data, config=run.config, history=run.history, stopper=run.stopper, epoch=run.epoch)
    run.model.load_state_dict(last_weights)
    (out / "averaged.json").write_text(json.dumps({"epochs": epochs} | valid, indent=2) + "\n", encoding="utf-8")
    run.say(f"averaged.pt: the mean weights of epochs {epochs[0]}-{epochs[-1]}  valid {valid['loss']:.3f} "
            f"(ppl {valid['ppl']:.2f})  valid BLEU {valid['bleu']:.2f}")


def _validate(run: TrainingRun, loader: Any, references: list[list[str]]) -> dict[str, float]:
    """The validation loss, perplexity and greedy BLEU of the run's model."""
    valid = evaluate(run.model, loader, run.data.tgt_vocab, device=run.device, max_len=run.config.max_len,
                     references=references)
    return {key: valid[key] for key in ("loss", "ppl", "bleu")}


# ================================================================================================== evaluate
def with_ensemble(checkpoint: Checkpoint, path: str | Path, ensemble: tuple[str | Path, ...],
                  device: torch.device) -> nn.Module:
    """The model that decodes: the checkpoint's, or, with ``ensemble`` (more checkpoints, same vocabularies), an
    :class:`seq2seq.ensemble.Ensemble` of it and them (their probabilities averaged). Used by ``evaluate`` and
    ``translate`` alike."""
    if not ensemble:
        return checkpoint.model
    members = [load_checkpoint(other, device) for other in ensemble]
    for other, member in zip(ensemble, members):
        if member.src_vocab != checkpoint.src_vocab or member.tgt_vocab != checkpoint.tgt_vocab:
            raise ValueError(f"{other}: its vocabularies differ from {path}'s, so it cannot join the ensemble")
    _say(f"ensemble of {len(members) + 1} checkpoints: {path}, {', '.join(map(str, ensemble))}")
    return Ensemble([checkpoint.model, *(member.model for member in members)])


def evaluate_checkpoint(path: str | Path, *, split: str = "test", beams: tuple[int, ...] = (1, 5),
                        device: str = "auto", data: Data | None = None, data_dir: str | None = None,
                        batch_size: int | None = None, length_penalty: float | None = None,
                        ensemble: tuple[str | Path, ...] = (), amp: str = "off") -> dict[int, dict[str, Any]]:
    """BLEU (sacrebleu, signature printed) of a checkpoint on a split, greedy and with each beam size; on the
    synthetic corpus also the attention's alignment error rate against the gold alignments.

    ``data`` (None: prepared as the run config says, from ``data_dir`` when given), ``batch_size`` and
    ``length_penalty``: None takes the run config's. ``ensemble``: more checkpoints with the same vocabularies,
    decoded together with this one (:class:`seq2seq.ensemble.Ensemble`). ``amp``: decode under autocast
    (:func:`decoding_precision`)."""
    dev = get_device(device)
    precision = decoding_precision(amp, dev)
    checkpoint = load_checkpoint(path, dev)
    config = checkpoint.config
    alpha = config.length_penalty if length_penalty is None else length_penalty
    if data_dir is not None:
        config.data_dir = data_dir
    data = data or prepare_data(config)
    if data.src_vocab != checkpoint.src_vocab or data.tgt_vocab != checkpoint.tgt_vocab:
        raise ValueError(f"{path}: the data's vocabularies differ from the checkpoint's")
    model = with_ensemble(checkpoint, path, ensemble, dev)
    # Dataset order on any split, "train" included (it is shuffled by default): hypotheses meet their references.
    loader = data.loader(split, batch_size or config.batch_size, shuffle=False, bucket=False, device=dev)
    results = {}
    for beam in beams:
        started = time.perf_counter()
        with precision:
            results[beam] = evaluate(model, loader, data.tgt_vocab, device=dev, beam_size=beam,
                                     max_len=config.max_len, length_penalty=alpha,
                                     references=true_references(data, split))
        _say(f"{split} BLEU {'greedy' if beam == 1 else f'beam {beam} (length penalty {alpha})'}: "
             f"{results[beam]['bleu']:.2f}  "
             f"(loss {results[beam]['loss']:.3f}, {time.perf_counter() - started:.1f}s)")
        if not config.lowercase:  # a cased model: its tokens' BLEU is cased; lower-cased models' figure beside it
            lowered = sacrebleu.metrics.BLEU(tokenize="none", lowercase=True, force=True)
            score = lowered.corpus_score([" ".join(h) for h in results[beam]["hypotheses"]],
                                         [[" ".join(r) for r in true_references(data, split)]])
            results[beam]["lowercased"] = (score.score, str(lowered.get_signature()))
            _say(f"  lower-cased tokens: {score.score:.2f} ({lowered.get_signature()})")
        if not data.corpus.name.startswith("synthetic"):  # real corpora: the figure others report too
            detok = detokenised_bleu(results[beam]["hypotheses"], data, split)
            results[beam]["detokenised"] = detok
            _say("  detokenised: " + "; ".join(f"{bleu:.2f} ({signature})" for bleu, signature in detok.values()))
    _say(f"sacrebleu signature: {bleu_signature()} ({'lower-cased' if config.lowercase else 'cased'} tokens, "
         "joined by spaces)")
    if data.corpus.alignments is not None and config.attention != "none" and not ensemble and not config.subwords:
        try:
            scores = alignment_report(model, data, split, device=dev, batch_size=batch_size or config.batch_size)
        except NotImplementedError:  # the student release before Q29 is answered
            _say("alignment error rate: skipped (Q29's functions are not implemented yet)")
        else:
            _say(f"{split} alignment error rate of the attention (argmax per target word, teacher forcing) against "
                 f"the gold alignments: {scores['aer']:.3f}; a random alignment: {scores['chance']:.3f}")
            results[beams[0]]["alignment"] = scores
    return results


# ================================================================================================== translate
def translate_sentences(path: str | Path, sentences: list[str], *, beam_size: int = 5, device: str = "auto",
                        heatmaps: str | Path | None = None, length_penalty: float | None = None,
                        batch_size: int | None = None, amp: str = "off", ensemble: tuple[str | Path, ...] = (),
                        keep_heatmaps: bool = True) -> list[str]:
    """Translate raw sentences with a checkpoint (and the ``ensemble``'s, :func:`with_ensemble`), ``batch_size``
    (None: the run config's) at a time through :func:`seq2seq.search.translate`: beam search of ``beam_size``
    (5 by default, the headline decoding; 1: greedy) with ``length_penalty`` (None: the run config's); ``amp``:
    :func:`decoding_precision`. With ``heatmaps``, one attention PNG per sentence there, named by
    :func:`heatmap_paths` (``keep_heatmaps``: never overwrite an earlier run's)."""
    dev = get_device(device)
    precision = decoding_precision(amp, dev)
    checkpoint = load_checkpoint(path, dev)
    model = with_ensemble(checkpoint, path, ensemble, dev)
    config, src_vocab, tgt_vocab = checkpoint.config, checkpoint.src_vocab, checkpoint.tgt_vocab
    alpha = config.length_penalty if length_penalty is None else length_penalty
    tokenizer = tokenizer_for(config.corpus)
    words = [tokenizer(sentence, checkpoint.src_lang, lower=config.lowercase) for sentence in sentences]
    pngs = heatmap_paths(Path(heatmaps), len(sentences), keep=keep_heatmaps) if heatmaps is not None else None
    _say(f"decoding: {'greedy' if beam_size == 1 else f'beam {beam_size}, length penalty {alpha}'}")
    size = batch_size or config.batch_size
    outputs = []
    for start in range(0, len(words), size):
        ids = [torch.tensor(src_vocab.encode(w)) for w in words[start:start + size]]  # <sos> ... <eos>
        src = pad_sequence(ids, batch_first=True, padding_value=PAD).to(dev)  # (batch, src_len)
        lengths = torch.tensor([len(i) for i in ids])  # (batch,)
        limit = config.max_len or 2 * lengths + 10
        with precision:
            results = translate(model, src, lengths, beam_size, limit, alpha)
        for i, result in enumerate(results, start=start):
            out_words = tgt_vocab.decode(result.tokens)
            outputs.append(detokenize(out_words, checkpoint.tgt_lang))
            _say(f"{sentences[i]}\n  -> {outputs[-1]}")
            if pngs is not None:
                _heatmap(result.attention, words[i], result.tokens, src_vocab, tgt_vocab, sentences[i], pngs[i])
    return outputs


def heatmap_paths(folder: Path, count: int, *, keep: bool = True) -> list[Path]:
    """Where the heatmaps of ``count`` sentences go: ``attention_N.png`` for sentence N (from 1) the first time;
    when the folder already holds a run's heatmaps (and ``keep``), ``attention_N_runR.png`` with R = 2, 3, ...
    the next run number, so that translating again into the same folder never overwrites earlier files."""
    runs = [1] if (folder / "attention_1.png").exists() else []
    runs += [int(p.stem.rsplit("_run", 1)[1]) for p in folder.glob("attention_*_run*.png")
             if p.stem.rsplit("_run", 1)[1].isdigit()]
    run = max(runs) + 1 if keep and runs else 1
    suffix = "" if run == 1 else f"_run{run}"
    return [folder / f"attention_{n}{suffix}.png" for n in range(1, count + 1)]


def _heatmap(attention: torch.Tensor, src_words: list[str], out_ids: list[int], src_vocab: Any, tgt_vocab: Any,
             title: str, path: Path) -> None:
    """One sentence's attention ``(output steps, source length)`` as a PNG, labelled with what the model read
    and wrote at each position: words, source words outside the vocabulary marked ``(unk)``; or, with subword
    vocabularies, pieces."""
    from seq2seq.visualisation import plot_attention, save

    subwords = isinstance(tgt_vocab, SubwordVocab)
    out_labels = tgt_vocab.pieces(out_ids) if subwords else tgt_vocab.decode(out_ids)
    if not out_labels:
        _say("  heatmap: none (the translation is empty)")
        return
    src_tokens = (src_vocab.segment(src_words) if isinstance(src_vocab, SubwordVocab)
                  else [w if w in src_vocab else f"{w}(unk)" for w in src_words])
    src_labels = ["<sos>", *src_tokens, "<eos>"]
    _say(f"  heatmap: {save(plot_attention(attention, src_labels, out_labels, title=title), path)}")


# ================================================================================================== compare
def compare(config: RunConfig, data: Data | None = None) -> list[dict[str, Any]]:
    """Q27's table: the configured attention model against the same model without attention."""
    if config.threads:
        torch.set_num_threads(config.threads)
    data = data or prepare_data(config)
    attention = config.model_config(len(data.src_vocab), len(data.tgt_vocab))
    if attention.attention == "none":
        attention.attention = "additive"
    vanilla = ModelConfig(**{**asdict(attention), "attention": "none"})
    table = compare_models(data, {"attention": attention, "vanilla": vanilla}, epochs=config.epochs,
                           batch_size=config.batch_size, lr=config.lr, clip=config.clip, seed=config.seed,
                           device=get_device(config.device), progress=config.progress)
    _say(format_table(table))
    return table


def format_table(table: list[dict[str, Any]]) -> str:
    columns = list(table[0])
    lines = ["  ".join(f"{c:>10}" for c in columns)]
    for row in table:
        lines.append("  ".join(f"{row[c]:>10.2f}" if isinstance(row[c], float) else f"{row[c]!s:>10}"
                               for c in columns))
    return "\n".join(lines)


# ================================================================================================== demo
# Sized to train in about a minute on 2 free CPU threads (test BLEU ~90); a busy machine takes 2-3 times longer.
DEMO = dict(corpus="synthetic", synthetic_train=3000, synthetic_eval=200, min_freq=1, emb_dim=64, hidden_size=128,
            dec_hidden=128, dropout=0.1, epochs=5, batch_size=64, lr=4e-3, patience=2, seed=2026, threads=2,
            out_dir="runs/demo", device="cpu", beam_size=3, progress=False)


def default_runs_dir() -> Path:
    """``runs/`` under the current directory, except inside the course repository's generated trees
    (``solutions/``, ``assignments/``): the generator's staleness test and the autograder's reference fingerprint
    compare those trees file by file, so runs go to the repository's own git-ignored ``runs/`` there."""
    repo = ASSIGNMENT_DIR.parent.parent
    if Path.cwd().resolve().is_relative_to(ASSIGNMENT_DIR) and (repo / "tools" / "generate.py").is_file():
        return repo / "runs"
    return Path("runs")


def demo(device: str = "cpu", out_dir: str | Path | None = None, **overrides: Any) -> dict[str, Any]:
    """The README's main job: train on the embedded synthetic corpus (CPU, a couple of minutes), report test BLEU
    with sacrebleu's signature, translate a few sentences and draw an attention heatmap and the loss curves."""
    from seq2seq.environment import environment_report
    from seq2seq.visualisation import plot_losses, save

    started = time.perf_counter()
    out_dir = Path(out_dir) if out_dir is not None else default_runs_dir() / "demo"
    config = RunConfig(**{**DEMO, "device": device, "out_dir": str(out_dir), **overrides})
    _say(environment_report(config.device))
    set_seed(config.seed)
    first = torch.rand(3)
    set_seed(config.seed)
    again = torch.rand(3)
    _say(f"seed {config.seed}   torch.rand(3) twice: {'identical' if torch.equal(first, again) else 'DIFFERENT'}")
    run = train(config)
    results = evaluate_checkpoint(run["best"], beams=(1, config.beam_size), device=config.device, data=run["data"])
    history = run["history"]
    curves = save(plot_losses(history.steps, history.epochs, smooth(history.steps, 0.95)), Path(out_dir) / "losses.png")
    _say(f"loss curves: {curves}")
    examples = [src for src, _ in run["data"].corpus.test[:3]]
    translate_sentences(run["best"], examples, beam_size=config.beam_size, device=config.device,
                        heatmaps=Path(out_dir), keep_heatmaps=False)  # a new demo run replaces its pictures
    _say(f"demo done in {time.perf_counter() - started:.0f}s; checkpoints, log.csv and PNGs in {out_dir}/")
    return {"bleu": {beam: r["bleu"] for beam, r in results.items()}, "run": run}
