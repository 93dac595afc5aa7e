"""The class-level hostile catalogue (issues #13 and #26): one student attacks everyone else; nobody else loses a
point, and nothing the grader reads with its own rights on the student's behalf reaches the student.

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
from autograder.registry import QUESTIONS, load_graders
from tests.class_attack import ATTACKS, CLASSMATE_MARK, main
from tests.class_attack import QUESTIONS as CLASS_QUESTIONS
from tests.helpers import REPO

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

NOBODY = 65534


def _grader_lines() -> list[str]:
    """Every line of the check modules' code long enough to be recognised (what must never reach a student)."""
    return [line for path in redact.hidden_sources() for line in redact.code_lines(path) if len(line) >= redact.WINDOW]


def _unreadable_lines(summary: dict) -> list[str]:
    """Lines of files the attacker's uid cannot read (white space taken out): the grader's secret, the reference's
    answers, the classmate's own line, and /etc/shadow when graded as root."""
    lines = ["".join(line.split()) for line in summary["secret"].splitlines()]
    lines += [f"{CLASSMATE_MARK}:bobwrotethis,{summary['mark']}".replace(" ", "")]
    lines += [line for line in redact.reference_lines() if len(line) >= 12]
    if summary["root"]:
        with open("/etc/shadow") as shadow:
            lines += ["".join(line.split()) for line in shadow if len(line.strip()) >= 8]
    return lines


def _assert_contained(summary: dict, *, expect_uid_drop: bool) -> None:
    load_graders()
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
    refused = [a for a in ATTACKS if f"ATTACK {a}: refused" in feedback]
    assert refused == ATTACKS, f"not refused: {sorted(set(ATTACKS) - set(refused))}\n{feedback}"
    assert "DONE" not in feedback and "wrote more than" in feedback, feedback
    squeezed = "".join(feedback.split())
    assert not [line for line in _grader_lines() if line in squeezed], "grader code in the attacker's feedback"
    for student, text in summary["feedback_files"].items():  # everyone's feedback: results and feedback.md
        shown = "".join(text.split()) + (squeezed if student == "aaa" else "")
        leaked = [line for line in _unreadable_lines(summary) if line in shown]
        assert not leaked, f"{student}'s feedback holds {len(leaked)} lines of unreadable files: {leaked[:3]}"
    # The submission's links and special files were left out and named; the attacker's scores stand otherwise.
    assert summary["attacker_status"] == "flagged", summary["attacker_reason"]
    named = ["secret_copy.txt (a symbolic link)", "hard_copy.txt (a hard link to a file outside the submission)",
             "pipe.txt (a named pipe (FIFO))", "sock (a socket)", "name-\\udcff.txt (a name that is not UTF-8)"]
    named += ["shadow_copy.txt (a symbolic link)", "null (a device)"] if summary["root"] else []
    assert all(f"seq2seq/{entry}" in summary["attacker_reason"] for entry in named), summary["attacker_reason"]
    assert "n" * 251 not in summary["attacker_reason"]  # a long name is a name: copied, not left out
    scores = summary["attacker_scores"]
    assert scores["Q16"] > 0 and scores["Q20"] > 0, scores  # its untouched answers were graded
    assert not any(scores[q] for q in ("Q1", "Q2", "Q3", "Q12", "Q13", "Q14")), scores  # exited without results
    dave = summary["dave"]
    assert dave["status"] == "flagged" and dave["score"] == 0 and "symbolic link" in dave["reason"], dave
    limit = sum(QUESTIONS[q].timeout for q in CLASS_QUESTIONS) + 60
    assert summary["seconds"] < limit, f"grade-all took {summary['seconds']} s, more than the limits' sum + 60 s"


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
