"""Section 11, experimenting with hyperparameters: Q31 (the learning rate), Q32 (the hidden size), Q33 (the
teacher-forcing ratio) and Q34 (the attention score function).

A *study* trains one model per setting of one hyperparameter, everything else fixed, and returns a tidy table:
a list of records (dicts), one per setting, in the order the settings were given. Every setting gets the same
:class:`Budget` (epochs, batch size, learning rate, clipping, teacher forcing, seed) through :func:`run_setting`
(Q31), so the settings differ in that one hyperparameter only: same seed, so the same batches in the same order,
and the same initial weights wherever the architecture is the same.

Every record holds the setting under its own key (``"lr"``, ``"hidden_size"``, ``"teacher_forcing_ratio"`` or
``"attention"``) followed by :func:`run_setting`'s keys::

    {"lr": 0.001, "train_loss": [4.1, 3.2], "valid_loss": 3.0, "bleu": 12.5, "diverged": False,
     "parameters": 1234567, "epochs": 2, "seconds": 41.2}

Losses are mean cross-entropies per target token (nats, weighted by tokens as ``train_epoch`` and ``evaluate``
weigh them); BLEU is greedy, on the validation split, on tokens (``seq2seq.evaluation.bleu``). The test split is
never looked at: choosing hyperparameters on it would make its score an optimistic estimate.

Provided (not questions): :func:`plot_study` draws a study and :func:`run_studies` runs all four at two sizes
and writes ``<study>.csv``, ``<study>.png`` and ``summary.md``; from a terminal::

    python -m seq2seq experiments --size quick            # synthetic corpus, tiny models
    python -m seq2seq experiments --size real --study lr  # Tatoeba (the tutorial subset)
"""
from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure

from seq2seq.data import Data
from seq2seq.environment import set_seed
from seq2seq.evaluation import bleu_signature, evaluate
from seq2seq.model import ModelConfig, build_model
from seq2seq.training import diverged, make_optimizer, train_epoch

RECORD_KEYS = ("train_loss", "valid_loss", "bleu", "diverged", "parameters", "epochs", "seconds")


@dataclass(frozen=True)
class Budget:
    """The training budget every setting of a study shares (frozen: make variants with ``dataclasses.replace``).

    Attributes:
        epochs: passes over the training split (fewer when training diverges).
        batch_size: sentences per batch, for training and for evaluation.
        lr: Adam's learning rate.
        clip: the maximum total gradient norm (``None``: no clipping).
        teacher_forcing_ratio: passed to ``train_epoch`` (evaluation always uses 1.0 for the loss).
        seed: ``set_seed(seed)`` before building each model, and the seed of the training batches.
    """

    epochs: int = 2
    batch_size: int = 64
    lr: float = 1e-3
    clip: float | None = 1.0
    teacher_forcing_ratio: float = 1.0
    seed: int = 0


def run_setting(data: Data, config: ModelConfig, budget: Budget, *, device: torch.device | str | None = None,
                progress: bool = False) -> dict[str, Any]:
    """Q31 (part a): train one model with one budget, never crashing on divergence; return one study record.

    Exactly these steps, in this order (the graders replay them with the same seed and compare the numbers):

    1. ``set_seed(budget.seed)``, then ``model = build_model(config)`` moved to ``device`` and
       ``optimizer = make_optimizer(model, budget.lr)``: every setting starts from the same random state, so
       two settings with the same architecture start from the same weights;
    2. one training loader for the whole run, ``data.loader("train", budget.batch_size, seed=budget.seed)``
       (built once and iterated once per epoch, so that each epoch sees a new shuffle, the same in every setting);
    3. for each of ``budget.epochs`` epochs: ``train_epoch(model, loader, optimizer, clip=budget.clip,
       teacher_forcing_ratio=budget.teacher_forcing_ratio, device=device, progress=progress)`` and append its
       mean loss to ``train_loss``. Training has *diverged*, and stops at once, when ``train_epoch`` raises
       ``FloatingPointError`` (a NaN or infinite step loss; append ``math.nan`` for that epoch) or when
       ``diverged([math.log(len(data.tgt_vocab)), *train_loss])`` is true after an epoch. ``log(vocabulary
       size)`` is the loss of a uniform guess, about where an untrained model starts: a learning rate far too
       large can blow the loss up within the first epoch already, and then no later epoch is ever 3 times worse
       than the first; against the uniform guess it still shows;
    4. when it has not diverged: one ``evaluate(model, data.loader("valid", budget.batch_size), data.tgt_vocab,
       device=device, references=[tgt for _, tgt in data.tokens["valid"]])`` (greedy decoding; the true
       tokenised references, so that words outside the vocabulary do not read ``<unk>`` in them; the valid
       loader keeps dataset order, the order of ``data.tokens["valid"]``), whose ``"loss"`` and ``"bleu"`` go
       into the record. A diverged run is not evaluated: its weights are garbage.

    Args:
        data: a prepared corpus (``seq2seq.data.prepare`` or ``seq2seq.runner.prepare_data``).
        config: the model to build.
        budget: the training budget.
        device: where to train and evaluate; ``None``: the CPU.
        progress: tqdm bars while training.

    Returns:
        ``{"train_loss": list[float], "valid_loss": float, "bleu": float, "diverged": bool, "parameters": int,
        "epochs": int, "seconds": float}``: one mean training loss per epoch run (the epoch that diverged
        included, ``nan`` when it raised); the validation loss per target token and the greedy validation BLEU
        (0–100) of the final model (``nan`` and ``0.0`` when training diverged); whether it diverged; the number of
        parameters of the model (``sum(p.numel() for p in model.parameters())``); the number of epochs run
        (``len(train_loss)``); the wall-clock seconds of the whole setting.
    """
    started = time.perf_counter()
    if device is None:
        device = torch.device("cpu")
    set_seed(budget.seed)
    model = build_model(config).to(device)
    optimizer = make_optimizer(model, budget.lr)
    loader = data.loader("train", budget.batch_size, seed=budget.seed)
    uniform = math.log(len(data.tgt_vocab))  # the loss of a uniform guess, about where training starts
    train_loss: list[float] = []
    has_diverged = False
    for _ in range(budget.epochs):
        try:
            loss = train_epoch(model, loader, optimizer, clip=budget.clip,
                               teacher_forcing_ratio=budget.teacher_forcing_ratio, device=device, progress=progress)
        except FloatingPointError:
            train_loss.append(math.nan)
            has_diverged = True
            break
        train_loss.append(float(loss))
        if diverged([uniform, *train_loss]):
            has_diverged = True
            break
    valid_loss, valid_bleu = math.nan, 0.0
    if not has_diverged:
        result = evaluate(model, data.loader("valid", budget.batch_size), data.tgt_vocab, device=device,
                          references=[tgt for _, tgt in data.tokens["valid"]])
        valid_loss, valid_bleu = float(result["loss"]), float(result["bleu"])
    return {"train_loss": train_loss, "valid_loss": valid_loss, "bleu": valid_bleu, "diverged": has_diverged,
            "parameters": sum(p.numel() for p in model.parameters()), "epochs": len(train_loss),
            "seconds": time.perf_counter() - started}


def learning_rate_study(data: Data, config: ModelConfig, lrs: Sequence[float] = (3e-4, 1e-3, 3e-3, 30.0),
                        budget: Budget = Budget(), *, device: torch.device | str | None = None) -> list[dict[str, Any]]:
    """Q31 (part b): how the learning rate changes stability and performance: one model per learning rate.

    For each ``lr`` in ``lrs``, in order: :func:`run_setting` with ``config`` unchanged and ``budget`` with its
    ``lr`` replaced (``dataclasses.replace(budget, lr=lr)``), everything else of the budget as given. Too small a
    learning rate learns slowly (a high loss after the budget); too large a one makes the loss jump around or
    explode: the default list ends with 30.0, which diverges, and the study must report it
    (``"diverged": True``) and go on with the next setting, not crash.

    Args:
        data: a prepared corpus.
        config: the model, the same for every setting.
        lrs: the learning rates to try.
        budget: the shared budget (its ``lr`` is replaced by each setting's).
        device: where to train; ``None``: the CPU.

    Returns:
        One record per learning rate, in the order of ``lrs``: ``{"lr": lr, **run_setting(...)}``.
    """
    return [{"lr": lr, **run_setting(data, config, replace(budget, lr=lr), device=device)} for lr in lrs]


def hidden_size_study(data: Data, config: ModelConfig, sizes: Sequence[int] = (32, 64, 128),
                      budget: Budget = Budget(), *, device: torch.device | str | None = None) -> list[dict[str, Any]]:
    """Q32: how the size of the recurrent states changes the model's size and performance.

    For each ``h`` in ``sizes``, in order: :func:`run_setting` with a copy of ``config`` whose encoder
    ``hidden_size`` (per direction) *and* decoder ``dec_hidden`` are both ``h``
    (``dataclasses.replace(config, hidden_size=h, dec_hidden=h)``; the embeddings, the attention's own size
    ``attn_dim`` and everything else unchanged) and the same ``budget``. Changing only one of the two would
    change the bottleneck between encoder and decoder rather than the model's capacity. Never modify ``config``
    itself: the caller's config must come back as it was.

    Args:
        data: a prepared corpus.
        config: the base model; only its two hidden sizes change.
        sizes: the hidden sizes to try.
        budget: the shared budget.
        device: where to train; ``None``: the CPU.

    Returns:
        One record per size, in the order of ``sizes``: ``{"hidden_size": h, **run_setting(...)}`` (its
        ``"parameters"`` show how the model grows: roughly with ``h**2``).
    """
    return [{"hidden_size": h, **run_setting(data, replace(config, hidden_size=h, dec_hidden=h), budget,
                                             device=device)} for h in sizes]


def teacher_forcing_study(data: Data, config: ModelConfig, ratios: Sequence[float] = (1.0, 0.5, 0.0),
                          budget: Budget = Budget(), *,
                          device: torch.device | str | None = None) -> list[dict[str, Any]]:
    """Q33: how the teacher-forcing ratio changes convergence: one model per ratio.

    For each ``ratio`` in ``ratios``, in order: :func:`run_setting` with ``config`` unchanged and ``budget`` with
    its ``teacher_forcing_ratio`` replaced (``dataclasses.replace(budget, teacher_forcing_ratio=ratio)``). With
    1.0 the decoder always sees the gold previous word while training (fast, stable convergence, but it never
    practises on its own mistakes); with 0.0 always its own prediction (the training loss falls more slowly,
    since early mistakes feed later steps). The validation loss is always computed with teacher forcing and
    the BLEU with free-running greedy decoding, so the settings are compared on equal terms.

    Args:
        data: a prepared corpus.
        config: the model, the same for every setting.
        ratios: the teacher-forcing ratios to try, each in [0, 1].
        budget: the shared budget (its ``teacher_forcing_ratio`` is replaced by each setting's).
        device: where to train; ``None``: the CPU.

    Returns:
        One record per ratio, in the order of ``ratios``: ``{"teacher_forcing_ratio": ratio, **run_setting(...)}``.
    """
    return [{"teacher_forcing_ratio": ratio,
             **run_setting(data, config, replace(budget, teacher_forcing_ratio=ratio), device=device)}
            for ratio in ratios]


def score_function_study(data: Data, config: ModelConfig,
                         methods: Sequence[str] = ("dot", "general", "scaled_dot", "additive"),
                         budget: Budget = Budget(), *,
                         device: torch.device | str | None = None) -> list[dict[str, Any]]:
    """Q34: how the attention score function (Q13) changes performance: one model per method.

    For each ``method`` in ``methods``, in order: :func:`run_setting` with a copy of ``config`` whose
    ``attention`` is ``method`` (``dataclasses.replace(config, attention=method)``, all sizes unchanged) and the
    same ``budget``. ``dot`` and ``scaled_dot`` have no parameters of their own (beyond the key projection
    needed when the encoder's and decoder's sizes differ), ``general`` learns one matrix and ``additive`` a small
    feed-forward network, so ``"parameters"`` differ too. Never modify ``config`` itself.

    Args:
        data: a prepared corpus.
        config: the base model; only its ``attention`` changes.
        methods: score functions of ``seq2seq.attention.METHODS`` (or ``"none"``, the vanilla decoder).
        budget: the shared budget.
        device: where to train; ``None``: the CPU.

    Returns:
        One record per method, in the order of ``methods``: ``{"attention": method, **run_setting(...)}``.
    """
    return [{"attention": method, **run_setting(data, replace(config, attention=method), budget, device=device)}
            for method in methods]


# ================================================================================================== provided
STUDIES = {  # name: (study function, the record key of its setting, its title)
    "lr": (learning_rate_study, "lr", "learning rate"),
    "hidden": (hidden_size_study, "hidden_size", "hidden size (encoder per direction = decoder)"),
    "tf": (teacher_forcing_study, "teacher_forcing_ratio", "teacher-forcing ratio"),
    "score": (score_function_study, "attention", "attention score function"),
}


def _label(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def plot_study(records: Sequence[dict[str, Any]], x: str, title: str = "") -> Figure:
    """Draw a study (provided code): validation loss and BLEU against the setting, and the training curves.

    Settings go along the x axes as categories in the order of the records (learning rates, sizes, ratios and
    method names alike). Left: the validation loss per target token; middle: the greedy validation BLEU;
    right: the mean training loss of each epoch, one line per setting. A diverged setting gets a red cross at
    the top of the left and middle panels and a dashed line on the right (cut off at the top when its loss is
    far above the others').

    Args:
        records: a study's records (each with the key ``x`` and :func:`run_setting`'s keys).
        x: the record key of the setting, e.g. ``"lr"``.
        title: the figure's title.

    Returns:
        The ``matplotlib.figure.Figure`` (save it with ``seq2seq.visualisation.save``).
    """
    import matplotlib.pyplot as plt

    labels = [_label(r[x]) for r in records]
    positions = list(range(len(records)))
    fig, (loss_ax, bleu_ax, curve_ax) = plt.subplots(1, 3, figsize=(14, 3.8))
    for ax, key, name in ((loss_ax, "valid_loss", "valid loss (nats per token)"), (bleu_ax, "bleu", "valid BLEU")):
        values = [r[key] if not r["diverged"] else math.nan for r in records]
        if key == "bleu":
            ax.bar(positions, [0 if math.isnan(v) else v for v in values], color="tab:blue")
        else:
            ax.plot(positions, values, marker="o", color="tab:orange")
        finite = [v for v in values if not math.isnan(v)]
        top = max(finite) * 1.15 if finite and max(finite) > 0 else 1.0
        ax.set_ylim(0, top)
        for position, record in zip(positions, records):
            if record["diverged"]:
                ax.plot(position, top * 0.95, marker="x", color="red", markersize=12, mew=3)
                ax.annotate("diverged", (position, top * 0.95), textcoords="offset points", xytext=(0, -16),
                            ha="center", color="red", fontsize=8)
        ax.set_xticks(positions, labels=labels)
        ax.set(xlabel=x, ylabel=name, title=name)
    finite = [v for r in records if not r["diverged"] for v in r["train_loss"] if math.isfinite(v)]
    for record, label in zip(records, labels):
        epochs = range(1, len(record["train_loss"]) + 1)
        curve_ax.plot(epochs, record["train_loss"], marker="o", label=f"{x}={label}" + (" (diverged)"
                      if record["diverged"] else ""), linestyle="--" if record["diverged"] else "-",
                      color="red" if record["diverged"] else None)
    top = max(finite) * 1.3 if finite else 1.0
    curve_ax.set_ylim(0, top)
    for record, label in zip(records, labels):  # a diverged loss is far above the others: mark it at the top
        if record["diverged"] and record["train_loss"]:
            last = record["train_loss"][-1]
            if not math.isfinite(last) or last > top:
                where = (len(record["train_loss"]), top * 0.93)
                curve_ax.plot(*where, marker="x", color="red", markersize=12, mew=3)
                curve_ax.annotate(f"{x}={label}: loss {last:.3g}", where, textcoords="offset points", xytext=(8, -4),
                                  color="red", fontsize=8, va="top")
    curve_ax.set(xlabel="epoch", ylabel="train loss (nats per token)", title="training loss by epoch")
    curve_ax.xaxis.get_major_locator().set_params(integer=True)
    curve_ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def write_csv(records: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """One CSV row per record; ``train_loss`` is written as a JSON list."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(key for record in records for key in record))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for record in records:
            writer.writerow({k: json.dumps([round(v, 4) for v in record[k]]) if k == "train_loss" else record[k]
                             for k in columns})
    return path


def _fmt(value: float, digits: int = 3) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def markdown_table(records: Sequence[dict[str, Any]], x: str) -> str:
    """A study's records as a Markdown table: setting, parameters, losses, BLEU, divergence, seconds."""
    lines = [f"| {x} | parameters | epochs | last train loss | valid loss | valid BLEU | diverged | seconds |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |"]
    for r in records:
        last = r["train_loss"][-1] if r["train_loss"] else math.nan
        lines.append(f"| {_label(r[x])} | {r['parameters']:,} | {r['epochs']} | {_fmt(last)} | "
                     f"{_fmt(r['valid_loss'])} | {_fmt(r['bleu'], 2)} | {'yes' if r['diverged'] else 'no'} | "
                     f"{r['seconds']:.1f} |")
    return "\n".join(lines)


def describe(study: str, records: Sequence[dict[str, Any]], x: str) -> str:
    """One or two sentences on what a study's numbers show, written from the records (nothing hard-coded)."""
    ok = [r for r in records if not r["diverged"]]
    gone = [_label(r[x]) for r in records if r["diverged"]]
    if not ok:
        return f"Every setting diverged ({', '.join(gone)}): lower the learning rate or clip harder."
    best_loss = min(ok, key=lambda r: r["valid_loss"])
    best_bleu = max(ok, key=lambda r: r["bleu"])
    worst_bleu = min(ok, key=lambda r: r["bleu"])
    text = (f"The lowest validation loss is at {x} = {_label(best_loss[x])} ({best_loss['valid_loss']:.3f}), the "
            f"highest BLEU at {x} = {_label(best_bleu[x])} ({best_bleu['bleu']:.2f}; the lowest, "
            f"{worst_bleu['bleu']:.2f}, at {_label(worst_bleu[x])}).")
    if study == "lr":
        if gone:
            stopped = [r for r in records if r["diverged"]]
            text += (" Diverged (detected and stopped, not crashed): lr = " + ", ".join(
                f"{_label(r['lr'])} after {r['epochs']} epoch{'s' * (r['epochs'] != 1)}" for r in stopped) + ".")
        else:
            text += " No learning rate diverged within the budget."
        smallest = min(ok, key=lambda r: r["lr"])
        if smallest is not best_loss:
            text += (f" The smallest, lr = {_label(smallest['lr'])}, is still behind after {smallest['epochs']} "
                     f"epochs (valid loss {smallest['valid_loss']:.3f}): too slow for this budget.")
    elif study == "hidden":
        small, large = min(ok, key=lambda r: r["hidden_size"]), max(ok, key=lambda r: r["hidden_size"])
        trend = "improves" if large["valid_loss"] < small["valid_loss"] else "does not improve"
        text += (f" From {small['hidden_size']} to {large['hidden_size']} the model grows from "
                 f"{small['parameters']:,} to {large['parameters']:,} parameters and its validation loss {trend} "
                 f"({small['valid_loss']:.3f} → {large['valid_loss']:.3f}) within the same budget.")
    elif study == "tf":
        full = [r for r in ok if r["teacher_forcing_ratio"] == max(q["teacher_forcing_ratio"] for q in ok)][0]
        none = [r for r in ok if r["teacher_forcing_ratio"] == min(q["teacher_forcing_ratio"] for q in ok)][0]
        slower = none["train_loss"][-1] > full["train_loss"][-1]
        text += (f" Training loss after the last epoch: {full['train_loss'][-1]:.3f} with ratio "
                 f"{_label(full['teacher_forcing_ratio'])} against {none['train_loss'][-1]:.3f} with ratio "
                 f"{_label(none['teacher_forcing_ratio'])}"
                 + (": with less teacher forcing the decoder trains on its own, often wrong, predictions, so its "
                    "training loss falls more slowly (the validation loss is always teacher-forced, BLEU never)."
                    if slower else ": here less teacher forcing did not slow training down."))
    elif study == "score":
        spread = best_bleu["bleu"] - worst_bleu["bleu"]
        text += (f" The methods span {spread:.2f} BLEU points"
                 + (" (small: within the noise of a single run per setting)" if spread < 2 else "")
                 + f"; their parameter counts range from {min(r['parameters'] for r in ok):,} to "
                 f"{max(r['parameters'] for r in ok):,}.")
    if gone and study != "lr":
        text += f" Diverged: {', '.join(gone)}."
    return text


# Two sizes of every study. quick: the embedded synthetic corpus and tiny models (graders and tests use it).
# real: Tatoeba's tutorial subset (English -> French, ~9,000 training pairs of at most 10 tokens).
SIZES: dict[str, dict[str, Any]] = {
    "quick": dict(corpus=dict(corpus="synthetic", synthetic_train=1000, synthetic_eval=100, min_freq=1, seed=0),
                  model=dict(emb_dim=32, hidden_size=64, dec_hidden=64, bidirectional=False, dropout=0.0),
                  budget=Budget(epochs=3, batch_size=32, lr=1e-2, seed=0),
                  settings={"lr": (1e-3, 1e-2, 30.0), "hidden": (16, 32, 64), "tf": (1.0, 0.5, 0.0),
                            "score": ("dot", "general", "scaled_dot", "additive")}),
    "real": dict(corpus=dict(corpus="tatoeba", min_freq=2, seed=0),
                 model=dict(emb_dim=128, hidden_size=128, dec_hidden=128, bidirectional=False, dropout=0.2),
                 budget=Budget(epochs=4, batch_size=64, lr=2e-3, seed=0),
                 settings={"lr": (3e-4, 1e-3, 3e-3, 1e-2, 30.0), "hidden": (64, 128, 256), "tf": (1.0, 0.5, 0.0),
                           "score": ("dot", "general", "scaled_dot", "additive")}),
}


def prepare_study_data(size: str, data_dir: str | Path | None = None) -> Data:
    """The corpus of a study size, tokenised and numericalised (Tatoeba: the tutorial subset)."""
    from seq2seq.corpora import load_tatoeba
    from seq2seq.data import prepare
    from seq2seq.runner import RunConfig, prepare_data

    spec = SIZES[size]["corpus"]
    if spec["corpus"] == "tatoeba":
        return prepare(load_tatoeba(data_dir, subset="tutorial", seed=spec["seed"]), min_freq=spec["min_freq"])
    return prepare_data(RunConfig(**spec, data_dir=str(data_dir) if data_dir else None))


def run_studies(size: str = "quick", out_dir: str | Path = "results", *,
                studies: Sequence[str] = ("lr", "hidden", "tf", "score"), data_dir: str | Path | None = None,
                device: torch.device | str = "cpu", data: Data | None = None,
                say: Any = print) -> dict[str, list[dict[str, Any]]]:
    """Run studies at one size (provided code) and write ``out_dir/<study>.csv``, ``<study>.png`` and
    ``summary.md`` (a Markdown table and a few sentences per study, written from the numbers).

    Args:
        size: ``"quick"`` (synthetic corpus, tiny models) or ``"real"`` (Tatoeba's tutorial subset); see ``SIZES``.
        out_dir: the folder for the results (created).
        studies: any of ``"lr"``, ``"hidden"``, ``"tf"``, ``"score"``, run in this order.
        data_dir: where the real corpora are (``None``: ``$SEQ2SEQ_DATA_DIR``).
        device: where to train.
        data: an already prepared corpus to use instead of the size's own.
        say: where progress lines go (``print``; pass ``lambda _: None`` for silence).

    Returns:
        ``{study: records}`` for the studies run.
    """
    from seq2seq.visualisation import save

    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: use one of {', '.join(SIZES)}")
    unknown = [s for s in studies if s not in STUDIES]
    if unknown:
        raise ValueError(f"unknown studies {unknown}: use any of {', '.join(STUDIES)}")
    spec, out = SIZES[size], Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    data = data or prepare_study_data(size, data_dir)
    config = ModelConfig(len(data.src_vocab), len(data.tgt_vocab), **spec["model"])
    say(f"{data.corpus!r}; vocab {len(data.src_vocab)}/{len(data.tgt_vocab)}; "
        f"prepared in {time.perf_counter() - started:.0f}s; device {device}")
    results: dict[str, list[dict[str, Any]]] = {}
    sections = [f"# Hyperparameter studies ({size})", "",
                f"Corpus `{data.corpus.name}` ({data.corpus.src_lang}→{data.corpus.tgt_lang}, train / valid / test "
                f"{len(data.corpus.train):,} / {len(data.corpus.valid):,} / {len(data.corpus.test):,} pairs), "
                f"vocabularies {len(data.src_vocab):,} / {len(data.tgt_vocab):,}; "
                f"model {_label_config(spec['model'])}; budget {_label_config(asdict(spec['budget']))}; device "
                f"{device}. Losses are cross-entropies per target token (nats); BLEU is greedy, on the validation "
                f"split, sacrebleu `{bleu_signature()}` on lower-cased tokens. Each setting is a single run with "
                f"one seed: differences of a BLEU point or so are within run-to-run noise.", ""]
    for name in studies:
        function, key, title = STUDIES[name]
        began = time.perf_counter()
        records = function(data, config, spec["settings"][name], spec["budget"], device=device)
        results[name] = records
        write_csv(records, out / f"{name}.csv")
        save(plot_study(records, key, f"{title} ({size}: {data.corpus.name})"), out / f"{name}.png")
        table = markdown_table(records, key)
        say(f"\n{title}: {time.perf_counter() - began:.0f}s\n{table}")
        sections += [f"## {title}", "", table, "", describe(name, records, key),
                     f"({time.perf_counter() - began:.0f} s; `{name}.csv`, `{name}.png`)", ""]
    sections.append(f"All studies: {time.perf_counter() - started:.0f} s.")
    (out / "summary.md").write_text("\n".join(sections) + "\n", encoding="utf-8")
    say(f"\nwrote {out}/summary.md and one CSV and PNG per study ({time.perf_counter() - started:.0f}s)")
    return results


def _label_config(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_label(v)}" for k, v in values.items())


def default_results_dir() -> Path:
    """``results/`` under the current directory, except inside the course repository's generated trees, where it
    is the repository's own git-ignored ``results/`` (as ``seq2seq.runner.default_runs_dir`` does for ``runs/``)."""
    from seq2seq.runner import default_runs_dir

    return default_runs_dir().with_name("results")
