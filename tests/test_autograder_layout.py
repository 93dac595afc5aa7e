"""What a grading child can see: the probes, never the checks (issue #13, point 3)."""
from __future__ import annotations

import ast
import json
import subprocess
import sys

from tests.helpers import REPO

PROBES, GRADERS = REPO / "autograder" / "probes", REPO / "autograder" / "graders"


def _imports(path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


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
    assert len(got["questions"]) == 34 and got["probed"] == got["questions"], "every question has its probes"


def test_probe_and_check_modules_keep_to_their_side():
    for path in sorted(PROBES.glob("*.py")):
        text = path.read_text()
        assert "pytest.mark.grade" not in text, f"{path.name} holds a check"
        banned = [m for m in _imports(path) if m.startswith(("autograder.graders", "autograder.harness", "pytest"))]
        assert banned == [], f"{path.name} imports {banned}"
    for path in sorted(GRADERS.glob("grade_*.py")):
        text = path.read_text()
        assert "@probe(" not in text and "question(" not in text, f"{path.name} declares probes or questions"
        others = [m for m in _imports(path) if m.startswith("autograder.graders.grade_")]
        assert others == [], f"{path.name} imports another grader module: {others}"


def test_every_question_has_checks():
    from autograder.harness import _pytest_args
    from autograder.registry import QUESTIONS, load_graders

    modules = load_graders()
    text = "".join(module.__loader__.get_source(module.__name__) for module in modules)
    assert [q for q in QUESTIONS if f'grade("{q}"' not in text] == []
    assert all("/graders/grade_" in arg for arg in _pytest_args(modules) if arg.endswith(".py"))
