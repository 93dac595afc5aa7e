"""The hostile catalogue: submissions that attack the grader instead of answering. None may gain a point.

Each case puts hostile code at the top of one Q1–Q4 function (cheap questions, so the catalogue runs in
seconds per case); the attacked question must lose points, every other question keep full marks, the run
finish, and nothing the attack started may outlive it. (sys.exit, os._exit, a 12 GiB allocation, an endless loop
and writing into the grader's files are in test_graders_environment.py.)
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from autograder import landlock
from tests.helpers import SOLUTION, inject, mutant, scores

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

QUESTIONS = ["Q1", "Q2", "Q3", "Q4"]
ENV = "seq2seq/environment.py"
ATTACKED = {"package_versions": "Q1", "import_libraries": "Q2", "get_device": "Q3", "set_seed": "Q4"}

# name -> (function attacked, code put first in its body; {marker} is a file the attack must never reach)
HOSTILE = {
    "segfault": ("get_device", "    import ctypes; ctypes.string_at(0)\n"),
    "output flood": ("package_versions", "    import sys\n    while True:\n        sys.stdout.write('x' * 65536)\n"),
    "torch comparisons patched": ("set_seed", (
        "    import torch\n"
        "    torch.equal = lambda *a, **k: True\n"
        "    torch.allclose = lambda *a, **k: True\n"
        "    torch.Tensor.__eq__ = lambda *a, **k: True\n"
        "    return None\n")),
    "grader and pytest patched": ("import_libraries", (
        "    import sys\n"
        "    for name in [m for m in sys.modules if m.startswith(('autograder', 'pytest', '_pytest'))]:\n"
        "        module = sys.modules[name]\n"
        "        for attr in ('_share', 'grade', '_results', 'fail', 'approx', 'run', 'plain'):\n"
        "            if hasattr(module, attr):\n"
        "                setattr(module, attr, lambda *a, **k: 100.0)\n"
        "    return None\n")),
    "forged outputs file": ("get_device", (
        "    import os, torch\n"
        "    torch.save({'get_device_auto': {'ok': 'cuda'}, 'forged': {'ok': 1}}, 'outputs.pt')\n"
        "    os._exit(0)\n")),
    "answers read from the reference solution": ("get_device", (
        "    import importlib.util\n"
        "    spec = importlib.util.spec_from_file_location('reference_environment', {reference!r})\n"
        "    module = importlib.util.module_from_spec(spec)\n"
        "    spec.loader.exec_module(module)\n"
        "    return module.get_device(preference)\n")),
    "escaped daemon": ("set_seed", (
        "    import os, time\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(3)\n"
        "            open({marker!r}, 'a').write('tampered')\n"
        "        os._exit(0)\n"
        "    return None\n")),
}


@pytest.fixture(scope="module")
def maximum() -> dict[str, float]:
    return scores(SOLUTION, QUESTIONS)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_code_gains_nothing(name, tmp_path, maximum):
    function, code = HOSTILE[name]
    marker = tmp_path / "tampered.txt"
    sub = mutant(tmp_path, {})
    code = code.replace("{marker!r}", repr(str(marker))).replace("{reference!r}", repr(str(SOLUTION / ENV)))
    if "reference" in name and not landlock.abi_version():
        pytest.skip("this kernel has no Landlock: the child can read the reference (see autograder/landlock.py)")
    (sub / ENV).write_text(inject((SOLUTION / ENV).read_text(), function, code))
    started = time.monotonic()
    got = scores(sub, QUESTIONS, timeout=15)
    assert time.monotonic() - started < 90
    attacked = ATTACKED[function]
    assert got[attacked] < maximum[attacked], f"{name}: {attacked} kept {got[attacked]} points"
    assert {q: got[q] for q in QUESTIONS if q != attacked} == {q: maximum[q] for q in QUESTIONS if q != attacked}
    if "tampered" in code:
        time.sleep(4)  # the daemon would have written by now
        assert not marker.exists(), f"{name}: a process started by the submission outlived its grading"


def test_the_catalogue_covers_every_attack_of_the_issue():
    """Issue #7 point 1, with the file where each case is tested."""
    here = set(HOSTILE)
    assert {"segfault", "output flood", "torch comparisons patched", "grader and pytest patched",
            "forged outputs file", "escaped daemon", "answers read from the reference solution"} <= here
    environment = Path(__file__).with_name("test_graders_environment.py").read_text()
    for attack in ("sys.exit", "os._exit", "torch.ones(3 << 30)", "while True", "graded by me"):
        assert attack in environment, attack
