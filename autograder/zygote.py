"""The zygote: a process that has imported everything once and forks one child per question.

    python -m autograder.zygote [--twin R W]    (started by sandbox.py; never run by hand)

Zygotes come in pairs: the one sandbox.py starts imports everything once, then forks its twin, which serves a
second worker through the pipe ends R and W (half the import cost of two separate zygotes).

Protocol, one JSON object per line: the parent writes a request (``sandbox.run_question``: submission, qid,
folder, env, limits, timeout, disk quota, uid, defences) on the zygote's stdin; the zygote forks a child that
runs :func:`autograder.child.entry`, waits for it (killing its whole process group at the timeout or when its
folder outgrows the disk quota) and answers on stdout with one line ``{"code": exit code, "ended": "exit" |
"timeout" | "disk", "setup": "ok" | why the child could not be isolated, "printed": the tail of what it printed,
"outputs_size": N}`` followed by the N bytes of its saved outputs. ``setup`` comes through a pipe that the child
closes before it imports student code, so student code cannot forge it. What the child printed and its outputs
come through anonymous in-memory files (``memfd_create``) made before the fork, read with a size cap once every
process that could write them is dead: the zygote never opens a name in the child's folder. The zygote is
single-threaded and never runs student code itself; a child replaces its standard streams before importing
anything of the student's, so it cannot write into this protocol.
"""
from __future__ import annotations

import json
import os
import signal
import stat
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


def _reap_orphans(twin: int | None) -> None:
    """Kill and collect every process left behind by a child: anything whose parent is now this zygote, but its
    ``twin`` (the second zygote it forked, which runs no student code)."""
    me, spared = str(os.getpid()), str(twin)
    for _ in range(100):  # a process may fork while we look: go round until none is left
        found = False
        for status in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = status.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me and status.parent.name != spared:  # ppid
                found = True
                try:
                    os.kill(int(status.parent.name), signal.SIGKILL)
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


def _disk_use(folder: str, most: int) -> tuple[int, int]:
    """Bytes allocated and entries below ``folder`` (what a child wrote: its folder is the only one it may write),
    counting no further than ``most`` entries. Nothing is followed or opened but folders (``O_NOFOLLOW``), and
    the walk keeps its own stack, so a chain of thousands of nested folders is no recursion."""
    used = count = 0
    stack = [folder]
    while stack and count <= most:
        try:
            listing = os.scandir(stack.pop())
        except OSError:
            continue
        with listing:
            for entry in listing:
                count += 1
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                used += info.st_blocks * 512
                if stat.S_ISDIR(info.st_mode):
                    stack.append(entry.path)
    return used, count


def _wait(pid: int, timeout: float, folder: str, quota: dict[str, int]) -> tuple[int, str]:
    """Wait for the child; kill its group at the deadline or when its folder outgrows the quota."""
    deadline, pause, ended = time.monotonic() + timeout, 0.002, "timeout"
    next_look = time.monotonic() + 0.1
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), "exit"
        now = time.monotonic()
        if now >= deadline:
            break
        if now >= next_look:
            used, count = _disk_use(folder, quota["files"])
            if used > quota["bytes"] or count > quota["files"]:
                ended = "disk"
                break
            next_look = now + 0.1
        time.sleep(pause)
        pause = min(pause * 2, 0.05)
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), ended


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")[:1000]


def _read_memfd(fd: int, most: int, *, last: bool) -> bytes:
    """At most ``most`` bytes of in-memory file ``fd`` (the first ones, or the ``last``), and close it."""
    try:
        size = os.fstat(fd).st_size
        start = max(0, size - most) if last else 0
        return os.pread(fd, min(size, most), start)
    finally:
        os.close(fd)


def _start_twin(argv: list[str]) -> int | None:
    """With ``--twin R W`` (pipe ends the grading process made for a second zygote): fork that second zygote now,
    after the imports, so that both share one import's cost; it reads requests from R, answers on W, and first
    writes its pid. Returns the twin's pid in this zygote, None in the twin (or without ``--twin``)."""
    if argv[1:2] != ["--twin"]:
        return None
    read, write = int(argv[2]), int(argv[3])
    pid = os.fork()
    if pid == 0:  # the twin: its own standard streams, nothing read from this zygote's yet
        os.dup2(read, 0)
        os.dup2(write, 1)
        os.close(read)
        os.close(write)
        sys.stdout.buffer.write(json.dumps({"twin": os.getpid()}).encode() + b"\n")
        sys.stdout.buffer.flush()
        return None
    os.close(read)
    os.close(write)
    return pid


def main() -> None:
    twin = _start_twin(sys.argv)
    _become_subreaper()
    for line in sys.stdin:
        request = json.loads(line)
        status_read, status_write = os.pipe()
        printed, outputs = os.memfd_create("printed"), os.memfd_create("outputs")
        pid = os.fork()
        if pid == 0:
            try:
                os.close(status_read)
                child.entry(request, status_write, printed, outputs)
            finally:
                os._exit(70)  # entry exits by itself; this only runs if it raised before it could
        os.close(status_write)
        code, ended = _wait(pid, request["timeout"], request["folder"], request["quota"])
        try:  # whatever the child started in its own group and left behind
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _reap_orphans(twin)  # and whatever escaped that group (setsid, double fork)
        setup = _read_all(status_read)  # every writer is gone now
        shown = _read_memfd(printed, request["printed_bytes"], last=True).decode("utf-8", "replace")
        saved = _read_memfd(outputs, request["limits"]["RLIMIT_FSIZE"], last=False)
        reply = {"code": code, "ended": ended, "setup": setup, "printed": shown, "outputs_size": len(saved)}
        sys.stdout.buffer.write(json.dumps(reply).encode() + b"\n" + saved)
        sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
