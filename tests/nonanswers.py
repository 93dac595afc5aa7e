"""Build non-answer submissions: the student release with every stub answering a non-answer instead of raising.

``build(tmp, kind, patched=False)`` copies the release (``assignments/attention_seq2seq``) and rewrites the body
of every stub (``# YOUR CODE HERE`` / ``raise NotImplementedError()``) into a call of ``seq2seq/_nonanswer.py``
(tests/nonanswer_runtime.py, whose docstring defines each kind and the choices made for constructors, side
effects and objects). Kinds that need the real answer's type and shape get a copy of the solution's module next
to each stubbed one, as ``seq2seq/_answer_<module>.py``.
"""
from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

from tests.helpers import SOLUTION, STUB

RUNTIME = Path(__file__).with_name("nonanswer_runtime.py")
# The non-answers, in the words of issue #14 (see tests/nonanswer_runtime.py for what each does exactly).
KINDS = {
    "stub": "the stub unchanged (raises NotImplementedError)",
    "none": "returns None",
    "input": "returns its first input (not self) unchanged",
    "zeros": "returns zeros of the real answer's type and shape",
    "ones": "returns ones of the real answer's type and shape",
    "rand": "returns random values of the real answer's type and shape",
    "everything": "returns the real answer's containers holding an object equal to everything",
    "tensor": "returns zeros as a Tensor subclass that compares equal to anything",
}
MARKER = re.compile(r"^(?P<indent>[ \t]+)# YOUR CODE HERE\n(?P=indent)raise NotImplementedError\(\)\n", re.MULTILINE)


def stub_sites(text: str) -> list[tuple[re.Match, str]]:
    """Every stub body in a module's source, with the qualified name of its function (``Encoder.forward``)."""
    tree = ast.parse(text)
    functions: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((child.lineno, child.end_lineno, prefix + child.name))
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(tree, "")
    sites = []
    for match in MARKER.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        owners = [(start, name) for start, end, name in functions if start <= line <= end]
        assert owners, f"a stub outside any function at line {line}"
        sites.append((match, max(owners)[1]))  # the innermost function
    return sites


def build(tmp: Path, kind: str, *, patched: bool = False) -> Path:
    """A submission in ``tmp`` whose every stub answers the non-answer ``kind`` (after patching comparisons)."""
    assert kind in KINDS, kind
    target = tmp / f"{kind}{'-patched' if patched else ''}"
    shutil.copytree(STUB, target, ignore=shutil.ignore_patterns("__pycache__"))
    package = target / "seq2seq"
    for path in sorted(package.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        sites = stub_sites(text)
        if not sites:
            continue
        for match, qualname in reversed(sites):
            indent = match["indent"]
            body = (f"{indent}from seq2seq._nonanswer import reply as _reply\n"
                    f"{indent}return _reply({path.stem!r}, {qualname!r}, locals())\n")
            text = text[:match.start()] + body + text[match.end():]
        # Imported with the module, before any probe patches the names that the copy imports from its neighbours.
        text += f"\nimport seq2seq._answer_{path.stem}  # noqa: E402,F401 - built by tests/nonanswers.py\n"
        path.write_text(text, encoding="utf-8")
        shutil.copyfile(SOLUTION / "seq2seq" / path.name, package / f"_answer_{path.name}")
    runtime = RUNTIME.read_text(encoding="utf-8")
    settings = 'KIND, PATCHED = "stub", False  # rewritten by tests/nonanswers.py\n'
    assert runtime.count(settings) == 1
    (package / "_nonanswer.py").write_text(runtime.replace(settings, f"KIND, PATCHED = {kind!r}, {patched!r}\n"),
                                           encoding="utf-8")
    return target
