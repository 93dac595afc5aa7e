"""The Q5–Q8 graders: the solution gets full marks, the stub none, and realistic mistakes lose points on their
own question only. Each mutant is the generated solution with pieces of code replaced (tests/helpers.py)."""
from __future__ import annotations

import pytest

from autograder.harness import grade
from tests.bug_reach import MAXIMUM, graded_where_it_reaches
from tests.helpers import SOLUTION, STUB, Mutant, assert_hint, graded, scores

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

QUESTIONS = ["Q5", "Q6", "Q7", "Q8"]
DATA = "seq2seq/data.py"
RNG_LINE = '        rng = random.Random(f"{self.seed}:{self.epoch}")\n'

# Each mistake, applied to solutions/.../seq2seq/data.py; its hint is what the feedback on its question must say
# (lower-case; issue #7, point 6): the likely cause, in the student's terms.
MUTANTS: dict[str, Mutant] = {
    "Q5 unseeded shuffle": Mutant("Q5", {DATA: [
        ("    random.Random(seed).shuffle(shuffled)\n", "    random.shuffle(shuffled)\n"),
    ]}, hint="not the global random module"),
    "Q5 split before shuffling": Mutant("Q5", {DATA: [
        ("    return shuffled[n_valid + n_test:], shuffled[:n_valid], shuffled[n_valid:n_valid + n_test]",
         "    cut = len(pairs) - n_valid - n_test\n"
         "    return list(pairs[:cut]), list(pairs[cut:cut + n_valid]), list(pairs[cut + n_valid:])"),
    ]}, hint="shuffle before cutting"),
    "Q5 bad lines dropped silently": Mutant("Q5", {DATA: [
        ("        if strict:\n", "        if False:\n"),
        ("        skipped.append((number, reason))\n", "        continue\n"),
    ]}, hint="instead of dropping it silently"),
    "Q5 line numbers from 0": Mutant("Q5", {DATA: [
        ("enumerate(read_lines(path), start=1)", "enumerate(read_lines(path))"),
    ]}, hint="your line numbers are one too small"),
    "Q5 no stripping": Mutant("Q5", {DATA: [
        ("src, tgt = fields[0].strip(), fields[1].strip()", "src, tgt = fields[0], fields[1]"),
    ]}, hint="strip each side before checking"),
    "Q6 forgets <eos>": Mutant("Q6", {DATA: [
        ("return [SOS, *ids, EOS] if add_sos_eos else ids", "return [SOS, *ids] if add_sos_eos else ids"),
    ]}, hint="the <eos> (2) at the end is missing"),
    "Q6 unknown becomes <pad>": Mutant("Q6", {DATA: [
        ("[self.stoi.get(token, UNK) for token in tokens]", "[self.stoi.get(token, PAD) for token in tokens]"),
    ]}, hint="unknown tokens become unk (3)"),
    "Q6 curly apostrophes kept": Mutant("Q6", {DATA: [
        ('unicodedata.normalize("NFC", text).translate(_CHARMAP)', 'unicodedata.normalize("NFC", text)'),
    ]}, hint="the curly apostrophe ’ is still there"),
    "Q6 str.split instead of spaCy": Mutant("Q6", {DATA: [
        ("return [token.text for token in get_tokenizer(lang)(normalize_text(text, lower=lower))]",
         "return normalize_text(text, lower=lower).split()"),
    ]}, hint="use spacy's tokenizer"),
    "Q6 always lower-cased": Mutant("Q6", {DATA: [
        ("return text.lower() if lower else text", "return text.lower()"),
    ]}, hint="lower-cased although lower=false"),
    "Q7 specials after the tokens": Mutant("Q7", {DATA: [
        ("return cls(list(SPECIALS) + kept)", "return cls(kept + list(SPECIALS))"),
    ]}, hint="a vocabulary must start with the specials"),
    "Q7 min_freq off by one": Mutant("Q7", {DATA: [
        ("if n >= min_freq]", "if n > min_freq]"),
    ]}, hint="keep a token when its count >= min_freq"),
    "Q7 max_size counts the specials": Mutant("Q7", {DATA: [
        ("kept = kept[:max_size]", "kept = kept[:max_size - len(SPECIALS)]"),
    ]}, hint="do not subtract the specials"),
    "Q7 order by token only": Mutant("Q7", {DATA: [
        ("key=lambda item: (-item[1], item[0])", "key=lambda item: item[0]"),
    ]}, hint="decreasing count, then alphabetical"),
    "Q7 decode runs past <eos>": Mutant("Q7", {DATA: [
        ("if strip_specials and index == EOS:\n                break",
         "if strip_specials and index == EOS:\n                continue"),
    ]}, hint="stop at the first <eos>"),
    "Q7 specials in the data counted": Mutant("Q7", {DATA: [
        ("            counts.pop(special, None)\n", "            pass\n"),
    ]}, hint="a special token found in the data was counted as an ordinary token"),
    "Q8 pads with -1": Mutant("Q8", {DATA: [
        ("src = pad_sequence(sources, batch_first=True, padding_value=PAD)",
         "src = pad_sequence(sources, batch_first=True, padding_value=-1)"),
    ]}, hint="followed by pad (0)"),
    "Q8 lengths counted after padding": Mutant("Q8", {DATA: [
        ("    return Batch(src, src_lengths, tgt)",
         "    return Batch(src, torch.tensor([len(row) for row in src]), tgt)"),
    ]}, hint="count each source before padding"),
    "Q8 time-major tensors": Mutant("Q8", {DATA: [
        ("tgt = pad_sequence(targets, batch_first=True, padding_value=PAD)",
         "tgt = pad_sequence(targets, padding_value=PAD)"),
    ]}, hint="batch first"),
    "Q8 sorted ascending": Mutant("Q8", {DATA: [
        ("key=lambda item: -len(item[0])", "key=lambda item: len(item[0])"),
    ]}, hint="sort by decreasing length"),
    "Q8 last partial batch dropped": Mutant("Q8", {DATA: [
        ("range(0, len(indices), self.batch_size)", "range(0, len(indices) - self.batch_size + 1, self.batch_size)"),
    ]}, hint="the last, smaller batch is missing"),
    "Q8 unseeded shuffle": Mutant("Q8", {DATA: [
        (RNG_LINE, "        rng = random\n"),
    ]}, hint="not the global random module"),
    "Q8 same order every epoch": Mutant("Q8", {DATA: [
        (RNG_LINE, "        rng = random.Random(self.seed)\n"),
    ]}, hint="the epoch must change the shuffle"),
    "Q8 no bucketing": Mutant("Q8", {DATA: [
        ("            indices.sort(key=lambda index: self.lengths[index])\n", "            pass\n"),
    ]}, hint="sort the shuffled indices by length before cutting batches"),
}
# The mistakes the issue names, plus one more per question, must lose points on their own question and nowhere else:
# they are graded on every question whose probes enter a function they edit (tests/bug_reach.py). The others are
# graded on their own question only.
EVERYWHERE = ["Q5 unseeded shuffle", "Q5 split before shuffling", "Q5 bad lines dropped silently",
              "Q6 forgets <eos>", "Q6 unknown becomes <pad>", "Q6 curly apostrophes kept",
              "Q7 specials after the tokens", "Q7 min_freq off by one", "Q7 decode runs past <eos>",
              "Q8 pads with -1", "Q8 lengths counted after padding", "Q8 last partial batch dropped",
              "Q8 unseeded shuffle"]
OWN_ONLY = [name for name in MUTANTS if name not in EVERYWHERE]


@pytest.fixture(scope="module")
def solution() -> dict:
    return grade(SOLUTION, questions=QUESTIONS)


@pytest.fixture(scope="module")
def maximum(solution) -> dict[str, float]:
    return {test["name"].split()[0]: test["max_score"] for test in solution["tests"]}


def test_solution_gets_full_marks(solution, maximum):
    assert solution["extra_data"]["grader_errors"] == 0
    assert all(test["score"] == test["max_score"] for test in solution["tests"]), solution
    assert sorted(maximum) == QUESTIONS and all(2 <= points <= 5 for points in maximum.values()), maximum


def test_stub_gets_nothing():
    assert scores(STUB, QUESTIONS) == {qid: 0 for qid in QUESTIONS}


def test_every_mistake_has_a_hint():
    assert [name for name, m in MUTANTS.items() if not m.hint or m.qid not in QUESTIONS] == []


def test_every_question_has_two_mistakes_checked_everywhere():
    assert all(sum(MUTANTS[name].qid == q for name in EVERYWHERE) >= 2 for q in QUESTIONS)
    assert set(EVERYWHERE) <= set(MUTANTS) and len(set(EVERYWHERE)) == len(EVERYWHERE)


def _partial(got: float, name: str, maximum: dict[str, float]) -> None:
    qid = MUTANTS[name].qid
    assert got < maximum[qid], f"{name!r} kept full marks on {qid}"
    # Partial credit: one mistake must not cost the whole question, except where every check needs a vocabulary.
    assert got > 0 or name == "Q7 specials after the tokens", f"{name!r} lost all of {qid}"


@pytest.mark.slow
@pytest.mark.parametrize("name", EVERYWHERE)
def test_mistake_loses_points_on_its_question_only(tmp_path, maximum, reached, name):
    m = MUTANTS[name]
    got, feedback = graded_where_it_reaches(m, tmp_path, reached)
    _partial(got[m.qid], name, maximum)
    assert_hint(feedback, m.qid, m.hint, name)
    others = {q: got[q] for q in got if q != m.qid}
    assert others == {q: MAXIMUM[q] for q in others}, f"{name!r} also cost points elsewhere: {got}"


@pytest.mark.slow
@pytest.mark.parametrize("name", OWN_ONLY)
def test_mistake_loses_points(tmp_path, maximum, name):
    m = MUTANTS[name]
    got, feedback = graded(m.build(tmp_path), [m.qid])
    _partial(got[m.qid], name, maximum)
    assert_hint(feedback, m.qid, m.hint, name)
