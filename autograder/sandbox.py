"""Start a child process for one question with limits, and read back what it returned.

Limits: wall time (the question's timeout), address space (``MEMORY_LIMIT``), size of any file written
(``FILE_LIMIT``, which also caps an output flood), one thread, no GPU, and an environment of its own: a fresh
temporary folder as working directory and home, nothing inherited but ``PATH``.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

AUTOGRADER_ROOT = Path(__file__).resolve().parent.parent  # the folder that holds the autograder package
MEMORY_LIMIT = 4 << 30
FILE_LIMIT = 64 << 20
OUTPUT_SHOWN = 2000  # characters of the child's own printing kept for feedback


@dataclass
class ChildResult:
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)  # probe name -> {"ok": ...} | {"error": ...}
    failure: str | None = None   # why no outputs came back at all (timeout, crash), in student terms
    printed: str = ""            # the tail of what the child printed
    seconds: float = 0.0


def _limits() -> None:  # runs in the child between fork and exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def child_env(home: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home,
            "PYTHONPATH": str(AUTOGRADER_ROOT), "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "", "MPLBACKEND": "Agg",
            "LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}


def run_question(submission: Path, qid: str, timeout: float) -> ChildResult:
    """Run question ``qid``'s probes on ``submission`` in a fresh child process."""
    with tempfile.TemporaryDirectory(prefix=f"grade-{qid}-") as tmp:
        out, log = Path(tmp) / "outputs.pt", Path(tmp) / "printed.txt"
        start = time.monotonic()
        with open(log, "wb") as sink:
            child = subprocess.Popen(
                [sys.executable, "-m", "autograder.child", str(submission), qid, str(out)],
                cwd=tmp, env=child_env(tmp), stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                preexec_fn=_limits, start_new_session=True, close_fds=True)
            try:
                code = child.wait(timeout=timeout)
                failure = None
            except subprocess.TimeoutExpired:
                code, failure = None, (f"stopped after {timeout:.0f} s: the code ran too long "
                                       "(an endless loop, or far too much work for a small input?)")
            finally:
                try:
                    os.killpg(child.pid, signal.SIGKILL)  # the child and anything it started
                except ProcessLookupError:
                    pass
                child.wait()
        result = ChildResult(seconds=time.monotonic() - start, failure=failure)
        printed = log.read_bytes()[-4 * OUTPUT_SHOWN:].decode("utf-8", "replace")
        result.printed = printed[-OUTPUT_SHOWN:]
        if failure is None:
            try:
                loaded = torch.load(out, weights_only=True) if code == 0 else None
            except Exception:  # noqa: BLE001 - a missing or forged file is a failure, whatever its kind
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
