"""Section 3, preparing the dataset: Q5–Q8.

Q5  loading a parallel corpus: reading ``source<TAB>target`` files (:func:`read_tsv`) and a seeded
    train/valid/test split (:func:`split_pairs`);
Q6  normalising and tokenising sentences with spaCy (:func:`normalize_text`, :func:`tokenize`) and turning tokens
    into indices (:meth:`Vocab.encode`);
Q7  building the vocabulary of each language (:meth:`Vocab.build`) and inverting it (:meth:`Vocab.decode`);
Q8  batching: the padding collate (:func:`collate_batch`) and a length-bucketing batch sampler
    (:class:`BucketBatchSampler`), put together by :func:`make_loader`.

torchtext (``Field``, ``BucketIterator``, ``datasets.Multi30k``) is gone from current PyTorch, so this module does
its job with plain Python, spaCy and ``torch.utils.data``.

A :class:`Corpus` holds raw ``(source, target)`` strings, split into train/valid/test; the corpora themselves
(the embedded synthetic one, Tatoeba, Multi30k) are loaded by :mod:`seq2seq.corpora`. Real corpora live in a data
directory (argument ``data_dir``, else ``$SEQ2SEQ_DATA_DIR``): :func:`resolve_data_dir`, the one rule for it.
"""
from __future__ import annotations

import functools
import math
import os
import random
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, Dataset, Sampler

from seq2seq import EOS, PAD, SOS, SPECIALS, UNK

Pair = tuple[str, str]                   # (source sentence, target sentence), raw text
Alignment = list[tuple[int, int]]        # (source token position, target token position), 0-based, no <sos>
DATA_ENV = "SEQ2SEQ_DATA_DIR"
SPLITS = ("train", "valid", "test")


class DataError(ValueError):
    """A corpus file that cannot be used as it is; the message names the file (and the line, where there is one)."""


# ================================================================================================== corpora
@dataclass
class Corpus:
    """A parallel corpus split three ways. ``alignments`` (synthetic corpus only) parallels each split's pairs."""

    name: str
    src_lang: str
    tgt_lang: str
    train: list[Pair]
    valid: list[Pair]
    test: list[Pair]
    alignments: dict[str, list[Alignment]] | None = None
    skipped: int = 0     # malformed lines skipped while reading (strict=False); always reported, never silent

    def __getitem__(self, split: str) -> list[Pair]:
        if split not in SPLITS:
            raise KeyError(f"unknown split {split!r}; use one of {SPLITS}")
        return getattr(self, split)

    def sizes(self) -> dict[str, int]:
        return {split: len(self[split]) for split in SPLITS}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{split} {n:,}" for split, n in self.sizes().items())
        return f"Corpus({self.name}: {self.src_lang}→{self.tgt_lang}, {sizes}, skipped {self.skipped})"


def resolve_data_dir(data_dir: str | Path | None = None, *, create: bool = False) -> Path:
    """The data directory: ``data_dir`` if given, else ``$SEQ2SEQ_DATA_DIR``. It must exist, unless ``create``
    (the download), which makes it and its parents.

    Raises:
        DataError: neither is set, or (without ``create``) the directory does not exist.
    """
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_ENV)
    if not chosen:
        raise DataError(f"no data directory: pass data_dir=... (--data-dir on the command line) or set {DATA_ENV}; "
                        "to fetch the corpora: python -m seq2seq.corpora download --data-dir DIR")
    path = Path(chosen).expanduser()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    elif not path.is_dir():
        raise DataError(f"data directory {path} does not exist (from {'data_dir' if data_dir else DATA_ENV}); "
                        "fetch the corpora with: python -m seq2seq.corpora download --data-dir DIR")
    return path


def read_lines(path: str | Path) -> list[str]:
    """All lines of a UTF-8 text file, without their line endings (``\\n`` or ``\\r\\n``).

    Raises:
        FileNotFoundError: no such file (the message says how to get the corpora).
        DataError: the file is empty, or a line is not valid UTF-8 (the message names the file and the line).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; set {DATA_ENV} to the folder that holds the corpora, or "
                                "fetch them with: python -m seq2seq.corpora download --data-dir DIR")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path}: the file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # slow path, only to say where
        for number, line in enumerate(raw.split(b"\n"), start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(f"{path}:{number}: not valid UTF-8 (byte 0x{line[error.start]:02x} at column "
                                f"{error.start + 1})") from None
        raise
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last line, it does not start an empty one
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_tsv(path: str | Path, *, strict: bool = True) -> tuple[list[Pair], list[tuple[int, str]]]:
    """Q5 (part a): read a parallel corpus with one ``source<TAB>target`` pair per line.

    Use :func:`read_lines` to get the lines (it already raises for a missing file, an empty file and a line that
    is not UTF-8). Then, for each line, numbered from 1:

    * split at the tab characters; the first field is the source, the second the target, and any further fields
      are ignored (newer manythings.org files add an attribution column);
    * strip surrounding whitespace from both sides;
    * a line is *malformed* when it has no tab, or when either side is empty after stripping.

    Args:
        path: the file.
        strict: True raises at the first malformed line; False skips malformed lines but reports each of them.

    Returns:
        ``(pairs, skipped)``: ``pairs`` is the list of ``(source, target)`` string tuples in file order;
        ``skipped`` lists ``(line number, reason)`` for every malformed line (empty when ``strict``), where
        reason is ``"no tab"`` or ``"empty side"``.

    Raises:
        DataError: with ``strict``, at the first malformed line, with a message that starts with
            ``f"{path}:{line number}: "`` and says what is wrong. Also without ``strict`` when no line at all
            could be read: a corpus that silently became empty is worse than an error.
    """
    pairs: list[Pair] = []
    skipped: list[tuple[int, str]] = []
    for number, line in enumerate(read_lines(path), start=1):
        fields = line.split("\t")
        if len(fields) < 2:
            reason, detail = "no tab", "no tab between source and target"
        else:
            source, target = fields[0].strip(), fields[1].strip()
            if source and target:
                pairs.append((source, target))
                continue
            reason, detail = "empty side", f"empty {'source' if not source else 'target'} after stripping"
        if strict:
            raise DataError(f"{path}:{number}: {detail} (expected 'source<TAB>target'), got {line[:80]!r}")
        skipped.append((number, reason))
    if not pairs:
        raise DataError(f"{path}: no line could be read as 'source<TAB>target' ({len(skipped)} malformed lines, "
                        f"first: line {skipped[0][0]}, {skipped[0][1]})" if skipped else f"{path}: no pairs")
    return pairs, skipped


def split_pairs(pairs: Sequence[Pair], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), *,
                seed: int = 0) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """Q5 (part b): split pairs at random into train, valid and test, the same way for the same seed.

    Shuffle a *copy* of ``pairs`` with a private generator ``random.Random(seed)`` (never the global ``random``
    state, which other code changes; never the input list itself), then cut it: the first ``n_valid`` shuffled
    pairs are the validation set, the next ``n_test`` the test set and the rest the training set, where
    ``n_valid = int(len(pairs) * fractions[1])`` and ``n_test = int(len(pairs) * fractions[2])``. Shuffle before
    cutting: files are often sorted (Tatoeba by length), and a cut in file order would test on the longest
    sentences only.

    Args:
        pairs: the pairs to split (not modified).
        fractions: ``(train, valid, test)`` fractions, each in [0, 1], summing to 1.
        seed: the seed of the shuffle.

    Returns:
        ``(train, valid, test)`` lists that together hold every pair exactly once.

    Raises:
        ValueError: fractions that are negative or do not sum to 1 (within 1e-6).
    """
    fractions = tuple(fractions)
    if len(fractions) != 3:
        raise ValueError(f"fractions must be three numbers (train, valid, test), got {fractions!r}")
    if any(not 0.0 <= f <= 1.0 for f in fractions):  # also refuses NaN
        raise ValueError(f"each fraction must lie in [0, 1], got {fractions!r}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {fractions!r} (sum {sum(fractions)})")
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    n_valid = int(len(shuffled) * fractions[1])
    n_test = int(len(shuffled) * fractions[2])
    valid = shuffled[:n_valid]
    test = shuffled[n_valid:n_valid + n_test]
    train = shuffled[n_valid + n_test:]
    return train, valid, test


# ================================================================================================== tokens
_CHARMAP = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'",         # curly apostrophes -> '
                          "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u3000": " ",  # no-break/thin -> space
                          "\u200b": None, "\u00ad": None})                      # zero-width space, soft hyphen


def normalize_text(text: str, *, lower: bool = True) -> str:
    """Q6 (part a): normalise a sentence before tokenising it, so that equal words become equal tokens.

    In this order:

    1. Unicode NFC normalisation (``unicodedata.normalize("NFC", text)``): "e" + combining accent becomes "é";
    2. the curly apostrophes ``’`` (U+2019), ``‘`` (U+2018) and ``ʼ`` (U+02BC) become ``'``, so "I’m" and "I'm"
       give the same tokens;
    3. the no-break spaces U+00A0 and U+202F (French puts them before "!", "?", ":"), the thin space U+2009 and
       the ideographic space U+3000 become ordinary spaces; the zero-width space U+200B and the soft hyphen
       U+00AD are deleted;
    4. runs of whitespace become one space, and leading/trailing whitespace is removed;
    5. with ``lower``, the text is lower-cased (``str.lower``).

    Returns:
        The normalised string.
    """
    text = unicodedata.normalize("NFC", text)
    text = text.translate(_CHARMAP)
    text = " ".join(text.split())
    if lower:
        text = text.lower()
    return text


@functools.cache
def get_tokenizer(lang: str) -> Any:
    """spaCy's rule-based tokenizer for ``lang`` ("en", "fr", "de", ...), built once and cached (it takes a
    second): ``get_tokenizer("fr")("l'école")`` is a spaCy ``Doc`` whose tokens have a ``.text``."""
    import spacy  # imported here: loading spaCy takes seconds that sections without text do not need

    return spacy.blank(lang).tokenizer


def tokenize(text: str, lang: str, *, lower: bool = True) -> list[str]:
    """Q6 (part b): split a sentence into tokens with spaCy's tokenizer for its language.

    Normalise with :func:`normalize_text` (passing ``lower`` on), run the cached :func:`get_tokenizer` ``(lang)``
    on the result and keep the text of every token (after normalising, none is whitespace). spaCy knows each
    language's rules: English "I'm" → ``["i", "'m"]``, French "l'école" → ``["l'", "école"]`` while
    "aujourd'hui" stays one token.

    Args:
        text: one sentence.
        lang: a spaCy language code, "en", "fr" or "de" here.
        lower: lower-case the text first (smaller vocabularies; the usual choice for small corpora).

    Returns:
        The tokens, a list of strings (empty for an empty sentence).
    """
    normalized = normalize_text(text, lower=lower)
    if not normalized:
        return []
    return [token.text for token in get_tokenizer(lang)(normalized) if token.text.strip()]


_NO_SPACE_BEFORE = {".", ",", "!", "?", ";", ":", ")", "]", "}", "...", "%", "n't", "'s", "'m", "'re", "'ve",
                    "'ll", "'d", "'"}
_NO_SPACE_AFTER = {"(", "[", "{", "«"}
_FRENCH_SPACED = {"!", "?", ";", ":", "»"}  # French typography keeps a space before these


def detokenize(tokens: Sequence[str], lang: str = "en") -> str:
    """Join tokens into a sentence for reading and for sacrebleu (which tokenises again itself): no space
    before punctuation and English clitics ("n't", "'s"), none after French elisions ("l'", "qu'") and none
    before French hyphenated pronouns ("-ce", "-il"); French keeps its space before "!", "?", ";", ":"."""
    out = ""
    for token in tokens:
        glue = (not out or out.endswith(tuple(_NO_SPACE_AFTER))
                or (token in _NO_SPACE_BEFORE and not (lang == "fr" and token in _FRENCH_SPACED))
                or (lang == "fr" and (out.endswith("'") or (token.startswith("-") and len(token) > 1))))
        out += token if glue else " " + token
    return out


# ================================================================================================== vocabulary
class Vocab:
    """Token ↔ index maps of one language; the specials ``<pad> <sos> <eos> <unk>`` are always indices 0–3.

    ``Vocab(tokens)`` takes the full index → token list (specials first); build one from a corpus with
    :meth:`Vocab.build`. ``itos[i]`` is the token of index ``i``, ``stoi[token]`` its index.
    """

    def __init__(self, tokens: Sequence[str]) -> None:
        if tuple(tokens[:len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with the specials {SPECIALS} at indices 0-3, "
                             f"got {list(tokens[:len(SPECIALS)])}")
        if len(set(tokens)) != len(tokens):
            duplicates = sorted(token for token, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"a vocabulary holds each token once; repeated: {duplicates[:5]}")
        self.itos: list[str] = list(tokens)
        self.stoi: dict[str, int] = {token: index for index, token in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {self.itos[4:9]}...)"

    def token_to_id(self, token: str) -> int:
        """The index of ``token``; ``UNK`` (3) for a token not in the vocabulary."""
        return self.stoi.get(token, UNK)

    def id_to_token(self, index: int) -> str:
        """The token of ``index``. Raises IndexError outside ``0 .. len(self) - 1``."""
        if not 0 <= index < len(self.itos):
            raise IndexError(f"index {index} is outside this vocabulary of {len(self.itos)} tokens")
        return self.itos[index]

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], *, min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Q7 (part a): build the vocabulary of one language from its tokenised training sentences.

        Count how often each token occurs over all ``sentences`` (``collections.Counter``). Keep the tokens
        that occur at least ``min_freq`` times, ordered by decreasing count and, among equal counts, by the
        token itself (alphabetical, ``str`` order) so that the same data always gives the same indices. With
        ``max_size``, keep only the first ``max_size`` of them. The four ``SPECIALS`` (``from seq2seq import
        SPECIALS``) come first, at indices 0–3 (``PAD, SOS, EOS, UNK``), whatever the data: models, losses and
        masks rely on those indices. A special appearing in the data is not counted as an ordinary token.

        Args:
            sentences: token lists, e.g. ``[["the", "cat", "."], ...]`` (any iterable, read once).
            min_freq: the smallest count a token needs to be kept (``min_freq=2`` drops tokens seen once).
            max_size: the largest number of *ordinary* tokens (the four specials come on top), or None.

        Returns:
            ``Vocab(list(SPECIALS) + kept_tokens)``.
        """
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(sentence)
        specials = set(SPECIALS)
        kept = sorted((token for token, n in counts.items() if n >= min_freq and token not in specials),
                      key=lambda token: (-counts[token], token))
        if max_size is not None:
            kept = kept[:max(0, max_size)]
        return cls(list(SPECIALS) + kept)

    def encode(self, tokens: Sequence[str], *, add_sos_eos: bool = True) -> list[int]:
        """Q6 (part c): numericalise tokens.

        Args:
            tokens: a tokenised sentence, e.g. ``["the", "cat", "."]``.
            add_sos_eos: put ``SOS`` (1) first and ``EOS`` (2) last: the decoder starts from <sos> and learns to
                stop by predicting <eos>.

        Returns:
            One index per token (``UNK`` (3) for a token not in the vocabulary, never an error), with ``SOS``
            before and ``EOS`` after when ``add_sos_eos``: a list of ``len(tokens) + 2`` ints.
        """
        ids = [self.stoi.get(token, UNK) for token in tokens]
        return [SOS, *ids, EOS] if add_sos_eos else ids

    def decode(self, ids: Iterable[int], *, strip_specials: bool = True) -> list[str]:
        """Q7 (part b): turn indices back into tokens (e.g. the model's output), inverting :meth:`encode`.

        Args:
            ids: indices (ints, or a 1-D tensor's ``.tolist()``).
            strip_specials: stop at the first ``EOS`` (what follows is padding or noise) and leave out ``PAD``
                and ``SOS``; ``UNK`` stays as ``"<unk>"``, since it stands for a word. With False, every index
                becomes its token, specials included, and nothing stops early.

        Returns:
            The tokens, a list of strings; ``decode(encode(tokens)) == tokens`` for tokens in the vocabulary.

        Raises:
            IndexError: an index outside the vocabulary.
        """
        tokens: list[str] = []
        for index in ids:
            index = int(index)
            if strip_specials:
                if index == EOS:
                    break
                if index in (PAD, SOS):
                    continue
            tokens.append(self.id_to_token(index))
        return tokens


# ================================================================================================== batches
class Batch(NamedTuple):
    """A padded batch. ``src``: LongTensor ``(batch, src_len)`` of ``<sos> ... <eos>`` sequences padded with
    ``PAD``; ``src_lengths``: LongTensor ``(batch,)`` of the true source lengths (``<sos>`` and ``<eos>``
    counted), on the CPU (what ``pack_padded_sequence`` wants); ``tgt``: LongTensor ``(batch, tgt_len)``,
    ``<sos> ... <eos>`` padded with ``PAD``. Row ``i`` of ``src`` and of ``tgt`` hold the same pair.

    Move a batch with :meth:`Batch.to`, which keeps ``src_lengths`` on the CPU, as the training and evaluation
    loops do. The generic ``environment.move_to`` (Q3) knows nothing of this rule: it moves every tensor field of
    a named tuple, ``src_lengths`` included (``pack_padded_sequence`` then needs them copied back to the
    CPU)."""

    src: torch.Tensor
    src_lengths: torch.Tensor
    tgt: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """Move ``src`` and ``tgt`` to ``device``; ``src_lengths`` stays on the CPU."""
        return Batch(self.src.to(device, non_blocking=non_blocking), self.src_lengths,
                     self.tgt.to(device, non_blocking=non_blocking))


class TranslationDataset(Dataset):
    """Numericalised pairs: item ``i`` is ``(src, tgt)``, two 1-D LongTensors ``<sos> ... <eos>``."""

    def __init__(self, examples: Sequence[tuple[Sequence[str], Sequence[str]]], src_vocab: Vocab,
                 tgt_vocab: Vocab) -> None:
        self.src = [src_vocab.encode(src) for src, _ in examples]
        self.tgt = [tgt_vocab.encode(tgt) for _, tgt in examples]

    def __len__(self) -> int:
        return len(self.src)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.tensor(self.src[index], dtype=torch.long), torch.tensor(self.tgt[index], dtype=torch.long)

    def lengths(self) -> list[tuple[int, int]]:
        """``(src_len, tgt_len)`` of every item: the bucketing key."""
        return [(len(src), len(tgt)) for src, tgt in zip(self.src, self.tgt)]


def collate_batch(items: Sequence[tuple[torch.Tensor, torch.Tensor]], *, sort_by_length: bool = False) -> Batch:
    """Q8 (part a): pad a list of ``(src, tgt)`` pairs into one :class:`Batch` (the DataLoader's ``collate_fn``).

    Args:
        items: ``batch`` pairs of 1-D LongTensors (lengths vary), as :class:`TranslationDataset` gives them.
        sort_by_length: reorder the pairs by decreasing source length (stable: equal lengths keep their order),
            keeping each source with its own target. ``nn.utils.rnn.pack_padded_sequence`` accepts unsorted
            batches only with ``enforce_sorted=False``; a sorted batch works with either setting.

    Returns:
        ``Batch(src, src_lengths, tgt)``: ``src`` LongTensor ``(batch, longest source)`` and ``tgt`` LongTensor
        ``(batch, longest target)``, both padded on the right with ``PAD`` (0) (``nn.utils.rnn.pad_sequence`` with
        ``batch_first=True``); ``src_lengths`` LongTensor ``(batch,)`` holding each source's length *before*
        padding, on the CPU.
    """
    items = list(items)
    if sort_by_length:
        items = sorted(items, key=lambda item: -len(item[0]))  # sorted() is stable: ties keep their order
    sources = [torch.as_tensor(src, dtype=torch.long) for src, _ in items]
    targets = [torch.as_tensor(tgt, dtype=torch.long) for _, tgt in items]
    src = pad_sequence(sources, batch_first=True, padding_value=PAD)
    tgt = pad_sequence(targets, batch_first=True, padding_value=PAD)
    src_lengths = torch.tensor([len(s) for s in sources], dtype=torch.long)
    return Batch(src, src_lengths, tgt)


class BucketBatchSampler(Sampler[list[int]]):
    """Q8 (part b): yield batches of dataset indices, pairs of similar length together, to keep padding small.

    Every epoch (every pass over ``iter(sampler)``) lists each index ``0 .. len(lengths) - 1`` exactly once, in
    batches of ``batch_size`` indices; only the last batch may be smaller, and it is kept (dropping it would silently
    never train on some pairs). The epoch's randomness comes only from a private ``random.Random`` seeded with
    ``f"{seed}:{epoch}"`` (a string seed: it is hashed the same way in every run), so runs are reproducible and
    each epoch differs. The epoch counter starts at 0 and goes up by one per epoch; ``set_epoch`` sets it.
    ``__iter__`` is a generator (its batches come from ``yield``), so ``iter(sampler)`` alone runs none of it: the
    counter goes up when the epoch's first batch is asked for (the first ``next()``, which a ``DataLoader`` makes
    when a loop over it starts). An epoch cut short after its first batch still counts; an iterator that was never
    advanced does not.

    One epoch, with ``rng = random.Random(f"{self.seed}:{self.epoch}")``:

    1. ``indices = list(range(n))``; with ``shuffle``, ``rng.shuffle(indices)``;
    2. with ``bucket``, sort the indices by ``lengths[index]`` (a stable sort, so that equal lengths stay in
       their shuffled order);
    3. cut into consecutive batches of ``batch_size``;
    4. with ``shuffle``, ``rng.shuffle`` the list of batches (so training does not go from short to long);
    5. add one to the epoch counter (before yielding, so that an epoch cut short still counts), then yield the
       batches.

    Args:
        lengths: one sortable length per dataset item (an int, or a ``(src_len, tgt_len)`` tuple).
        batch_size: the number of indices per batch, at least 1.
        shuffle: randomise as above; False gives the same batches every epoch.
        bucket: group by length as above; False gives batches of unrelated lengths.
        seed: the seed of the shuffles.
    """

    def __init__(self, lengths: Sequence[Any], batch_size: int, *, shuffle: bool = True, bucket: bool = True,
                 seed: int = 0) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.lengths, self.batch_size = list(lengths), batch_size
        self.shuffle, self.bucket, self.seed, self.epoch = shuffle, bucket, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        rng = random.Random(f"{self.seed}:{self.epoch}")
        indices = list(range(len(self.lengths)))
        if self.shuffle:
            rng.shuffle(indices)
        if self.bucket:
            indices.sort(key=lambda index: self.lengths[index])  # list.sort is stable
        batches = [indices[start:start + self.batch_size] for start in range(0, len(indices), self.batch_size)]
        if self.shuffle:
            rng.shuffle(batches)
        self.epoch += 1
        yield from batches


def make_loader(dataset: TranslationDataset, batch_size: int, *, shuffle: bool = True, bucket: bool = True,
                sort_by_length: bool = False, seed: int = 0, device: torch.device | str | None = None,
                num_workers: int = 0) -> DataLoader:
    """A DataLoader of :class:`Batch` es over ``dataset``: :class:`BucketBatchSampler` batches,
    :func:`collate_batch` padding, and pinned memory when ``device`` is CUDA (faster copies to the GPU)."""
    sampler = BucketBatchSampler(dataset.lengths(), batch_size, shuffle=shuffle, bucket=bucket, seed=seed)
    pin = device is not None and torch.device(device).type == "cuda"
    return DataLoader(dataset, batch_sampler=sampler, num_workers=num_workers, pin_memory=pin,
                      collate_fn=functools.partial(collate_batch, sort_by_length=sort_by_length))


def keeps_dataset_order(loader: Any) -> bool:
    """Whether ``loader`` yields its dataset's items in order, batch after batch and row after row: False for a
    :func:`make_loader` DataLoader that shuffles, buckets or sorts its batches (``sort_by_length``), True for any
    other loader (lists of batches, stand-ins: nothing here can see into them)."""
    sampler, collate = getattr(loader, "batch_sampler", None), getattr(loader, "collate_fn", None)
    if isinstance(sampler, BucketBatchSampler) and (sampler.shuffle or sampler.bucket):
        return False
    return not (isinstance(collate, functools.partial) and collate.keywords.get("sort_by_length"))


def padding_fraction(batches: Iterable[Batch]) -> float:
    """The mean, over batches, of the fraction of PAD positions in ``src`` and ``tgt`` together."""
    fractions = [float(((batch.src == PAD).sum() + (batch.tgt == PAD).sum()) / (batch.src.numel() + batch.tgt.numel()))
                 for batch in batches]
    return sum(fractions) / max(1, len(fractions))


# ================================================================================================== all together
@dataclass
class Data:
    """A corpus tokenised, with vocabularies built on its training split and a dataset per split."""

    corpus: Corpus
    src_vocab: Vocab
    tgt_vocab: Vocab
    tokens: dict[str, list[tuple[list[str], list[str]]]] = field(repr=False)
    datasets: dict[str, TranslationDataset] = field(repr=False)

    def loader(self, split: str, batch_size: int, **options: Any) -> DataLoader:
        """:func:`make_loader` on one split. Only ``"train"`` is shuffled and bucketed by default; ``"valid"`` and
        ``"test"`` come in dataset order, so that the i-th sentence a loop over the loader sees is
        ``self.tokens[split][i]``: ``evaluate(model, data.loader("valid", 64), data.tgt_vocab,
        references=[tgt for _, tgt in data.tokens["valid"]])`` pairs every hypothesis with its own reference.

        ``options`` are :func:`make_loader`'s (``shuffle``, ``bucket``, ``sort_by_length``, ``seed``, ``device``,
        ``num_workers``); a loader that reorders an evaluation split (``bucket=True``, ``shuffle=True`` or
        ``sort_by_length=True``) no longer matches ``tokens[split]``, and ``evaluate`` refuses it with
        ``references`` (:func:`keeps_dataset_order`).
        """
        for option in ("shuffle", "bucket"):
            options.setdefault(option, split == "train")
        return make_loader(self.datasets[split], batch_size, **options)


def prepare(corpus: Corpus, *, min_freq: int = 2, max_size: int | None = None, lower: bool = True,
            tokenizer: Callable[..., list[str]] | None = None) -> Data:
    """Tokenise every split, build both vocabularies on the training split only (a token seen only in test data
    is unknown to the model, as it would be in real use), and numericalise every split.

    ``tokenizer(text, lang, lower=lower)`` defaults to :func:`tokenize` (spaCy); the synthetic corpus, whose
    words are separated by single spaces, can pass a plain split instead (same tokens, no spaCy start-up)."""
    tokenizer = tokenizer or tokenize
    tokens = {split: [(tokenizer(src, corpus.src_lang, lower=lower), tokenizer(tgt, corpus.tgt_lang, lower=lower))
                      for src, tgt in corpus[split]] for split in SPLITS}
    src_vocab = Vocab.build((src for src, _ in tokens["train"]), min_freq=min_freq, max_size=max_size)
    tgt_vocab = Vocab.build((tgt for _, tgt in tokens["train"]), min_freq=min_freq, max_size=max_size)
    datasets = {split: TranslationDataset(tokens[split], src_vocab, tgt_vocab) for split in SPLITS}
    return Data(corpus, src_vocab, tgt_vocab, tokens, datasets)
