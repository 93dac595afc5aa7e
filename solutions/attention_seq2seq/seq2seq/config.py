"""The configuration of a run of the system (provided code, no question): :class:`RunConfig`.

One flat dataclass, read from a JSON object and/or command-line flags (``python -m seq2seq train --emb-dim 128``,
one flag per field). Its model fields are :class:`seq2seq.model.ModelConfig`'s own, names, types and defaults
taken from it (:data:`ModelOptions`), so that a run and a model built directly with ``ModelConfig`` agree; only the
vocabulary sizes are left out, since they come from the data (:meth:`RunConfig.model_config` adds them).
"""
from __future__ import annotations

import json
import typing
from dataclasses import dataclass, field, fields, make_dataclass
from pathlib import Path
from typing import Any

from seq2seq.model import ModelConfig
from seq2seq.subwords import MODEL_TYPES as SUBWORD_MODELS

CORPORA = ("synthetic", "tatoeba", "multi30k")
AMP_CHOICES = ("auto", "off", "bf16", "fp16")
VOCAB_SIZES = ("src_vocab", "tgt_vocab")  # ModelConfig's fields that the data decides


def _model_options() -> type:
    """A dataclass of ModelConfig's fields but the vocabulary sizes: same names, types and defaults."""
    hints = typing.get_type_hints(ModelConfig)  # real types: the CLI builds its flags from them
    options = [(f.name, hints[f.name], field(default=f.default)) for f in fields(ModelConfig)
               if f.name not in VOCAB_SIZES]
    options_class = make_dataclass("ModelOptions", options)
    options_class.__module__ = __name__
    options_class.__doc__ = "The model fields of a run: ModelConfig's, without the vocabulary sizes."
    return options_class


ModelOptions = _model_options()


@dataclass
class RunConfig(ModelOptions):
    """Every option of a run: the model's (inherited from :data:`ModelOptions`, i.e. ModelConfig's fields and
    defaults: embedding 256, bidirectional GRU 512, decoder 512, additive attention, dropout 0.1), then these."""

    # data
    corpus: str = "synthetic"          # synthetic | tatoeba | multi30k
    src: str | None = None             # source language; None: the corpus's default (en for synthetic/tatoeba, de)
    tgt: str | None = None
    data_dir: str | None = None        # None: $SEQ2SEQ_DATA_DIR
    min_freq: int = 2                  # word vocabularies: the fewest training occurrences a word needs
    subwords: int = 0                  # >0: SentencePiece vocabularies of about this many pieces (per language)
    subword_model: str = "unigram"     # unigram | bpe (seq2seq.subwords)
    shared_vocab: bool = False         # one subword vocabulary for both languages (needed by tie_embeddings)
    lowercase: bool = True             # False: a cased model (it reads and writes capitals; BLEU is then cased)
    synthetic_train: int = 8000        # sizes of the synthetic corpus
    synthetic_eval: int = 500
    # training
    epochs: int = 10
    batch_size: int = 128              # sentences per optimisation step (all processes together under torchrun)
    lr: float = 1e-3
    lr_decay_after: int = 0            # after this epoch, multiply lr by lr_decay every epoch; 0: constant lr
    lr_decay: float = 0.5
    weight_decay: float = 0.0
    clip: float = 1.0
    teacher_forcing_ratio: float = 1.0
    label_smoothing: float = 0.0
    word_dropout: float = 0.0          # each input word is <unk> with this probability in training (variants)
    patience: int = 3                  # early stopping on the validation loss
    average_last: int = 0              # >0: also write averaged.pt, the mean weights of the last N epochs (runner)
    seed: int = 1234
    max_steps: int | None = None       # stop after this many optimisation steps of this invocation (seq2seq.stopping)
    max_minutes: float | None = None   # stop after this many minutes of this invocation; both: whichever comes first
    # system
    device: str = "auto"               # auto | cpu | cuda | cuda:N
    amp: str = "auto"                  # auto | off | bf16 | fp16: float32 where not native (see runner)
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
        if self.subwords < 0 or self.subword_model not in SUBWORD_MODELS:
            raise ValueError(f"subwords must be >= 0 (0: words) and subword_model one of {', '.join(SUBWORD_MODELS)}")
        if not 0.0 <= self.teacher_forcing_ratio <= 1.0:
            raise ValueError("teacher_forcing_ratio must be in [0, 1]")
        if self.lr_decay_after < 0 or not 0.0 < self.lr_decay <= 1.0:
            raise ValueError("lr_decay_after must be >= 0 and lr_decay in (0, 1]")
        for name in ("max_steps", "max_minutes"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive (None: no cap), got {getattr(self, name)}")
        if self.shared_vocab and not self.subwords:
            raise ValueError("shared_vocab needs subwords (> 0): it is one subword vocabulary for both languages")
        if self.tie_embeddings and not self.shared_vocab:
            raise ValueError("tie_embeddings needs shared_vocab: one embedding matrix needs one vocabulary")
        if not 0.0 <= self.word_dropout < 1.0:
            raise ValueError(f"word_dropout must be in [0, 1), got {self.word_dropout}")
        if self.average_last < 0:
            raise ValueError(f"average_last must be >= 0 (0: no averaging), got {self.average_last}")
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
        """The :class:`ModelConfig` of this run's model fields, with the data's vocabulary sizes."""
        names = {f.name for f in fields(ModelOptions)}
        return ModelConfig(src_vocab, tgt_vocab, **{name: getattr(self, name) for name in names})
