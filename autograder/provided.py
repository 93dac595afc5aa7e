"""Provided code comes from the release: points depend on the answers alone.

The course provides most of the package (whole modules such as ``checkpoint.py``, and, in the modules that hold
questions, every function, method, class and constant that is no question). A submission may have deleted,
edited or kept an older copy of any of it; none of that may cost or earn points. So before grading, the staged
package is rebuilt from the student release (``assignments/<assignment>/seq2seq``, also in the Gradescope zip):

* a module without questions (no stub in the release) is the release's, whatever the submission holds;
* a module with questions is the release's text with each *answer* (a top-level function, or a method, whose
  release body holds the stub) replaced by the submission's definition of the same name, and with what the
  submission added (helpers, imports, constants, methods) kept, in the order the submission wrote it;
* a module that does not parse, or that the submission lacks, is taken as it is (a syntax error costs the
  module's questions, a missing module its questions, as before);
* files the release does not have (a student's own helper module) are kept.

:func:`overlay` returns what it changed, so feedback can say that those edits were not graded.
"""
from __future__ import annotations

import ast
import functools
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from autograder.submission import Tree

STUB = "# YOUR CODE HERE"
PACKAGE = "seq2seq"
RELEASE = Path(__file__).resolve().parent.parent / "assignments" / "attention_seq2seq" / PACKAGE


@dataclass
class _Node:
    """One top-level statement (or class-body statement) and its source lines ``[start, end)`` (0-based)."""

    key: tuple
    start: int
    end: int
    node: ast.stmt


@dataclass
class Overlay:
    """``replaced``: what of the submission's provided code was not graded (``"data.py: Vocab.__len__"``);
    ``restored``: provided modules or definitions it lacked, taken from the release."""

    replaced: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)

    def note(self) -> str:
        """One line for feedback ("" when the submission's provided code is the release's)."""
        parts = []
        if self.replaced:
            parts.append("edited provided code (" + ", ".join(self.replaced[:8])
                         + (", ..." if len(self.replaced) > 8 else "") + ")")
        if self.restored:
            parts.append("missing provided code (" + ", ".join(self.restored[:8])
                         + (", ..." if len(self.restored) > 8 else "") + ")")
        if not parts:
            return ""
        return ("Provided code is graded as released, so these changes neither cost nor earned points: "
                + "; ".join(parts) + ".")


def _key(node: ast.stmt) -> tuple:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return ("def", node.name)
    if isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets):
        return ("assign", tuple(t.id for t in node.targets))
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return ("assign", (node.target.id,))
    return ("other", ast.dump(node))


def _nodes(body: list[ast.stmt]) -> list[_Node]:
    nodes = []
    for node in body:
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        nodes.append(_Node(_key(node), first - 1, node.end_lineno, node))
    return nodes


def _has_stub(lines: list[str], item: _Node) -> bool:
    return any(line.strip() == STUB for line in lines[item.start:item.end])


def _reindent(lines: list[str], item: _Node, column: int) -> list[str]:
    """``item``'s lines, moved from its own indentation to ``column`` (as they are where the two agree)."""
    if item.node.col_offset == column:
        return lines[item.start:item.end]
    return textwrap.indent(textwrap.dedent("".join(lines[item.start:item.end])), " " * column).splitlines(True)


def _ends(lines: list[str]) -> list[str]:
    return [line if line.endswith("\n") else line + "\n" for line in lines]


def _merge(release: list[str], r_body: list[_Node], span: tuple[int, int], student: list[str],
           s_body: list[_Node], where: str, column: int, report: Overlay) -> list[str]:
    """``release[span[0]:span[1]]`` (a module, or a class), its statements ``r_body`` kept with the text between
    them except that answers are the student's, and the student's additions inserted before the release statement
    that follows them in the student's text."""
    theirs = {item.key: item for item in s_body}
    mine = {item.key for item in r_body}
    before: dict[tuple | None, list[_Node]] = {}
    pending: list[_Node] = []
    for item in s_body:
        if item.key in mine:
            before.setdefault(item.key, []).extend(pending)
            pending = []
        elif not _inert(item.node):
            pending.append(item)
    before.setdefault(None, []).extend(pending)
    out: list[str] = []
    cursor = span[0]
    for item in r_body:
        out.extend(release[cursor:item.start])
        for extra in before.get(item.key, []):
            out.extend(_ends(_reindent(student, extra, column)))
        out.extend(_ends(_section(release, item, student, theirs.get(item.key), where, column, report)))
        cursor = item.end
    for extra in before.get(None, []):
        out.extend(_ends(_reindent(student, extra, column)))
    return out + release[cursor:span[1]]


def _inert(node: ast.stmt) -> bool:
    """A statement that changes nothing where it would be inserted: a string (an edited docstring), ``pass``, or
    a ``from __future__`` import (which must stay first, and which the release already makes)."""
    return (isinstance(node, ast.Pass) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
            or (isinstance(node, ast.ImportFrom) and node.module == "__future__"))


def _section(release: list[str], item: _Node, student: list[str], own: _Node | None, where: str, column: int,
             report: Overlay) -> list[str]:
    """The text that stands for the release statement ``item``: the student's answer, the release's provided
    code, or (a class holding answers) a class of both."""
    kind, what = item.key
    name = where + (what if kind == "def" else ", ".join(what) if kind == "assign" else "(module code)")
    if not _has_stub(release, item):
        if own is None and item.key[0] == "def":
            report.restored.append(name)
        elif (own is not None and item.key[0] != "other" and student[own.start:own.end] != release[item.start:item.end]
              and ast.dump(own.node) != ast.dump(item.node)):  # the text first: dumping a class takes long
            report.replaced.append(name)
        return release[item.start:item.end]
    if own is None:
        return release[item.start:item.end]  # the stub: an unanswered question
    if isinstance(item.node, ast.ClassDef) and isinstance(own.node, ast.ClassDef):
        return _merge(release, _nodes(item.node.body), (item.start, item.end), student, _nodes(own.node.body),
                      f"{name}.", item.node.body[0].col_offset, report)
    return _reindent(student, own, column)


def merge_module(release_text: str, student_text: str, where: str, report: Overlay) -> str:
    """The module graded for a submission whose file reads ``student_text`` (see the module docstring)."""
    if student_text == release_text:
        return student_text
    try:
        student_tree = ast.parse(student_text)
    except (SyntaxError, ValueError):
        return student_text
    release, release_body = _parsed(release_text)
    student = student_text.splitlines(keepends=True)
    merged = "".join(_merge(release, release_body, (0, len(release)), student, _nodes(student_tree.body),
                            f"{where} ", 0, report))
    if merged == student_text:
        return merged
    try:
        ast.parse(merged)
    except SyntaxError:  # a layout this merge cannot rebuild: grade the student's text as it is
        return student_text
    return merged


@functools.lru_cache(maxsize=64)
def _parsed(release_text: str) -> tuple[list[str], list[_Node]]:
    """The release module's lines and top-level statements (parsed once per process)."""
    return release_text.splitlines(keepends=True), _nodes(ast.parse(release_text).body)


def release_modules(release: Path) -> dict[str, bytes]:
    """``{"seq2seq/attention.py": content, ...}``: every file of the release's package (caches aside)."""
    return {f"{PACKAGE}/{path.relative_to(release).as_posix()}": path.read_bytes()
            for path in sorted(release.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def overlay(tree: Tree, release: Path) -> Overlay:
    """Rebuild ``tree``'s package in place from the release at ``release`` (its ``seq2seq`` folder)."""
    report = Overlay()
    for name, data in release_modules(release).items():
        module = name.split("/", 1)[1]
        text = data.decode("utf-8")
        answers = name.endswith(".py") and any(line.strip() == STUB for line in text.splitlines())
        if name not in tree.files:
            report.restored.append(module)
            _add(tree, name, data)
        elif not answers:
            if tree.files[name] != data:
                report.replaced.append(module)
            tree.files[name] = data
        else:
            try:
                student = tree.files[name].decode("utf-8")
            except UnicodeDecodeError:
                continue
            tree.files[name] = merge_module(text, student, module, report).encode("utf-8")
    return report


def _add(tree: Tree, name: str, data: bytes) -> None:
    """Put the release's file ``name`` in ``tree``; a folder the submission holds under that name (and what is in
    it) gives way, since the tree could not be written with both."""
    tree.folders = [f for f in tree.folders if f != name and not f.startswith(name + "/")]
    for inside in [f for f in tree.files if f.startswith(name + "/")]:
        del tree.files[inside]
    parts = name.split("/")
    for depth in range(1, len(parts)):
        folder = "/".join(parts[:depth])
        if folder not in tree.folders:
            tree.folders.append(folder)
    tree.files[name] = data
