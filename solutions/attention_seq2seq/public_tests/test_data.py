"""Visible sanity checks for Q5–Q8 (run: ``python -m seq2seq check Q7`` or ``pytest public_tests``)."""
import random

import torch

from seq2seq import EOS, PAD, SOS, SPECIALS, UNK, data


def test_q5_read_tsv_skips_and_reports(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("Go.\tVa !\nno tab here\n Hi. \t Salut ! \n", encoding="utf-8")
    pairs, skipped = data.read_tsv(path, strict=False)
    assert pairs == [("Go.", "Va !"), ("Hi.", "Salut !")], "stripped (source, target) tuples, in file order"
    assert skipped == [(2, "no tab")], "report each malformed line as (line number from 1, reason)"


def test_q5_split_is_seeded_and_complete():
    pairs = [(f"s{i}", f"t{i}") for i in range(50)]
    random.seed(1)
    first = data.split_pairs(pairs, (0.6, 0.2, 0.2), seed=5)
    random.seed(2)
    assert data.split_pairs(pairs, (0.6, 0.2, 0.2), seed=5) == first, "same seed, same split"
    assert [len(part) for part in first] == [30, 10, 10]
    assert sorted(first[0] + first[1] + first[2]) == sorted(pairs), "every pair exactly once"


def test_q6_tokenize_contractions_and_elisions():
    assert data.tokenize("I’m hungry.", "en") == ["i", "'m", "hungry", "."]
    assert data.tokenize("Je vais à l'école aujourd'hui.", "fr") == [
        "je", "vais", "à", "l'", "école", "aujourd'hui", "."]


def test_q6_encode_adds_sos_eos_and_unk():
    vocab = data.Vocab(list(SPECIALS) + ["le", "chat"])
    assert vocab.encode(["le", "chat"]) == [SOS, 4, 5, EOS]
    assert vocab.encode(["le", "chien"], add_sos_eos=False) == [4, UNK]


def test_q7_specials_and_min_freq():
    vocab = data.Vocab.build([["a", "b", "b"], ["b", "c", "a"]], min_freq=2)
    assert vocab.itos[:4] == list(SPECIALS), "specials first, at indices 0-3"
    assert vocab.itos[4:] == ["b", "a"], "tokens seen at least min_freq times, most frequent first"


def test_q7_decode_stops_at_eos():
    vocab = data.Vocab(list(SPECIALS) + ["le", "chat"])
    assert vocab.decode([SOS, 4, 5, EOS, PAD, PAD]) == ["le", "chat"]


def test_q8_collate_pads_with_pad():
    items = [(torch.tensor([1, 4, 2]), torch.tensor([1, 2])), (torch.tensor([1, 2]), torch.tensor([1, 5, 5, 2]))]
    batch = data.collate_batch(items)
    assert batch.src.shape == (2, 3) and batch.tgt.shape == (2, 4), "(batch, longest sequence)"
    assert batch.src[1, 2].item() == PAD and batch.tgt[0, 3].item() == PAD, "pad with PAD (0)"
    assert batch.src_lengths.tolist() == [3, 2], "lengths before padding"


def test_q8_sampler_covers_every_index():
    sampler = data.BucketBatchSampler([5, 1, 3, 2, 4, 1, 2], batch_size=3, seed=0)
    batches = list(iter(sampler))
    assert sorted(i for batch in batches for i in batch) == list(range(7)), "every index once per epoch"
    assert sorted(len(batch) for batch in batches) == [1, 3, 3], "the last, smaller batch is kept"


def test_q8_sampler_counts_epochs():
    sampler = data.BucketBatchSampler([i % 7 for i in range(40)], batch_size=4, seed=0)
    first, second = list(iter(sampler)), list(iter(sampler))
    assert sampler.epoch == 2, "each pass over the sampler is one epoch: the counter goes up once per pass"
    assert first != second, "a new epoch, a new shuffle"
    sampler.set_epoch(0)
    assert list(iter(sampler)) == first, "set_epoch(0) replays the first epoch exactly"
