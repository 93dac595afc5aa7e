"""What of a piece of Python counts when two students' code is compared, and its fingerprints.

A statement becomes a sequence of tokens read off its syntax tree (``ast``), so that what a copier changes
without changing the program is gone before anything is compared:

* formatting, comments and line breaks: the tree has none;
* docstrings and other bare string statements: dropped;
* names: every variable, parameter and helper the student chose becomes ``V``; names that carry meaning stay:
  builtins (``len``), the release's own module-level names (``PAD``, ``masked_softmax``), and imported names,
  read as the full dotted path they import (``F.softmax`` and ``torch.nn.functional.softmax`` are one token);
* attributes of ``self``/``cls`` that the release never mentions (``self.W`` vs ``self.proj``) become ``A``;
  those it names (``self.key_layer``, dictated by a docstring, checked by the graders) stay;
* free-text strings (messages, f-strings) become ``S``; short words and the release's own strings stay;
* type annotations and imports: dropped (annotations are style; an import only says where a name comes from).

Each statement is fingerprinted on its own: a compound statement (``for``, ``if``, ``with``, ``def``, ...) gives
its header, and the statements in its bodies are fingerprinted separately. The fingerprints of a piece of code are
the set of hashes of every ``K``-gram of each statement's tokens (a statement shorter than ``K`` is one
fingerprint, unless it is too short to say anything, e.g. ``return V``). A set of per-statement fingerprints
does not depend on the order of the statements, so reordering independent statements hides nothing either.
"""
from __future__ import annotations

import ast
import builtins
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

K = 5            # tokens per k-gram
MIN_TOKENS = 4   # a statement with fewer tokens ("return V", "break", "V += 1"...) is no evidence of anything
SHORT_STRING = 12  # a string constant up to this long without whitespace is a value ("additive", "\t"), kept
BUILTINS = frozenset(dir(builtins))
SNIPPET = re.compile(r"``([^`]+)``")
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")
_SKIPPED_FIELDS = frozenset({"ctx", "annotation", "returns", "type_comment", "type_params", "decorator_list"})


@dataclass(frozen=True)
class Context:
    """What the normaliser must know about the module a piece of code comes from.

    Attributes:
        kept: names that keep their spelling besides builtins: the release module's own top-level names.
        imports: ``{local name: dotted path}`` from the module's imports (``{"F": "torch.nn.functional"}``).
        vocabulary: the names the release module uses in its code and in the code its docstrings quote:
            attributes of ``self`` and strings found there are the assignment's, not the student's choice.
        bound: names bound inside the function at hand (:func:`bound_names`): always ``V``.
    """

    kept: frozenset[str] = frozenset()
    imports: tuple[tuple[str, str], ...] = ()
    vocabulary: frozenset[str] = frozenset()
    bound: frozenset[str] = frozenset()

    def resolve(self, name: str) -> str:
        """The token of a name read in an expression."""
        if name in self.bound:  # a local that shadows a module-level name (a variable called ``smooth``) is a local
            return "V"
        for local, path in self.imports:
            if local == name:
                return path
        return name if name in BUILTINS or name in self.kept else "V"


def bound_names(node: ast.AST) -> frozenset[str]:
    """Names that ``node`` binds inside itself: parameters, assignment, loop and ``as`` targets, nested defs."""
    found = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store | ast.Del):
            found.add(n.id)
        elif isinstance(n, ast.arg):
            found.add(n.arg)
        elif (isinstance(n, ast.ExceptHandler) and n.name
              or isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n is not node):
            found.add(n.name)
    return frozenset(found)


def module_imports(tree: ast.AST) -> tuple[tuple[str, str], ...]:
    """``(local name, dotted path)`` of every import anywhere in ``tree`` (top level or inside functions)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found[alias.asname] = alias.name
                else:  # `import torch.nn` binds `torch`
                    root = alias.name.split(".")[0]
                    found[root] = root
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return tuple(sorted(found.items()))


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def counts(node: ast.stmt) -> bool:
    """Whether a statement can count: bare strings (docstrings) and imports never do."""
    return not _is_docstring(node) and not isinstance(node, (ast.Import, ast.ImportFrom))


class _Tokens:
    """Pre-order tokens of one expression or statement header, canonicalised as the module docstring says."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.out: list[str] = []

    def dotted(self, node: ast.expr) -> str | None:
        """``a.b.c`` as one token when ``a`` is an imported name (a module or something from one), else None."""
        if isinstance(node, ast.Name):
            if node.id in self.context.bound:
                return None
            path = self.context.resolve(node.id)
            return path if "." in path or any(local == node.id for local, _ in self.context.imports) else None
        if isinstance(node, ast.Attribute):
            root = self.dotted(node.value)
            return None if root is None else f"{root}.{node.attr}"
        return None

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.expr_context):
            return
        if isinstance(node, ast.Name):
            self.out.append(self.context.resolve(node.id))
        elif isinstance(node, ast.Attribute):
            path = self.dotted(node)
            if path is not None:
                self.out.append(path)
                return
            self.visit(node.value)
            owner = node.value.id if isinstance(node.value, ast.Name) else ""
            mine = owner in ("self", "cls") and node.attr not in self.context.vocabulary
            self.out.append(".A" if mine else f".{node.attr}")
        elif isinstance(node, ast.Constant):
            self.out.append(self.constant(node.value))
        elif isinstance(node, ast.JoinedStr):
            self.out.append("S")  # an f-string is a message
        elif isinstance(node, ast.arg):
            self.out.append("V")
        elif isinstance(node, ast.keyword):
            self.out.append(f"{node.arg}=" if node.arg else "**")
            self.visit(node.value)
        elif isinstance(node, (ast.operator, ast.unaryop, ast.cmpop, ast.boolop)):
            self.out.append(type(node).__name__)
        else:
            self.out.append(type(node).__name__)
            self.fields(node)

    def fields(self, node: ast.AST) -> None:
        for name, value in ast.iter_fields(node):
            if name in _SKIPPED_FIELDS or name in _BODIES:
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, ast.AST):
                    self.visit(item)
                elif isinstance(item, str) and name in ("name", "attr", "arg", "module"):
                    self.out.append("V" if name == "name" else item)

    def constant(self, value: object) -> str:
        if isinstance(value, str):
            short = len(value) <= SHORT_STRING and not any(c.isspace() for c in value.strip())
            return repr(value) if short or value in self.context.vocabulary else "S"
        return repr(value)


def statement_tokens(node: ast.stmt, context: Context) -> Iterator[tuple[ast.stmt, list[str]]]:
    """``(statement, its tokens)`` for ``node`` and, separately, for every statement in its bodies.

    A compound statement's own tokens are its header (``For V in range(V)``): its bodies are not in them.
    """
    tokens = _Tokens(context)
    tokens.out.append(type(node).__name__)
    if isinstance(node, ast.AnnAssign):  # `x: T = v` is `x = v`; annotations are style
        tokens.out[0] = "Assign"
    tokens.fields(node)
    yield node, tokens.out
    for name in _BODIES:
        for child in getattr(node, name, None) or []:
            if isinstance(child, ast.ExceptHandler | ast.match_case):
                yield from statement_tokens(child, context)  # type: ignore[arg-type]
            elif isinstance(child, ast.stmt) and counts(child):
                yield from statement_tokens(child, context)


def fingerprints(tokens: list[str]) -> set[int]:
    """The hashes of every ``K``-gram of ``tokens``; one hash for a shorter sequence; none below ``MIN_TOKENS``."""
    if len(tokens) < MIN_TOKENS:
        return set()
    grams = [tokens] if len(tokens) <= K else [tokens[i:i + K] for i in range(len(tokens) - K + 1)]
    return {int.from_bytes(hashlib.blake2b("\x1f".join(gram).encode(), digest_size=8).digest(), "little",
                           signed=True) for gram in grams}


def dictated(tree: ast.Module, context: Context) -> frozenset[int]:
    """The fingerprints of the code that the docstrings of a release module spell out (````loss.backward()````,
    ````nn.utils.clip_grad_norm_(model.parameters(), clip)````): handed to every student, so no evidence either.
    An expression counts both as a statement and inside larger ones."""
    docs = [ast.get_docstring(node) or "" for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)]
    found: set[int] = set()
    for snippet in (m for doc in docs for m in SNIPPET.findall(doc)):
        try:
            body = ast.parse(snippet).body
        except SyntaxError:
            continue  # prose or a formula, not code
        for node in body:
            found |= {p for _, tokens in statement_tokens(node, context) for p in fingerprints(tokens)}
            if isinstance(node, ast.Expr):
                tokens = _Tokens(context)
                tokens.visit(node.value)
                found |= fingerprints(tokens.out)
    return frozenset(found)


def dump(node: ast.stmt, context: Context) -> str:
    """One string for a whole statement, bodies included, normalised: equal for given code left as it was."""
    return "\n".join(" ".join(tokens) for _, tokens in statement_tokens(node, context))
