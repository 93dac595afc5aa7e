"""The notebook way: a baseline for ``benchmarks/side_by_side.py``, written from a description of the popular
tutorial approach to attention seq2seq in PyTorch (a benchmark's baseline, not part of the package).

What "the notebook way" means here, and what this module reproduces:

* the model: a bidirectional GRU encoder over packed sequences whose final states go through
  ``tanh(Linear(2 * enc_hid, dec_hid))``; additive attention that concatenates the decoder state, repeated over
  the source positions, with the encoder states and runs ``Linear(2 * enc_hid + dec_hid, dec_hid)``, ``tanh`` and
  ``Linear(dec_hid, 1)`` over them at every step (nothing computed once per batch); a GRU decoder fed
  ``[embedded; weighted]``; an output layer over ``[output; weighted; embedded]``; padding masked with ``-1e10``;
  weights initialised from N(0, 0.01); tensors time-major, ``(len, batch)``;
* training: a Python loop over target positions, the output layer applied at every step, logits written into a
  ``zeros(trg_len, batch, vocab)`` tensor, and a teacher-forcing coin per step, ``random.random() < 0.5`` (the
  model's own argmax is computed every step either way); ``CrossEntropyLoss(ignore_index=PAD)`` on
  ``outputs[1:]``, Adam (lr 1e-3), gradient clipping 1.0, ``loss.item()`` every step for the epoch mean;
* batches bucketed only loosely, as torchtext's ``BucketIterator`` does: shuffle, cut into pools of 100 batches,
  sort each pool by source length, cut it into batches, shuffle the batches, and sort each batch by decreasing
  source length (for packing);
* greedy decoding one sentence at a time: encode one sentence, then one decoder call per token, ``argmax(1)
  .item()`` per step, stop at ``<eos>`` or at the length limit, attention weights kept.

Sizes come from the caller (``side_by_side.py`` passes the reference sizes: embeddings 256, encoder 512 per
direction, decoder 512, dropout 0.5, the Multi30k vocabularies), so both sides have the same model size; this
model has a few more parameters than the package's (its output layer also reads the embedding, its attention
layer reads the decoder state and the encoder states together).
"""
from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Encoder(nn.Module):
    def __init__(self, input_dim: int, emb_dim: int, enc_hid_dim: int, dec_hid_dim: int, dropout: float) -> None:
        super().__init__()
        self.embedding = nn.Embedding(input_dim, emb_dim)
        self.rnn = nn.GRU(emb_dim, enc_hid_dim, bidirectional=True)
        self.fc = nn.Linear(enc_hid_dim * 2, dec_hid_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, src: Tensor, src_len: Tensor) -> tuple[Tensor, Tensor]:
        """``src`` ``(src_len, batch)``, sorted by decreasing length -> outputs ``(src_len, batch, 2 * enc_hid)``,
        hidden ``(batch, dec_hid)``."""
        embedded = self.dropout(self.embedding(src))
        packed = nn.utils.rnn.pack_padded_sequence(embedded, src_len.to("cpu"))
        packed_outputs, hidden = self.rnn(packed)
        outputs, _ = nn.utils.rnn.pad_packed_sequence(packed_outputs)
        hidden = torch.tanh(self.fc(torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1)))
        return outputs, hidden


class Attention(nn.Module):
    def __init__(self, enc_hid_dim: int, dec_hid_dim: int) -> None:
        super().__init__()
        self.attn = nn.Linear(enc_hid_dim * 2 + dec_hid_dim, dec_hid_dim)
        self.v = nn.Linear(dec_hid_dim, 1, bias=False)

    def forward(self, hidden: Tensor, encoder_outputs: Tensor, mask: Tensor) -> Tensor:
        """``hidden`` ``(batch, dec_hid)``, ``encoder_outputs`` ``(src_len, batch, 2 * enc_hid)``, ``mask``
        ``(batch, src_len)`` -> weights ``(batch, src_len)``."""
        src_len = encoder_outputs.shape[0]
        hidden = hidden.unsqueeze(1).repeat(1, src_len, 1)
        encoder_outputs = encoder_outputs.permute(1, 0, 2)
        energy = torch.tanh(self.attn(torch.cat((hidden, encoder_outputs), dim=2)))
        attention = self.v(energy).squeeze(2)
        attention = attention.masked_fill(mask == 0, -1e10)
        return F.softmax(attention, dim=1)


class Decoder(nn.Module):
    def __init__(self, output_dim: int, emb_dim: int, enc_hid_dim: int, dec_hid_dim: int, dropout: float,
                 attention: Attention) -> None:
        super().__init__()
        self.output_dim = output_dim
        self.attention = attention
        self.embedding = nn.Embedding(output_dim, emb_dim)
        self.rnn = nn.GRU(enc_hid_dim * 2 + emb_dim, dec_hid_dim)
        self.fc_out = nn.Linear(enc_hid_dim * 2 + dec_hid_dim + emb_dim, output_dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, input: Tensor, hidden: Tensor, encoder_outputs: Tensor,
                mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """One step: ``input`` ``(batch,)`` -> prediction ``(batch, vocab)``, hidden ``(batch, dec_hid)``,
        attention ``(batch, src_len)``."""
        input = input.unsqueeze(0)
        embedded = self.dropout(self.embedding(input))
        a = self.attention(hidden, encoder_outputs, mask).unsqueeze(1)
        weighted = torch.bmm(a, encoder_outputs.permute(1, 0, 2)).permute(1, 0, 2)
        output, hidden = self.rnn(torch.cat((embedded, weighted), dim=2), hidden.unsqueeze(0))
        prediction = self.fc_out(torch.cat((output.squeeze(0), weighted.squeeze(0), embedded.squeeze(0)), dim=1))
        return prediction, hidden.squeeze(0), a.squeeze(1)


class Seq2Seq(nn.Module):
    def __init__(self, encoder: Encoder, decoder: Decoder, src_pad_idx: int) -> None:
        super().__init__()
        self.encoder, self.decoder, self.src_pad_idx = encoder, decoder, src_pad_idx

    def create_mask(self, src: Tensor) -> Tensor:
        return (src != self.src_pad_idx).permute(1, 0)

    def forward(self, src: Tensor, src_len: Tensor, trg: Tensor, teacher_forcing_ratio: float = 0.5) -> Tensor:
        """``src`` ``(src_len, batch)``, ``trg`` ``(trg_len, batch)`` -> outputs ``(trg_len, batch, vocab)``,
        row 0 zeros."""
        trg_len, batch_size = trg.shape
        outputs = torch.zeros(trg_len, batch_size, self.decoder.output_dim, device=src.device)
        encoder_outputs, hidden = self.encoder(src, src_len)
        input = trg[0, :]
        mask = self.create_mask(src)
        for t in range(1, trg_len):
            output, hidden, _ = self.decoder(input, hidden, encoder_outputs, mask)
            outputs[t] = output
            teacher_force = random.random() < teacher_forcing_ratio
            top1 = output.argmax(1)
            input = trg[t] if teacher_force else top1
        return outputs


def build(src_vocab: int, tgt_vocab: int, pad: int, emb_dim: int = 256, enc_hid_dim: int = 512,
          dec_hid_dim: int = 512, dropout: float = 0.5) -> Seq2Seq:
    """The notebook's model with its initialisation (weights N(0, 0.01), everything else 0)."""
    attention = Attention(enc_hid_dim, dec_hid_dim)
    model = Seq2Seq(Encoder(src_vocab, emb_dim, enc_hid_dim, dec_hid_dim, dropout),
                    Decoder(tgt_vocab, emb_dim, enc_hid_dim, dec_hid_dim, dropout, attention), pad)
    for name, param in model.named_parameters():
        if "weight" in name:
            nn.init.normal_(param.data, mean=0, std=0.01)
        else:
            nn.init.constant_(param.data, 0)
    return model


def pool_batches(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], batch_size: int, pad: int,
                 rng: random.Random) -> list[tuple[Tensor, Tensor, Tensor]]:
    """One epoch of loosely bucketed batches, as torchtext's ``BucketIterator`` makes them for training.

    Args:
        pairs: ``(src ids, tgt ids)``, both ``<sos> ... <eos>``.
        rng: the shuffles' generator.

    Returns:
        ``(src (src_len, batch), src_len (batch,), trg (trg_len, batch))`` per batch, each batch sorted by
        decreasing source length, padded with ``pad``.
    """
    order = list(range(len(pairs)))
    rng.shuffle(order)
    batches = []
    pool_size = batch_size * 100
    for start in range(0, len(order), pool_size):
        pool = sorted(order[start:start + pool_size], key=lambda i: len(pairs[i][0]))
        chunks = [pool[k:k + batch_size] for k in range(0, len(pool), batch_size)]
        rng.shuffle(chunks)
        batches.extend(chunks)
    return [collate([pairs[i] for i in chunk], pad) for chunk in batches]


def collate(pairs: Sequence[tuple[Sequence[int], Sequence[int]]], pad: int) -> tuple[Tensor, Tensor, Tensor]:
    """Time-major padded tensors, sorted by decreasing source length (``sort_within_batch``)."""
    pairs = sorted(pairs, key=lambda pair: -len(pair[0]))
    src = nn.utils.rnn.pad_sequence([torch.tensor(s) for s, _ in pairs], padding_value=pad)
    trg = nn.utils.rnn.pad_sequence([torch.tensor(t) for _, t in pairs], padding_value=pad)
    return src, torch.tensor([len(s) for s, _ in pairs]), trg


def train(model: Seq2Seq, batches: Sequence[tuple[Tensor, Tensor, Tensor]], optimizer: torch.optim.Optimizer,
          criterion: nn.Module, clip: float = 1.0, teacher_forcing_ratio: float = 0.5) -> float:
    """The notebook's training loop over ``batches``; returns the mean batch loss."""
    model.train()
    epoch_loss = 0.0
    for src, src_len, trg in batches:
        optimizer.zero_grad()
        output = model(src, src_len, trg, teacher_forcing_ratio)
        output_dim = output.shape[-1]
        loss = criterion(output[1:].view(-1, output_dim), trg[1:].view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        epoch_loss += loss.item()
    return epoch_loss / max(1, len(batches))


def translate_sentence(model: Seq2Seq, src_indexes: Sequence[int], sos: int, eos: int,
                       max_len: int = 50) -> tuple[list[int], Tensor]:
    """Greedy decoding of one sentence (ids ``<sos> ... <eos>``): ``(generated ids, <eos> included when
    produced; attention (max_len, 1, src_len))``."""
    model.eval()
    src_tensor = torch.LongTensor(list(src_indexes)).unsqueeze(1)
    src_len = torch.LongTensor([len(src_indexes)])
    with torch.no_grad():
        encoder_outputs, hidden = model.encoder(src_tensor, src_len)
    mask = model.create_mask(src_tensor)
    trg_indexes = [sos]
    attentions = torch.zeros(max_len, 1, len(src_indexes))
    for i in range(max_len):
        trg_tensor = torch.LongTensor([trg_indexes[-1]])
        with torch.no_grad():
            output, hidden, attention = model.decoder(trg_tensor, hidden, encoder_outputs, mask)
        attentions[i] = attention
        pred_token = output.argmax(1).item()
        trg_indexes.append(pred_token)
        if pred_token == eos:
            break
    return trg_indexes[1:], attentions[:len(trg_indexes) - 1]
