"""Checks for section 3, preparing the dataset: Q5–Q8.

Offline and fast: probes write small fixture corpora into the child's own temporary folder and never read the
real data directory. Checks compare with the reference (``ref``) or with values that follow from the question's
docstring; feedback shows the student's own results and inputs, never the expected values.

The probes these checks read are in ``autograder/probes/data.py``; this module is imported by the
deciding process only, never by a process that runs student code.
"""
from __future__ import annotations

import pytest
import torch

from autograder.graders.common import hinted
from autograder.probes.data import (
    ENGLISH, FRENCH, ITEMS, LENGTHS, NORMALIZE, SPECIALS, SPLIT_PAIRS, TSV_LINES,
)


TSV_PAIRS = [("Go.", "Va !"), ("Run!", "Cours\u202f!"), ("Who?", "Qui ?"), ("Wow!", "Ça alors !"),
             ("Help!", "À l'aide !"), ("I see.", "Je comprends."), ("Thanks.", "Merci.")]
TSV_SKIPPED = [[4, "no tab"], [6, "empty side"], [8, "empty side"], [10, "empty side"]]


def _mentions_line(message: str, name: str, line: int) -> bool:
    return f"{name}:{line}" in message or (name in message and f"line {line}" in message)


@pytest.mark.grade("Q5", points=1)
def test_q5_reads_pairs(out):
    """read_tsv returns the stripped (source, target) pairs in file order, ignoring extra columns and \\r."""
    got = out["q5_read"]
    assert got["types"] == ["tuple"], "each pair must be a (source, target) tuple of two strings"
    pairs = [tuple(pair) for pair in got["pairs"]]
    assert len(pairs) == len(TSV_PAIRS), (
        f"from a file of {len(TSV_LINES)} lines with {len(TSV_LINES) - len(TSV_PAIRS)} malformed ones, read_tsv "
        f"(strict=False) returned {len(pairs)} pairs"
        + (": a side made only of spaces is empty; strip each side before checking" if len(pairs) > len(TSV_PAIRS)
           else ""))
    for want, have in zip(TSV_PAIRS, pairs):
        assert have == want, (f"read {have!r} from the line {want[0]!r}...: strip both sides, keep the first two "
                              "tab-separated fields, and drop a Windows line end (\\r)")
    assert got["clean"] == ["ok", [len(TSV_PAIRS), 0]], (
        "on a file without malformed lines, read_tsv (strict) must return all pairs and an empty skipped list")


@pytest.mark.grade("Q5", points=1)
def test_q5_reports_bad_lines(out):
    """read_tsv reports each malformed line (no tab, empty side) by number, or raises naming file and line."""
    got = out["q5_read"]
    skipped = [list(item) for item in got["skipped"]]
    hint = ("; no line was reported: record each malformed line in skipped instead of dropping it silently"
            if not skipped else "; your line numbers are one too small: count lines from 1 (enumerate(..., start=1))"
            if skipped == [[n - 1, reason] for n, reason in TSV_SKIPPED] else "")
    assert skipped == TSV_SKIPPED, (
        "with strict=False, skipped must list (line number counted from 1, reason) for every line without a tab "
        f"('no tab') or with a side that is empty after stripping ('empty side'); yours: {got['skipped']}" + hint)
    strict = got["strict"]
    assert strict[0] == "raised", "with strict=True, a malformed line must raise an error, not be skipped"
    assert strict[3], f"raise DataError (a ValueError), not {strict[1]}"
    assert _mentions_line(strict[2], "corpus.tsv", 4), (
        f"the error must start with the file and the number of the first bad line ('{{path}}:{{line}}: ...'); "
        f"yours said: {strict[2]!r}")
    assert got["hopeless"][0] == "raised", (
        "a file where no line is usable must raise even with strict=False: never return an empty corpus silently")


def _index(pair: list[str]) -> int:
    return int(pair[0].split()[1])


@pytest.mark.grade("Q5", points=0.5)
def test_q5_split_sizes(out):
    """split_pairs gives train/valid/test of the documented sizes, holding every pair exactly once."""
    got = out["q5_split"]
    sizes = [len(part) for part in got["first"]]
    assert sizes == [160, 20, 20], f"200 pairs split (0.8, 0.1, 0.1) gave sizes {sizes} for (train, valid, test)"
    everything = sorted(_index(pair) for part in got["first"] for pair in part)
    assert everything == list(range(200)), "train, valid and test together must hold every pair exactly once"
    assert got["odd"] == [53, 30, 20], (
        f"103 pairs split (0.5, 0.3, 0.2) gave sizes {got['odd']}: n_valid = int(103 * 0.3), n_test = "
        "int(103 * 0.2), and train takes the rest")
    assert got["odd_all"] == sorted(map(list, SPLIT_PAIRS[:103])), "the odd-sized split lost or repeated pairs"
    assert got["given_after"] == [list(pair) for pair in SPLIT_PAIRS], (
        "split_pairs must not modify (shuffle) the list it is given: shuffle a copy")
    assert got["bad_fractions"][0] == "raised" and got["bad_fractions"][3], (
        "fractions that do not sum to 1 must raise ValueError")


@pytest.mark.grade("Q5", points=1)
def test_q5_split_seeded(out):
    """split_pairs is reproducible: the same seed gives the same split whatever the global random state."""
    got = out["q5_split"]
    assert got["first"] == got["again"], (
        "split_pairs with the same seed gave different splits after random.seed(1) and random.seed(2): shuffle "
        "with a private random.Random(seed), not the global random module")
    assert got["first"] != got["other"], "seeds 7 and 8 gave the same split: the seed must choose the shuffle"


@pytest.mark.grade("Q5", points=0.5)
def test_q5_split_shuffles_first(out, ref):
    """split_pairs shuffles before cutting, exactly as documented (valid first, then test, then train)."""
    got = out["q5_split"]
    for part, name in ((got["first"][1], "validation"), (got["first"][2], "test")):
        spread = max(map(_index, part)) - min(map(_index, part))
        assert spread > 2 * len(part), (
            f"the {name} pairs come from one stretch of the file: shuffle before cutting, since corpus files "
            "are often sorted (by length, by topic)")
    assert got["first"] == ref["q5_split"]["first"], (
        "the split differs from the documented procedure: shuffle a copy with random.Random(seed).shuffle, then "
        "valid = the first n_valid pairs, test = the next n_test, train = the rest")


@pytest.mark.grade("Q5", points=0.5)
def test_q5_load_tatoeba_fixture(out, ref):
    """load_tatoeba on a small eng-fra.txt counts the skipped line, splits, and reverses the direction."""
    got = out["q5_load"]
    sizes = [len(part) for part in got["splits"]]
    assert sizes == [36, 12, 12] and got["skipped"] == 1, (
        f"a 61-line eng-fra.txt with one malformed line, strict=False, split (0.6, 0.2, 0.2), gave sizes {sizes} "
        f"and skipped={got['skipped']}")
    assert got["splits"] == ref["q5_load"]["splits"], "the split of load_tatoeba is not the documented one"
    reversed_pairs = [[[tgt, src] for src, tgt in part] for part in got["splits"]]
    assert got["flipped"] == reversed_pairs, "reverse=True must swap source and target of the same split"


def _ints(value) -> list | None:
    if isinstance(value, torch.Tensor) and value.dim() == 1:
        return [int(v) for v in value]
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return value
    return None


@pytest.mark.grade("Q6", points=1)
def test_q6_normalize(out, ref):
    """normalize_text applies NFC, straight apostrophes, ordinary single spaces and optional lower-casing."""
    got, want = out["q6_normalize"], ref["q6_normalize"]
    for key, label in (("lower", ""), ("cased", ", lower=False")):
        for text, have, expected in zip(NORMALIZE, got[key], want[key]):
            assert isinstance(have, str), "normalize_text must return a string"
            lowered = label and have != expected and have == expected.lower()
            hint = ("; the curly apostrophe ’ is still there: map it to a straight '" if "’" in have else
                    "; it was lower-cased although lower=False" if lowered else "")
            assert have == expected, (f"normalize_text({text!r}{label}) gave {have!r}: check the five steps of the "
                                      "docstring (NFC, apostrophes, special spaces, whitespace runs, lower-casing)"
                                      + hint)


def _check_tokens(inputs: list[str], lang: str, got: list, want: list, cased: bool = False) -> None:
    for text, have, expected in zip(inputs, got, want):
        assert isinstance(have, list) and all(isinstance(token, str) for token in have), (
            "tokenize must return a list of strings")
        assert have == expected, (
            f"tokenize({text!r}, {lang!r}{', lower=False' if cased else ''}) gave {have}: normalise first, then "
            f"use spaCy's tokenizer for {lang!r} (get_tokenizer) and keep each token's text")


@pytest.mark.grade("Q6", points=1)
def test_q6_tokenize_english(out, ref):
    """tokenize splits English clitics the spaCy way ("I'm" -> "i", "'m"), also after curly apostrophes."""
    got, want = out["q6_tokens"], ref["q6_tokens"]
    _check_tokens(ENGLISH, "en", got["en"], want["en"])
    _check_tokens(ENGLISH, "en", got["en_cased"], want["en_cased"], cased=True)
    assert got["empty"] == [], "an empty sentence has no tokens"


@pytest.mark.grade("Q6", points=1)
def test_q6_tokenize_french(out, ref):
    """tokenize splits French elisions ("l'école") but keeps "aujourd'hui" whole; German works too."""
    got, want = out["q6_tokens"], ref["q6_tokens"]
    _check_tokens(FRENCH, "fr", got["fr"], want["fr"])
    _check_tokens(FRENCH[3:], "fr", got["fr_cased"], want["fr_cased"], cased=True)
    _check_tokens(["Zwei junge weiße Männer sind im Freien."], "de", [got["de"]], [want["de"]])


@pytest.mark.grade("Q6", points=0.5)
def test_q6_encode_sos_eos(out):
    """encode puts <sos> (1) first and <eos> (2) last, one index per token, and none with add_sos_eos=False."""
    got = out["q6_encode"]
    known = _ints(got["known"])
    assert known is not None, "encode must return a list of ints"
    assert known == [1, 4, 5, 6, 7, 2], (
        f"encode(['le', 'chat', 'noir', '.']) with the vocabulary {SPECIALS + ['le', 'chat', 'noir', '.']} gave "
        f"{known}: <sos>, one index per token, <eos>"
        + ("; the <eos> (2) at the end is missing" if known == [1, 4, 5, 6, 7] else ""))
    assert _ints(got["bare"]) == [5, 4], f"encode(['chat', 'le'], add_sos_eos=False) gave {got['bare']}"
    assert _ints(got["empty"]) == [1, 2], f"encode([]) gave {got['empty']}: still <sos> and <eos>"


@pytest.mark.grade("Q6", points=0.5)
def test_q6_encode_unknown(out):
    """encode maps tokens missing from the vocabulary to <unk> (3), never to <pad> or an error."""
    got = out["q6_encode"]
    assert _ints(got["unknown"]) == [1, 4, 3, 3, 7, 2], (
        f"encode(['le', 'chien', 'gris', '.']) with 'chien' and 'gris' unknown gave {got['unknown']}: unknown "
        "tokens become UNK (3)")
    assert _ints(got["bare_unknown"]) == [3], f"encode(['xyz'], add_sos_eos=False) gave {got['bare_unknown']}"


@pytest.mark.grade("Q7", points=1)
def test_q7_specials_first(out):
    """Vocab.build puts <pad> <sos> <eos> <unk> at indices 0-3, and does not count specials found in the data."""
    got = hinted(out, "q7_build", {"repeated": "a special token found in the data was counted as an ordinary token: "
                                               "drop the specials from the counts"})
    for key in ("all", "min2", "empty"):
        assert got[key][:4] == SPECIALS, f"the first four tokens must be {SPECIALS}; yours: {got[key][:4]}"
    assert got["empty"] == SPECIALS, "a vocabulary built from no sentences holds exactly the four specials"
    assert got["all"].count("<unk>") == 1, "'<unk>' in the data must not become a second, ordinary token"


@pytest.mark.grade("Q7", points=1)
def test_q7_min_freq(out):
    """Vocab.build keeps exactly the tokens that occur at least min_freq times."""
    got = out["q7_build"]
    assert sorted(got["all"][4:]) == sorted(["le", ".", "chat", "noir", "chatte", "chien", "dort", "la", "zèbre"]), (
        f"with min_freq=1 every token of the data is kept once; yours: {got['all'][4:]}"
        + ("; tokens seen exactly min_freq times are missing: keep a token when its count >= min_freq"
           if len(set(got["all"][4:])) < 9 else ""))
    assert sorted(got["min2"][4:]) == sorted(["le", ".", "chat", "noir"]), (
        f"with min_freq=2, keep every token seen at least twice (exactly twice included) and nothing else; "
        f"yours kept {got['min2'][4:]}")
    assert sorted(got["min3"][4:]) == [".", "le"], f"with min_freq=3 yours kept {got['min3'][4:]}: too many or too few"
    assert got["generator"] == got["all"], "build must read its sentences once: a generator gave another vocabulary"


@pytest.mark.grade("Q7", points=1)
def test_q7_order_and_max_size(out):
    """Vocab.build orders tokens by decreasing count, then alphabetically, and max_size caps ordinary tokens."""
    got = out["q7_build"]
    assert got["all"][4:] == [".", "le", "chat", "noir", "chatte", "chien", "dort", "la", "zèbre"], (
        f"order: decreasing count, then alphabetical among equal counts; yours: {got['all'][4:]}")
    assert got["top3"] == SPECIALS + [".", "le", "chat"], (
        f"max_size=3 keeps the 3 first ordinary tokens of that order, the four specials on top; yours: {got['top3']}"
        + ("; max_size counts the ordinary tokens only: do not subtract the specials"
           if got["top3"][4:] == got["all"][4:][:3 - len(SPECIALS)] else ""))
    assert got["top3_min2"] == SPECIALS + [".", "le", "chat"], f"min_freq=2, max_size=3 gave {got['top3_min2']}"
    assert got["lookup"] == 0, "token_to_id('<pad>') must be 0"


@pytest.mark.grade("Q7", points=1)
def test_q7_decode(out):
    """decode inverts encode: it stops at <eos>, drops <pad>/<sos>, keeps <unk>, and strip_specials=False keeps all."""
    got = out["q7_decode"]
    assert got["full"] == ["le", "chat", "noir", "."], f"decode([1, 4, 5, 6, 7, 2, 0, 0]) gave {got['full']}"
    assert got["after_eos"] == ["le", "<unk>", "."], (
        f"decode([1, 4, 3, 7, 2, 5, 6]) gave {got['after_eos']}: stop at the first <eos>, keep <unk>")
    assert got["pads"] == ["le", "chat"], f"decode([4, 0, 5]) gave {got['pads']}: leave out <pad>"
    assert got["nothing"] == [], f"decode([2, 4, 5]) gave {got['nothing']}: nothing comes before the <eos>"
    assert got["tensor_list"] == ["chat"], "decode must accept the ints of a tensor's .tolist()"
    assert got["raw"] == ["<sos>", "le", "<eos>", "<pad>"], (
        f"decode([1, 4, 2, 0], strip_specials=False) gave {got['raw']}: every index becomes its token")
    assert got["out_of_range"][0] == "raised" and got["out_of_range"][1] == "IndexError", (
        "an index outside the vocabulary must raise IndexError")


def _tensor(got: dict, key: str, what: str) -> torch.Tensor:
    value = got[key]
    assert isinstance(value, torch.Tensor), f"Batch.{key} must be a tensor ({what}), not {type(value).__name__}"
    assert value.dtype == torch.long, f"Batch.{key} must be a LongTensor (int64), not {value.dtype}"
    return value


@pytest.mark.grade("Q8", points=1)
def test_q8_padding(out, ref):
    """collate_batch pads src and tgt on the right with PAD (0) into (batch, longest) LongTensors."""
    got, want = out["q8_collate"], ref["q8_collate"]
    assert got["plain"]["type"] == "Batch", f"collate_batch must return a Batch, not a {got['plain']['type']}"
    for key, longest in (("src", "longest source"), ("tgt", "longest target")):
        for case in ("plain", "single"):
            have, expected = _tensor(got[case], key, f"(batch, {longest})"), want[case][key]
            assert have.shape == expected.shape, (
                f"Batch.{key} has shape {tuple(have.shape)} for {len(ITEMS) if case == 'plain' else 1} pairs: it "
                f"must be (batch, {longest}), batch first")
            assert torch.equal(have, expected), (
                f"Batch.{key} holds the wrong values: each row is one sequence followed by PAD (0) up to the "
                "longest; yours:\n" + str(have.tolist()))


@pytest.mark.grade("Q8", points=1)
def test_q8_lengths_and_sorting(out, ref):
    """src_lengths holds the true source lengths on the CPU; sort_by_length sorts pairs by decreasing length."""
    got, want = out["q8_collate"], ref["q8_collate"]
    lengths = _tensor(got["plain"], "src_lengths", "(batch,)")
    assert lengths.tolist() == [len(src) for src, _ in ITEMS], (
        f"src_lengths is {lengths.tolist()} for sources of lengths {[len(src) for src, _ in ITEMS]}: count each "
        "source before padding")
    assert got["plain"]["lengths_device"] == "cpu", "src_lengths must stay on the CPU (pack_padded_sequence needs it)"
    ordered = got["sorted"]
    assert _tensor(ordered, "src_lengths", "(batch,)").tolist() == [6, 4, 4, 3], (
        f"with sort_by_length=True, src_lengths is {ordered['src_lengths'].tolist()}: sort by decreasing length, "
        "keeping equal lengths in their order")
    for key in ("src", "tgt"):
        assert torch.equal(_tensor(ordered, key, "sorted"), want["sorted"][key]), (
            f"with sort_by_length=True, Batch.{key} is not reordered like the lengths: each source must stay "
            "with its own target")


def _flat(batches: list) -> list:
    return sorted(index for batch in batches for index in batch)


@pytest.mark.grade("Q8", points=1)
def test_q8_every_pair_once(out):
    """The batch sampler yields every index exactly once per epoch, in batches of batch_size, the last kept."""
    got = out["q8_sampler"]
    for key in ("epoch0", "epoch1"):
        batches = got[key]
        assert _flat(batches) == list(range(len(LENGTHS))), (
            f"one epoch over {len(LENGTHS)} items must yield every index exactly once; yours yielded "
            f"{len(_flat(batches))} indices, {len(set(_flat(batches)))} distinct"
            + ("; the last, smaller batch is missing: keep it" if len(set(_flat(batches))) == len(_flat(batches))
               < len(LENGTHS) and all(len(batch) == 10 for batch in batches) else ""))
        sizes = sorted(len(batch) for batch in batches)
        assert sizes == [3] + [10] * 10, (
            f"batch_size=10 over 103 items must give ten batches of 10 and one of 3 (kept); yours: {sizes}")
    assert got["len"] == 11, f"len(sampler) must be the number of batches per epoch (11), not {got['len']}"
    assert sorted(map(tuple, out["q8_loader"]["rows"])) == sorted(map(tuple, out["q8_loader"]["expected"])), (
        "a make_loader epoch must give back every pair exactly once (unpadded with src_lengths)")


@pytest.mark.grade("Q8", points=1)
def test_q8_seeded_shuffling(out):
    """Shuffling is seeded: the same seed and epoch give the same batches; other epochs and seeds differ."""
    got = out["q8_sampler"]
    assert got["epoch0"] == got["twin0"], (
        "two samplers with the same seed gave different first epochs after random.seed(1) and random.seed(2): use "
        "a private random.Random seeded as documented, not the global random module")
    assert got["epoch0"] != got["epoch1"], "two epochs gave the same batches: the epoch must change the shuffle"
    assert got["replay"] == got["epoch0"], "set_epoch(0) must replay epoch 0 exactly"
    assert got["epoch0"] != got["other_seed"], "seeds 3 and 4 gave the same batches"


@pytest.mark.grade("Q8", points=0.5)
def test_q8_bucketing(out):
    """Bucketing groups similar lengths (little padding); without shuffling the order is the documented one."""
    got = out["q8_sampler"]
    spread = sum(max(LENGTHS[i] for i in batch) - min(LENGTHS[i] for i in batch) for batch in got["epoch0"])
    assert spread <= max(LENGTHS) - min(LENGTHS), (
        "with bucket=True, each batch must hold items of similar length: sort the shuffled indices by length "
        f"before cutting batches (the length ranges of your batches add up to {spread})")
    assert got["plain"] == [list(range(start, min(start + 10, 103))) for start in range(0, 103, 10)], (
        "with shuffle=False and bucket=False, the batches must be the indices in order: [0..9], [10..19], ...")
    assert got["sorted"] == [batch for batch in (sorted(range(103), key=lambda i: LENGTHS[i])[k:k + 10]
                                                 for k in range(0, 103, 10))], (
        "with shuffle=False and bucket=True, the batches must be the indices sorted by length (stable), cut in order")
    unbucketed = sum(max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b) for b in got["unbucketed"])
    assert unbucketed > spread, "with bucket=False the batches must not be grouped by length"
