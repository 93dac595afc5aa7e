"""Which code a student wrote, and for which question.

The release (``assignments/attention_seq2seq/seq2seq/``, what students were given) says what never counts: its
statements, given code and stubs alike. ``source/`` says where the questions are: every function that holds a
``### BEGIN SOLUTION`` region belongs to the first ``Qn`` of its docstring, else of its class's docstring
(``BucketBatchSampler.__iter__`` is Q8 by its class), so the map function → question is the course's own and
follows it when questions move.

A student's module then splits into units:

* a function that holds a stub in the release: its statements that are not the release's (given lines before
  the stub, and the stub itself if left in, are subtracted), for that function's question;
* a function the student added (a helper): for the question whose code calls it, by name (directly or through
  other helpers); a helper several questions call, or none, is "other";
* anything else the student changed or added (a given function edited, module-level code): "other".
"""
from __future__ import annotations

import ast
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from autograder.submission import Refused, read_tree
from autograder.similarity.normalise import (
    SNIPPET,
    Context,
    bound_names,
    counts,
    dictated,
    dump,
    fingerprints,
    module_imports,
    statement_tokens,
)

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT / "assignments" / "attention_seq2seq" / "seq2seq"
SOURCE = ROOT / "source" / "attention_seq2seq" / "seq2seq"
OTHER = "other"
_QUESTION = re.compile(r"^\s*(Q\d+)\b")
_WORD = re.compile(r"\w+")
Def = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass(frozen=True)
class Statement:
    """One counted statement: the lines it spans in the student's file (a compound one: its header) and its
    fingerprints."""

    first: int
    last: int
    prints: frozenset[int]


@dataclass
class Unit:
    """A student's function (or changed module-level statement) as compared: where it is and what counts in it."""

    question: str                  # "Q13", or "other"
    module: str                    # "attention.py"
    name: str                      # "Attention.score"; "<module>" for module-level code
    first_line: int                # the line of ``text``'s first line in the student's file
    text: str                      # the student's text of the whole function, as written (shown, never run)
    statements: list[Statement] = field(default_factory=list)
    docstring: tuple[int, int] | None = None  # its lines, shown folded


@dataclass
class Submission:
    """One student's counted code: units by question, and what could not be read (never silently skipped)."""

    student: str
    units: list[Unit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def prints(self, question: str) -> frozenset[int]:
        return frozenset().union(*(s.prints for u in self.units if u.question == question for s in u.statements))


@dataclass(frozen=True)
class ReleaseModule:
    """What the release gave in one module: its statements per function (as normalised dumps) and the rest."""

    context: Context                      # kept names and vocabulary; imports are each file's own
    functions: dict[str, Counter]         # qualified name -> Counter of its body's statement dumps
    top: Counter                          # module- and class-level statements (not defs)
    questions: dict[str, str]             # stub holder (qualified name) -> question
    classes: frozenset[str]               # the module's top-level classes
    dictated: frozenset[int]              # fingerprints of the code its docstrings spell out
    text: str                             # the module as released
    sources: dict[str, str]               # qualified name -> the function's text as released


# a module of the student's own
_NOTHING = ReleaseModule(Context(), {}, Counter(), {}, frozenset(), frozenset(), "", {})


def _defs(tree: ast.Module, classes: frozenset[str] | None = None) -> Iterator[tuple[str, Def, ast.ClassDef | None]]:
    """``(qualified name, node, its class)`` of the units of a module: module-level functions, the methods of the
    release's classes (``classes``; None: of every class) and any other class whole."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and (classes is None or node.name in classes):
            for child in node.body:
                if isinstance(child, Def):
                    yield f"{node.name}.{child.name}", child, node
        elif isinstance(node, Def):
            yield node.name, node, None


def _loose(tree: ast.Module, classes: frozenset[str]) -> Iterator[ast.stmt]:
    """Module-level statements that are not definitions, and those in the bodies of the release's classes."""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name in classes:
            yield from (child for child in node.body if not isinstance(child, Def) and counts(child))
        elif not isinstance(node, Def) and counts(node):
            yield node


def question_map(source: Path = SOURCE) -> dict[str, dict[str, str]]:
    """``{module file: {qualified name of a function holding a solution region: question}}`` from ``source/``.

    Raises:
        ValueError: a solution region outside any function, or in a function whose docstring (and class
            docstring) names no question.
    """
    found: dict[str, dict[str, str]] = {}
    for path in sorted(source.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() != "### BEGIN SOLUTION":
                continue
            holders = [(name, node, owner) for name, node, owner in _defs(tree)
                       if not isinstance(node, ast.ClassDef) and node.lineno <= number <= node.end_lineno]
            if not holders:
                raise ValueError(f"{path.name}:{number}: a solution region outside any function")
            name, node, owner = holders[-1]
            docs = [ast.get_docstring(node) or "", ast.get_docstring(owner) or "" if owner else ""]
            question = next((m[1] for m in map(_QUESTION.match, docs) if m), None)
            if question is None:
                raise ValueError(f"{path.name}:{number}: {name} holds a solution region but neither its docstring "
                                 "nor its class's starts with the question (Qn)")
            found.setdefault(path.name, {})[name] = question
    return found


def _vocabulary(tree: ast.Module, text: str) -> frozenset[str]:
    """The names the release itself uses: in its code, and in the code its docstrings quote (````key_layer =
    ...````; words of 3 characters or more there, so that a formula's ``W`` is no name)."""
    names = {n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else n.arg
             for n in ast.walk(tree) if isinstance(n, ast.Name | ast.Attribute | ast.arg)}
    quoted = {word for snippet in SNIPPET.findall(text) for word in _WORD.findall(snippet) if len(word) >= 3}
    return frozenset(names | quoted)


def load_release(release: Path = RELEASE, source: Path = SOURCE) -> dict[str, ReleaseModule]:
    """The release's modules, with the question of every stub (from ``source/``)."""
    questions = question_map(source)
    modules = {}
    for path in sorted(release.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        classes = frozenset(node.name for node in tree.body if isinstance(node, ast.ClassDef))
        kept = {node.name for node in tree.body if isinstance(node, Def)}
        kept |= {t.id for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
                 for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}
        base = Context(kept=frozenset(kept), vocabulary=_vocabulary(tree, text))
        context = Context(base.kept, module_imports(tree), base.vocabulary)
        functions = {name: Counter(dump(s, replace(context, bound=bound_names(node))) for s in node.body if counts(s))
                     for name, node, _ in _defs(tree) if not isinstance(node, ast.ClassDef)}
        missing = set(questions.get(path.name, {})) - set(functions)
        if missing:
            raise ValueError(f"{path}: no function {sorted(missing)}: is the release generated from source/?")
        modules[path.name] = ReleaseModule(base, functions, Counter(dump(s, context) for s in _loose(tree, classes)),
                                           questions.get(path.name, {}), classes, dictated(tree, context), text,
                                           {name: _segment(text.splitlines(), node) for name, node, _ in _defs(tree)})
    return modules


def _statements(nodes: list[ast.stmt], context: Context, given: frozenset[int] = frozenset()) -> list[Statement]:
    """The counted statements of ``nodes`` with their fingerprints, less ``given`` (code the docstrings dictate)."""
    out = []
    for node in nodes:
        for stmt, tokens in statement_tokens(node, context):
            first = stmt.pattern.lineno if isinstance(stmt, ast.match_case) else stmt.lineno
            body = getattr(stmt, "body", None)
            header_end = body[0].lineno - 1 if body and isinstance(body[0], ast.stmt) else first
            last = stmt.end_lineno if isinstance(stmt, ast.stmt) and not body else header_end
            out.append(Statement(first, max(first, last), frozenset(fingerprints(tokens)) - given))
    return out


def _new(nodes: list[ast.stmt], given: Counter, context: Context) -> list[ast.stmt]:
    """The statements of ``nodes`` that are not in ``given`` (a multiset: each given statement matches once)."""
    left, out = Counter(given), []
    for node in nodes:
        key = dump(node, context)
        if left[key] > 0:
            left[key] -= 1
        else:
            out.append(node)
    return out


def _callers(units: dict[str, tuple[Def, str | None]]) -> dict[str, str]:
    """A question for every helper (question None): the one question whose code calls it by name, directly or
    through other helpers; "other" when several do, or none."""
    def names(node: ast.AST) -> set[str]:
        return {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
                if isinstance(n, ast.Name | ast.Attribute)}
    calls = {name: names(node) for name, (node, q) in units.items() if q != OTHER}
    helpers = {name for name, (_, q) in units.items() if q is None}
    known = {name: q for name, (_, q) in units.items() if q not in (None, OTHER)}
    for _ in range(len(helpers)):  # one level of calls per round
        for helper in sorted(helpers - set(known)):
            callers = {known[name] for name in known if name != helper and helper.split(".")[-1] in calls[name]}
            if callers:
                known[helper] = callers.pop() if len(callers) == 1 else OTHER
    return {name: known.get(name, OTHER) for name in helpers}


def read_submission(student: str, package: Path | None, release: dict[str, ReleaseModule], *,
                    below: Path | None = None) -> Submission:
    """The counted code of one student's ``seq2seq`` package (``package`` None: the student has none).

    Read as the grader reads a submission (``autograder.submission``: no link followed, no FIFO opened, limits
    kept; ``below``: the class folder, under which no part of the way to ``package`` may be a link). Modules the
    release does not have (a student's own ``helpers.py``) count whole, as "other".
    """
    found = Submission(student)
    if package is None:
        found.problems.append("no seq2seq/ package")
        return found
    try:
        tree = read_tree(package, below=below)
    except Refused as error:
        found.problems.append(f"not compared: {error}")
        return found
    found.problems.extend(f"{entry}: not compared" for entry in tree.left_out)
    extra = sorted(name for name in tree.files if name.endswith(".py"))
    for module in list(release) + [m for m in extra if m not in release]:
        given = release.get(module, _NOTHING)
        if module not in tree.files:
            found.problems.append(f"{module}: missing")
            continue
        text = tree.files[module].decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
        if text == given.text:  # untouched: nothing of it counts (the common case, and the quick one)
            continue
        try:
            parsed = ast.parse(text)
        except (SyntaxError, ValueError) as error:
            found.problems.append(f"{module}: not compared, it does not parse ({error.__class__.__name__}: {error})")
            continue
        found.units.extend(_module_units(module, text, parsed, given))
    return found


def _segment(lines: list[str], node: Def) -> str:
    """The text of a definition, decorators included."""
    return "\n".join(lines[min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1:node.end_lineno])


def _module_units(module: str, text: str, tree: ast.Module, given: ReleaseModule) -> list[Unit]:
    context = Context(given.context.kept, module_imports(tree), given.context.vocabulary)
    lines = text.splitlines()
    defs: dict[str, tuple[Def, str | None]] = {}
    for name, node, _ in _defs(tree, given.classes):
        # a stub's question; given code counts only where changed ("other"); None: the student's own helper
        defs[name] = (node, given.questions.get(name, OTHER if name in given.functions else None))
    helpers = _callers(defs)
    units = []
    for name, (node, question) in defs.items():
        if given.sources.get(name) == _segment(lines, node):
            continue  # a function as released: its stub, or given code left alone
        body = [node] if isinstance(node, ast.ClassDef) else [s for s in node.body if counts(s)]
        scope = replace(context, bound=bound_names(node))
        kept = _new(body, given.functions.get(name, Counter()), scope)
        statements = [s for s in _statements(kept, scope, given.dictated) if s.prints]
        if statements:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            doc = node.body[0] if node.body and not counts(node.body[0]) else None
            units.append(Unit(question or helpers[name], module, name, first, _segment(lines, node), statements,
                              (doc.lineno, doc.end_lineno) if isinstance(doc, ast.Expr) else None))
    for node in _new(list(_loose(tree, given.classes)), given.top, context):
        statements = [s for s in _statements([node], context, given.dictated) if s.prints]
        if statements:
            units.append(Unit(OTHER, module, "<module>", node.lineno,
                              "\n".join(lines[node.lineno - 1:node.end_lineno]), statements))
    return units
