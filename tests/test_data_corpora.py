"""The provided (non-graded) code of seq2seq/data.py and seq2seq/synthetic.py: the synthetic corpus, the real corpus
loaders, bad input, vocabulary files, detokenisation and loaders. Runs the generated solution."""
from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import torch

from tests.helpers import SOLUTION

if str(SOLUTION) not in sys.path:
    sys.path.insert(0, str(SOLUTION))
from seq2seq import EOS, PAD, SOS, SPECIALS, UNK, corpora, data  # noqa: E402
from seq2seq import synthetic as synth  # noqa: E402

assert Path(data.__file__).resolve().is_relative_to(SOLUTION.resolve()), data.__file__
SYNTHETIC = synth.synthetic_corpus

REAL = os.environ.get(data.DATA_ENV)
needs_real = pytest.mark.skipif(
    not REAL or not Path(REAL, "eng-fra.txt").is_file(),
    reason=f"real corpora absent: set {data.DATA_ENV} (make test points it at ../shared/data)")


# ------------------------------------------------------------------------------------------ synthetic corpus
@pytest.fixture(scope="module")
def synthetic() -> data.Corpus:
    return SYNTHETIC(n_train=2000, n_valid=200, n_test=200, seed=0)


def _digest(corpus: data.Corpus) -> str:
    content = {split: [corpus[split], corpus.alignments[split]] for split in data.SPLITS}
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


@pytest.mark.slow
def test_synthetic_is_byte_identical_for_a_seed(synthetic):
    again = SYNTHETIC(n_train=2000, n_valid=200, n_test=200, seed=0)
    assert _digest(again) == _digest(synthetic)
    assert _digest(SYNTHETIC(n_train=2000, n_valid=200, n_test=200, seed=1)) != _digest(synthetic)
    # Another process with another string-hash seed: no set or dict order may leak into the corpus.
    code = ("import hashlib, json; from seq2seq import data, synthetic; c = synthetic.synthetic_corpus(n_train=2000, "
            "n_valid=200, n_test=200, seed=0); print(hashlib.sha256(json.dumps({s: [c[s], c.alignments[s]] for s in "
            "data.SPLITS}, ensure_ascii=False).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(SOLUTION)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == _digest(synthetic)


def test_every_corpus_is_loaded_from_seq2seq_corpora():
    """The notebook and the runner take all three corpora from one module; data.py keeps Q5-Q8 and their types."""
    assert corpora.synthetic_corpus is SYNTHETIC
    for name in ("load_tatoeba", "load_multi30k", "synthetic_corpus", "main"):
        assert not hasattr(data, name), f"seq2seq.data.{name} should live in seq2seq.corpora only"


def test_synthetic_sizes_lengths_and_vocabulary(synthetic):
    assert synthetic.sizes() == {"train": 2000, "valid": 200, "test": 200}
    assert (synthetic.src_lang, synthetic.tgt_lang) == ("en", "fr")
    sources = [src for split in data.SPLITS for src, _ in synthetic[split]]
    assert len(set(sources)) == len(sources), "no English sentence twice, so test pairs are unseen"
    lengths = [len(side.split()) for split in data.SPLITS for pair in synthetic[split] for side in pair]
    assert max(lengths) <= 40 and sum(n >= 30 for n in lengths) > 100 and min(lengths) <= 6
    en = {w for split in data.SPLITS for src, _ in synthetic[split] for w in src.split()}
    fr = {w for split in data.SPLITS for _, tgt in synthetic[split] for w in tgt.split()}
    assert 70 <= len(en) <= 100 and 90 <= len(fr) <= 120, (len(en), len(fr))


def _lexicon() -> set[tuple[str, str]]:
    """Every (English word, French word) link the grammar may produce."""
    links = {(".", "."), ("that", "qui"), ("not", "ne"), ("not", "pas")}
    for en, (en_pl, fr_sg, fr_pl, _) in synth._NOUNS.items():
        links |= {(en, fr_sg), (en_pl, fr_pl)}
    for en, forms in synth._ADJECTIVES.items():
        links |= {(en, form) for form in forms}
    for (en_sg, en_pl), (fr_sg, fr_pl) in synth._VERBS.items():
        links |= {(en_sg, fr_sg), (en_pl, fr_pl), (en_pl, fr_sg)}  # "does not see" -> "ne voit pas"
    links |= {(en, fr) for (en, _), (fr, _) in synth._SUBJECT_PRONOUNS.items()}
    links |= set(synth._OBJECT_PRONOUNS.items()) | set(synth._PREPOSITIONS.items())
    links |= {(en, fr) for en, frs in synth._CONJUNCTIONS.items() for fr in frs}
    links |= {(en, fr) for (en, _), forms in synth._ARTICLES.items() for fr in forms.values()}
    return links


def test_synthetic_alignments_are_gold(synthetic):
    lexicon, crossing = _lexicon(), 0
    for split in data.SPLITS:
        for (src, tgt), links in zip(synthetic[split], synthetic.alignments[split]):
            en, fr = src.split(), tgt.split()
            for i, j in links:
                assert (en[i], fr[j]) in lexicon, (en[i], fr[j], src, tgt)
            assert {j for _, j in links} == set(range(len(fr))), f"an unlinked French word: {tgt}"
            assert {en[i] for i in set(range(len(en))) - {i for i, _ in links}} <= {"does", "do"}, src
            crossing += any(i1 < i2 and j1 > j2 for i1, j1 in links for i2, j2 in links)
    assert crossing > 0.5 * sum(synthetic.sizes().values()), "most pairs should need reordering"


def test_synthetic_reordering_and_agreement(synthetic):
    gender = {fr: g for _, (_, sg, pl, g) in synth._NOUNS.items() for fr in (sg, pl)}
    plural = {pl for _, (_, _, pl, _) in synth._NOUNS.items()}
    forms = {form: i for adj in synth._ADJECTIVES.values() for i, form in enumerate(adj)}
    seen_pronoun_object = False
    for src, tgt in synthetic.train:
        fr = tgt.split()
        for k, word in enumerate(fr):
            if word in gender and k > 0 and fr[k - 1] in {"la", "une"}:
                assert gender[word] == "f", tgt
            if word in gender:  # adjectives right after the noun agree with it (invariable forms aside)
                wanted = (2 if word in plural else 0) + (gender[word] == "f")
                for adj in fr[k + 1:k + 3]:
                    if adj not in forms:
                        break
                    assert any(synth._ADJECTIVES[a][wanted] == adj for a in synth._ADJECTIVES), (adj, tgt)
        if " him " in f" {src} " and " le voit " in f" {tgt} ":
            seen_pronoun_object = True
    assert seen_pronoun_object, "object pronouns go before the verb: '... sees him' -> '... le voit'"
    assert any(" ne " in tgt and " pas " in tgt for _, tgt in synthetic.train)


@pytest.mark.slow
def test_synthetic_spacy_tokens_are_the_words(synthetic):
    for src, tgt in synthetic.test[:100]:
        assert data.tokenize(src, "en") == src.split()
        assert data.tokenize(tgt, "fr") == tgt.split()


def test_synthetic_reverse_swaps_pairs_and_links(synthetic):
    flipped = SYNTHETIC(n_train=2000, n_valid=200, n_test=200, seed=0, reverse=True)
    assert (flipped.src_lang, flipped.tgt_lang) == ("fr", "en")
    assert flipped.train[5] == synthetic.train[5][::-1]
    assert flipped.alignments["train"][5] == sorted((j, i) for i, j in synthetic.alignments["train"][5])


def test_synthetic_impossible_request_fails():
    with pytest.raises(ValueError, match="distinct pairs"):
        SYNTHETIC(n_train=50, n_valid=0, n_test=0, max_len=2)


# ------------------------------------------------------------------------------------------ real corpora
@pytest.mark.slow
@needs_real
def test_tatoeba_whole_corpus_and_direction():
    corpus = corpora.load_tatoeba()
    assert corpus.sizes() == {"train": 108674, "valid": 13584, "test": 13584}
    assert corpus.skipped == 0 and (corpus.src_lang, corpus.tgt_lang) == ("en", "fr")
    assert ("Go.", "Va !") in corpus.train + corpus.valid + corpus.test
    flipped = corpora.load_tatoeba(reverse=True)
    assert (flipped.src_lang, flipped.tgt_lang) == ("fr", "en")
    assert flipped.sizes() == corpus.sizes()
    assert corpora.load_tatoeba().test == corpus.test, "a fixed seed gives a fixed split"


@pytest.mark.slow
@needs_real
def test_tatoeba_tutorial_subset():
    corpus = corpora.load_tatoeba(subset="tutorial")
    pairs = corpus.train + corpus.valid + corpus.test
    assert len(pairs) == 11355, len(pairs)  # the tutorial's own normalisation keeps 11,445 (see load_tatoeba)
    for en, fr in pairs[:500]:
        en_tokens = data.tokenize(en, "en")
        assert tuple(en_tokens[:2]) in corpora.TUTORIAL_PREFIXES and len(en_tokens) <= 10
        assert len(data.tokenize(fr, "fr")) <= 10


@pytest.mark.slow
@needs_real
def test_tatoeba_full_pipeline_is_fast():
    # CPU time of this (single-threaded) process: the wall time also counts whatever else shares the cores.
    start, wall = time.process_time(), time.perf_counter()
    prepared = data.prepare(corpora.load_tatoeba(), min_freq=2)
    seconds, wall = time.process_time() - start, time.perf_counter() - wall
    assert seconds < 30, f"loading, tokenising and building vocabularies took {seconds:.1f} s of CPU"
    assert 7000 < len(prepared.src_vocab) < 10000 and 11000 < len(prepared.tgt_vocab) < 15000
    print(f"eng-fra.txt: {seconds:.1f} s CPU, {wall:.1f} s wall, "
          f"vocab en {len(prepared.src_vocab)}, fr {len(prepared.tgt_vocab)}")


@needs_real
@pytest.mark.parametrize(("src", "tgt"), [("de", "en"), ("en", "fr"), ("fr", "de")])
def test_multi30k_official_splits(src, tgt):
    corpus = corpora.load_multi30k(src=src, tgt=tgt)
    assert corpus.sizes() == {"train": 29000, "valid": 1014, "test": 1000}
    first = {"de": "Zwei junge weiße Männer sind im Freien in der Nähe vieler Büsche.",
             "en": "Two young, White males are outside near many bushes.",
             "fr": "Deux jeunes hommes blancs sont dehors près de buissons."}
    assert corpus.train[0] == (first[src], first[tgt])


def test_multi30k_rejects_one_language_twice(tmp_path):
    with pytest.raises(ValueError, match="two different languages"):
        corpora.load_multi30k(tmp_path, src="en", tgt="en")


# ------------------------------------------------------------------------------------------ bad input
def test_data_dir_missing_says_how_to_set_it(monkeypatch, tmp_path):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    with pytest.raises(data.DataError, match=data.DATA_ENV):
        data.resolve_data_dir()
    with pytest.raises(data.DataError, match="does not exist"):
        data.resolve_data_dir(tmp_path / "nowhere")
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.resolve_data_dir() == tmp_path


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=data.DATA_ENV):
        data.read_lines(tmp_path / "eng-fra.txt")
    with pytest.raises(FileNotFoundError):
        corpora.load_tatoeba(tmp_path)
    for content in (b"", b"\n\n  \n"):
        (tmp_path / "empty.txt").write_bytes(content)
        with pytest.raises(data.DataError, match=r"empty\.txt: the file is empty"):
            data.read_tsv(tmp_path / "empty.txt", strict=False)


def test_non_utf8_line_is_named(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"Go.\tVa !\nHi.\tSalut !\nCaf\xe9\tcaf\xe9\n")  # line 3 is Latin-1, not UTF-8
    with pytest.raises(data.DataError, match=r"latin1\.txt:3: not valid UTF-8 \(byte 0xe9"):
        data.read_tsv(path, strict=False)


def test_line_endings_and_malformed_lines(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_bytes(b"Go.\tVa !\r\nno tab\r\nHi.\t \r\nRun!\tCours !")  # CRLF, no final newline
    pairs, skipped = data.read_tsv(path, strict=False)
    assert pairs == [("Go.", "Va !"), ("Run!", "Cours !")] and skipped == [(2, "no tab"), (3, "empty side")]
    with pytest.raises(data.DataError, match=r"pairs\.tsv:2: no tab"):
        data.read_tsv(path)


def test_tatoeba_skips_are_counted_and_reported(tmp_path):
    (tmp_path / "eng-fra.txt").write_text("Go.\tVa !\nbroken\nHi.\tSalut !\nRun!\tCours !\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="skipped 1 malformed lines"):
        corpus = corpora.load_tatoeba(tmp_path, strict=False, fractions=(1.0, 0.0, 0.0))
    assert corpus.skipped == 1 and len(corpus.train) == 3
    with pytest.raises(data.DataError, match=r"eng-fra\.txt:2"):
        corpora.load_tatoeba(tmp_path)


def _multi30k(root: Path, lines: dict[str, list[str]]) -> None:
    folder = root / "multi30k"
    folder.mkdir()
    for stem in corpora.MULTI30K_SPLITS.values():
        for lang in ("de", "en"):
            content = lines.get(f"{stem}.{lang}", [f"{lang} a", f"{lang} b"])
            (folder / f"{stem}.{lang}").write_text("".join(f"{line}\n" for line in content))


def test_multi30k_misaligned_files(tmp_path):
    _multi30k(tmp_path, {"val.en": ["one", "two", "three"]})
    with pytest.raises(data.DataError, match=r"val\.de has 2 lines but .*val\.en has 3"):
        corpora.load_multi30k(tmp_path)


def test_multi30k_empty_line(tmp_path):
    _multi30k(tmp_path, {"train.en": ["fine", "  "]})
    with pytest.raises(data.DataError, match=r"train\.en:2: empty line"):
        corpora.load_multi30k(tmp_path)


def test_multi30k_fixture_loads(tmp_path):
    _multi30k(tmp_path, {})
    corpus = corpora.load_multi30k(tmp_path, src="en", tgt="de")
    assert corpus.train == [("en a", "de a"), ("en b", "de b")] and corpus.sizes()["test"] == 2


# ------------------------------------------------------------------------------------------ tokens and vocabularies
def test_detokenize_for_sacrebleu():
    import sacrebleu

    assert data.detokenize(["i", "'m", "hungry", ",", "do", "n't", "go", "."], "en") == "i'm hungry, don't go."
    assert data.detokenize(["qu'", "est", "-ce", "que", "c'", "est", "?"], "fr") == "qu'est-ce que c'est ?"
    tokens = ["je", "vais", "à", "l'", "école", "(", "vite", ")", "."]
    assert data.detokenize(tokens, "fr") == "je vais à l'école (vite)."
    sentences = ["I'm sure he's right, isn't he?", "Je vais à l'école aujourd'hui.", "Qu'est-ce que c'est ?"]
    for text, lang in zip(sentences, ("en", "fr", "fr")):
        again = data.detokenize(data.tokenize(text, lang, lower=False), lang)
        assert again == text and sacrebleu.sentence_bleu(again, [text]).score == pytest.approx(100)


def test_tokenizers_are_cached():
    assert data.get_tokenizer("fr") is data.get_tokenizer("fr")


def test_vocab_round_trip_and_errors():
    vocab = data.Vocab.build([["le", "chat", "é", "le"], ["la", "fenêtre"]], min_freq=1)
    again = data.Vocab(list(vocab.itos))  # what a checkpoint stores and reads back (seq2seq.checkpoint)
    assert again == vocab and again.itos[:4] == list(SPECIALS) and len(again) == len(vocab) == 9
    assert again.token_to_id("fenêtre") == vocab.token_to_id("fenêtre") and again.token_to_id("zèbre") == UNK
    assert again.id_to_token(PAD) == "<pad>" and "le" in again and "zèbre" not in again
    assert again != data.Vocab([*SPECIALS, "chat", "le"]), "same tokens in another order are another vocabulary"
    with pytest.raises(IndexError):
        again.id_to_token(len(again))
    with pytest.raises(ValueError, match="specials"):
        data.Vocab(["a", "<pad>", "<sos>", "<eos>", "<unk>"])
    with pytest.raises(ValueError, match="repeated"):
        data.Vocab(list(SPECIALS) + ["a", "a"])


# ------------------------------------------------------------------------------------------ batches
@pytest.fixture(scope="module")
def prepared() -> data.Data:
    return data.prepare(SYNTHETIC(n_train=600, n_valid=50, n_test=50, seed=3), min_freq=2)


def test_prepare_builds_vocabularies_on_train_only(prepared):
    train_words = Counter(token for src, _ in prepared.tokens["train"] for token in src)
    assert set(prepared.src_vocab.itos[4:]) == {token for token, n in train_words.items() if n >= 2}
    src, tgt = prepared.datasets["valid"][0]
    assert src[0] == SOS and src[-1] == EOS and tgt[0] == SOS and tgt[-1] == EOS and src.dtype == torch.long
    assert prepared.src_vocab.decode(src.tolist()) == [
        token if token in prepared.src_vocab else "<unk>" for token in prepared.tokens["valid"][0][0]]


def test_loader_batches_cover_the_split(prepared):
    loader = prepared.loader("train", 32, seed=1)
    seen = []
    for batch in loader:
        assert isinstance(batch, data.Batch) and batch.src.shape[0] == batch.tgt.shape[0] <= 32
        assert batch.src_lengths.max() == batch.src.shape[1] and (batch.tgt[:, 0] == SOS).all()
        seen += [tuple(row[:n]) for row, n in zip(batch.src.tolist(), batch.src_lengths.tolist())]
    assert sorted(seen) == sorted(tuple(prepared.datasets["train"][i][0].tolist()) for i in range(600))
    assert not loader.pin_memory and data.make_loader(prepared.datasets["test"], 8, device="cuda").pin_memory


def test_bucketing_cuts_padding(prepared):
    shuffled = data.padding_fraction(prepared.loader("train", 64, bucket=False, seed=0))
    bucketed = data.padding_fraction(prepared.loader("train", 64, bucket=True, seed=0))
    assert bucketed < 0.1 < 0.3 < shuffled, (bucketed, shuffled)


def test_sorted_batches_pack_and_move(prepared):
    batch = next(iter(prepared.loader("train", 16, sort_by_length=True, bucket=False)))
    assert batch.src_lengths.tolist() == sorted(batch.src_lengths.tolist(), reverse=True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(batch.src, batch.src_lengths, batch_first=True)
    assert packed.data.numel() == int(batch.src_lengths.sum())
    moved = batch.to("meta")
    assert moved.src.device.type == moved.tgt.device.type == "meta" and moved.src_lengths.device.type == "cpu"


@pytest.mark.parametrize("split", ["valid", "test"])
def test_evaluation_loaders_keep_order(prepared, split):
    """With the default options, the evaluation splits come whole, unshuffled and unbucketed: row after row in
    the order of prepared.tokens[split] (the lengths vary, so bucketing would reorder them)."""
    assert len({len(src) for src, _ in prepared.tokens[split]}) > 5
    loader = prepared.loader(split, 8)
    assert data.keeps_dataset_order(loader)
    row = 0
    for batch in loader:
        for length, source, target in zip(batch.src_lengths.tolist(), batch.src.tolist(), batch.tgt.tolist()):
            src, tgt = prepared.datasets[split][row]
            assert source[:length] == src.tolist() and set(source[length:]) <= {PAD}
            assert target[:len(tgt)] == tgt.tolist() and set(target[len(tgt):]) <= {PAD}
            row += 1
    assert row == len(prepared.tokens[split])


def test_reordering_loaders_are_recognised(prepared):
    assert not data.keeps_dataset_order(prepared.loader("train", 8))
    for options in ({"bucket": True}, {"shuffle": True}, {"sort_by_length": True}):
        assert not data.keeps_dataset_order(prepared.loader("valid", 8, **options)), options
    assert data.keeps_dataset_order(prepared.loader("train", 8, shuffle=False, bucket=False))
    assert data.keeps_dataset_order(list(prepared.loader("valid", 8)))  # lists: nothing to see into


def test_stats_command_runs_offline(monkeypatch, capsys):
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setattr(corpora, "synthetic_corpus", functools.partial(SYNTHETIC, n_train=100, n_valid=10, n_test=10))
    assert corpora.main(["stats", "--batch-size", "16"]) == 0
    out = capsys.readouterr().out
    assert "real corpora skipped" in out and "train 100, valid 10, test 10" in out and "bucketed" in out
