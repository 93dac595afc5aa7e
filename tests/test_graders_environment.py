"""Validity of the Q1–Q4 graders: the stub scores 0, the solution full marks, realistic bugs lose points on
their own question only, another correct implementation scores full marks, hostile code gains nothing."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import isolation, landlock
from autograder.harness import GraderError, grade
from tests.bug_reach import assert_costs_only_its_question
from tests.helpers import (
    REPO, SOLUTION, STUB, Mutant, assert_hint, full_marks, inject, mutant, scores,
)

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

QUESTIONS = ["Q1", "Q2", "Q3", "Q4"]
ENV = "seq2seq/environment.py"


@pytest.fixture(scope="module")
def maximum():
    marks = full_marks(QUESTIONS)
    assert all(marks[q] > 0 for q in QUESTIONS)
    return marks


@pytest.mark.smoke  # the fast tier's one grading (make check)
def test_solution_full_marks(maximum):
    assert scores(SOLUTION, QUESTIONS) == maximum


def test_stub_scores_zero_with_readable_feedback(tmp_path):
    out = tmp_path / "r.json"
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(STUB), "--out", str(out),
                           "--questions", ",".join(QUESTIONS)], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["score"] == 0
    assert [t["name"].split()[0] for t in results["tests"]] == QUESTIONS
    for test in results["tests"]:
        assert test["score"] == 0 and test["max_score"] > 0 and test["status"] == "failed"
        assert "not implemented yet" in test["output"], test["output"]
        assert "assert " not in test["output"] and "def test_" not in test["output"], "grader code leaked"
        assert set(test) >= {"name", "score", "max_score", "status", "output"}


# Each mutant is a realistic mistake; it must cost points on its own question and nothing elsewhere, and the feedback
# must say its hint (lower-case; issue #7, point 6): the likely cause, in the student's terms.
MUTANTS: dict[str, Mutant] = {
    "Q1 versions by import": Mutant("Q1", {ENV: [
        ("versions[name] = importlib.metadata.version(name)",
         "versions[name] = importlib.import_module(name).__version__"),
    ]}, hint="use importlib.metadata.version"),
    "Q1 missing raises": Mutant("Q1", {ENV: [
        ("        except importlib.metadata.PackageNotFoundError:\n"
         "            versions[name] = None\n",
         "        except ImportError:\n            raise\n"),
    ]}, hint="catch importlib.metadata.packagenotfounderror"),
    "Q1 exact version compare": Mutant("Q1", {ENV: [
        ("elif have == wanted or have.split(\"+\", 1)[0] == wanted:", "elif have == wanted:"),
    ]}, hint="compare only the part before '+'"),
    "Q2 F is nn": Mutant("Q2", {ENV: [
        ('"F": "torch.nn.functional"', '"F": "torch.nn"'),
    ]}, hint="'f' maps to the module 'torch.nn'"),
    "Q2 tqdm missing": Mutant("Q2", {ENV: [
        (', "tqdm": "tqdm.auto"}', "}"),
    ]}, hint="the entry 'tqdm' is missing"),
    "Q3 auto always cpu": Mutant("Q3", {ENV: [
        ('return torch.device("cuda" if torch.cuda.is_available() else "cpu")', 'return torch.device("cpu")'),
    ]}, hint="with cuda available, get_device('auto') gave cpu"),
    "Q3 silent fallback": Mutant("Q3", {ENV: [
        ("            raise RuntimeError(f\"device {preference!r} was requested",
         "            return torch.device('cpu')\n"
         "            raise RuntimeError(f\"device {preference!r} was requested"),
    ]}, hint="a silent fallback"),
    "Q3 returns strings": Mutant("Q3", {ENV: [
        ("        return torch.device(choice)\n", "        return choice\n"),
        ('        return torch.device("cpu")\n    if choice == "cuda"',
         '        return "cpu"\n    if choice == "cuda"'),
    ]}, hint="must return a torch.device, not a str"),
    "Q3 named tuples rebuilt wrongly": Mutant("Q3", {ENV: [
        ("        return type(obj)(*(move_to(item, device) for item in obj))",
         "        return tuple(move_to(item, device) for item in obj)"),
    ]}, hint="must come back as the same named tuple type"),
    "Q3 no recursion": Mutant("Q3", {ENV: [
        ("        return type(obj)(move_to(item, device) for item in obj)", "        return obj"),
    ]}, hint="call move_to on every item (recursion)"),
    "Q4 numpy unseeded": Mutant("Q4", {ENV: [
        ("    np.random.seed(seed)\n", "    np.random.default_rng(seed)\n"),
    ]}, hint="a new default_rng is not the global one"),
    "Q4 python unseeded": Mutant("Q4", {ENV: [
        ("    random.seed(seed)\n", ""),
    ]}, hint="seed python's random module"),
    "Q4 flags ignored": Mutant("Q4", {ENV: [
        ("    if deterministic:\n        torch.use_deterministic_algorithms(True, warn_only=True)",
         "    if False:\n        torch.use_deterministic_algorithms(True, warn_only=True)"),
    ]}, hint="deterministic=true must call torch.use_deterministic_algorithms"),
    "Q4 flags always on": Mutant("Q4", {ENV: [
        ("    if deterministic:\n", "    if True:\n"),
    ]}, hint="without deterministic=true must not change torch's determinism"),
}


def test_every_mutant_has_a_hint():
    assert [name for name, m in MUTANTS.items() if not m.hint or m.qid not in QUESTIONS] == []


@pytest.mark.parametrize("name", MUTANTS)
def test_mutant_loses_points_on_its_question_only(name, tmp_path, reached):
    """... and its feedback names the likely cause (the mutant's hint)."""
    m = MUTANTS[name]
    assert_hint(assert_costs_only_its_question(m, tmp_path, reached, name), m.qid, m.hint, name)


ALTERNATIVE = '''

# An independently written, correct implementation of Q1-Q4 (replaces the solution's functions).
def package_versions(names):
    from importlib import metadata
    out = {}
    for n in names:
        try:
            out[n] = metadata.distribution(n).version
        except metadata.PackageNotFoundError:
            out[n] = None
    return out


def check_requirements(pins):
    have = package_versions(pins)
    return {n: "missing" if have[n] is None else ("ok" if have[n].partition("+")[0] == v else "wrong version")
            for n, v in pins.items()}


def import_libraries():
    import matplotlib.pyplot as plt, sacrebleu, spacy, torch.nn.functional as F, torch.utils.data as data
    from tqdm import auto
    return dict(torch=torch, nn=torch.nn, F=F, optim=torch.optim, data=data, np=np, spacy=spacy,
                sacrebleu=sacrebleu, plt=plt, tqdm=auto)


def get_device(preference="auto"):
    p = preference.lower().strip()
    if p not in ("auto", "cpu") and not (p == "cuda" or (p.startswith("cuda:") and p[5:].isdigit())):
        raise ValueError(preference)
    if p == "auto":
        p = "cuda" if torch.cuda.is_available() else "cpu"
    elif p != "cpu" and (not torch.cuda.is_available() or int(p[5:] or 0) >= torch.cuda.device_count()):
        raise RuntimeError("no such CUDA device")
    return torch.device(p)


def move_to(obj, device):
    if hasattr(obj, "to") and isinstance(obj, (torch.Tensor, nn.Module)):
        return obj.to(device)
    if isinstance(obj, (list, tuple)):
        items = [move_to(o, device) for o in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else type(obj)(items)
    if isinstance(obj, dict):
        return {k: move_to(v, device) for k, v in obj.items()}
    return obj


def set_seed(seed, deterministic=False):
    import random as r
    r.seed(seed); np.random.seed(seed % 2**32); torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(mode=True, warn_only=True)
'''


def test_an_independent_correct_implementation_scores_full_marks(tmp_path, maximum):
    sub = mutant(tmp_path, {})
    path = sub / ENV
    path.write_text(path.read_text() + ALTERNATIVE)
    assert scores(sub, QUESTIONS) == maximum


HOSTILE = {
    "package_versions": "    import sys; sys.exit(0)\n",
    "import_libraries": "    import os; os._exit(0)\n",
    "get_device": "    import torch; _hog = torch.ones(3 << 30)\n",  # 12 GiB
    "set_seed": "    while True:\n        pass\n",
}


@pytest.mark.parametrize("hostile", [["package_versions", "get_device"], ["import_libraries", "set_seed"]])
def test_hostile_code_costs_only_its_own_question(hostile, tmp_path, maximum):
    text = (SOLUTION / ENV).read_text()
    for function in hostile:
        text = inject(text, function, HOSTILE[function])
    sub = mutant(tmp_path, {})
    (sub / ENV).write_text(text)
    started = time.monotonic()
    got = scores(sub, QUESTIONS, timeout=10)
    assert time.monotonic() - started < 60
    attacked = {"package_versions": "Q1", "import_libraries": "Q2", "get_device": "Q3", "set_seed": "Q4"}
    for qid in QUESTIONS:
        if qid in {attacked[f] for f in hostile}:
            # The attacked function earns nothing; honest functions of the same question keep their points.
            assert got[qid] < maximum[qid], f"{qid} kept full points despite {hostile}"
        else:
            assert got[qid] == maximum[qid], f"{qid} lost points for hostile code elsewhere"


def _tampering(tmp_path, target: Path) -> Path:
    return mutant(tmp_path, {ENV: [("    random.seed(seed)\n",
                                    f"    open({str(target)!r}, 'a').write('# graded by me\\n')\n"
                                    "    random.seed(seed)\n")]})


def test_tampering_with_the_graders_is_prevented(tmp_path, maximum):
    """Landlock (autograder/landlock.py): a child cannot write outside its own folder."""
    if not landlock.abi_version():
        pytest.skip("this kernel has no Landlock")
    target = REPO / "autograder" / "graders" / "__init__.py"
    original = target.read_bytes()
    try:
        got = scores(_tampering(tmp_path, target), ["Q4"])
        assert target.read_bytes() == original and got["Q4"] < maximum["Q4"]
    finally:
        target.write_bytes(original)


def test_tampering_is_reported_not_scored_without_landlock(tmp_path, monkeypatch):
    """The last fallback, with Landlock and the uid drop both off: the harness fingerprints its files (its own,
    the reference's, the release's) around grading and refuses to score once they changed. The student's code
    writes to a copy of the reference, so that nothing of the repository changes under a test running beside
    this one."""
    reference = tmp_path / "reference"
    shutil.copytree(SOLUTION, reference, ignore=shutil.ignore_patterns("__pycache__"))
    target = reference / "seq2seq" / "__init__.py"
    original = target.read_bytes()
    monkeypatch.setenv("AUTOGRADER_LANDLOCK", "0")
    monkeypatch.setenv("AUTOGRADER_DROP_PRIVILEGES", "0")
    monkeypatch.setenv("AUTOGRADER_REFERENCE_CACHE", "off")
    isolation.plan.cache_clear()  # the plan is read once per process
    try:
        with pytest.raises(GraderError, match="changed"):
            grade(_tampering(tmp_path, target), reference=reference, questions=["Q4"])
        assert target.read_bytes() != original, "the student's code did write: the refusal was for that"
        target.write_bytes(original)
        results = grade(SOLUTION, reference=reference, questions=["Q4"])
        assert [(t["name"][:2], t["score"]) for t in results["tests"]] == [("Q4", 2.0)], "restored: grading goes on"
    finally:
        monkeypatch.undo()
        isolation.plan.cache_clear()


def test_grading_is_repeatable(tmp_path, maximum):
    """The same submission graded 5 times gets the same scores: a mutant with partial credit, on questions that
    train and decode (Q23, Q25) as well as cheap ones, so that any non-determinism would show."""
    name = "Q3 auto always cpu"
    sub = MUTANTS[name].build(tmp_path)
    runs = [scores(sub, ["Q3", "Q4", "Q13", "Q23", "Q25"]) for _ in range(5)]
    assert all(run == runs[0] for run in runs), runs
    assert 0 < runs[0]["Q3"] < maximum["Q3"], name
    assert scores(STUB, QUESTIONS) == {q: 0 for q in QUESTIONS}


def test_not_a_submission_is_a_usage_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True)
    assert done.returncode == 2 and "no seq2seq/__init__.py" in done.stderr
