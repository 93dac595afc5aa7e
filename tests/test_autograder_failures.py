"""One failure policy (results.py): a failure of the grader is never a student's zero, at every entry point.

Failures are simulated where they arise: a reference run that fails once or twice, a zygote that dies, a
sandbox that cannot be set up, an exception inside the grader. Also the second line of defence for hidden
graders: with Landlock off, student code that reads a grader file and prints it or raises it gets none of its
code into feedback.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from autograder import gradescope, harness, isolation, redact, sandbox
from autograder.bulk import grade_all
from autograder.results import NOT_GRADED, GraderError, InfrastructureError, or_not_graded, status
from tests.helpers import REPO, SOLUTION, inject, mutant

QUESTIONS = ["Q1", "Q4"]
ENV = "seq2seq/environment.py"


@pytest.fixture
def fresh_reference(monkeypatch):
    """No reference outputs kept, in this process or on disk: the next grading computes them."""
    monkeypatch.setattr(harness, "_REFERENCE", {})
    monkeypatch.setenv("AUTOGRADER_REFERENCE_CACHE", "off")


def _failing_reference(monkeypatch, failures: int, qid: str = "Q4") -> list[str]:
    """Make the reference's runs of ``qid`` fail ``failures`` times (as if killed), then work; returns a log."""
    real, log = sandbox.run_question, []

    def run(submission, question, timeout, uid=None):
        reference = "reference-" in str(submission)
        log.append(f"{'ref' if reference else 'student'} {question}")
        if reference and question == qid and log.count(f"ref {qid}") <= failures:
            return sandbox.ChildResult(failure="the process running your code died: killed (out of memory?)")
        return real(submission, question, timeout, uid)

    monkeypatch.setattr(sandbox, "run_question", run)
    return log


def test_a_reference_run_that_fails_once_is_retried(monkeypatch, fresh_reference):
    log = _failing_reference(monkeypatch, failures=1)
    results = harness.grade(SOLUTION, questions=QUESTIONS)
    assert results["score"] == results["extra_data"]["max_score"] and status(results) == "graded"
    assert log.count("ref Q4") == 2
    first_student = log.index(next(entry for entry in log if entry.startswith("student")))
    assert all(entry.startswith("ref") for entry in log[:first_student]), "the reference runs before any student"


def test_a_reference_that_fails_twice_stops_grading_and_names_the_question(monkeypatch, fresh_reference, tmp_path):
    log = _failing_reference(monkeypatch, failures=99)  # fails every time
    with pytest.raises(GraderError, match="reference solution failed Q4 twice"):
        harness.grade(SOLUTION, questions=QUESTIONS)
    assert not [entry for entry in log if entry.startswith("student")], "no student code ran"
    assert ("Q4" not in {q for _, q in harness._REFERENCE}), "a failed reference run is never cached"
    klass = tmp_path / "class"
    shutil.copytree(SOLUTION, klass / "alice")
    with pytest.raises(GraderError, match="Q4"):  # grade-all: the whole run stops before any student
        grade_all(klass, tmp_path / "out", questions=QUESTIONS, progress=False)
    assert not (tmp_path / "out" / "alice" / "results.json").exists()


def test_kept_reference_outputs_are_used_by_the_next_process_and_recomputed_when_damaged(monkeypatch, tmp_path):
    """What ``prepare`` (or any grading) keeps on disk saves the next process the reference's runs; a damaged file
    is computed again; the folder is the grading user's alone."""
    monkeypatch.setenv("AUTOGRADER_REFERENCE_CACHE", str(tmp_path / "kept"))
    monkeypatch.setattr(harness, "_REFERENCE", {})
    reference = harness.DEFAULT_REFERENCE.resolve()
    first = harness.reference_outputs(reference, QUESTIONS)
    folder = tmp_path / "kept" / harness.reference_key(reference)
    assert sorted(p.name for p in folder.iterdir()) == ["Q1.pt", "Q4.pt"]
    assert oct(folder.stat().st_mode & 0o777) == oct(folder.parent.stat().st_mode & 0o777) == "0o700"
    monkeypatch.setattr(harness, "_REFERENCE", {})  # a new process
    log = _failing_reference(monkeypatch, failures=0)
    (folder / "Q4.pt").write_bytes(b"damaged")
    again = harness.reference_outputs(reference, QUESTIONS)
    assert log == ["ref Q4"], "Q1 came from disk, the damaged Q4 was computed again"
    for qid in QUESTIONS:
        assert again[qid].outputs.keys() == first[qid].outputs.keys()
    results = harness.grade(SOLUTION, questions=QUESTIONS)
    assert results["score"] == results["extra_data"]["max_score"]


@pytest.mark.slow
def test_a_dying_zygote_is_replaced_once_then_the_student_is_not_graded(monkeypatch, tmp_path):
    harness.reference_outputs(harness.DEFAULT_REFERENCE.resolve(), QUESTIONS)
    deaths = []
    real = sandbox._Zygote.run

    def dies(self, request):
        if len(deaths) < limit:  # a zygote started by this process, or its twin (forked by that zygote)
            deaths.append(request["qid"])
            os.kill(self.identify(time.monotonic() + 120), signal.SIGKILL)
            if self.process is not None:
                self.process.wait()
        return real(self, request)

    monkeypatch.setattr(sandbox._Zygote, "run", dies)
    limit = 1  # once: the question runs again on a fresh zygote and the student is graded in full
    results = or_not_graded(lambda: harness.grade(SOLUTION, questions=QUESTIONS))
    assert status(results) == "graded" and results["score"] == results["extra_data"]["max_score"]
    deaths.clear()
    limit = 2  # twice in a row: not graded, with the reason, and no score
    results = or_not_graded(lambda: harness.grade(SOLUTION, questions=["Q4"], workers=1))
    assert status(results) == NOT_GRADED and "zygote died" in results["extra_data"]["reason"]
    assert results["tests"] == [] and "not your score" in results["output"]


@pytest.mark.slow
def test_grade_all_flags_what_it_could_not_grade_and_grades_it_again(monkeypatch, tmp_path):
    klass = tmp_path / "class"
    for student in ("alice", "bob"):
        shutil.copytree(SOLUTION, klass / student / "attention_seq2seq")
    real = harness.grade

    def broken_for_bob(submission, **kwargs):
        if "bob" in str(submission) or (submission / ".bob").exists():
            raise InfrastructureError("the sandbox for Q4 could not be set up: simulated")
        return real(submission, **kwargs)

    (klass / "bob" / "attention_seq2seq" / ".bob").write_text("")
    monkeypatch.setattr("autograder.bulk.grade", broken_for_bob)
    out = tmp_path / "out"
    rows = {row["student"]: row for row in grade_all(klass, out, questions=QUESTIONS, progress=False)}
    assert rows["bob"]["status"] == NOT_GRADED and rows["bob"]["total"] == "" and "simulated" in rows["bob"]["reason"]
    assert rows["alice"]["status"] == "graded" and float(rows["alice"]["total"]) > 0
    with open(out / "grades.csv", newline="") as handle:
        assert {r["student"]: r["status"] for r in csv.DictReader(handle)} == {"alice": "graded", "bob": NOT_GRADED}
    monkeypatch.setattr("autograder.bulk.grade", real)
    again = {row["student"]: row for row in grade_all(klass, out, questions=QUESTIONS, progress=False)}
    assert again["bob"]["status"] == "graded" and again["bob"]["total"] == rows["alice"]["total"], "regraded"


def test_gradescope_run_writes_results_whatever_the_exception(monkeypatch, tmp_path):
    root = tmp_path / "autograder"
    shutil.copytree(SOLUTION / "seq2seq", root / "submission" / "seq2seq")
    for error in (RuntimeError("zygote gone"), InfrastructureError("no sandbox"), KeyError("x")):
        def fail(*args, _error=error, **kwargs):
            raise _error
        monkeypatch.setattr(gradescope, "grade", fail)
        assert gradescope.run(root) == 0
        results = json.loads((root / "results" / "results.json").read_text())
        assert status(results) == NOT_GRADED and results["tests"] == [], results
        assert "not your score" in results["output"]


@pytest.mark.slow
def test_graders_read_by_student_code_do_not_reach_feedback(monkeypatch, tmp_path):
    """With Landlock off (the grader files are then readable: they are world-readable in this checkout), student
    code prints one grader module and raises another as its error: feedback keeps none of their code."""
    monkeypatch.setenv("AUTOGRADER_LANDLOCK", "0")
    isolation.plan.cache_clear()
    graders = sorted(redact.GRADERS_DIR.glob("grade_*.py"))
    leak = (f"    print(open({str(graders[0])!r}).read())\n"
            f"    raise ValueError(open({str(graders[-1])!r}).read())\n")
    sub = mutant(tmp_path, {})
    (sub / ENV).write_text(inject((SOLUTION / ENV).read_text(), "set_seed", leak))
    try:
        results = harness.grade(sub, questions=["Q4"])
    finally:
        monkeypatch.undo()
        isolation.plan.cache_clear()
    feedback = results["tests"][0]["output"]
    assert results["score"] == 0 and redact.REMOVED in feedback, feedback
    squeezed = "".join(feedback.split())
    code = [line for path in redact.hidden_sources() for line in redact.code_lines(path) if len(line) >= redact.WINDOW]
    assert code and not [line for line in code if line in squeezed], "grader code reached the student"
    assert "def test_" not in feedback and "@pytest" not in feedback


def test_two_grading_processes_never_give_two_students_one_uid():
    """Two grading processes at once (two sections' grade-all, say) claim their students' uids machine-wide: the
    second never gets a uid the first holds, and a claim ends with its process."""
    if not isolation.plan().drop_uid:
        pytest.skip("children keep the grader's uid here (not root): there are no student uids to share")
    claim = ("import sys, time; from autograder import isolation; "
             "print(' '.join(str(isolation.owner_uid(f'student-{i}')) for i in range(5)), flush=True); "
             "sys.stdin.readline()")
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def start():
        process = subprocess.Popen([sys.executable, "-c", claim], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True, env=env)
        return process, {int(uid) for uid in process.stdout.readline().split()}

    first, held = start()
    second, others = start()
    try:
        assert len(held) == len(others) == 5 and not held & others, (held, others)
    finally:
        for process in (first, second):
            process.communicate("\n", timeout=60)
    third, again = start()
    third.communicate("\n", timeout=60)
    assert again & (held | others), "claims of ended processes are free again"
    before = set(isolation._CLAIMED)
    harness.grade(SOLUTION, questions=["Q4"])
    assert set(isolation._CLAIMED) <= before, "a finished grading gives its student's uid back"


def test_a_link_in_place_of_the_uid_claims_folder_stops_grading_as_a_grader_failure(tmp_path, monkeypatch):
    """Whoever put a link (or another user's folder) where the claims are kept holds no claim of ours: the grader
    refuses to hand out uids, as a grader failure (not graded), and follows nothing."""
    if not isolation.plan().drop_uid:
        pytest.skip("children keep the grader's uid here (not root): no uid is claimed")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / isolation.UID_CLAIMS).symlink_to(tmp_path / "elsewhere")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(InfrastructureError, match="cannot be claimed"):
        isolation.owner_uid(str(tmp_path / "a-submission"))
    assert not list((tmp_path / "elsewhere").iterdir())


def test_every_defence_is_recorded_and_said(capsys, tmp_path):
    from autograder.cli import main

    code = main(["grade", str(SOLUTION), "--questions", "Q1", "--out", str(tmp_path / "r.json")])
    said = capsys.readouterr().out
    results = json.loads((tmp_path / "r.json").read_text())
    assert code == 0 and said.startswith("isolation: ")
    defences = results["extra_data"]["defences"]
    assert set(defences) >= {"landlock_abi", "landlock", "drop_uid", "network_namespace", "socket_filter", "missing"}
    for missing in defences["missing"]:
        assert f"NOT ENFORCED: {missing}" in said


def test_the_grader_package_is_not_readable_where_it_matters():
    """Children may read the probes only: the Landlock read list names no check, harness or reference file."""
    assert sandbox.child_readable() == [str(REPO / "autograder" / "probes")]
    assert sandbox.PROBES_DIR.is_dir()
