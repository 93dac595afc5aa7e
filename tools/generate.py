"""Build the student release (``assignments/``) and the solution (``solutions/``) from ``source/``.

``source/<assignment>/`` is the only place where course code is written. Solution code sits between
``### BEGIN SOLUTION`` and ``### END SOLUTION``:

* in the student release each such region becomes ``# YOUR CODE HERE`` + ``raise NotImplementedError()``;
  notebooks go through nbgrader's own ``generate_assignment``, and ``.py`` files through :func:`strip_regions`
  here, because nbgrader copies ``.py`` files verbatim (solutions included);
* in the solution the marker lines are dropped and the code stays.

Hidden graders are never in ``source/``: they live in ``autograder/``. The one hidden region allowed is the
glue of the notebook's autograded cells (one per question), exactly :data:`HIDDEN_GLUE`: a call to
``autograder.notebook.points``, which nbgrader removes from the student release and which is dropped from the
solution notebook too (self-learners run it without the autograder). Any other ``BEGIN HIDDEN TESTS`` region in
``source/`` is an error.

Usage::

    python tools/generate.py                # rewrite assignments/ and solutions/ in this repository
    python tools/generate.py --out DIR      # write DIR/assignments and DIR/solutions instead (used by tests)
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "attention_seq2seq"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
FORBIDDEN = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
# What never travels from source/ to a release: caches and editor droppings.
SKIP_PARTS = ("__pycache__", ".ipynb_checkpoints", ".pytest_cache")
IGNORED = shutil.ignore_patterns(*SKIP_PARTS, "*.pyc", ".DS_Store")
# The hidden part of an autograded notebook cell, with the question id as {qid}; nothing else may be hidden.
HIDDEN_GLUE = ("### BEGIN HIDDEN TESTS\n"
               "import os, sys; sys.path.insert(0, os.environ[\"SEQ2SEQ_COURSE_ROOT\"])\n"
               "from autograder.notebook import points; points(\"{qid}\")\n"
               "### END HIDDEN TESTS")
_GLUE = re.compile(re.escape(HIDDEN_GLUE).replace(re.escape("{qid}"), r"Q\d{1,2}"))
_MARKER = re.compile(r"^(?P<indent>[ \t]*)### (?P<kind>BEGIN|END) SOLUTION[ \t]*$")


class GenerateError(ValueError):
    """A malformed solution region in source/ (the message names the file and line)."""


def _skipped(rel: Path) -> bool:
    return bool(set(SKIP_PARTS) & set(rel.parts)) or rel.suffix == ".pyc" or rel.name == ".DS_Store"


def strip_regions(text: str, *, student: bool, where: str = "<text>") -> str:
    """Rewrite the solution regions of one Python source text.

    Args:
        text: the file's content.
        student: True for the student release (region -> stub), False for the solution (markers dropped).
        where: file name used in error messages.

    Returns:
        The rewritten text. Lines outside regions are untouched, so line endings and spacing survive.

    Raises:
        GenerateError: nested, unterminated or unopened regions, and hidden-test markers.
    """
    out: list[str] = []
    open_at: int | None = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if any(marker in line for marker in FORBIDDEN):
            raise GenerateError(f"{where}:{number}: hidden tests belong in autograder/, not in source/")
        match = _MARKER.match(line.rstrip("\r\n"))
        if match is None:
            if BEGIN in line or END in line:
                raise GenerateError(f"{where}:{number}: a solution marker must stand alone on its line")
            if open_at is None or not student:
                out.append(line)
            continue
        if match["kind"] == "BEGIN":
            if open_at is not None:
                raise GenerateError(f"{where}:{number}: solution region opened inside the one at line {open_at}")
            open_at = number
            if student:
                newline = "\r\n" if line.endswith("\r\n") else "\n"
                out.extend(match["indent"] + stub + newline for stub in STUB)
        else:
            if open_at is None:
                raise GenerateError(f"{where}:{number}: '{END}' without a matching '{BEGIN}'")
            open_at = None
    if open_at is not None:
        raise GenerateError(f"{where}:{open_at}: solution region is never closed")
    return "".join(out)


def split_glue(source: str, nbgrader: dict, where: str) -> str:
    """``source`` without its hidden glue; GenerateError for any other hidden region, or glue outside an
    autograded test cell (``grade`` true, ``solution`` false)."""
    visible = _GLUE.sub("", source)
    if visible != source and not (nbgrader.get("grade") and not nbgrader.get("solution")):
        raise GenerateError(f"{where}: hidden glue belongs in autograded test cells only")
    if any(marker in visible for marker in FORBIDDEN):
        raise GenerateError(f"{where}: hidden tests belong in autograder/, not in source/ (only the "
                            "autograder.notebook.points glue may be hidden)")
    return visible.rstrip("\n") if visible != source else source


def _cell(cell_id: str, cell_type: str, source: str, points: float | None = None) -> dict:
    """A locked nbgrader cell: autograded when ``points`` is given."""
    meta = {"grade": points is not None, "grade_id": cell_id, "locked": True, "schema_version": 3,
            "solution": False, "task": False}
    if points is not None:
        meta["points"] = points
    cell = {"cell_type": cell_type, "id": cell_id, "metadata": {"nbgrader": meta},
            "source": source.splitlines(keepends=True)}
    if cell_type == "code":
        cell |= {"execution_count": None, "outputs": []}
    return cell


def question_cells(qid: str, points: float) -> list[dict]:
    """The cells the notebook holds for every question, derived from its declaration (``autograder/probes``):
    the visible check, and the autograded cell carrying the question's points and the hidden glue."""
    stated = f"{points:g} point{'' if points == 1 else 's'}"
    grade = (f"# {qid} ({stated}) is graded by the course autograder when your instructor runs nbgrader;\n"
             f"# check(\"{qid}\") above runs its visible checks now.\n" + HIDDEN_GLUE.format(qid=qid))
    return [_cell(f"{qid.lower()}-check", "code", f"check(\"{qid}\");"),
            _cell(f"{qid.lower()}-grade", "code", grade, points)]


def sync_notebook(nb: dict, questions: dict) -> list[str]:
    """Make ``nb``'s check and autograded cells those of ``questions`` (``autograder.registry.QUESTIONS``), in
    place: rewritten where they exist, added after the question's own cells (``qN-text``, ``qN-demo``) or, for a
    question the notebook does not introduce yet, at the end under a heading from its title; cells of questions
    that are no longer declared are removed. Returns what changed, one line each ("" when nothing did)."""
    changes: list[str] = []
    cells = nb["cells"]
    derived = re.compile(r"q(\d+)-(check|grade)")
    for cell in list(cells):
        found = derived.fullmatch(cell.get("id", ""))
        if found and f"Q{found[1]}" not in questions:
            cells.remove(cell)
            changes.append(f"removed {cell['id']} (Q{found[1]} is not declared)")
    for qid, question in questions.items():
        prefix = f"{qid.lower()}-"
        for want in question_cells(qid, question.points):
            index = next((i for i, cell in enumerate(cells) if cell.get("id") == want["id"]), None)
            if index is not None:
                if cells[index] != want:
                    cells[index] = want
                    changes.append(f"rewrote {want['id']}")
                continue
            own = [i for i, cell in enumerate(cells) if cell.get("id", "").startswith(prefix)]
            if not own:
                cells.append(_cell(f"{prefix}text", "markdown", f"### {qid}: {question.title}"))
                own = [len(cells) - 1]
            cells.insert(own[-1] + 1, want)
            changes.append(f"added {want['id']}")
    return changes


def sync_source_notebooks(source_dir: Path, *, write: bool = True) -> list[str]:
    """:func:`sync_notebook` on every notebook of ``source_dir``, written back where it changed (``write``), or
    only said (a build into another folder must not edit ``source/``)."""
    if str(ROOT) not in sys.path:  # run as a script: tools/ is on the path, the repository is not
        sys.path.insert(0, str(ROOT))
    from autograder.registry import QUESTIONS, load_probes  # the one declaration of each question

    load_probes()
    changes = []
    for path in sorted(source_dir.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        done = sync_notebook(nb, dict(sorted(QUESTIONS.items(), key=lambda item: item[1].number)))
        if done and write:
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")
            changes += [f"{path.name}: {line}" for line in done]
    return changes


def _solution_notebook(src: Path, dst: Path) -> None:
    """Write the solution notebook: markers and hidden glue dropped from code cells, outputs cleared, metadata
    kept."""
    nb = json.loads(src.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "code":
            where = f"{src} cell {cell.get('id')}"
            source = split_glue(source, cell["metadata"].get("nbgrader", {}), where)
            source = strip_regions(source, student=False, where=where)
            cell["outputs"], cell["execution_count"] = [], None
        elif any(marker in source for marker in FORBIDDEN):
            raise GenerateError(f"{src}: hidden tests belong in autograder/, not in source/")
        cell["source"] = source.splitlines(keepends=True)
    dst.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def _nbgrader_release(source_dir: Path, out_dir: Path) -> None:
    """Run ``nbgrader generate_assignment`` in a throw-away course root and copy its notebooks to out_dir."""
    with tempfile.TemporaryDirectory(prefix="nbgrader-") as tmp:
        course = Path(tmp)
        shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
        shutil.copytree(source_dir, course / "source" / ASSIGNMENT, ignore=IGNORED)
        nbgrader = [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force",
                    f"--db=sqlite:///{course / 'gradebook.db'}", "--log-level=WARN"]
        # nbgrader runs `alembic` from PATH: make the interpreter's own bin folder (the venv's) visible.
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        done = subprocess.run(nbgrader, cwd=course, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise GenerateError(f"nbgrader generate_assignment failed:\n{done.stdout}\n{done.stderr}")
        release = course / "assignments" / ASSIGNMENT
        for notebook in release.rglob("*.ipynb"):
            target = out_dir / notebook.relative_to(release)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Re-serialise with sorted keys so the committed file is byte-stable across nbformat versions.
            nb = json.loads(notebook.read_text(encoding="utf-8"))
            if any(marker in "".join(cell["source"]) for cell in nb["cells"]
                   for marker in (*FORBIDDEN, "autograder.notebook", BEGIN)):
                raise GenerateError(f"{notebook.name}: nbgrader left hidden or solution code in the release")
            target.write_text(json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


def write_modules(source_dir: Path, out_dir: Path, *, student: bool) -> None:
    """Write every ``.py`` file of ``source_dir`` to ``out_dir`` (same relative path), its solution regions
    stubbed (``student``) or kept without their markers."""
    for path in sorted(source_dir.rglob("*.py")):
        rel = path.relative_to(source_dir)
        if _skipped(rel):
            continue
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        text = strip_regions(path.read_text(encoding="utf-8"), student=student, where=str(rel))
        (out_dir / rel).write_text(text, encoding="utf-8")


def build(out_root: Path) -> None:
    """Write ``out_root/assignments/<id>`` and ``out_root/solutions/<id>`` from ``source/<id>`` (whose notebook's
    question cells are first brought in line with the questions' declarations)."""
    source_dir = ROOT / "source" / ASSIGNMENT
    in_place = out_root.resolve() == ROOT.resolve()
    changes = sync_source_notebooks(source_dir, write=in_place)
    if changes and not in_place:
        raise GenerateError("source/'s notebook disagrees with the questions' declarations (run make generate): "
                            + "; ".join(changes))
    for line in changes:
        print(f"generate: {line}")
    staging = Path(tempfile.mkdtemp(prefix="generate-"))
    try:
        student_dir, solution_dir = staging / "assignments" / ASSIGNMENT, staging / "solutions" / ASSIGNMENT
        for tree in (student_dir, solution_dir):
            write_modules(source_dir, tree, student=tree == student_dir)
        for path in sorted(source_dir.rglob("*")):
            rel = path.relative_to(source_dir)
            if path.is_dir() or _skipped(rel) or path.suffix == ".py":
                continue
            for tree in (student_dir, solution_dir):
                (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            if path.suffix == ".ipynb":
                _solution_notebook(path, solution_dir / rel)  # the student copy comes from nbgrader below
            else:
                for tree in (student_dir, solution_dir):
                    shutil.copy2(path, tree / rel)
        _nbgrader_release(source_dir, student_dir)
        for kind in ("assignments", "solutions"):
            target = out_root / kind / ASSIGNMENT
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(staging / kind / ASSIGNMENT, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def trees_differ(left: Path, right: Path) -> list[str]:
    """Relative paths whose presence or bytes differ between two trees (caches ignored)."""
    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*")
                if p.is_file() and not _skipped(p.relative_to(root))}
    a, b = files(left) if left.exists() else set(), files(right) if right.exists() else set()
    differ = sorted(a ^ b)
    differ += sorted(rel for rel in a & b if not filecmp.cmp(left / rel, right / rel, shallow=False))
    return differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT, help="folder that receives assignments/ and solutions/")
    args = parser.parse_args(argv)
    try:
        build(args.out.resolve())
    except GenerateError as error:
        print(f"generate: {error}", file=sys.stderr)
        return 1
    print(f"generated {os.path.relpath(args.out / 'assignments' / ASSIGNMENT)} and "
          f"{os.path.relpath(args.out / 'solutions' / ASSIGNMENT)} from source/{ASSIGNMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
