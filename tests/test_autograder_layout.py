"""What a grading child can see: the probes, never the checks (issue #13, point 3); what the check modules may
import (issue #18: no other check module, nothing of the harness, no private name); and the size limits of the
developers' guide (no file over 600 lines, no function over 80) for the whole autograder."""
from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from tests.helpers import REPO

AUTOGRADER = REPO / "autograder"
PROBES, GRADERS = AUTOGRADER / "probes", AUTOGRADER / "graders"
MAX_FILE_LINES, MAX_FUNCTION_LINES = 600, 80


def _imports(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.slow
def test_a_zygote_imports_the_probes_and_no_check():
    """What a zygote imports (and so every child's memory holds): no check module, no harness, no pytest."""
    code = ("import json, sys, autograder.preload\n"
            "from autograder.registry import QUESTIONS, PROBES\n"
            "print(json.dumps({'modules': sorted(sys.modules), 'questions': sorted(QUESTIONS),\n"
            "                  'probed': sorted(q for q in QUESTIONS if PROBES[q])}))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    hidden = [m for m in got["modules"] if m.startswith(("autograder.graders", "autograder.harness", "autograder.bulk",
                                                         "autograder.redact", "pytest", "_pytest"))]
    assert hidden == [], hidden
    assert got["questions"] and got["probed"] == got["questions"], "every question has its probes"


def test_probe_and_check_modules_keep_to_their_side():
    for path in sorted(PROBES.glob("*.py")):
        text = path.read_text()
        assert "pytest.mark.grade" not in text, f"{path.name} holds a check"
        banned = [m for m in _imports(path) if m.startswith(("autograder.graders", "autograder.harness", "pytest"))]
        assert banned == [], f"{path.name} imports {banned}"
    for path in sorted(GRADERS.glob("grade_*.py")):
        text = path.read_text()
        assert "@probe(" not in text and "question(" not in text, f"{path.name} declares probes or questions"


def test_every_question_has_checks():
    from autograder.harness import _pytest_args
    from autograder.registry import QUESTIONS, load_graders

    modules = load_graders()
    text = "".join(module.__loader__.get_source(module.__name__) for module in modules)
    assert [q for q in QUESTIONS if f'grade("{q}"' not in text] == []
    assert all("/graders/grade_" in arg for arg in _pytest_args(modules) if arg.endswith(".py"))


def _import_violations(name: str, source: str) -> list[str]:
    """What the module ``name`` (a file of autograder/) imports against the layout's rules: a check module
    (``graders/grade_*.py``) imports no other check module and nothing of the harness (what it shares with the
    others is in ``graders/common.py``); no module imports a private name (``_x``) of another autograder module."""
    check_module = name.startswith("graders/grade_")
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            private = [alias.name for alias in node.names if alias.name.startswith("_")]
            if node.module.startswith("autograder") and private:
                found.append(f"private names {private} of {node.module}")
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        if check_module:
            found += [f"{target} (a check module or the harness)" for target in targets
                      if target.startswith(("autograder.graders.grade_", "autograder.harness"))]
    return found


def test_check_modules_import_no_check_module_no_harness_no_private_name():
    files = sorted(AUTOGRADER.rglob("*.py"))
    assert len([path for path in files if path.name.startswith("grade_")]) >= 10
    for path in files:
        name = path.relative_to(AUTOGRADER).as_posix()
        assert _import_violations(name, path.read_text()) == [], name


def test_the_import_rules_catch_violations():
    assert _import_violations("graders/grade_x.py", "from autograder.graders import grade_model\n")
    assert _import_violations("graders/grade_x.py", "import autograder.graders.grade_model\n")
    assert _import_violations("graders/grade_x.py", "from autograder.harness import StudentCodeError\n")
    assert _import_violations("probes/x.py", "from autograder.probes.visualisation import _weights\n")
    assert not _import_violations("graders/grade_x.py", "from autograder.graders.common import hinted\n"
                                                        "from autograder.probes.model import tf_inputs\n")
    assert not _import_violations("graders/common.py", "from autograder.harness import StudentCodeError\n")


def _size_violations(name: str, source: str) -> list[str]:
    """A file of more than MAX_FILE_LINES lines, a function (or method) of more than MAX_FUNCTION_LINES."""
    found = [f"{name}: {n} lines"] if (n := len(source.splitlines())) > MAX_FILE_LINES else []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}: {node.name} has {length} lines")
    return found


def test_no_file_or_function_too_long():
    """The autograder, the course package and notebook checks in source/, the tools and the benchmarks."""
    found = [violation for folder in ("autograder", "source", "tools", "benchmarks")
             for path in sorted((REPO / folder).rglob("*.py"))
             for violation in _size_violations(path.relative_to(REPO).as_posix(), path.read_text())]
    assert found == []


def test_the_size_rules_catch_violations():
    long_function = "def f():\n" + "    x = 1\n" * MAX_FUNCTION_LINES
    assert _size_violations("x.py", long_function) == ["x.py: f has 81 lines"]
    assert _size_violations("x.py", "x = 1\n" * (MAX_FILE_LINES + 1)) == ["x.py: 601 lines"]
    assert _size_violations("x.py", "def f():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES - 1)) == []


def test_the_package_docstring_names_every_module():
    """autograder/__init__.py's module map is the maintainer's way in: it names every file and folder."""
    import autograder

    names = sorted(p.name for p in AUTOGRADER.iterdir() if p.name not in {"__init__.py", "__pycache__"})
    missing = [name for name in names if name.removesuffix("/") not in autograder.__doc__]
    assert not missing, f"autograder/__init__.py's layout does not name {missing}"
