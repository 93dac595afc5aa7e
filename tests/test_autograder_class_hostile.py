"""The class-level hostile catalogue (issue #13): one student attacks everyone else; nobody else loses a point.

The scenario is ``tests/class_attack.py``: the first-graded student kills (its parent, every grading process and
zygote, the deciding process, everything it may signal), reads (graders, reference, other students), uses the
network (TCP, UDP), raises its limits, leaves files in ``/tmp`` and ``/dev/shm`` and fills the disk, while two
honest students and an unrelated grading of the solution in another process are graded. It runs as root (as CI
and Gradescope do) and, where the machine allows, as an unprivileged user.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from autograder import isolation, redact
from tests.class_attack import ATTACKS, main
from tests.helpers import REPO

NOBODY = 65534


def _grader_lines() -> list[str]:
    """Every line of the check modules' code long enough to be recognised (what must never reach a student)."""
    return [line for path in redact.hidden_sources() for line in redact.code_lines(path) if len(line) >= redact.WINDOW]


def _assert_contained(summary: dict, *, expect_uid_drop: bool) -> None:
    defences = summary["defences"]
    assert defences["drop_uid"] == expect_uid_drop, defences
    for student, results in summary["honest"].items():
        assert results["extra_data"]["status"] == "graded", (student, results["extra_data"])
        assert results["score"] == results["extra_data"]["max_score"], (student, results["tests"])
    bystander = summary["bystander"]
    assert bystander and bystander["score"] == bystander["extra_data"]["max_score"], summary["bystander_stderr"]
    assert summary["reached"] == [], f"a grading child reached a listener on this machine: {summary['reached']}"
    assert summary["left"] == [], f"a child left files where another could read them: {summary['left']}"
    feedback = summary["attacker_feedback"]
    assert summary["attacker_status"] == "graded"
    refused = [a for a in ATTACKS if f"ATTACK {a}: refused" in feedback]
    assert refused == ATTACKS, f"not refused: {sorted(set(ATTACKS) - set(refused))}\n{feedback}"
    assert "DONE" not in feedback and "wrote more than" in feedback, feedback
    squeezed = "".join(feedback.split())
    assert not [line for line in _grader_lines() if line in squeezed], "grader code in the attacker's feedback"


@pytest.mark.slow
def test_one_student_attacks_the_class_as_root(tmp_path):
    plan = isolation.plan()
    if os.geteuid() != 0 or not (plan.landlock["signals"] or plan.drop_uid):
        pytest.skip("needs root or Landlock ABI 6: without either, the attack's kill(-1) would reach this test")
    summary = main(tmp_path)
    print(json.dumps({k: summary[k] for k in ("seconds", "defences")}, indent=1))
    _assert_contained(summary, expect_uid_drop=True)


@pytest.mark.slow
def test_one_student_attacks_the_class_as_an_unprivileged_user(tmp_path):
    """The same class graded by uid 65534 (no uid drop, no network namespace: Landlock alone separates the
    children). The interpreter here may live under /root (mode 0700), so the grader keeps CAP_DAC_READ_SEARCH
    (reading only) to start Python; Landlock still decides what each child reads."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root (to become another user) and setpriv")
    if not isolation.plan().landlock["signals"]:
        pytest.skip("without Landlock ABI 6 an unprivileged grader cannot keep children from signalling it")
    work = tmp_path / "work"
    work.mkdir()
    os.chown(work, NOBODY, NOBODY)
    os.chmod(tmp_path, 0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(work), "SEQ2SEQ_DATA_DIR": os.environ.get("SEQ2SEQ_DATA_DIR", ""),
           "PYTHONPATH": str(REPO)}
    done = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                           "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search",
                           sys.executable, "-m", "tests.class_attack", str(work)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["defences"]["landlock"]["signals"] and not summary["defences"]["network_namespace"]
    _assert_contained(summary, expect_uid_drop=False)
