"""Stand-ins that the probes hand to student code in place of other questions' answers: a small attention model
with ``Seq2Seq``'s interface, its configuration, a task of the grader's own with ``Data``'s interface, and a
greedy decoder. With them, a question that builds on others (the training loop, the comparison, the studies) is
graded on its own code alone: a bug elsewhere costs its own question, never this one.

Not a question's code, and not the reference solution's: written for the graders, small and deterministic.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

import sacrebleu
import torch
from torch import nn

from autograder.probes.common import EOS, PAD, SOS, Batch, TinyVocab


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
