"""A generated class for measuring ``python -m autograder similarity``: independent answers and planted copies.

Every student starts from the student release; on each question of :data:`VARIANTS` (tests/similarity_variants)
a student holds one of that question's independent implementations (other questions stay unanswered: stubs).
Students who hold the same implementation of a question are copies of each other on that question (the ground
truth): the first of them, in student order, is its author and keeps it as written; each later one gets a
disguise, in turn from :data:`DISGUISES`:

* ``rename``: every local variable, nested function and helper parameter renamed consistently;
* ``reformat``: the code printed again by ``ast.unparse`` with 2-space indentation and blank lines;
* ``reorder``: adjacent independent assignments swapped (no name one writes is one the other uses);
* ``comments``: comments removed, others added, and the function's docstring edited;
* and combinations (``all``: reorder, rename, reformat, then new comments).

Who holds what (:func:`plan`): per question, a balanced shuffle of the variants over the students (seeded), so a
pair shares one question's implementation here and there and none elsewhere (partial copies: one question
copied, the rest independent); the last ``whole`` students copy an earlier student on every question (whole
copies). With 8 variants a question, about 1 pair in 8 is a copy on it: a class with far more copying than a
real one, which is the hard case for a detector.

The independent class (:func:`build_independent_class`) looks like a real one: the reference solution and
complete implementations written independently from the student release alone (tests/similarity_independent/,
each folder's NOTES.md says how), each a student, plus disguised copies of each: whole ones, and copies of 3
and 5 questions drawn at random, with the same disguises applied to every function the author wrote
(:func:`disguise_module`, :func:`transplant`).

    python tests/similarity_class.py OUT_DIR [--students 40] [--whole 4] [--seed 0]
"""
from __future__ import annotations

import argparse
import ast
import functools
import io
import random
import re
import shutil
import sys
import textwrap
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# E402: this file also runs as a script, so the repository root goes on sys.path before these imports.
from autograder.similarity.extract import RELEASE, SOURCE, question_map  # noqa: E402
from tests.similarity_variants import VARIANTS  # noqa: E402

DISGUISES = ("rename", "reformat", "reorder", "comments", "rename+reformat", "reorder+comments",
             "rename+reorder+comments", "all")
_NEW_NAMES = ("tmp", "acc", "buf", "val", "res", "cur", "elem", "part", "chunk", "aux", "item_", "obj", "piece",
              "holder", "thing", "data_", "stuff", "out_", "work", "slot", "entry", "unit", "node", "cell")


# ---------------------------------------------------------------------------------------------- disguises
def _parse(code: str) -> ast.Module:
    return ast.parse(code)


def _locals(code: str, exclude: set[str]) -> list[str]:
    """Names bound in ``code`` (assigned, loop and comprehension targets, parameters of nested functions and
    lambdas, nested function names), in order of first appearance, less ``exclude`` and top-level defs/imports."""
    tree = _parse(code)
    top = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    top |= {(a.asname or a.name).split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
            for a in node.names}
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.setdefault(node.id, node.lineno * 1000 + node.col_offset)
        elif isinstance(node, ast.arg):
            found.setdefault(node.arg, node.lineno * 1000 + node.col_offset)
        elif isinstance(node, ast.FunctionDef) and node.name not in top:
            found.setdefault(node.name, node.lineno * 1000 + node.col_offset)
    names = sorted(found, key=found.get)
    return [n for n in names if n not in exclude | top | {"self", "cls", "_"}]


def rename(code: str, exclude: set[str]) -> str:
    """Rename every local of ``code`` (see :func:`_locals`) consistently, f-strings included."""
    names = _locals(code, exclude)
    taken = set(re.findall(r"\w+", code))
    pool = [n for n in _NEW_NAMES if n not in taken] + [f"v{i}" for i in range(100) if f"v{i}" not in taken]
    mapping = dict(zip(names, pool))
    lines = code.splitlines(keepends=True)
    edits: list[tuple[int, int, int, str]] = []
    tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    depth = 0
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
        elif tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        if tok.type == tokenize.NAME and tok.string in mapping:
            before = tokens[i - 1].string if i else ""
            after = tokens[i + 1].string if i + 1 < len(tokens) else ""
            keyword = depth > 0 and after == "=" and before in "(,"
            if before != "." and not keyword:
                edits.append((tok.start[0], tok.start[1], tok.end[1], mapping[tok.string]))
        elif tok.type == tokenize.STRING and re.match(r"(?i)[rb]*f", tok.string):
            def inner(match: re.Match) -> str:
                text = match.group(0)
                for old, new in mapping.items():
                    text = re.sub(rf"(?<![.\w]){re.escape(old)}\b", new, text)
                return text
            new_string = re.sub(r"\{[^{}]*\}", inner, tok.string)
            if new_string != tok.string and tok.start[0] == tok.end[0]:
                edits.append((tok.start[0], tok.start[1], tok.end[1], new_string))
    for row, start, end, new in sorted(edits, reverse=True):
        line = lines[row - 1]
        lines[row - 1] = line[:start] + new + line[end:]
    return "".join(lines)


def reformat(code: str, exclude: set[str]) -> str:
    """``ast.unparse`` (comments gone, canonical spacing and quotes), 2-space indentation, a blank line after
    every top-level statement."""
    out = []
    for node in _parse(code).body:
        text = ast.unparse(node)
        text = re.sub(r"(?m)^((?:    )+)", lambda m: "  " * (len(m.group(1)) // 4), text)
        out.append(text + "\n")
    return "\n".join(out)


def _simple(node: ast.stmt) -> bool:
    """An assignment: a bare call (``optimizer.zero_grad()``) acts on state that no name shows, never swapped."""
    return (isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign)
            and not any(isinstance(n, ast.Yield | ast.YieldFrom | ast.Await | ast.NamedExpr) for n in ast.walk(node)))


def _writes(node: ast.stmt, local: set[str]) -> set[str]:
    """Names a statement may change: its targets, and locals it calls methods on or passes to calls."""
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        elif isinstance(n, ast.Attribute | ast.Subscript) and isinstance(n.ctx, ast.Store):
            root = n
            while isinstance(root, ast.Attribute | ast.Subscript):
                root = root.value
            if isinstance(root, ast.Name):
                out.add(root.id)
        elif isinstance(n, ast.Call):
            receiver = n.func.value if isinstance(n.func, ast.Attribute) else None
            if isinstance(receiver, ast.Name) and receiver.id in local:
                out.add(receiver.id)
            out |= {a.id for a in n.args if isinstance(a, ast.Name) and a.id in local}
    return out


def reorder(code: str, exclude: set[str]) -> str:
    """Swap adjacent pairs of independent simple statements, in every block (each statement on its own lines)."""
    tree = _parse(code)
    local = set(_locals(code, set())) | exclude
    lines = code.splitlines(keepends=True)
    swaps = []
    for block in [tree.body] + [getattr(n, f) for n in ast.walk(tree) for f in ("body", "orelse", "finalbody")
                                if isinstance(getattr(n, f, None), list) and n is not tree]:
        i = 0
        while i + 1 < len(block):
            a, b = block[i], block[i + 1]
            names_a = {n.id for n in ast.walk(a) if isinstance(n, ast.Name)}
            names_b = {n.id for n in ast.walk(b) if isinstance(n, ast.Name)}
            if (_simple(a) and _simple(b) and a.end_lineno < b.lineno and not _writes(a, local) & names_b
                    and not _writes(b, local) & names_a):
                swaps.append((a.lineno, a.end_lineno, b.lineno, b.end_lineno))
                i += 2
            else:
                i += 1
    for a0, a1, b0, b1 in sorted(swaps, reverse=True):
        first, middle, second = lines[a0 - 1:a1], lines[a1:b0 - 1], lines[b0 - 1:b1]
        lines[a0 - 1:b1] = second + middle + first
    return "".join(lines)


def recomment(code: str, exclude: set[str]) -> str:
    """Comments removed; a new comment above every second top-level statement."""
    lines = code.splitlines(keepends=True)
    for tok in reversed(list(tokenize.generate_tokens(io.StringIO(code).readline))):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            line = lines[row - 1]
            lines[row - 1] = line[:col].rstrip() + "\n" if line[:col].strip() else ""
    code = "".join(lines)
    lines = code.splitlines(keepends=True)
    for k, node in reversed(list(enumerate(_parse(code).body))):
        if k % 2 == 0:
            indent = re.match(r"\s*", lines[node.lineno - 1]).group(0)
            lines.insert(node.lineno - 1, f"{indent}# step {k // 2 + 1}: as seen in the lecture\n")
    return "".join(lines)


_STEPS = {"rename": rename, "reformat": reformat, "reorder": reorder, "comments": recomment}


def disguise(code: str, how: str, exclude: set[str]) -> str:
    """``code`` disguised as ``how`` says ("none", one of :data:`DISGUISES`); ``all`` applies reorder, rename,
    reformat and comments in that order."""
    steps = [] if how == "none" else ["reorder", "rename", "reformat", "comments"] if how == "all" else \
        sorted(how.split("+"), key=["reorder", "rename", "reformat", "comments"].index)
    for step in steps:
        code = _STEPS[step](code, exclude)
    return code


# ---------------------------------------------------------------------------------------------- assembling
def _function(tree: ast.Module, qualname: str) -> ast.FunctionDef:
    parts = qualname.split(".")
    body = tree.body
    for part in parts:
        node = next(n for n in body if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == part)
        body = node.body
    return node


def splice(text: str, qualname: str, body: str, how: str = "none") -> str:
    """``text`` (a release module) with the stub of ``qualname`` replaced by ``body`` disguised as ``how``."""
    node = _function(ast.parse(text), qualname)
    params = {a.arg for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs}
    params |= {a.arg for a in (node.args.vararg, node.args.kwarg) if a}
    lines = text.splitlines(keepends=True)
    stub = next(i for i in range(node.lineno, node.end_lineno) if lines[i].strip() == "# YOUR CODE HERE")
    indent = lines[stub][:len(lines[stub]) - len(lines[stub].lstrip())]
    code = disguise(textwrap.dedent(body).strip("\n") + "\n", how, params)
    lines[stub:stub + 2] = [indent + line if line.strip() else line for line in code.splitlines(keepends=True)]
    if "comments" in how or how == "all":  # an edited docstring too
        doc = node.body[0]
        lines[doc.lineno - 1] = lines[doc.lineno - 1].replace('"""', '"""(Solved in the lab.) ', 1)
    return "".join(lines)


@functools.cache
def _modules() -> dict[str, str]:
    """qualified stub name -> module file."""
    return {name: module for module, names in question_map().items() for name in names}


def solution_bodies() -> dict[str, str]:
    """qualified stub name -> the solution's code of its region (from source/), dedented."""
    bodies = {}
    for module, names in question_map().items():
        text = (SOURCE / module).read_text(encoding="utf-8")
        tree = ast.parse(text)
        lines = text.splitlines(keepends=True)
        for name in names:
            node = _function(tree, name)
            span = lines[node.lineno - 1:]  # the END marker follows the last statement
            start = next(i for i, line in enumerate(span) if line.strip() == "### BEGIN SOLUTION")
            end = next(i for i, line in enumerate(span) if i > start and line.strip() == "### END SOLUTION")
            bodies[name] = textwrap.dedent("".join(span[start + 1:end]))
    return bodies


def write_student(folder: Path, answers: dict[str, tuple[int, str]], *, solved: bool = False) -> None:
    """A plain-layout submission ``folder/seq2seq/``: the release with ``{question: (variant, disguise)}``;
    ``solved``: the whole assignment folder (visible checks included), every other stub holding the solution."""
    where = _modules()
    package = folder / "seq2seq"
    if solved:
        shutil.copytree(RELEASE.parent, folder, ignore=shutil.ignore_patterns("__pycache__", "*.ipynb"))
    else:
        shutil.copytree(RELEASE, package, ignore=shutil.ignore_patterns("__pycache__"))
    texts: dict[str, str] = {}
    for question, (index, how) in sorted(answers.items()):
        variant = VARIANTS[question][index]
        for name, body in variant.items():
            if name == "+":
                continue
            module = where[name]
            texts[module] = splice(texts.get(module) or (package / module).read_text(encoding="utf-8"), name, body, how)
        if "+" in variant:
            module = where[next(n for n in variant if n != "+")]
            helper = disguise(textwrap.dedent(variant["+"]).strip("\n") + "\n", how, set())
            texts[module] = texts[module].rstrip("\n") + "\n\n\n" + helper
    if solved:
        answered = {name for q in answers for name in VARIANTS[q][answers[q][0]] if name != "+"}
        for name, body in solution_bodies().items():
            if name not in answered:
                module = where[name]
                texts[module] = splice(texts.get(module) or (package / module).read_text(encoding="utf-8"), name,
                                       body)
    for module, text in texts.items():
        (package / module).write_text(text, encoding="utf-8")


@dataclass
class Plan:
    """Who holds which implementation of each question, and how it is disguised: the ground truth."""

    students: list[str]
    answers: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)  # student -> question -> (v, how)
    whole: dict[str, str] = field(default_factory=dict)                          # whole copier -> copied student

    def copy(self, a: str, b: str, question: str) -> bool:
        return self.answers[a][question][0] == self.answers[b][question][0]


def plan(n_students: int, *, whole: int = 4, seed: int = 0) -> Plan:
    """The class of :func:`build_class` (module docstring)."""
    if not 0 <= whole < n_students:
        raise ValueError(f"whole must be in [0, {n_students}), got {whole}")
    students = [f"s{i:03d}" for i in range(n_students)]
    rng = random.Random(seed)
    result = Plan(students)
    independent = n_students - whole
    for s in students:
        result.answers[s] = {}
    for question in sorted(VARIANTS):
        count = len(VARIANTS[question])
        held = [i % count for i in range(independent)]
        rng.shuffle(held)
        for s, index in zip(students[:independent], held):
            result.answers[s][question] = (index, "")
        for k, s in enumerate(students[independent:]):
            copied = students[k % independent]
            result.whole[s] = copied
            result.answers[s][question] = (result.answers[copied][question][0], "")
        seen: dict[int, int] = {}
        for s in students:
            index = result.answers[s][question][0]
            nth = seen.get(index, 0)
            seen[index] = nth + 1
            how = "none" if nth == 0 else DISGUISES[(nth - 1 + index) % len(DISGUISES)]
            result.answers[s][question] = (index, how)
    return result


def build_class(root: Path, n_students: int, *, whole: int = 4, seed: int = 0) -> Plan:
    """Write ``root/<student>/seq2seq/`` for every student of :func:`plan` and return the plan."""
    the_plan = plan(n_students, whole=whole, seed=seed)
    for student in the_plan.students:
        write_student(root / student, the_plan.answers[student])
    return the_plan


# ---------------------------------------------------------------------------------------------- the independent class
INDEPENDENT = ROOT / "tests" / "similarity_independent"
AUTHORS = ("solution", *"abcdefghijklmnop")  # solution: source/'s answers; the others: INDEPENDENT/<author>/ (NOTES.md)
_Fn = ast.FunctionDef | ast.AsyncFunctionDef


def author_modules(author: str) -> dict[str, str]:
    """The modules that hold questions: the release's, with ``author``'s answers (:func:`port`)."""
    folder = SOURCE if author == "solution" else INDEPENDENT / author
    return {module: port((folder / module).read_text(encoding="utf-8"), (RELEASE / module).read_text(encoding="utf-8"),
                         set(names)) for module, names in question_map().items()}


def port(text: str, release: str, stubs: set[str]) -> str:
    """The author's answers in ``text`` (every function of ``stubs``, and every function or class the release
    does not have: their helpers) moved into the release module as it is now: the given code the author was
    handed may since have changed, and changed given code would count as theirs."""
    tree, given = ast.parse(text), {name for name, _ in _functions(ast.parse(release))}
    given |= {n.name for n in ast.parse(release).body if isinstance(n, ast.ClassDef)}
    owned = [name for name, _ in _functions(tree) if name in stubs or name not in given]
    owned += [n.name for n in tree.body if isinstance(n, ast.ClassDef) and n.name not in given]
    return transplant(release, text, owned)


def _functions(tree: ast.Module) -> list[tuple[str, _Fn]]:
    """``(qualified name, node)`` of a module's functions and its classes' methods."""
    found = [(n.name, n) for n in tree.body if isinstance(n, _Fn)]
    return found + [(f"{c.name}.{n.name}", n) for c in tree.body if isinstance(c, ast.ClassDef)
                    for n in c.body if isinstance(n, _Fn)]


def _start(node: ast.stmt) -> int:
    """The first line of a statement, decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def disguise_module(text: str, how: str, release: str = "") -> str:
    """Every function and method of a module that is not as in ``release`` (the author's, not given code)
    disguised as ``how`` says: its body (after the docstring) as :func:`splice` disguises a stub's, its docstring
    edited for ``comments``. A body that the disguises cannot take apart (e.g. a multi-line string at column 0)
    stays as written."""
    if how == "none":
        return text
    lines, theirs = text.splitlines(keepends=True), release.splitlines(keepends=True)
    given = {"".join(theirs[_start(node) - 1:node.end_lineno]) for _, node in _functions(ast.parse(release))}
    for _, node in sorted(_functions(ast.parse(text)), key=lambda item: -item[1].lineno):
        if "".join(lines[_start(node) - 1:node.end_lineno]) in given:
            continue
        has_doc = bool(node.body) and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value,
                                                                                          ast.Constant)
        body = node.body[1:] if has_doc else node.body
        if not body or _start(body[0]) <= node.lineno:
            continue
        start, end = _start(body[0]) - 1, node.end_lineno
        indent = re.match(r"\s*", lines[start]).group(0)
        params = {a.arg for a in node.args.args + node.args.kwonlyargs + node.args.posonlyargs}
        params |= {a.arg for a in (node.args.vararg, node.args.kwarg) if a}
        try:
            code = disguise(textwrap.dedent("".join(lines[start:end])), how, params)
        except (SyntaxError, tokenize.TokenError):
            continue
        lines[start:end] = [indent + line if line.strip() else line for line in code.splitlines(keepends=True)]
        if has_doc and ("comments" in how or how == "all"):
            doc = node.body[0].lineno - 1
            lines[doc] = lines[doc].replace('"""', '"""(Solved in the lab.) ', 1)
    out = "".join(lines)
    ast.parse(out)
    return out


def transplant(release: str, author: str, names: list[str]) -> str:
    """The release module ``release`` with the definitions ``names`` (qualified, as extract names its units)
    taken from the author's module ``author``: a release function or method is replaced, a method of a release
    class added to it, anything else appended; the author's module-level imports go before the first
    definition (a copier takes the imports the code needs)."""
    source, lines = ast.parse(author), author.splitlines(keepends=True)
    theirs = dict(_functions(source)) | {n.name: n for n in source.body if isinstance(n, ast.ClassDef)}
    edits: list[tuple[int, int, str]] = []  # (first line, last line, text) of the release, replaced
    appended = []
    tree = ast.parse(release)
    ours = dict(_functions(tree))
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    for name in names:
        node = theirs[name]
        segment = textwrap.dedent("".join(lines[_start(node) - 1:node.end_lineno]))
        owner = name.split(".")[0] if "." in name else None
        if name in ours:
            target = ours[name]
            edits.append((_start(target), target.end_lineno, textwrap.indent(segment, " " * target.col_offset)))
        elif owner in classes:
            end = classes[owner].end_lineno
            edits.append((end + 1, end, "\n" + textwrap.indent(segment, " " * 4)))
        else:
            appended.append(segment)
    out = release.splitlines(keepends=True)
    for first, last, text in sorted(edits, key=lambda edit: -edit[0]):
        out[first - 1:last] = [text if text.endswith("\n") else text + "\n"]
    imports = ["".join(lines[n.lineno - 1:n.end_lineno]) for n in source.body if isinstance(n, ast.Import | ast.ImportFrom)]
    first_def = next(_start(n) for n in ast.parse("".join(out)).body if isinstance(n, _Fn | ast.ClassDef))
    text = "".join(out[:first_def - 1] + imports + ["\n"] + out[first_def - 1:])
    text = text.rstrip("\n") + "".join("\n\n\n" + segment.rstrip("\n") for segment in appended) + "\n"
    ast.parse(text)
    return text


@dataclass
class IndependentClass:
    """The independent implementations and their disguised copies: who holds whose code on which question."""

    students: list[str]
    origin: dict[str, dict[str, str]] = field(default_factory=dict)    # student -> question -> whose code it is
    copies: dict[str, tuple[str, str]] = field(default_factory=dict)   # copier -> (copied author, disguise)

    def common(self, x: str, y: str) -> set[str]:
        """The questions on which ``x`` and ``y`` hold the same author's code."""
        return {q for q, author in self.origin[x].items() if self.origin[y].get(q) == author}


def _write_modules(folder: Path, modules: dict[str, str]) -> None:
    shutil.copytree(RELEASE, folder / "seq2seq", ignore=shutil.ignore_patterns("__pycache__"))
    for module, text in modules.items():
        (folder / "seq2seq" / module).write_text(text, encoding="utf-8")


def build_independent_class(root: Path, *, authors: tuple[str, ...] = AUTHORS, partial: tuple[int, ...] = (3, 5),
                            seed: int = 0) -> IndependentClass:
    """Write the class: every author of ``authors`` as a student; for each but the solution, a whole copy and
    one copy of ``n`` questions for each ``n`` of ``partial`` (drawn at random, the other questions left as
    stubs), each disguised by the next of :data:`DISGUISES`. Copies of the solution are left out: equal to the
    reference, they are expected code, never evidence."""
    from autograder.similarity.extract import load_release, read_submission

    release, rng, found = load_release(), random.Random(seed), IndependentClass([])
    given = {m: (RELEASE / m).read_text(encoding="utf-8") for m in question_map()}
    turn = 0
    for author in authors:
        modules = author_modules(author)
        _write_modules(root / author, modules)
        units = read_submission(author, root / author / "seq2seq", release).units
        questions = sorted({u.question for u in units} - {"other"}, key=lambda q: int(q[1:]))
        found.students.append(author)
        found.origin[author] = dict.fromkeys(questions, author)
        if author == "solution":
            continue
        for n in (None, *partial):
            how = DISGUISES[turn % len(DISGUISES)]
            turn += 1
            copier = f"{author}-copy-{'all' if n is None else f'{n}q'}"
            chosen = questions if n is None else sorted(rng.sample(questions, n), key=lambda q: int(q[1:]))
            names = {m: [u.name for u in units if u.module == m and u.question in chosen] for m in modules}
            disguised = {m: disguise_module(text, how, given[m]) for m, text in modules.items() if n is None or names[m]}
            if n is not None:
                disguised = {m: transplant(given[m], text, names[m]) for m, text in disguised.items()}
            _write_modules(root / copier, disguised)
            found.students.append(copier)
            found.origin[copier] = dict.fromkeys(chosen, author)
            found.copies[copier] = (author, how)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--whole", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    build_class(args.out, args.students, whole=args.whole, seed=args.seed)
    print(f"wrote {args.students} submissions under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
