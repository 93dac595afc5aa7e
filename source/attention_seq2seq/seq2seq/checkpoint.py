"""Checkpoint files of the system (provided code, no question): everything to resume a run, or to evaluate and
translate with nothing but the file.

A checkpoint is one ``torch.save`` of a dict of plain values (read back with ``weights_only=True``: loading runs no
pickled code), format :data:`FORMAT`:

=================  ==========================================================================================
key                value
=================  ==========================================================================================
``format``         :data:`FORMAT` (2); files without it are format 1, written before the languages were
                   stored, and are refused with a message that says so (retrain: the run's ``config.json``
                   holds its options)
``model``          the model's ``state_dict``
``model_config``   ``dataclasses.asdict`` of its :class:`seq2seq.model.ModelConfig`
``vocab``          ``{"src": [...], "tgt": [...]}``: each :class:`seq2seq.data.Vocab`'s ``itos``, the token
                   of every index (specials first), so that the same words get the same indices
``subwords``       ``{"src": bytes | None, "tgt": ...}``: each :class:`seq2seq.subwords.SubwordVocab`'s
                   SentencePiece model, None for a word vocabulary (the key may be absent: words)
``languages``      ``{"src": "de", "tgt": "en"}``: the corpus's languages (the tokenizer's and detokenizer's)
``run_config``     ``dataclasses.asdict`` of the :class:`seq2seq.config.RunConfig`
``optimizer``      the optimizer's ``state_dict``; ``scaler``: the AMP ``GradScaler``'s, or None
``history``        ``{"steps": [...], "epochs": [...]}`` (:class:`seq2seq.training.History`)
``stopper``        ``dataclasses.asdict`` of the :class:`seq2seq.training.EarlyStopping`
``epoch``          the last epoch trained (1-based); ``torch_rng``: torch's CPU generator state after it
=================  ==========================================================================================
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seq2seq.config import RunConfig
from seq2seq.data import Data, Vocab
from seq2seq.model import ModelConfig
from seq2seq.subwords import vocab_from
from seq2seq.training import EarlyStopping, History
from seq2seq.variants import build

FORMAT = 2


@dataclass
class Checkpoint:
    """A checkpoint read back: the model (in eval mode, on the device asked for), its vocabularies and languages,
    the run's config, and the whole stored dict (``state``) for resuming."""

    model: nn.Module
    src_vocab: Vocab
    tgt_vocab: Vocab
    src_lang: str
    tgt_lang: str
    config: RunConfig
    state: dict[str, Any]


def save_checkpoint(path: Path, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler | None, data: Data, config: RunConfig, history: History,
                    stopper: EarlyStopping, epoch: int, batches_done: int = 0) -> None:
    """Write a format-:data:`FORMAT` checkpoint of a run after ``epoch`` and ``batches_done`` batches of the next
    one (a run stopped within an epoch: :mod:`seq2seq.stopping`), atomically: an interrupted save never leaves a
    broken file at ``path``."""
    model_config = config.model_config(len(data.src_vocab), len(data.tgt_vocab))
    state = {"format": FORMAT, "model": model.state_dict(), "model_config": asdict(model_config),
             "vocab": {"src": data.src_vocab.itos, "tgt": data.tgt_vocab.itos},
             "subwords": {side: getattr(vocab, "model", None)
                          for side, vocab in (("src", data.src_vocab), ("tgt", data.tgt_vocab))},
             "languages": {"src": data.corpus.src_lang, "tgt": data.corpus.tgt_lang},
             "run_config": asdict(config), "optimizer": optimizer.state_dict(),
             "scaler": scaler.state_dict() if scaler is not None else None,
             "history": {"steps": history.steps, "epochs": history.epochs}, "stopper": asdict(stopper),
             "epoch": epoch, "batches_done": batches_done, "torch_rng": torch.get_rng_state()}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a checkpoint of a supported format (format 1 included: no languages stored).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path} (train first: python -m seq2seq train ...)")
    state = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} is not a checkpoint of python -m seq2seq train")
    version = state.get("format", 1)
    if version != FORMAT:
        raise ValueError(f"{path} is a format-{version} checkpoint; this version reads format {FORMAT} only"
                         f"{' (format 1 did not store the languages)' if version == 1 else ''}: train again "
                         "(the run's config.json next to it holds its options)")
    model = build(ModelConfig(**state["model_config"])).to(device)
    model.load_state_dict(state["model"])
    model.eval()
    models = state.get("subwords") or {"src": None, "tgt": None}  # absent from files of word-level runs
    return Checkpoint(model, vocab_from(state["vocab"]["src"], models["src"]),
                      vocab_from(state["vocab"]["tgt"], models["tgt"]), state["languages"]["src"],
                      state["languages"]["tgt"], RunConfig(**state["run_config"]), state)


def average_weights(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of several state dicts of one model (checkpoint averaging: Junczys-Dowmunt et
    al., 2016; Vaswani et al., 2017, section 6.1). Floating-point tensors are averaged in float32 and given back in
    their own dtype; any other entry (an integer counter) is taken from the last state.

    Raises:
        ValueError: no states, or states of different models (other keys or shapes).
    """
    if not states:
        raise ValueError("nothing to average: no weights given")
    last = states[-1]
    for state in states:
        if state.keys() != last.keys() or any(state[k].shape != last[k].shape for k in last):
            raise ValueError("cannot average the weights of different models (their keys or shapes differ)")
    return {key: torch.stack([state[key].float() for state in states]).mean(dim=0).to(value.dtype)
            if value.is_floating_point() else value.clone() for key, value in last.items()}
