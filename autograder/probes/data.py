"""Probes of section 3, data: Q5–Q8.

They run in the grading child only, on student code, and return plain data; the checks that compare
those data with the reference's are in ``autograder/graders/grade_data.py``.
"""
from __future__ import annotations

import random
import tempfile
import warnings
from pathlib import Path

import torch

from autograder.probes.common import attempt
from autograder.registry import probe, question

question("Q5", "loading and splitting a parallel corpus", points=2, timeout=60)
question("Q6", "normalising, tokenising and numericalising", points=3, timeout=60)
question("Q7", "building and inverting a vocabulary", points=3, timeout=60)
question("Q8", "padding collate and bucketing batch sampler", points=3, timeout=60)

SPECIALS = ["<pad>", "<sos>", "<eos>", "<unk>"]  # the fixed indices 0-3 every vocabulary starts with


def _value_or_error(fn, *args, **kwargs) -> list:
    """``["ok", value]`` or ``["raised", type name, message, is a ValueError]``; NotImplementedError propagates."""
    value, error = attempt(fn, *args, **kwargs)
    if error is None:
        return ["ok", value]
    return ["raised", type(error).__name__, str(error)[:300], isinstance(error, ValueError)]


def _folder() -> Path:
    return Path(tempfile.mkdtemp(prefix="data-"))


# ---------------------------------------------------------------------------------------------------- Q5
# Line numbers of the fixture below, 1-based: what read_tsv must keep, skip, and report.
TSV_LINES = [
    "Go.\tVa !",
    "Run!\tCours\u202f!",
    "  Who?  \t  Qui ?  ",
    "no tab on this line",
    "Wow!\tÇa alors !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272",
    "Fire!\t",
    "Help!\tÀ l'aide !\r",
    "\tJe comprends.",
    "I see.\tJe comprends.",
    "   \t   ",
    "Thanks.\tMerci.",
]
SPLIT_PAIRS = [(f"source {i}", f"cible {i}") for i in range(200)]


def _write(folder: Path, name: str, lines: list[str]) -> Path:
    path = folder / name
    path.write_bytes("".join(line + "\n" for line in lines).encode("utf-8"))
    return path


@probe("Q5")
def q5_read(s):
    folder = _folder()
    messy = _write(folder, "corpus.tsv", TSV_LINES)
    clean = _write(folder, "clean.tsv", [line for line in TSV_LINES if line.strip("\r").count("\t") and
                                         all(side.strip() for side in line.split("\t")[:2])])
    hopeless = _write(folder, "hopeless.tsv", ["no tab", "\tnothing"])
    pairs, skipped = s.data.read_tsv(messy, strict=False)
    return {"pairs": [list(pair) for pair in pairs], "skipped": [list(item) for item in skipped],
            "types": sorted({type(pair).__name__ for pair in pairs}),
            "clean": _value_or_error(lambda: [len(part) for part in s.data.read_tsv(clean)]),
            "strict": _value_or_error(s.data.read_tsv, messy),
            "hopeless": _value_or_error(s.data.read_tsv, hopeless, strict=False)}


@probe("Q5")
def q5_split(s):
    pairs = list(SPLIT_PAIRS)
    random.seed(1)
    first = s.data.split_pairs(pairs, (0.8, 0.1, 0.1), seed=7)
    random.seed(2)  # a different global state must not matter
    again = s.data.split_pairs(pairs, (0.8, 0.1, 0.1), seed=7)
    other = s.data.split_pairs(pairs, (0.8, 0.1, 0.1), seed=8)
    odd = s.data.split_pairs(pairs[:103], (0.5, 0.3, 0.2), seed=0)
    return {"first": [list(map(list, part)) for part in first], "again": [list(map(list, part)) for part in again],
            "other": [list(map(list, part)) for part in other], "odd": [len(part) for part in odd],
            "odd_all": sorted(map(list, odd[0] + odd[1] + odd[2])),
            "given_after": [list(pair) for pair in pairs],
            "bad_fractions": _value_or_error(s.data.split_pairs, pairs, (0.5, 0.5, 0.5))}


@probe("Q5")
def q5_load(s):
    folder = _folder()
    lines = [f"Sentence number {i}.\tPhrase numéro {i}." for i in range(60)]
    _write(folder, "eng-fra.txt", lines[:30] + ["a line without a tab"] + lines[30:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        corpus = s.corpora.load_tatoeba(folder, strict=False, fractions=(0.6, 0.2, 0.2), seed=1)
        flipped = s.corpora.load_tatoeba(folder, strict=False, fractions=(0.6, 0.2, 0.2), seed=1, reverse=True)
    return {"splits": [[list(pair) for pair in corpus[split]] for split in ("train", "valid", "test")],
            "flipped": [[list(pair) for pair in flipped[split]] for split in ("train", "valid", "test")],
            "skipped": corpus.skipped}


# ---------------------------------------------------------------------------------------------------- Q6
NORMALIZE = ["I\u2019m  here\u00a0!", "Cours\u202f!", "e\u0301te\u0301 \u2018quoted\u2019", "  trop \t d'espaces\n",
             "zero\u200bwidth soft\u00adhyphen", "L\u2019\u00c9COLE", "Ça\u2009Alors\u3000!", "it\u02bcs"]
ENGLISH = ["I'm hungry.", "I\u2019m cold!", "Don't go, Tom.", "He\u2019s 5 years old.", "You're   right!"]
FRENCH = ["Je vais à l'école aujourd'hui.", "J\u2019ai faim\u202f!", "Qu'est-ce que c'est\u00a0?",
          "L'ÉCOLE EST FINIE.", "Aujourd\u2019hui, il pleut."]


@probe("Q6")
def q6_normalize(s):
    return {"lower": [s.data.normalize_text(text) for text in NORMALIZE],
            "cased": [s.data.normalize_text(text, lower=False) for text in NORMALIZE]}


@probe("Q6")
def q6_tokens(s):
    tok = s.data.tokenize
    return {"en": [tok(text, "en") for text in ENGLISH], "fr": [tok(text, "fr") for text in FRENCH],
            "en_cased": [tok(text, "en", lower=False) for text in ENGLISH[:2]],
            "fr_cased": [tok(text, "fr", lower=False) for text in FRENCH[3:]],
            "de": tok("Zwei junge weiße Männer sind im Freien.", "de"), "empty": tok("", "en")}


@probe("Q6")
def q6_encode(s):
    vocab = s.data.Vocab(SPECIALS + ["le", "chat", "noir", "."])
    encode = vocab.encode
    return {"known": encode(["le", "chat", "noir", "."]), "unknown": encode(["le", "chien", "gris", "."]),
            "bare": encode(["chat", "le"], add_sos_eos=False), "empty": encode([]),
            "bare_unknown": encode(["xyz"], add_sos_eos=False)}


# ---------------------------------------------------------------------------------------------------- Q7
SENTENCES = [["le", "chat", "noir", "."], ["le", "chien", "noir", "."], ["la", "chatte", "."],
             ["le", "chat", "dort", "."], ["<unk>", "le", "zèbre"]]
# Counts: le 4, "." 4, chat 2, noir 2, chatte/chien/dort/la/zèbre 1; "<unk>" is a special, not counted.


def _itos(vocab) -> list:
    return [vocab.id_to_token(index) for index in range(len(vocab))]


@probe("Q7")
def q7_build(s):
    build = s.data.Vocab.build
    return {"all": _itos(build(SENTENCES)), "min2": _itos(build(SENTENCES, min_freq=2)),
            "min3": _itos(build(SENTENCES, min_freq=3)), "top3": _itos(build(SENTENCES, max_size=3)),
            "top3_min2": _itos(build(SENTENCES, min_freq=2, max_size=3)),
            "generator": _itos(build(sentence for sentence in SENTENCES)),
            "empty": _itos(build([])), "lookup": build(SENTENCES).token_to_id("<pad>")}


@probe("Q7")
def q7_decode(s):
    vocab = s.data.Vocab(SPECIALS + ["le", "chat", "noir", "."])
    decode = vocab.decode
    return {"full": decode([1, 4, 5, 6, 7, 2, 0, 0]), "after_eos": decode([1, 4, 3, 7, 2, 5, 6]),
            "pads": decode([4, 0, 5]), "raw": decode([1, 4, 2, 0], strip_specials=False),
            "tensor_list": decode(torch.tensor([1, 5, 2]).tolist()), "nothing": decode([2, 4, 5]),
            "out_of_range": _value_or_error(decode, [1, 4, 99])}


# ---------------------------------------------------------------------------------------------------- Q8
ITEMS = [([1, 5, 6, 2], [1, 7, 2]), ([1, 5, 2], [1, 7, 8, 9, 10, 2]), ([1, 4, 4, 4, 4, 2], [1, 2]),
         ([1, 9, 9, 2], [1, 8, 8, 2])]
LENGTHS = [(i * 37) % 23 + 1 for i in range(103)]  # 103 items, lengths 1..23 in a scrambled order


def _items() -> list:
    return [(torch.tensor(src), torch.tensor(tgt)) for src, tgt in ITEMS]


def _batch(batch) -> dict:
    return {"type": type(batch).__name__, "src": batch.src, "src_lengths": batch.src_lengths, "tgt": batch.tgt,
            "lengths_device": str(batch.src_lengths.device) if isinstance(batch.src_lengths, torch.Tensor) else None}


@probe("Q8")
def q8_collate(s):
    return {"plain": _batch(s.data.collate_batch(_items())),
            "sorted": _batch(s.data.collate_batch(_items(), sort_by_length=True)),
            "single": _batch(s.data.collate_batch(_items()[:1]))}


@probe("Q8")
def q8_sampler(s):
    Sampler = s.data.BucketBatchSampler
    sampler = Sampler(LENGTHS, 10, seed=3)
    random.seed(1)
    epoch0, epoch1 = list(iter(sampler)), list(iter(sampler))
    sampler.set_epoch(0)
    replay = list(iter(sampler))
    twin = Sampler(LENGTHS, 10, seed=3)
    random.seed(2)  # a different global state must not matter
    twin0 = list(iter(twin))
    return {"epoch0": epoch0, "epoch1": epoch1, "replay": replay, "twin0": twin0, "len": len(sampler),
            "other_seed": list(iter(Sampler(LENGTHS, 10, seed=4))),
            "plain": list(iter(Sampler(LENGTHS, 10, shuffle=False, bucket=False))),
            "sorted": list(iter(Sampler(LENGTHS, 10, shuffle=False, bucket=True))),
            "unbucketed": list(iter(Sampler(LENGTHS, 10, shuffle=True, bucket=False, seed=3)))}


class _Pairs(torch.utils.data.Dataset):
    """A dataset shaped like TranslationDataset, without needing encode (Q6) to build it."""

    def __init__(self) -> None:
        self.pairs = [([1] + [4 + i % 5] * (i % 7) + [2], [1] + [5] * (i % 4) + [3 + i % 2, 2]) for i in range(37)]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int):
        src, tgt = self.pairs[index]
        return torch.tensor(src), torch.tensor(tgt)

    def lengths(self) -> list:
        return [(len(src), len(tgt)) for src, tgt in self.pairs]


@probe("Q8")
def q8_loader(s):
    dataset = _Pairs()
    rows = []
    for batch in s.data.make_loader(dataset, 5, seed=1):
        for row, length in zip(batch.src.tolist(), batch.src_lengths.tolist()):
            rows.append(row[:length])
    return {"rows": rows, "expected": [src for src, _ in dataset.pairs]}
