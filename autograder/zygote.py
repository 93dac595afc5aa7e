"""The zygote: a process that has imported everything once and forks one child per question.

    python -m autograder.zygote      (started by sandbox.py, one per worker; never run by hand)

Protocol, one JSON object per line: the parent writes ``{"submission", "qid", "folder", "env", "limits",
"timeout"}`` on the zygote's stdin; the zygote forks a child that runs :func:`autograder.child.entry`, waits for
it (killing its whole process group at the timeout) and answers ``{"code": exit code, "timed_out": bool}`` on
stdout. The zygote is single-threaded and never runs student code itself; a child replaces its standard streams
before importing anything of the student's, so it cannot write into this protocol.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time

import autograder.preload  # noqa: F401  (the point of the zygote: torch and friends imported once)
from autograder import child


def _wait(pid: int, timeout: float) -> tuple[int, bool]:
    deadline, pause = time.monotonic() + timeout, 0.002
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), False
        if time.monotonic() >= deadline:
            break
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), True


def main() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                child.entry(request["submission"], request["qid"], request["folder"], request["env"],
                            request["limits"])
            finally:
                os._exit(70)  # entry exits by itself; this only runs if it raised before it could
        code, timed_out = _wait(pid, request["timeout"])
        try:  # whatever the child started in its own group and left behind
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        sys.stdout.write(json.dumps({"code": code, "timed_out": timed_out}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
