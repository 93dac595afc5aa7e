"""The catalogue of mutants itself (tests/helpers.py, tests/anchors.py), without grading: every catalogued mutant
still applies to the generated solution, and to a copy of it reformatted the ways an edit of source/ may reformat
it (comments, blank lines, spaces, line breaks, quotes, docstrings); a change to the quoted code is refused, and so
are malformed mutants. A change to source/ that breaks a mutant's quote fails here in seconds, before the slow
tests that grade the mutants."""
from __future__ import annotations

import ast
import io
import keyword
import re
import shutil
import tokenize

import pytest

from tests import test_graders_model
from tests.anchors import read_quote, replace_once
from tests.helpers import SOLUTION, Mutant, catalogue, mutant

ATT = "seq2seq/attention.py"
SPACED = {"+", "-", "*", "/", "//", "%", "**", "@", "=", "==", "!=", "<", ">", "<=", ">=", "+=", "-=", "*=", "/=",
          "->", "|", "&", ":="}
CODE = {tokenize.NAME, tokenize.OP, tokenize.NUMBER, tokenize.STRING}
DOCSTRING = '"""A docstring reworded\n    over two lines, for the test."""'


def every_mutant() -> dict[str, Mutant]:
    """The catalogue and the other correct answers (tests/test_graders_model.py's ALTERNATIVES)."""
    return catalogue() | {f"alternative {n}": m for n, m in test_graders_model.ALTERNATIVES.items()}


def _docstrings(text: str) -> set[tuple[int, int]]:
    """Where each docstring of a module starts, as tokenize's (line, column)."""
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                    first.value.value, str):
                found.add((first.lineno, first.col_offset))
    return found


def _starts(text: str) -> list[int]:
    """The offset of each line's start, indexed by tokenize's line numbers (from 1)."""
    starts = [0, 0]
    for line in io.StringIO(text).readlines():
        starts.append(starts[-1] + len(line))
    return starts


def _gap(gap: str, previous: tokenize.TokenInfo, token: tokenize.TokenInfo, depth: int, count: int) -> str:
    """The spaces between two tokens of a line, changed: after commas (none, two, or a line break inside
    brackets), and around operators (added where there were none, removed where there was one)."""
    if previous.type not in CODE or previous.end[0] != token.start[0] or gap.strip():
        return gap
    if previous.string == ",":
        if depth and count % 3 == 2 and token.string not in ")]}":
            return "\n" + " " * (8 + 4 * depth)
        return ["", "  ", " "][count % 3]
    if previous.string in SPACED or token.string in SPACED:
        if not gap:
            return " "
        if gap == " " and not (previous.type == token.type == tokenize.OP):
            return ""
    return gap


def _token(token: tokenize.TokenInfo, depth: int, count: int, docstrings: set[tuple[int, int]]) -> str:
    """A token, changed: comments removed or reworded (all removed inside brackets, whose lines are joined), a
    blank line added after some statements, docstrings reworded, and simple strings put in the other quotes."""
    kind, text = token.type, token.string
    if kind == tokenize.COMMENT:
        return "" if depth or count % 2 else "# a comment reworded for the test"
    if kind == tokenize.NL and depth:
        return " "
    if kind == tokenize.NEWLINE and text and count % 3 == 0:
        return text + "\n"
    if kind == tokenize.STRING and token.start in docstrings:
        return DOCSTRING
    simple = re.fullmatch(r"([rRbBuUfF]*)(['\"])([^'\"\\\n]*)\2", text)
    if kind == tokenize.STRING and simple:
        quote = "'" if simple[2] == '"' else '"'
        return f"{simple[1]}{quote}{simple[3]}{quote}"
    return text


def cosmetic(text: str) -> str:
    """``text`` (a module) reformatted without changing its code: see ``_gap`` and ``_token``."""
    docstrings, starts = _docstrings(text), _starts(text)
    out, depth, end, previous, joined = [], 0, 0, None, False
    for count, token in enumerate(tokenize.generate_tokens(io.StringIO(text).readline)):
        start = starts[token.start[0]] + token.start[1]
        gap = text[end:start]
        if joined and not gap.strip():
            gap = ""  # the indentation of a line joined to the one before
        elif previous is not None:
            gap = _gap(gap, previous, token, depth, count)
        new = _token(token, depth, count, docstrings)
        out += ["" if token.type == tokenize.COMMENT and not new else gap, new]
        joined = depth > 0 and (token.type == tokenize.NL or joined and token.type == tokenize.COMMENT)
        depth += (token.string in "([{") - (token.string in ")]}") if token.type == tokenize.OP else 0
        end, previous = starts[token.end[0]] + token.end[1], token
    return "".join(out)


def _code(text: str) -> str:
    """A module's code without its docstrings, to compare."""
    tree, docstrings = ast.parse(text), _docstrings(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and (node.lineno, node.col_offset) in docstrings:
            node.value = ""
    return ast.dump(tree)


@pytest.fixture(scope="module")
def edited(tmp_path_factory):
    """A copy of the solution with every module reformatted by ``cosmetic()``."""
    folder = tmp_path_factory.mktemp("edited") / "solution"
    shutil.copytree(SOLUTION, folder, ignore=shutil.ignore_patterns("__pycache__"))
    for path in folder.rglob("*.py"):
        path.write_text(cosmetic(path.read_text(encoding="utf-8")), encoding="utf-8")
    return folder


def _apply_all(tmp_path, base) -> dict[str, str]:
    """Build every mutant from ``base``: ``{name: why it did not apply, or which file does not parse}``."""
    broken = {}
    for number, (name, m) in enumerate(every_mutant().items()):
        try:
            built = mutant(tmp_path / str(number), m.edits, base=base)
            for rel in m.edits:
                ast.parse((built / rel).read_text(encoding="utf-8"))
        except (AssertionError, SyntaxError) as error:
            broken[name] = f"{type(error).__name__}: {error}"
    return broken


def test_every_mutant_applies_to_the_solution(tmp_path):
    """Every replacement's code is found exactly once (``mutant()`` applies them in order); the result parses."""
    assert len(catalogue()) >= 150, "a table of mutants went missing"
    broken = _apply_all(tmp_path, SOLUTION)
    assert not broken, f"update these mutants to the solution's current code: {broken}"


def test_the_cosmetic_edit_keeps_the_code_and_changes_most_quotes(edited):
    """The edit below is a fair test: each module keeps its code (its syntax tree, docstrings aside), yet most
    mutants' quotes are no longer in it word for word (as they had to be before tests/anchors.py)."""
    for path in SOLUTION.rglob("*.py"):
        rel = path.relative_to(SOLUTION)
        assert _code((edited / rel).read_text(encoding="utf-8")) == _code(path.read_text(encoding="utf-8")), rel
    quotes = [(rel, old) for m in every_mutant().values() for rel, entries in m.edits.items() for old, *_ in entries]
    verbatim = [old for rel, old in quotes if old in (edited / rel).read_text(encoding="utf-8")]
    assert len(verbatim) < len(quotes) / 4, f"{len(verbatim)} of {len(quotes)} quotes were left as they were"


def test_every_mutant_survives_cosmetic_edits(tmp_path, edited):
    broken = _apply_all(tmp_path, edited)
    assert not broken, f"these mutants do not survive a cosmetic edit of the solution: {broken}"


def _renamed(text: str, name: str) -> str:
    """``text`` with every name token ``name`` renamed (a real change, unlike those of ``cosmetic()``)."""
    starts = _starts(text)
    for token in reversed(list(tokenize.generate_tokens(io.StringIO(text).readline))):
        if token.type == tokenize.NAME and token.string == name:
            start = starts[token.start[0]] + token.start[1]
            text = text[:start] + name + "_renamed" + text[start + len(name):]
    return text


def test_a_renamed_variable_in_the_quoted_code_is_refused():
    """For each mutant's first quote: its module with a name of the quote renamed no longer holds the quote."""
    accepted, tried = {}, 0
    for name, m in every_mutant().items():
        rel, ((old, new, *_), *_) = next(iter(m.edits.items()))
        quote = read_quote(old)
        spelled = [old[token.start:token.end] for token in (quote.tokens if quote else ())]
        names = [word for word in spelled if word.isidentifier() and not keyword.iskeyword(word)]
        if names:
            tried += 1
            text = _renamed((SOLUTION / rel).read_text(encoding="utf-8"), max(names, key=len))
            try:
                replace_once(text, old, new, where=rel)
                accepted[name] = max(names, key=len)
            except AssertionError as error:
                assert f"found 0 times in {rel}: {old!r}; the closest code, at line " in str(error), error
    assert not accepted, f"these mutants applied after a name of their code changed: {accepted}"
    assert tried > len(every_mutant()) / 2, "most quotes name something"


MODULE = """\
LABEL = "how?"


class Encoder:
    def forward(self, x):
        return x + 1  # the first

    def reset(self, x):
        y = {'scale': 1_000,
             'shift': x}
        return x + 1


def helper(x):
    if x:
        return x + 1
    return -x


def check(x):
    np.random.seed(x)
    random.seed(x)
    raise ValueError(f'bad {x!r}: no')
"""


@pytest.mark.parametrize(("old", "new", "scope", "expected"), [
    ("return -x", "return x", None, "    return x\n"),  # found whatever the spaces
    ('{"scale": 1000, "shift": x}', "{}", None, "        y = {}\n"),  # quotes, digits, line breaks are cosmetic
    ("'scale': 1_000,\n             'shift'", "'shift'", None, "        y = {'shift': x}\n"),
    ("    if x:\n        return x + 1\n", "", None, "def helper(x):\n    return -x\n"),  # whole lines go
    ("        y = {'scale'", "        z = 1\n        y = {'scale'", None, "        z = 1\n        y = {'scale': 1_0"),
    ("        if x:\n            return x + 1", "        if not x:\n            return x + 2", None,
     "    if not x:\n        return x + 2\n"),  # moved to where the code is indented
    ("return x + 1  # the second\n", "return x\n", "Encoder.forward", "        return x\n\n    def reset"),
    ("return x + 1  # the second", "return x  # the second", "Encoder.forward", "        return x  # the first\n"),
    ("    random.seed(x)\n", "", None, "    np.random.seed(x)\n    raise"),  # a statement, not a tail
    ('raise ValueError(f"bad {x!r}', 'raise TypeError(f"bad {x!r}', None, "    raise TypeError(f'bad {x!r}: no')"),
])
def test_a_quote_is_found_by_its_tokens(old, new, scope, expected):
    got = replace_once(MODULE, old, new, where="m.py", scope=scope)
    assert expected in got, got
    ast.parse(got)


@pytest.mark.parametrize("old", [
    "return x + 2", "return x - 1", "return y + 1",  # a changed literal, operator, name
    "{'scale': 1_000}",  # a missing token
])
def test_a_changed_quote_is_refused(old):
    message = f"found 0 times in m.py (within Encoder.reset): {old!r}; the closest code, at line "
    with pytest.raises(AssertionError, match=re.escape(message)):
        replace_once(MODULE, old, "pass", where="m.py", scope="Encoder.reset")


def test_a_scope_picks_one_of_several_occurrences(tmp_path):
    message = "found 3 times in m.py: 'return x + 1' (at lines 6, 11, 16: quote more of the code, or name the function"
    with pytest.raises(AssertionError, match=re.escape(message)):
        replace_once(MODULE, "return x + 1", "return x", where="m.py")
    with pytest.raises(AssertionError, match=re.escape("found 2 times in m.py (within Encoder)")):
        replace_once(MODULE, "return x + 1", "return x", where="m.py", scope="Encoder")
    with pytest.raises(AssertionError, match=re.escape("mutation scope 'Encoder.missing' found 0 times in m.py")):
        replace_once(MODULE, "return x + 1", "return x", where="m.py", scope="Encoder.missing")
    base = tmp_path / "base"
    base.mkdir()
    (base / "m.py").write_text(MODULE)
    built = mutant(tmp_path, {"m.py": [("return x + 1", "return x + 2", "Encoder.reset")]}, base=base)
    assert (built / "m.py").read_text() == MODULE.replace("return x + 1\n\n\n", "return x + 2\n\n\n")


def test_a_quote_or_module_that_does_not_read_as_tokens_is_matched_as_exact_text():
    assert replace_once(MODULE, 'how?"', 'why?"', where="m.py").startswith('LABEL = "why?"\n')  # from "?" on
    with pytest.raises(AssertionError, match=re.escape("found 0 times in m.py (as exact text): 'how ?'")):
        replace_once(MODULE, "how ?", "", where="m.py")
    assert replace_once("x = 1 $ 2\n", "x = 1", "y = 1", where="m.py") == "y = 1 $ 2\n"  # not Python


def test_a_quote_not_found_exactly_once_in_the_solution_is_refused(tmp_path):
    with pytest.raises(AssertionError, match="found 0 times in seq2seq/attention.py"):
        mutant(tmp_path / "missing", {ATT: [("text that the solution does not hold", "")]})
    with pytest.raises(AssertionError, match=r"found \d+ times in seq2seq/attention.py: 'return '"):
        mutant(tmp_path / "ambiguous", {ATT: [("return ", "return None or ")]})  # every function returns


@pytest.mark.parametrize(("qid", "edits", "hint", "problem"), [
    ("13", {ATT: [("a", "b")]}, None, "must look like 'Q13'"),
    ("Q13", {}, None, "at least one replacement"),
    ("Q13", {ATT: []}, None, "at least one replacement"),
    ("Q13", {ATT: [("a", "a")]}, None, "replaces text by itself"),
    ("Q13", {ATT: [("a", "b")]}, "Use sqrt(d)", "lower-case"),
    ("Q13", {ATT: [("a", "b")]}, "", "lower-case"),
    ("Q13", {ATT: [(" \n", "b")]}, None, "no old text"),
    ("Q13", {ATT: [("a",)]}, None, "(old, new) or (old, new, scope)"),
    ("Q13", {ATT: [("a", "b", "c", "d")]}, None, "(old, new) or (old, new, scope)"),
    ("Q13", {ATT: [["a", "b"]]}, None, "(old, new) or (old, new, scope)"),
    ("Q13", {ATT: [("a", None)]}, None, "(old, new) or (old, new, scope)"),
    ("Q13", {ATT: [("a", "b", "Encoder.forward()")]}, None, "must name a function or class"),
])
def test_a_malformed_mutant_is_refused(qid, edits, hint, problem):
    with pytest.raises(ValueError, match=re.escape(problem)):
        Mutant(qid, edits, hint)
