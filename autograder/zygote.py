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
from pathlib import Path

import autograder.preload  # noqa: F401  (the point of the zygote: torch and friends imported once)
from autograder import child

PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper() -> None:
    """Orphans of the children (even ones that left the child's process group with setsid) become ours."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the process-group kill below still applies
        pass


def _reap_orphans() -> None:
    """Kill and collect every process left behind by a child: anything whose parent is now this zygote."""
    me = str(os.getpid())
    for _ in range(100):  # a process may fork while we look: go round until none is left
        found = False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me:  # ppid
                found = True
                try:
                    os.kill(int(stat.parent.name), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
        if not found:
            return
        time.sleep(0.01)


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
    _become_subreaper()
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
        _reap_orphans()  # and whatever escaped that group (setsid, double fork)
        sys.stdout.write(json.dumps({"code": code, "timed_out": timed_out}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
