"""The runnable system: train, evaluate, translate and compare from one plain config (provided code, no question).

``python -m seq2seq train|evaluate|translate|compare|demo`` (see ``seq2seq.__main__``) calls the functions here;
the notebook can call them too. Everything a run needs is in :class:`RunConfig`, read from a JSON file and/or
command-line flags; a run writes into ``config.out_dir``:

* ``last.pt`` after every epoch and ``best.pt`` whenever the validation loss improves: the weights, the optimizer
  (and AMP scaler) state, both vocabularies, the model config, the run config, the history and the early-stopping
  state, so that ``--resume`` goes on exactly where the run stopped, and ``evaluate``/``translate`` need nothing
  but the checkpoint;
* ``log.csv``, one row per epoch (losses, perplexities, validation BLEU, seconds, target tokens per second);
* ``config.json``, the run config as used.

Devices: ``auto`` picks CUDA when there is one. Mixed precision (``amp``) runs only on CUDA: ``auto`` chooses
bfloat16 where the GPU supports it, else float16 with a ``GradScaler`` (float16 gradients underflow without
one); on the CPU ``auto`` means float32 and asking for bf16/fp16 is an error (CPU autocast is slower than float32
for these small recurrent layers on most machines). Batches are pinned in memory on CUDA (faster copies).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from seq2seq import ASSIGNMENT_DIR, PAD
from seq2seq.data import Corpus, Data, Vocab, detokenize, load_multi30k, load_tatoeba, prepare
from seq2seq.data import synthetic_corpus, tokenize
from seq2seq.environment import get_device, set_seed
from seq2seq.evaluation import bleu_signature, compare_models, evaluate
from seq2seq.model import ModelConfig, build_model
from seq2seq.search import beam_search, greedy_search
from seq2seq.training import EarlyStopping, History, diverged, make_optimizer, smooth, train_epoch
from seq2seq.visualisation import alignment_error_rate, hard_alignment

CORPORA = ("synthetic", "tatoeba", "multi30k")
AMP_CHOICES = ("auto", "off", "bf16", "fp16")


@dataclass
class RunConfig:
    """Every option of a run. Model fields mirror :class:`seq2seq.model.ModelConfig` (without the vocabulary
    sizes, which come from the data)."""

    # data
    corpus: str = "synthetic"          # synthetic | tatoeba | multi30k
    src: str | None = None             # source language; None: the corpus's default (en for synthetic/tatoeba, de)
    tgt: str | None = None
    data_dir: str | None = None        # None: $SEQ2SEQ_DATA_DIR
    min_freq: int = 2
    synthetic_train: int = 8000        # sizes of the synthetic corpus
    synthetic_eval: int = 500
    # model
    emb_dim: int = 256
    hidden_size: int = 512
    dec_hidden: int = 512
    n_layers: int = 1
    bidirectional: bool = True
    rnn_type: str = "gru"
    attention: str = "additive"
    attn_dim: int | None = None
    dropout: float = 0.5
    # training
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    lr_decay_after: int = 0            # after this epoch, multiply lr by lr_decay every epoch; 0: constant lr
    lr_decay: float = 0.5
    weight_decay: float = 0.0
    clip: float = 1.0
    teacher_forcing_ratio: float = 1.0
    label_smoothing: float = 0.0
    patience: int = 3                  # early stopping on the validation loss
    seed: int = 1234
    # system
    device: str = "auto"               # auto | cpu | cuda | cuda:N
    amp: str = "auto"                  # auto | off | bf16 | fp16 (CUDA only)
    threads: int | None = None         # torch CPU threads; None: torch's default
    out_dir: str = "runs/default"
    progress: bool = True
    beam_size: int = 5                 # for the final test evaluation
    length_penalty: float = 1.0        # beam search's length penalty alpha (see seq2seq.search)
    max_len: int | None = None         # decoding limit; None: 2 * source length + 10

    def __post_init__(self) -> None:
        if self.corpus not in CORPORA:
            raise ValueError(f"unknown corpus {self.corpus!r}: use one of {', '.join(CORPORA)}")
        if self.amp not in AMP_CHOICES:
            raise ValueError(f"unknown amp {self.amp!r}: use one of {', '.join(AMP_CHOICES)}")
        if not 0.0 <= self.teacher_forcing_ratio <= 1.0:
            raise ValueError("teacher_forcing_ratio must be in [0, 1]")
        if self.lr_decay_after < 0 or not 0.0 < self.lr_decay <= 1.0:
            raise ValueError("lr_decay_after must be >= 0 and lr_decay in (0, 1]")
        for name in ("epochs", "batch_size", "emb_dim", "hidden_size", "dec_hidden", "n_layers", "beam_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")

    @classmethod
    def from_json(cls, path: str | Path, **overrides: Any) -> RunConfig:
        """A config from a JSON object of field values (unknown keys are an error), then ``overrides``."""
        values = json.loads(Path(path).read_text(encoding="utf-8"))
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"{path}: unknown config keys {sorted(unknown)}")
        return cls(**{**values, **overrides})

    def lr_at(self, epoch: int) -> float:
        """The learning rate of 1-based ``epoch``: ``lr`` up to ``lr_decay_after``, then ``lr_decay`` times the
        previous epoch's (Luong et al., 2015 halve it every epoch after the fifth). A function of the epoch, not
        of the optimizer's state, so that a resumed run gets the same rates."""
        if not self.lr_decay_after:
            return self.lr
        return self.lr * self.lr_decay ** max(0, epoch - self.lr_decay_after)

    def model_config(self, src_vocab: int, tgt_vocab: int) -> ModelConfig:
        names = {f.name for f in fields(ModelConfig)} - {"src_vocab", "tgt_vocab"}
        return ModelConfig(src_vocab, tgt_vocab, **{name: getattr(self, name) for name in names})


# ================================================================================================== devices
def resolve_amp(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device``, or None for float32 (see the module docstring)."""
    if amp == "off":
        return None
    if device.type != "cuda":
        if amp == "auto":
            return None
        raise ValueError(f"amp={amp!r} needs a CUDA device (this run is on {device}); use amp=auto or off")
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def make_scaler(amp_dtype: torch.dtype | None) -> torch.amp.GradScaler | None:
    """A GradScaler for float16 only: bfloat16 has float32's range, so its gradients do not underflow."""
    return torch.amp.GradScaler("cuda") if amp_dtype == torch.float16 else None


# ================================================================================================== data
def load_corpus(config: RunConfig) -> Corpus:
    if config.corpus == "synthetic":
        reverse = config.src == "fr"
        return synthetic_corpus(config.synthetic_train, config.synthetic_eval, config.synthetic_eval,
                                seed=config.seed, reverse=reverse)
    if config.corpus == "tatoeba":
        return load_tatoeba(config.data_dir, reverse=config.src == "fr")
    return load_multi30k(config.data_dir, config.src or "de", config.tgt or "en")


def split_tokens(text: str, lang: str, *, lower: bool = True) -> list[str]:
    """The synthetic corpus's tokens are its space-separated words (spaCy agrees and takes seconds to load)."""
    return (text.lower() if lower else text).split()


def tokenizer_for(corpus_name: str):
    return split_tokens if corpus_name == "synthetic" else tokenize


def prepare_data(config: RunConfig) -> Data:
    return prepare(load_corpus(config), min_freq=config.min_freq, tokenizer=tokenizer_for(config.corpus))


def true_references(data: Data, split: str) -> list[list[str]]:
    """The split's target sentences as tokens, in dataset order (words outside the vocabulary kept as they are)."""
    return [tgt for _, tgt in data.tokens[split]]


# ================================================================================================== checkpoints
def save_checkpoint(path: Path, model, optimizer, scaler, data_vocabs: tuple[Vocab, Vocab], config: RunConfig,
                    model_config: ModelConfig, history: History, stopper: EarlyStopping, epoch: int) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "scaler": scaler.state_dict() if scaler is not None else None,
             "src_vocab": data_vocabs[0].itos, "tgt_vocab": data_vocabs[1].itos,
             "model_config": asdict(model_config), "run_config": asdict(config),
             "history": {"steps": history.steps, "epochs": history.epochs}, "stopper": asdict(stopper),
             "epoch": epoch, "torch_rng": torch.get_rng_state()}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: an interrupted save never leaves a broken checkpoint


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[Any, Vocab, Vocab, RunConfig, dict]:
    """``(model in eval mode, src_vocab, tgt_vocab, run_config, raw state)`` from a checkpoint file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path} (train first: python -m seq2seq train ...)")
    state = torch.load(path, map_location=device, weights_only=False)
    model = build_model(ModelConfig(**state["model_config"])).to(device)
    model.load_state_dict(state["model"])
    model.eval()
    return model, Vocab(state["src_vocab"]), Vocab(state["tgt_vocab"]), RunConfig(**state["run_config"]), state


# ================================================================================================== train
def _say(message: str) -> None:
    print(message, flush=True)


def train(config: RunConfig, *, resume: bool = False, data: Data | None = None) -> dict[str, Any]:
    """Train as the config says; return ``{"best": path, "last": path, "history": History, "data": Data}``."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config.threads:
        torch.set_num_threads(config.threads)
    device = get_device(config.device)
    amp_dtype = resolve_amp(config.amp, device)
    set_seed(config.seed)
    data = data or prepare_data(config)
    model_config = config.model_config(len(data.src_vocab), len(data.tgt_vocab))
    model = build_model(model_config).to(device)
    optimizer = make_optimizer(model, config.lr, config.weight_decay)
    scaler = make_scaler(amp_dtype)
    history, stopper, start = History(), EarlyStopping(config.patience), 1
    last, best = out / "last.pt", out / "best.pt"
    if resume:
        _, src_vocab, tgt_vocab, _, state = load_checkpoint(last, device)
        if src_vocab != data.src_vocab or tgt_vocab != data.tgt_vocab:
            raise ValueError(f"{last} was trained on other vocabularies: resume with the same data options")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state["scaler"] is not None:
            scaler.load_state_dict(state["scaler"])
        history = History(state["history"]["steps"], state["history"]["epochs"])
        stopper = EarlyStopping(**state["stopper"])
        torch.set_rng_state(state["torch_rng"])
        start = state["epoch"] + 1
        _say(f"resumed from {last} after epoch {state['epoch']}")
    (out / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n", encoding="utf-8")
    n_params = sum(p.numel() for p in model.parameters())
    _say(f"{data.corpus!r}; vocab {len(data.src_vocab)}/{len(data.tgt_vocab)}; model {n_params:,} parameters; "
         f"device {device}{', autocast ' + str(amp_dtype).split('.')[-1] if amp_dtype else ''}")
    train_loader = data.loader("train", config.batch_size, seed=config.seed, device=device)
    train_loader.batch_sampler.set_epoch(start - 1)  # a resumed run sees the batches it would have seen
    valid_loader = data.loader("valid", config.batch_size, device=device, bucket=False)
    valid_refs = true_references(data, "valid")
    tokens_per_epoch = sum(len(t) - 1 for t in data.datasets["train"].tgt)
    for epoch in range(start, config.epochs + 1):
        if stopper.bad_epochs >= stopper.patience:
            break
        lr = config.lr_at(epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        started = time.perf_counter()
        train_loss = train_epoch(model, train_loader, optimizer, clip=config.clip,
                                 teacher_forcing_ratio=config.teacher_forcing_ratio, device=device, history=history,
                                 progress=config.progress, label_smoothing=config.label_smoothing,
                                 amp_dtype=amp_dtype, scaler=scaler)
        seconds = time.perf_counter() - started
        valid = evaluate(model, valid_loader, data.tgt_vocab, device=device, max_len=config.max_len,
                         references=valid_refs)
        history.log_epoch(train_loss, valid["loss"], valid_bleu=valid["bleu"], lr=lr, seconds=seconds,
                          tokens_per_s=tokens_per_epoch / seconds)
        history.to_csv(out / "log.csv")
        stop = stopper.step(valid["loss"])
        save_checkpoint(last, model, optimizer, scaler, (data.src_vocab, data.tgt_vocab), config, model_config,
                        history, stopper, epoch)
        if stopper.improved:
            best.write_bytes(last.read_bytes())
        _say(f"epoch {epoch:>3}  train {train_loss:.3f}  valid {valid['loss']:.3f} (ppl {valid['ppl']:.2f})  "
             f"valid BLEU {valid['bleu']:.2f}  {seconds:.1f}s  {tokens_per_epoch / seconds:,.0f} tgt tok/s"
             f"{'  *' if stopper.improved else ''}")
        if diverged([row["train_loss"] for row in history.epochs]):
            _say("training diverged (the epoch loss rose far above its best): stopping; lower lr or clip harder")
            break
        if stop:
            _say(f"early stop: no improvement for {stopper.patience} epochs (best epoch {stopper.best_epoch})")
            break
    return {"best": best, "last": last, "history": history, "data": data}


# ================================================================================================== evaluate
def evaluate_checkpoint(path: str | Path, *, split: str = "test", beams: tuple[int, ...] = (1, 5),
                        device: str = "auto", data: Data | None = None, batch_size: int | None = None,
                        length_penalty: float | None = None) -> dict[int, dict[str, Any]]:
    """BLEU (sacrebleu, signature printed) of a checkpoint on a split, greedy and with each beam size
    (``length_penalty``: None takes the run config's)."""
    dev = get_device(device)
    model, src_vocab, tgt_vocab, config, _ = load_checkpoint(path, dev)
    alpha = config.length_penalty if length_penalty is None else length_penalty
    data = data or prepare_data(config)
    if data.src_vocab != src_vocab or data.tgt_vocab != tgt_vocab:
        raise ValueError(f"{path}: the data's vocabularies differ from the checkpoint's")
    loader = data.loader(split, batch_size or config.batch_size, bucket=False, device=dev)
    results = {}
    for beam in beams:
        started = time.perf_counter()
        results[beam] = evaluate(model, loader, tgt_vocab, device=dev, beam_size=beam, max_len=config.max_len,
                                 length_penalty=alpha, references=true_references(data, split))
        _say(f"{split} BLEU {'greedy' if beam == 1 else f'beam {beam} (length penalty {alpha})'}: "
             f"{results[beam]['bleu']:.2f}  "
             f"(loss {results[beam]['loss']:.3f}, {time.perf_counter() - started:.1f}s)")
    _say(f"sacrebleu signature: {bleu_signature()} (lower-cased tokens, joined by spaces)")
    if data.corpus.alignments is not None and config.attention != "none":
        try:
            scores = alignment_report(model, data, split, device=dev, batch_size=batch_size or config.batch_size)
        except NotImplementedError:  # the student release before Q29 is answered
            _say("alignment error rate: skipped (Q29's functions are not implemented yet)")
        else:
            _say(f"{split} alignment error rate of the attention (argmax per target word, teacher forcing) against "
                 f"the gold alignments: {scores['aer']:.3f}; a random alignment: {scores['chance']:.3f}")
            results[beams[0]]["alignment"] = scores
    return results


@torch.no_grad()
def alignment_report(model, data: Data, split: str = "test", *, device: torch.device | str = "cpu",
                     batch_size: int = 64, seed: int = 0) -> dict[str, float]:
    """Mean alignment error rate (Q29) of the model's attention against the synthetic corpus's gold alignments.

    Each reference target word is linked to the source word it attends to most (teacher forcing, so that the
    rows are the reference's words, as the gold links are); ``<sos>``/``<eos>`` are left out on both sides.
    ``chance`` links every target word to a uniformly random source word instead (seeded): what an attention
    that learned nothing would score.
    """
    gold = data.corpus.alignments[split]
    generator = torch.Generator().manual_seed(seed)
    was_training, ours, chance, k = model.training, [], [], 0
    model.eval()
    try:
        for batch in data.loader(split, batch_size, bucket=False):  # dataset order, as the gold links
            batch = batch.to(device)
            _, attention = model(batch.src, batch.src_lengths, batch.tgt, 1.0)
            for j in range(batch.src.size(0)):
                m, n = int(batch.src_lengths[j]) - 2, int((batch.tgt[j] != PAD).sum()) - 2  # words only
                rows = attention[j, 1:n + 1, 1:m + 1].float().cpu()
                ours.append(alignment_error_rate(hard_alignment(rows), gold[k]))
                guess = torch.randint(m, (n,), generator=generator).tolist()
                chance.append(alignment_error_rate([(i, t) for t, i in enumerate(guess)], gold[k]))
                k += 1
    finally:
        model.train(was_training)
    return {"aer": sum(ours) / len(ours), "chance": sum(chance) / len(chance), "sentences": k}


# ================================================================================================== translate
def translate_sentences(path: str | Path, sentences: list[str], *, beam_size: int = 1, device: str = "auto",
                        heatmaps: str | Path | None = None, length_penalty: float | None = None) -> list[str]:
    """Translate raw sentences with a checkpoint; with ``heatmaps``, one attention PNG per sentence there
    (``length_penalty``: None takes the run config's)."""
    dev = get_device(device)
    model, src_vocab, tgt_vocab, config, _ = load_checkpoint(path, dev)
    alpha = config.length_penalty if length_penalty is None else length_penalty
    src_lang, tgt_lang = corpus_languages(config)
    tokenizer = tokenizer_for(config.corpus)
    outputs = []
    for i, sentence in enumerate(sentences):
        words = tokenizer(sentence, src_lang)
        ids = torch.tensor([src_vocab.encode(words)], device=dev)
        lengths = torch.tensor([ids.size(1)])
        limit = config.max_len or 2 * ids.size(1) + 10
        search = greedy_search(model, ids, lengths, limit) if beam_size == 1 else \
            beam_search(model, ids, lengths, beam_size, limit, alpha)
        tokens, attention = search[0][0].tolist(), search[1][0]
        n = sum(t != PAD for t in tokens)  # steps decoded, <eos> included when produced
        out_words = tgt_vocab.decode(tokens[:n])
        outputs.append(detokenize(out_words, tgt_lang))
        _say(f"{sentence}\n  -> {outputs[-1]}")
        if heatmaps is not None:
            from seq2seq.visualisation import plot_attention, save

            labels = [tgt_vocab.id_to_token(t) for t in tokens[:n]]  # <eos> included: its row shows where it looked
            src_labels = ["<sos>"] + [w if w in src_vocab else f"{w}(unk)" for w in words] + ["<eos>"]
            figure = plot_attention(attention[:n, :ids.size(1)].cpu(), src_labels, labels, title=sentence[:60])
            _say(f"  heatmap: {save(figure, Path(heatmaps) / f'attention_{i + 1}.png')}")
    return outputs


def corpus_languages(config: RunConfig) -> tuple[str, str]:
    """(source, target) languages of the configured corpus."""
    if config.corpus == "multi30k":
        return config.src or "de", config.tgt or "en"
    return ("fr", "en") if config.src == "fr" else ("en", "fr")


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
                        heatmaps=Path(out_dir))
    _say(f"demo done in {time.perf_counter() - started:.0f}s; checkpoints, log.csv and PNGs in {out_dir}/")
    return {"bleu": {beam: r["bleu"] for beam, r in results.items()}, "run": run}
