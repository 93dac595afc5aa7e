"""The generator: region stripping, committed trees up to date, nothing hidden in the student release."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tools.generate import ASSIGNMENT, GenerateError, strip_regions, trees_differ

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "source" / ASSIGNMENT
STUDENT = REPO / "assignments" / ASSIGNMENT
SOLUTION = REPO / "solutions" / ASSIGNMENT

SAMPLE = '''def f(x):
    """Doc."""
    ### BEGIN SOLUTION
    y = x + 1
    return y
    ### END SOLUTION


class A:
    def g(self):
        ### BEGIN SOLUTION
        return 2
        ### END SOLUTION
'''


def test_student_regions_become_indented_stubs():
    assert strip_regions(SAMPLE, student=True) == '''def f(x):
    """Doc."""
    # YOUR CODE HERE
    raise NotImplementedError()


class A:
    def g(self):
        # YOUR CODE HERE
        raise NotImplementedError()
'''


def test_solution_keeps_code_without_markers():
    out = strip_regions(SAMPLE, student=False)
    assert "SOLUTION" not in out and "    y = x + 1\n    return y\n" in out and "        return 2\n" in out


def test_text_without_regions_is_untouched():
    text = "a = 1\r\nb = 2\n"
    assert strip_regions(text, student=True) == text == strip_regions(text, student=False)


@pytest.mark.parametrize("text, problem", [
    ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
    ("x = 1\n### END SOLUTION\n", "without a matching"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n", "inside the one at line 1"),
    ("x = 1  ### BEGIN SOLUTION\n", "stand alone"),
    ("### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS\n", "autograder/"),
])
def test_malformed_regions_are_named(text, problem):
    with pytest.raises(GenerateError, match=re.escape(problem)) as error:
        strip_regions(text, student=True, where="m.py")
    assert str(error.value).startswith("m.py:")


def test_committed_trees_match_a_fresh_generation(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "tools" / "generate.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    for kind in ("assignments", "solutions"):
        differ = trees_differ(REPO / kind / ASSIGNMENT, tmp_path / kind / ASSIGNMENT)
        assert not differ, f"{kind}/ is stale, run `make generate` and commit: {differ}"


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts]


def _text(path: Path) -> str:
    """A file's text; for a notebook, the text of its cells (as a student reads it, not its JSON)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        text = "\n".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
    return text


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


def _solution_only_lines() -> set[str]:
    """Distinctive lines that occur in solution regions of source/ and nowhere else there."""
    inside, outside = set(), set()
    for path in _files(SOURCE):
        text = _text(path)
        region = False
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("### BEGIN SOLUTION"):
                region = True
            elif stripped.startswith("### END SOLUTION"):
                region = False
            else:
                (inside if region else outside).add(stripped)
    return {line for line in inside - outside if len(line) >= 12}


def test_solution_regions_exist_and_reach_the_solution_tree():
    lines = _solution_only_lines()
    assert len(lines) > 20, "the source should hold solution regions"
    solution_text = "\n".join(p.read_text(encoding="utf-8") for p in _files(SOLUTION))
    missing = [line for line in lines if line not in solution_text]
    assert not missing, f"solution lines missing from solutions/: {missing[:3]}"


def test_no_solution_line_marker_or_hidden_grader_in_the_student_release():
    solution_lines = _solution_only_lines()
    grader_lines = set()
    for path in (REPO / "autograder").rglob("*.py"):
        grader_lines |= {line for line in _lines(path.read_text(encoding="utf-8")) if len(line) >= 25}
    public = set()
    for path in _files(SOURCE):
        public |= _lines(_text(path))
    grader_lines -= public  # a line the student release legitimately has (an import, say) is no leak
    for path in _files(STUDENT):
        text = _text(path)
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "HIDDEN TESTS"):
            assert marker not in text, f"{path.relative_to(REPO)} holds the marker {marker!r}"
        lines = _lines(text)
        assert not lines & solution_lines, f"{path.relative_to(REPO)} leaks solution lines: {sorted(lines & solution_lines)[:3]}"
        assert not lines & grader_lines, f"{path.relative_to(REPO)} leaks grader lines: {sorted(lines & grader_lines)[:3]}"
    assert not list(STUDENT.rglob("autograder*")), "no grader folder may reach the student release"


def test_student_stubs_raise_not_implemented():
    text = (STUDENT / "seq2seq" / "environment.py").read_text(encoding="utf-8")
    assert text.count("raise NotImplementedError()") >= 6
    notebook = json.loads((STUDENT / f"{ASSIGNMENT}.ipynb").read_text(encoding="utf-8"))
    sources = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    # Every answer goes in the package: the notebook has no answer cell, so nbgrader has nothing to stub there.
    assert not any("YOUR CODE HERE" in s or "raise NotImplementedError()" in s for s in sources)
    assert all(cell.get("outputs", []) == [] for cell in notebook["cells"] if cell["cell_type"] == "code")
