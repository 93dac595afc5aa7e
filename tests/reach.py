"""Which functions of a submission each question's probes run: the map that says where a bug can cost points.

A grading runs each question's probes in a child of its own, forked from a zygote that has imported the probes
but no student code (autograder/sandbox.py, child.py). This script does the same without the sandbox: one fork
per question from a process that imported what the zygote imports, the probes run as ``autograder.child.run``
runs them (same seeds, same order), with a trace function that records every Python function of the submission
that is entered: ``{question: ["seq2seq/data.py:228", ...]}`` (file relative to the submission, and the first
line of the function's code object, its first decorator's line where it has one).

Why that decides where a bug can matter (tests/test_one_bug_per_question.py): a child that never enters a
function runs no line of its body, and the children of one grading share nothing, so a bug inside a function's
body leaves every question whose probes never enter that function with exactly the outputs, and so the score, of
the code without the bug. (Where solution code started other processes this would not hold; it starts none, which
``test_no_answer_starts_processes`` checks.)

    python tests/reach.py SUBMISSION [Q1 Q2 ...]     # prints the map as JSON
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _traced(submission: Path, qid: str) -> list[str]:
    """In a forked child: run ``qid``'s probes on ``submission`` and return the functions of it they entered."""
    from autograder.child import run

    entered: set[str] = set()
    prefix = str(submission) + os.sep

    def tracer(frame, event, arg):  # 'call' events only: returning None turns line tracing off for the frame
        code = frame.f_code
        if code.co_filename.startswith(prefix) and code.co_flags & 0x1:  # CO_OPTIMIZED: a function, not a body
            entered.add(f"{code.co_filename[len(prefix):]}:{code.co_firstlineno}")

    import threading

    threading.settrace(tracer)
    sys.settrace(tracer)
    try:
        run(submission, qid)
    finally:
        sys.settrace(None)
    return sorted(entered)


def reach(submission: Path, questions: list[str], workers: int = 2) -> dict[str, list[str]]:
    """``{question: functions entered}`` for ``submission`` (a folder holding ``seq2seq/``), each question in a
    child forked from this process after the zygote's imports (``workers`` at a time)."""
    submission = submission.resolve()
    sys.path.insert(0, str(ROOT))
    from autograder.sandbox import ZYGOTE_ENV

    os.environ.update(ZYGOTE_ENV)  # one thread, as in a zygote: a fork never inherits a thread pool it cannot use
    import autograder.preload  # noqa: F401  (what a zygote imports before it forks a child)

    found: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory() as folder:
        running: dict[int, str] = {}
        pending = list(questions)
        while pending or running:
            while pending and len(running) < workers:
                qid = pending.pop(0)
                pid = os.fork()
                if pid == 0:
                    code = 1
                    try:
                        os.setsid()
                        import torch

                        torch.set_num_threads(1)  # as child.entry: the arithmetic of a grading child
                        sys.stdout = sys.stderr = open(os.devnull, "w")  # what the probes print
                        Path(folder, qid).write_text(json.dumps(_traced(submission, qid)))
                        code = 0
                    finally:
                        os._exit(code)
                running[pid] = qid
            pid, status = os.wait()
            qid = running.pop(pid)
            if status != 0 or not Path(folder, qid).exists():
                raise RuntimeError(f"tracing {qid} failed (wait status {status})")
            found[qid] = json.loads(Path(folder, qid).read_text())
    return {qid: found[qid] for qid in questions}


def main() -> None:
    submission, *questions = sys.argv[1:]
    sys.path.insert(0, str(ROOT))
    from autograder.registry import question_ids

    print(json.dumps(reach(Path(submission), questions or question_ids()), indent=1))


if __name__ == "__main__":
    main()
