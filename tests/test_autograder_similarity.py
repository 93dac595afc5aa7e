"""``python -m autograder similarity``: what counts, the normalisation, the scores, the command and its pages.

The generated class (tests/similarity_class.py) supplies independent implementations and disguised copies; the
measurement on 40 and 300 students is benchmarks/similarity_class.py.
"""
from __future__ import annotations

import ast
import itertools
import shutil
import time
from pathlib import Path

import pytest

from autograder.cli import main
from autograder.similarity import similarity
from autograder.similarity.compare import OVERALL, Settings, score_class
from autograder.similarity.extract import RELEASE, SOURCE, load_release, question_map, read_submission
from autograder.similarity.normalise import Context, statement_tokens
from tests.similarity_class import DISGUISES, build_class, write_student
from tests.similarity_variants import VARIANTS

SETTINGS = Settings()


@pytest.fixture(scope="module")
def release():
    return load_release()


def _student(tmp: Path, name: str, answers: dict[str, tuple[int, str]], release) -> object:
    write_student(tmp / name, answers)
    return read_submission(name, tmp / name / "seq2seq", release)


def _score(a, b, question: str) -> tuple[float, int]:
    pairs = score_class([a, b], SETTINGS).get(question, [])
    return (pairs[0].score, pairs[0].shared) if pairs else (0.0, 0)


# ------------------------------------------------------------------------------------------ what counts
def test_question_map_comes_from_source():
    where = {name: q for names in question_map().values() for name, q in names.items()}
    assert where["masked_softmax"] == "Q12" and where["Attention.score"] == "Q13"
    assert where["BucketBatchSampler.__iter__"] == "Q8"  # no Qn in its docstring: its class's
    assert where["EarlyStopping.step"] == "Q24"
    assert len(set(where.values())) == 34


def test_a_region_without_a_question_is_an_error(tmp_path):
    (tmp_path / "m.py").write_text('def f():\n    """Does things."""\n    ### BEGIN SOLUTION\n    return 1\n'
                                   "    ### END SOLUTION\n")
    with pytest.raises(ValueError, match="f holds a solution region"):
        question_map(tmp_path)


def test_the_release_and_its_given_code_count_for_nothing(tmp_path, release):
    """The stub release has no counted code at all; a copy of it with the stubs left gives no pair."""
    assert read_submission("stub", RELEASE, release).units == []
    shutil.copytree(RELEASE, tmp_path / "b" / "seq2seq")
    stub_b = read_submission("b", tmp_path / "b" / "seq2seq", release)
    assert stub_b.units == [] and score_class([stub_b, stub_b]) == {OVERALL: []}


def test_given_lines_inside_a_stub_function_do_not_count(tmp_path, release):
    """corpus_bleu's two given checks before its stub are not the student's code."""
    sub = _student(tmp_path, "s", {"Q26": (0, "none")}, release)
    (unit,) = [u for u in sub.units if u.question == "Q26"]
    counted = {line for s in unit.statements for line in range(s.first, s.last + 1)}
    text = unit.text.splitlines()
    given = [unit.first_line + i for i, line in enumerate(text) if "hypotheses but" in line or "is undefined" in line]
    assert given and not counted & set(given)


def test_helpers_go_to_the_question_that_calls_them(tmp_path, release):
    sub = _student(tmp_path, "s", {"Q5": (1, "none"), "Q26": (1, "none")}, release)
    assert {(u.name, u.question) for u in sub.units} >= {("_parse_line", "Q5"), ("_grams", "Q26")}


def test_changed_given_code_counts_as_other(tmp_path, release):
    write_student(tmp_path / "s", {})
    path = tmp_path / "s" / "seq2seq" / "data.py"
    path.write_text(path.read_text().replace("        return len(self.itos)\n",
                                             "        n = len([t for t in self.itos if t is not None])\n"
                                             "        return n\n", 1))
    sub = read_submission("s", tmp_path / "s" / "seq2seq", release)
    assert [(u.question, u.name) for u in sub.units] == [("other", "Vocab.__len__")]


# ------------------------------------------------------------------------------------------ normalisation
def _tokens(code: str, **context) -> list[list[str]]:
    return [tokens for node in ast.parse(code).body for _, tokens in statement_tokens(node, Context(**context))]


def test_names_layout_and_comments_are_gone_but_apis_stay():
    a = _tokens("total = F.softmax(x, dim=-1)  # weights\n", imports=(("F", "torch.nn.functional"),))
    b = _tokens("w = torch.nn.functional.softmax(\n    scores,\n    dim=-1,\n)\n", imports=(("torch", "torch"),))
    assert a == b and "torch.nn.functional.softmax" in a[0]
    assert _tokens("y = x.masked_fill(m, 0)") != _tokens("y = x.where(m, 0)")


def test_attributes_the_student_chose_are_renamable_the_dictated_ones_not():
    vocabulary = frozenset({"key_layer"})
    assert _tokens("y = self.W(x)", vocabulary=vocabulary) == _tokens("z = self.proj(h)", vocabulary=vocabulary)
    assert _tokens("y = self.key_layer(x)", vocabulary=vocabulary) != _tokens("y = self.W(x)", vocabulary=vocabulary)


def test_a_local_shadowing_a_module_name_is_a_local():
    assert _tokens("smooth = x + 1", kept=frozenset({"smooth"}), bound=frozenset({"smooth"})) == \
        _tokens("other = x + 1", kept=frozenset({"smooth"}))


@pytest.mark.parametrize("how", DISGUISES)
def test_every_disguise_scores_as_a_copy(tmp_path, release, how):
    questions = ["Q5", "Q13", "Q23", "Q26"]
    author = _student(tmp_path, "author", {q: (3, "none") for q in questions}, release)
    copier = _student(tmp_path, "copier", {q: (3, how) for q in questions}, release)
    for question in questions:
        score, shared = _score(author, copier, question)
        assert score == 1.0 and shared >= SETTINGS.min_shared, (question, how, score, shared)


def test_independent_implementations_are_not_flagged(tmp_path, release):
    """Eight students, each with a different implementation of every question: no pair is flagged anywhere."""
    subs = [_student(tmp_path, f"s{i}", {q: (i, "none") for q, v in VARIANTS.items() if i < len(v)}, release)
            for i in range(8)]
    table = score_class(subs, SETTINGS)
    flagged = [(q, p.a, p.b, p.score) for q, pairs in table.items() for p in pairs if p.flagged]
    assert flagged == []
    assert max(p.score for q, pairs in table.items() if q != OVERALL for p in pairs) < SETTINGS.threshold


def test_code_that_the_docstrings_dictate_does_not_count(tmp_path, release):
    """train_epoch's docstring spells out the optimiser steps: that code alone is no evidence."""
    sub = _student(tmp_path, "s", {"Q23": (0, "none")}, release)
    (unit,) = [u for u in sub.units if u.question == "Q23"]
    lines = unit.text.splitlines()
    backward = unit.first_line + next(i for i, line in enumerate(lines) if line.strip() == "loss.backward()")
    assert all(not s.prints for s in unit.statements if s.first == backward)


# ------------------------------------------------------------------------------------------ the command
def test_the_command_on_a_generated_class(tmp_path, capsys):
    plan = build_class(tmp_path / "class", 14, whole=2, seed=1)
    start = time.perf_counter()
    assert main(["similarity", str(tmp_path / "class"), "--out", str(tmp_path / "sim")]) == 0
    assert time.perf_counter() - start < 30
    assert "compared 14 submissions" in capsys.readouterr().out
    rows = [line.split(",") for line in (tmp_path / "sim" / "questions.csv").read_text().splitlines()[1:]]
    flagged = {(q, a, b) for q, _, a, b, *_, f, _ in rows if f == "1"}
    truth = {(q, a, b) for q in VARIANTS for a, b in itertools.combinations(plan.students, 2) if plan.copy(a, b, q)}
    assert flagged == truth  # every planted copy found, no independent pair flagged
    overall = (tmp_path / "sim" / "overall.csv").read_text().splitlines()
    for copier, copied in plan.whole.items():
        line = next(row for row in overall if f",{copied},{copier}," in row)
        assert line.split(",")[3] == "1.0000" and len(line.split(",")[6].split()) == len(VARIANTS)
    page = tmp_path / "sim" / overall[1].split(",")[-1]
    assert page.is_file() and 'class="match"' in page.read_text()
    assert (tmp_path / "sim" / "index.html").read_text().count("<tr") > len(VARIANTS)


def test_nbgrader_layout_and_unreadable_files(tmp_path, release):
    for name, answers in (("ann", {"Q5": (2, "none")}), ("bob", {"Q5": (2, "rename")}), ("cy", {})):
        write_student(tmp_path / "submitted" / name / "attention_seq2seq", answers)
    (tmp_path / "submitted" / "cy" / "attention_seq2seq" / "seq2seq" / "data.py").write_text("def broken(:\n")
    (tmp_path / "submitted" / "dee").mkdir()
    found = similarity(tmp_path, tmp_path / "sim")
    assert (found.students, found.pairs_flagged, found.problems) == (4, 1, 2)
    index = (tmp_path / "sim" / "index.html").read_text()
    assert "cy: data.py: not compared, it does not parse" in index and "dee: no seq2seq/ package" in index


def test_bad_folders_are_refused(tmp_path, capsys):
    assert main(["similarity", str(tmp_path / "nowhere"), "--out", str(tmp_path / "sim")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["similarity", str(tmp_path), "--out", str(tmp_path / "sim")]) == 2
    assert "holds no student folder" in capsys.readouterr().err
    with pytest.raises(ValueError, match="threshold"):
        Settings(threshold=0)


def test_student_text_is_escaped(tmp_path):
    hostile = '<img src=x onerror=alert(1)>'
    for name in ("a", hostile.replace("/", "")):
        write_student(tmp_path / "class" / name, {"Q26": (4, "none")})
        path = tmp_path / "class" / name / "seq2seq" / "evaluation.py"
        text = path.read_text().replace("    pairs = list(zip(hypotheses, references))\n",
                                        "    pairs = list(zip(hypotheses, references))  # </pre><script>x</script>\n"
                                        "    note = '</span><script>alert(2)</script>'\n")
        path.write_text(text)
    similarity(tmp_path / "class", tmp_path / "sim")
    pages = [tmp_path / "sim" / "index.html", *sorted((tmp_path / "sim" / "pairs").glob("*.html"))]
    assert len(pages) == 2
    for page in pages:
        text = page.read_text()
        assert "<script" not in text and "<img" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;/span&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in pages[1].read_text()


def test_source_and_release_agree(release):
    """Every stub the release holds is mapped to a question (the release is generated from source/)."""
    stubs = {name for module in release.values() for name in module.questions}
    assert stubs == {name for names in question_map(SOURCE).values() for name in names}


def test_a_module_of_the_students_own_counts_as_other(tmp_path, release):
    write_student(tmp_path / "s", {})
    body = VARIANTS["Q26"][0]["corpus_bleu"]
    (tmp_path / "s" / "seq2seq" / "mine.py").write_text("import math\n\n\ndef bleu(hypotheses, references, max_n=4):\n"
                                                       + "".join(f"    {line}\n" for line in body.strip().splitlines()))
    sub = read_submission("s", tmp_path / "s" / "seq2seq", release)
    assert [(u.module, u.name, u.question) for u in sub.units] == [("mine.py", "bleu", "other")]
