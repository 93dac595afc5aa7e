"""Run one question's probes on a submission in a child process, with limits, and read back what it returned.

Children are forked from a *zygote* (zygote.py): a process that imported torch, spaCy, matplotlib and the
probes once (preload.py; never the checks) and never runs student code. A child starts in milliseconds instead of
the seconds those imports take, and still shares nothing with the deciding process or with other children. There
is one zygote per worker thread, kept for the life of the grading process; they come in pairs (the second forked
by the first once it has imported everything, so the imports are paid once), started as early as possible
(:func:`prestart`, before the grading process imports torch itself).

Limits: wall time (the question's timeout, enforced by the zygote, which kills the child's whole process
group), address space (``MEMORY_LIMIT`` on top of what the preloaded libraries map), size of any file written
(``FILE_LIMIT``, which also caps an output flood), what its folder may hold (``DISK_QUOTA``), one thread, no GPU,
and an environment of its own: a fresh folder as working directory and home, nothing inherited but ``PATH``.
The defences of ``isolation.py`` (own uid, no network, Landlock) come on top.

A child that could not be isolated, or a zygote that died, is the grader's failure, never the student's: the
question is tried once more on a fresh zygote, then :class:`InfrastructureError` stops the grading of that
submission (``results.py``: "not graded").
"""
from __future__ import annotations

import atexit
import io
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import isolation
from autograder.results import InfrastructureError

AUTOGRADER_ROOT = Path(__file__).resolve().parent.parent  # the folder that holds the autograder package
MEMORY_LIMIT = 4 << 30
FILE_LIMIT = 64 << 20
DISK_QUOTA = {"bytes": 256 << 20, "files": 10_000}
PROBES_DIR = Path(__file__).resolve().parent / "probes"  # the only part of the autograder a child may read
OUTPUT_SHOWN = 2000  # characters of the child's own printing kept for feedback
REPLY_GRACE = 60.0  # seconds a zygote may take beyond a question's time limit to answer, before it counts as hung
# Read once, when torch is imported or a process starts: so they are fixed in the zygote's own environment.
ZYGOTE_ENV = {"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
              "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(AUTOGRADER_ROOT)}


@dataclass
class ChildResult:
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # probe name -> {"ok": ...} | {"error": ...}
    failure: str | None = None   # why no outputs came back at all (timeout, crash), in student terms
    printed: str = ""            # the tail of what the child printed
    seconds: float = 0.0


class _Zygote:
    """One zygote: requests written to ``send``, replies read from ``receive``. ``process``: the zygote this process
    started (None for its twin, whose pid comes as the first line it writes)."""

    def __init__(self, send: int, receive: int, process: subprocess.Popen | None) -> None:
        self.send, self.receive, self.process = send, receive, process
        self.pid = process.pid if process is not None else None

    @classmethod
    def start_pair(cls) -> tuple[_Zygote, _Zygote]:
        """A zygote and its twin, forked by it after its imports (zygote.py)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **ZYGOTE_ENV}
        twin_in, to_twin = os.pipe()
        from_twin, twin_out = os.pipe()
        process = subprocess.Popen([sys.executable, "-m", "autograder.zygote", "--twin", str(twin_in), str(twin_out)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, bufsize=0,
                                   cwd=tempfile.gettempdir(), pass_fds=(twin_in, twin_out))
        os.close(twin_in)
        os.close(twin_out)
        return cls(process.stdin.fileno(), process.stdout.fileno(), process), cls(to_twin, from_twin, None)

    def run(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """Send ``request``; the zygote's reply and the child's saved outputs, within the request's timeout plus
        ``REPLY_GRACE`` seconds (the zygote enforces the timeout; the grace covers cleaning up after the child)."""
        deadline = time.monotonic() + request["timeout"] + REPLY_GRACE
        try:
            self.identify(deadline)
            message = memoryview(json.dumps(request).encode() + b"\n")
            while message:
                message = message[os.write(self.send, message):]
            line, data = self._receive(deadline, lambda got: b"\n" in got).split(b"\n", 1)
            reply = json.loads(line)
            size = reply.pop("outputs_size")
            need = size - len(data)
            if need > 0:
                data += self._receive(deadline, lambda got: len(got) >= need)
        except OSError:
            code = self.process.wait() if self.process is not None else "unknown"
            raise InfrastructureError(f"the grading zygote died (exit {code})") from None
        return reply, data[:size]

    def identify(self, deadline: float) -> int:
        """The zygote's pid (a twin says it first, once its zygote has forked it)."""
        if self.pid is None:
            self.pid = json.loads(self._receive(deadline, lambda got: b"\n" in got))["twin"]
        return self.pid

    def _receive(self, deadline: float, enough: Callable[[bytes], bool]) -> bytes:
        got = bytearray()
        fd = self.receive
        while not enough(got):
            if not select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                raise InfrastructureError(f"the grading zygote did not answer within the question's time limit "
                                          f"plus {REPLY_GRACE:.0f} s")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise OSError("the zygote closed its output")
            got += chunk
        return bytes(got)

    def close(self) -> None:
        """Kill the zygote (and whatever it runs: its children die with their group, see zygote.py)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            for stream in (self.process.stdin, self.process.stdout):
                try:
                    stream.close()
                except OSError:  # a request still buffered for a zygote that died
                    pass
            return
        for fd in (self.send, self.receive):  # an idle twin ends at the end of its input
            try:
                os.close(fd)
            except OSError:
                pass
        try:  # a busy one is killed, if it is still the twin (its zygote, not this process, reaps it)
            if self.pid is not None and b"autograder.zygote" in Path(f"/proc/{self.pid}/cmdline").read_bytes():
                os.kill(self.pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


_IDLE: queue.SimpleQueue[_Zygote] = queue.SimpleQueue()


@atexit.register
def close_zygotes() -> None:
    """Stop the idle zygotes (the next question starts fresh ones)."""
    while not _IDLE.empty():
        _IDLE.get_nowait().close()


def prestart() -> None:
    """Start a zygote pair now, when none is idle: their imports take seconds, which the grading process can spend
    on its own start (importing torch, collecting the checks) instead of waiting for them later."""
    if _IDLE.empty():
        for zygote in _Zygote.start_pair():
            _IDLE.put(zygote)


def _run_in_zygote(request: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """Run ``request`` in an idle zygote (or a new one); a zygote that fails is closed, never reused."""
    try:
        zygote = _IDLE.get_nowait()
    except queue.Empty:
        zygote, twin = _Zygote.start_pair()
        _IDLE.put(twin)  # for the next worker that needs one
    try:
        reply = zygote.run(request)
    except BaseException:
        zygote.close()
        raise
    _IDLE.put(zygote)
    return reply


def child_env(home: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home, **ZYGOTE_ENV,
            "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}


def child_readable() -> list[str]:
    """What of the autograder a child may read (besides its submission, Python and the system): the probes."""
    return [str(PROBES_DIR)]


_WORKSPACE: list[Path] = []


def workspace() -> Path:
    """This grading process's private folder for children's folders (made once, removed at exit)."""
    if not _WORKSPACE:
        _WORKSPACE.append(isolation.private_folder("autograder-"))
        atexit.register(shutil.rmtree, _WORKSPACE[0], True)
    return _WORKSPACE[0]


def remove(folder: str | Path) -> None:
    """Remove ``folder`` and everything in it, links unfollowed, however deeply a child nested its folders."""
    try:
        shutil.rmtree(folder, ignore_errors=True)
    except RecursionError:  # shutil recurses once per level: rm does not
        subprocess.run(["rm", "-rf", "--one-file-system", "--", str(folder)], check=False)


def run_question(submission: Path, qid: str, timeout: float, uid: int | None = None) -> ChildResult:
    """Run question ``qid``'s probes on ``submission`` in a fresh child process running as ``uid``."""
    for try_number in (1, 2):
        try:
            return _run_once(submission, qid, timeout, uid)
        except InfrastructureError:
            if try_number == 2:
                raise
    raise AssertionError("unreachable")


def _run_once(submission: Path, qid: str, timeout: float, uid: int | None) -> ChildResult:
    tmp = tempfile.mkdtemp(prefix=f"{qid}-", dir=workspace())
    try:
        if uid is not None:
            os.chown(tmp, uid, uid)
        request = {"submission": str(submission), "qid": qid, "folder": tmp, "env": child_env(tmp),
                   "limits": {"RLIMIT_AS": MEMORY_LIMIT, "RLIMIT_FSIZE": FILE_LIMIT, "RLIMIT_CORE": 0},
                   "timeout": timeout, "quota": DISK_QUOTA, "uid": uid, "defences": isolation.plan().record(),
                   "readable": child_readable(), "printed_bytes": 4 * OUTPUT_SHOWN}
        start = time.monotonic()
        reply, saved = _run_in_zygote(request)
        if reply["setup"] != "ok":
            why = reply["setup"] or f"the child ended before it was isolated (exit {reply['code']})"
            raise InfrastructureError(f"the sandbox for {qid} could not be set up: {why}")
        return _collect(reply, saved, timeout, time.monotonic() - start)
    finally:
        remove(tmp)


def _collect(reply: dict[str, Any], saved: bytes, timeout: float, seconds: float) -> ChildResult:
    """The child's outputs (``saved``) when it ended well, else why it did not, in student terms."""
    code = reply["code"]
    result = ChildResult(seconds=seconds)
    if reply["ended"] == "timeout":
        result.failure = (f"stopped after {timeout:.0f} s: the code ran too long "
                          "(an endless loop, or far too much work for a small input?)")
    elif reply["ended"] == "disk":
        result.failure = (f"stopped: your code wrote more than {DISK_QUOTA['bytes'] >> 20} MiB or "
                          f"{DISK_QUOTA['files']} files")
    printed = reply["printed"]
    result.printed = printed[-OUTPUT_SHOWN:]
    if result.failure is None:
        try:
            import torch  # here, so that importing this module (to start zygotes early) does not import torch

            loaded = torch.load(io.BytesIO(saved), weights_only=True) if code == 0 and saved else None
        except Exception:  # noqa: BLE001 - missing or forged outputs are a failure, whatever their kind
            loaded = None
        if _well_formed(loaded):
            result.outputs = loaded
        else:
            result.failure = _crash_message(code, printed)
    return result


def _well_formed(loaded: Any) -> bool:
    return isinstance(loaded, dict) and all(
        isinstance(k, str) and isinstance(v, dict) and len(v) == 1 and set(v) <= {"ok", "error"}
        for k, v in loaded.items())


def _crash_message(code: int | None, printed: str) -> str:
    if code is not None and code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        why = {"SIGSEGV": "a segmentation fault", "SIGKILL": "killed (out of memory?)",
               "SIGXFSZ": "it wrote more output than allowed"}.get(name, name)
        return f"the process running your code died: {why}"
    if "MemoryError" in printed or "DefaultCPUAllocator: can't allocate memory" in printed:
        return "the process running your code ran out of memory (limit 4 GiB)"
    if code == 0:
        return ("the process running your code ended before it returned any results: "
                "does your code call os._exit or end the program?")
    return f"the process running your code exited early (exit status {code}): did it call os._exit or crash?"
