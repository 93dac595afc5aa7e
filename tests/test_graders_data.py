"""The Q5–Q8 graders: the solution gets full marks, the stub none, and realistic mistakes lose points on their
own question only. Each mutant is the generated solution with exact text replacements (tests/helpers.py)."""
from __future__ import annotations

import pytest

from autograder.harness import grade
from tests.helpers import SOLUTION, STUB, assert_hint, graded, mutant, scores

QUESTIONS = ["Q5", "Q6", "Q7", "Q8"]
DATA = "seq2seq/data.py"
RNG_LINE = '        rng = random.Random(f"{self.seed}:{self.epoch}")\n'

# question -> {mistake: [(old, new), ...]} applied to solutions/.../seq2seq/data.py
MUTANTS: dict[str, dict[str, list[tuple[str, str]]]] = {
    "Q5": {
        "unseeded shuffle": [("    random.Random(seed).shuffle(shuffled)\n", "    random.shuffle(shuffled)\n")],
        "split before shuffling": [
            ("    return shuffled[n_valid + n_test:], shuffled[:n_valid], shuffled[n_valid:n_valid + n_test]",
             "    cut = len(pairs) - n_valid - n_test\n"
             "    return list(pairs[:cut]), list(pairs[cut:cut + n_valid]), list(pairs[cut + n_valid:])")],
        "bad lines dropped silently": [("        if strict:\n", "        if False:\n"),
                                       ("        skipped.append((number, reason))\n", "        continue\n")],
        "line numbers from 0": [("enumerate(read_lines(path), start=1)", "enumerate(read_lines(path))")],
        "no stripping": [("src, tgt = fields[0].strip(), fields[1].strip()", "src, tgt = fields[0], fields[1]")],
    },
    "Q6": {
        "forgets <eos>": [("return [SOS, *ids, EOS] if add_sos_eos else ids",
                           "return [SOS, *ids] if add_sos_eos else ids")],
        "unknown becomes <pad>": [("[self.stoi.get(token, UNK) for token in tokens]",
                                   "[self.stoi.get(token, PAD) for token in tokens]")],
        "curly apostrophes kept": [('unicodedata.normalize("NFC", text).translate(_CHARMAP)',
                                    'unicodedata.normalize("NFC", text)')],
        "str.split instead of spaCy": [(
            "return [token.text for token in get_tokenizer(lang)(normalize_text(text, lower=lower))]",
            "return normalize_text(text, lower=lower).split()")],
        "always lower-cased": [("return text.lower() if lower else text", "return text.lower()")],
    },
    "Q7": {
        "specials after the tokens": [("return cls(list(SPECIALS) + kept)", "return cls(kept + list(SPECIALS))")],
        "min_freq off by one": [("if n >= min_freq]", "if n > min_freq]")],
        "max_size counts the specials": [("kept = kept[:max_size]", "kept = kept[:max_size - len(SPECIALS)]")],
        "order by token only": [("key=lambda item: (-item[1], item[0])", "key=lambda item: item[0]")],
        "decode runs past <eos>": [("if strip_specials and index == EOS:\n                break",
                                    "if strip_specials and index == EOS:\n                continue")],
        "specials in the data counted": [("            counts.pop(special, None)\n", "            pass\n")],
    },
    "Q8": {
        "pads with -1": [("src = pad_sequence(sources, batch_first=True, padding_value=PAD)",
                          "src = pad_sequence(sources, batch_first=True, padding_value=-1)")],
        "lengths counted after padding": [("    return Batch(src, src_lengths, tgt)",
                                           "    return Batch(src, torch.tensor([len(row) for row in src]), tgt)")],
        "time-major tensors": [("tgt = pad_sequence(targets, batch_first=True, padding_value=PAD)",
                                "tgt = pad_sequence(targets, padding_value=PAD)")],
        "sorted ascending": [("key=lambda item: -len(item[0])", "key=lambda item: len(item[0])")],
        "last partial batch dropped": [("range(0, len(indices), self.batch_size)",
                                        "range(0, len(indices) - self.batch_size + 1, self.batch_size)")],
        "unseeded shuffle": [(RNG_LINE, "        rng = random\n")],
        "same order every epoch": [(RNG_LINE, "        rng = random.Random(self.seed)\n")],
        "no bucketing": [("            indices.sort(key=lambda index: self.lengths[index])\n", "            pass\n")],
    },
}
# The mistakes the issue names, plus one more per question, are graded on all four questions: they must lose points
# on their own question and nowhere else. The others are graded on their own question only (a child process per
# question costs seconds: torch and spaCy load in each).
EVERYWHERE = {("Q5", "unseeded shuffle"), ("Q5", "split before shuffling"), ("Q5", "bad lines dropped silently"),
              ("Q6", "forgets <eos>"), ("Q6", "unknown becomes <pad>"), ("Q6", "curly apostrophes kept"),
              ("Q7", "specials after the tokens"), ("Q7", "min_freq off by one"), ("Q7", "decode runs past <eos>"),
              ("Q8", "pads with -1"), ("Q8", "lengths counted after padding"), ("Q8", "last partial batch dropped"),
              ("Q8", "unseeded shuffle")}
CASES = [(qid, name) for qid, mistakes in MUTANTS.items() for name in mistakes]
# What the feedback says about each mistake (lower-case; issue #7, point 6): the likely cause, in the student's terms.
HINTS: dict[str, dict[str, str]] = {
    "Q5": {
        "unseeded shuffle": "not the global random module",
        "split before shuffling": "shuffle before cutting",
        "bad lines dropped silently": "instead of dropping it silently",
        "line numbers from 0": "your line numbers are one too small",
        "no stripping": "strip each side before checking",
    },
    "Q6": {
        "forgets <eos>": "the <eos> (2) at the end is missing",
        "unknown becomes <pad>": "unknown tokens become unk (3)",
        "curly apostrophes kept": "the curly apostrophe ’ is still there",
        "str.split instead of spaCy": "use spacy's tokenizer",
        "always lower-cased": "lower-cased although lower=false",
    },
    "Q7": {
        "specials after the tokens": "a vocabulary must start with the specials",
        "min_freq off by one": "keep a token when its count >= min_freq",
        "max_size counts the specials": "do not subtract the specials",
        "order by token only": "decreasing count, then alphabetical",
        "decode runs past <eos>": "stop at the first <eos>",
        "specials in the data counted": "a special token found in the data was counted as an ordinary token",
    },
    "Q8": {
        "pads with -1": "followed by pad (0)",
        "lengths counted after padding": "count each source before padding",
        "time-major tensors": "batch first",
        "sorted ascending": "sort by decreasing length",
        "last partial batch dropped": "the last, smaller batch is missing",
        "unseeded shuffle": "not the global random module",
        "same order every epoch": "the epoch must change the shuffle",
        "no bucketing": "sort the shuffled indices by length before cutting batches",
    },
}


def _ids(cases: list[tuple[str, str]]) -> list[str]:
    return [f"{qid}-{name.replace(' ', '_')}" for qid, name in cases]


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
    assert {qid: sorted(hints) for qid, hints in HINTS.items()} == {qid: sorted(m) for qid, m in MUTANTS.items()}


def test_every_question_has_two_mistakes_checked_everywhere():
    assert all(sum(qid == q for qid, _ in EVERYWHERE) >= 2 for q in QUESTIONS)
    assert EVERYWHERE <= set(CASES)


def _partial(got: float, qid: str, mistake: str, maximum: dict[str, float]) -> None:
    assert got < maximum[qid], f"{mistake!r} kept full marks on {qid}"
    # Partial credit: one mistake must not cost the whole question, except where every check needs a vocabulary.
    assert got > 0 or mistake == "specials after the tokens", f"{mistake!r} lost all of {qid}"


@pytest.mark.slow
@pytest.mark.parametrize(("qid", "mistake"), sorted(EVERYWHERE), ids=_ids(sorted(EVERYWHERE)))
def test_mistake_loses_points_on_its_question_only(tmp_path, maximum, qid, mistake):
    got, feedback = graded(mutant(tmp_path, {DATA: MUTANTS[qid][mistake]}), QUESTIONS)
    _partial(got[qid], qid, mistake, maximum)
    assert_hint(feedback, qid, HINTS[qid][mistake], mistake)
    others = {q: got[q] for q in QUESTIONS if q != qid}
    assert others == {q: maximum[q] for q in others}, f"{mistake!r} also cost points elsewhere: {got}"


OWN_ONLY = [case for case in CASES if case not in EVERYWHERE]


@pytest.mark.slow
@pytest.mark.parametrize(("qid", "mistake"), OWN_ONLY, ids=_ids(OWN_ONLY))
def test_mistake_loses_points(tmp_path, maximum, qid, mistake):
    got, feedback = graded(mutant(tmp_path, {DATA: MUTANTS[qid][mistake]}), [qid])
    _partial(got[qid], qid, mistake, maximum)
    assert_hint(feedback, qid, HINTS[qid][mistake], mistake)
