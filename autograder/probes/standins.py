"""Stand-ins that the probes hand to student code in place of other questions' answers, so that a question is
graded on its own code alone: a bug elsewhere costs its own question, never this one.

* For the model's parts (Q9–Q20): the grader's own small attention, encoder and decoder (``GraderAttention``,
  ``GraderEncoder``, ``GraderDecoder``), ``masked_softmax``, ``encode`` and ``teacher_force``. A probe of those
  questions tests one question's code and supplies everything else itself: weights are set by *name* (the names
  the docstrings give) to values drawn from a seed, the same in the student's and the reference's child, so that
  outputs compare to 1e-5; when a method under test needs layers that another question defines (``__init__``),
  the probe overwrites those attributes with layers it builds; when it needs another question's function or
  module (the attention inside the decoder, the encoder and decoder inside ``Seq2Seq``), it injects these.
* For the questions that build on the whole model (the training loop, the comparison, the studies): a small
  attention model with ``Seq2Seq``'s interface, its configuration, a task of the grader's own with ``Data``'s
  interface, and a greedy decoder.

Not a question's code, and not the reference solution's: written for the graders, small and deterministic.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import sacrebleu
import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from autograder.probes.common import ATT, DEC, EMB, ENC, EOS, HID, PAD, SOS, SRC_V, TGT_V, Batch, TinyVocab, layer


# ------------------------------------------------------------------ the model's parts (Q9–Q20): stand-ins
# The grader's versions of the model's parts, injected where a question relies on another question's code.
class GraderAttention(nn.Module):
    """Additive attention, counting how often its keys are precomputed."""

    def __init__(self, enc: int = ENC, dec: int = DEC, seed: int = 7) -> None:
        super().__init__()
        self.key_layer = layer(nn.Linear(enc, ATT, bias=False), "gk", seed)
        self.query_layer = layer(nn.Linear(dec, ATT, bias=False), "gq", seed)
        self.energy_layer = layer(nn.Linear(ATT, 1, bias=False), "ge", seed)
        self.precomputed = 0

    def precompute(self, encoder_outputs: Tensor) -> Tensor:
        self.precomputed += 1
        return self.key_layer(encoder_outputs)

    def forward(self, query: Tensor, encoder_outputs: Tensor, mask: Tensor, keys: Tensor | None = None):
        keys = self.key_layer(encoder_outputs) if keys is None else keys
        scores = self.energy_layer(torch.tanh(self.query_layer(query).unsqueeze(1) + keys)).squeeze(-1)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return torch.bmm(weights.unsqueeze(1), encoder_outputs).squeeze(1), weights


class GraderEncoder(nn.Module):
    """A bidirectional GRU encoder; keeps its last outputs to check that gradients reach them."""

    def __init__(self, seed: int = 11) -> None:
        super().__init__()
        self.embedding = layer(nn.Embedding(SRC_V, EMB), "e", seed)
        self.rnn = layer(nn.GRU(EMB, HID, batch_first=True, bidirectional=True), "r", seed)
        self.bridge = layer(nn.Linear(ENC, DEC), "b", seed)

    def forward(self, src: Tensor, src_lengths: Tensor):
        packed = pack_padded_sequence(self.embedding(src), src_lengths.cpu(), batch_first=True, enforce_sorted=False)
        outputs, final = self.rnn(packed)
        outputs, _ = pad_packed_sequence(outputs, batch_first=True, total_length=src.size(1))
        if outputs.requires_grad:
            outputs.retain_grad()
        self.last_outputs = outputs
        return outputs, torch.tanh(self.bridge(torch.cat([final[-2], final[-1]], dim=-1)))


class GraderDecoder(nn.Module):
    """The attention decoder of the docstrings, with every method of the decoder interface."""

    def __init__(self, seed: int = 13) -> None:
        super().__init__()
        self.embedding = layer(nn.Embedding(TGT_V, EMB), "e", seed)
        self.attention = GraderAttention(seed=seed)
        self.rnn = layer(nn.GRU(EMB + ENC, DEC, batch_first=True), "r", seed)
        self.out = layer(nn.Linear(DEC + ENC, TGT_V), "o", seed)

    def precompute(self, encoder_outputs: Tensor) -> Tensor:
        return self.attention.precompute(encoder_outputs)

    def step(self, prev_tokens, hidden, encoder_outputs, mask, keys):
        context, weights = self.attention(hidden, encoder_outputs, mask, keys)
        _, new = self.rnn(torch.cat([self.embedding(prev_tokens), context], -1).unsqueeze(1), hidden.unsqueeze(0))
        return new.squeeze(0), context, weights

    def project(self, hidden, context):
        return self.out(torch.cat([hidden, context], dim=-1))

    def forward_step(self, prev_tokens, hidden, encoder_outputs, mask, keys=None):
        keys = self.precompute(encoder_outputs) if keys is None else keys
        hidden, context, weights = self.step(prev_tokens, hidden, encoder_outputs, mask, keys)
        return self.project(hidden, context), hidden, weights


def grader_masked_softmax(scores: Tensor, mask: Tensor) -> Tensor:
    """``masked_softmax`` (Q12): weights over the last axis, exactly 0 where ``mask`` is False."""
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def grader_encode(model: nn.Module, src: Tensor, src_lengths: Tensor):
    """``Seq2Seq.encode`` (Q18), to be bound to a model: its encoder's states and state, the mask, the keys."""
    outputs, hidden = model.encoder(src, src_lengths)
    return outputs, hidden, src != PAD, model.decoder.precompute(outputs)


def grader_teacher_force(gold: Tensor, logits: Tensor, ratio: float) -> Tensor:
    """``teacher_force`` (Q19): the gold tokens ``(batch,)`` with probability ``ratio``, else the predictions."""
    return gold if torch.rand(()) < ratio else logits.argmax(dim=-1)


# ----------------------------------------- the questions after the model (Q21–Q34): a whole model and a task
@dataclass
class StandInConfig:
    """The fields of ``seq2seq.model.ModelConfig`` that studies and comparisons read or change."""

    src_vocab: int
    tgt_vocab: int
    emb_dim: int = 32
    hidden_size: int = 64
    dec_hidden: int = 64
    attention: str = "additive"   # dot, general, scaled_dot, additive, or none (a fixed average: no attention)
    dropout: float = 0.0


def pad(rows: list[list[int]]) -> torch.Tensor:
    out = torch.full((len(rows), max(map(len, rows))), PAD, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row)
    return out


class TaskLoader:
    """Batches of one split, shuffled per epoch from ``f"{seed}:{epoch}"`` like the course's sampler; the epoch
    counter goes up with every ``iter``, so one loader iterated twice gives two different epochs."""

    def __init__(self, examples, split: str, batch_size: int, seed: int, shuffle: bool, bucket: bool) -> None:
        self.examples, self.split, self.batch_size = examples, split, batch_size
        self.seed, self.shuffle, self.bucket, self.epoch = seed, shuffle, bucket, 0

    def __len__(self) -> int:
        return math.ceil(len(self.examples) / self.batch_size)

    def __iter__(self):
        rng = random.Random(f"{self.seed}:{self.epoch}")
        self.epoch += 1
        indices = list(range(len(self.examples)))
        if self.shuffle:
            rng.shuffle(indices)
        if self.bucket:
            indices.sort(key=lambda i: len(self.examples[i][0]))
        batches = [indices[a:a + self.batch_size] for a in range(0, len(indices), self.batch_size)]
        if self.shuffle:
            rng.shuffle(batches)
        for chosen in batches:
            src = [self.examples[i][0] for i in chosen]
            tgt = [self.examples[i][1] for i in chosen]
            yield Batch((pad(src), torch.tensor([len(s) for s in src]), pad(tgt)))


class TaskData:
    """Stands in for ``seq2seq.data.Data`` (``loader``, ``src_vocab``, ``tgt_vocab``, ``tokens``): sentences of
    ``words`` word ids; the target is the source itself (``reverse=False``) or reversed and renamed word by word
    (a reordering, as in translation, that a model without attention finds hard on long sentences)."""

    def __init__(self, seed: int, sizes=(96, 24, 24), words: int = 10, lengths=(1, 6), reverse: bool = False) -> None:
        rng = random.Random(seed)
        vocab = 4 + words
        self.src_vocab, self.tgt_vocab = TinyVocab(vocab), TinyVocab(vocab)
        rename = list(range(4, vocab))
        if reverse:
            rng.shuffle(rename)
        self.tokens, self.ids = {}, {}
        for split, n in zip(("train", "valid", "test"), sizes):
            pairs = []
            for _ in range(n):
                source = [rng.randrange(4, vocab) for _ in range(rng.randint(*lengths))]
                pairs.append((source, [rename[w - 4] for w in reversed(source)] if reverse else source))
            self.ids[split] = [([SOS, *s, EOS], [SOS, *t, EOS]) for s, t in pairs]
            self.tokens[split] = [([self.src_vocab.itos[i] for i in s], [self.tgt_vocab.itos[i] for i in t])
                                  for s, t in pairs]
        self.datasets = dict(self.ids)

    def loader(self, split: str, batch_size: int, **options) -> TaskLoader:
        """Like ``Data.loader``: only "train" is shuffled and bucketed by default; valid and test keep their order."""
        return TaskLoader(self.ids[split], split, batch_size, options.get("seed", 0),
                          options.get("shuffle", split == "train"), options.get("bucket", split == "train"))


class StandInDecoder(nn.Module):
    def __init__(self, config) -> None:
        super().__init__()
        e, h, d, self.method = config.emb_dim, config.hidden_size, config.dec_hidden, config.attention
        self.embedding, self.cell = nn.Embedding(config.tgt_vocab, e), nn.GRUCell(e + h, d)
        self.key = nn.Linear(h, d)
        if self.method == "general":
            self.w = nn.Linear(d, d, bias=False)
        if self.method == "additive":
            self.w, self.v = nn.Linear(d, d), nn.Linear(d, 1, bias=False)
        self.out = nn.Linear(d + h, config.tgt_vocab)

    def precompute(self, encoder_outputs):
        return self.key(encoder_outputs)

    def forward_step(self, prev, hidden, encoder_outputs, mask, keys):
        if self.method == "none":
            weights = mask.float() / mask.float().sum(1, keepdim=True)
        else:
            if self.method == "additive":
                scores = self.v(torch.tanh(keys + self.w(hidden).unsqueeze(1))).squeeze(2)
            else:
                query = self.w(hidden) if self.method == "general" else hidden
                scores = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)
                if self.method == "scaled_dot":
                    scores = scores / math.sqrt(hidden.size(1))
            weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        context = torch.bmm(weights.unsqueeze(1), encoder_outputs).squeeze(1)
        hidden = self.cell(torch.cat([self.embedding(prev), context], dim=-1), hidden)
        return self.out(torch.cat([hidden, context], dim=-1)), hidden, weights


class StandInModel(nn.Module):
    """A small attention model with ``Seq2Seq``'s interface, sized by the config (emb_dim, hidden_size,
    dec_hidden, attention); its result never depends on which sentences share a batch."""

    def __init__(self, config) -> None:
        super().__init__()
        self.embedding = nn.Embedding(config.src_vocab, config.emb_dim)
        self.rnn = nn.GRU(config.emb_dim, config.hidden_size, batch_first=True)
        self.bridge = nn.Linear(config.hidden_size, config.dec_hidden)
        self.decoder = StandInDecoder(config)

    def encode(self, src, src_lengths):
        outputs, _ = self.rnn(self.embedding(src))
        last = outputs[torch.arange(src.size(0)), src_lengths.to(src.device) - 1]
        return outputs, torch.tanh(self.bridge(last)), src != PAD, self.decoder.precompute(outputs)

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio=1.0):
        return teacher_forced(self, src, src_lengths, tgt)


def teacher_forced(model: nn.Module, src, src_lengths, tgt) -> tuple[torch.Tensor, torch.Tensor]:
    """``Seq2Seq.forward`` at teacher-forcing ratio 1.0 for any model with ``encode`` and
    ``decoder.forward_step``: logits ``(batch, tgt_len, vocab)`` and weights ``(batch, tgt_len, src_len)``,
    position 0 (``<sos>``) all zeros."""
    outputs, hidden, mask, keys = model.encode(src, src_lengths)
    logits, weights = [], []
    for t in range(1, tgt.size(1)):
        step, hidden, w = model.decoder.forward_step(tgt[:, t - 1], hidden, outputs, mask, keys)
        logits.append(step)
        weights.append(w)
    logits, weights = torch.stack(logits, 1), torch.stack(weights, 1)
    return (torch.cat([torch.zeros_like(logits[:, :1]), logits], 1),
            torch.cat([torch.zeros_like(weights[:, :1]), weights], 1))


def train_epoch(model: nn.Module, loader, optimizer, loss_fn, *, clip=1.0, teacher_forcing_ratio=1.0,
                check_finite=False) -> float:
    """Stands in for Q23's ``train_epoch``: one epoch, the mean loss per target token."""
    model.train()
    total = tokens = 0
    for batch in loader:
        logits, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)
        loss = loss_fn(logits, batch.tgt)
        if check_finite and not math.isfinite(loss.item()):
            raise FloatingPointError(f"training diverged: loss {loss.item()}")
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        n = int((batch.tgt[:, 1:] != PAD).sum())
        total, tokens = total + loss.item() * n, tokens + n
    return total / max(tokens, 1)


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Stands in for Q4's ``set_seed``."""
    random.seed(seed)
    torch.manual_seed(seed)


@torch.no_grad()
def greedy(model: StandInModel, src: torch.Tensor, src_lengths: torch.Tensor, max_len: int) -> list[list[int]]:
    """Greedy translations of a batch, as token ids without ``<sos>`` (up to and without ``<eos>``)."""
    was_training = model.training
    model.eval()
    outputs, hidden, mask, keys = model.encode(src, src_lengths)
    prev = torch.full((src.size(0),), SOS, dtype=torch.long)
    rows, done = [[] for _ in range(src.size(0))], [False] * src.size(0)
    for _ in range(max_len):
        logits, hidden, _ = model.decoder.forward_step(prev, hidden, outputs, mask, keys)
        prev = logits.argmax(-1)
        for i, token in enumerate(prev.tolist()):
            done[i] = done[i] or token == EOS
            if not done[i]:
                rows[i].append(token)
        if all(done):
            break
    model.train(was_training)
    return rows


def corpus_bleu(hypotheses: list[list[str]], references: list[list[str]]):
    """sacrebleu's corpus BLEU on tokens (``tokenize="none"``), standing in for Q26's ``bleu``."""
    return sacrebleu.metrics.BLEU(tokenize="none", force=True).corpus_score(
        [" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]])
