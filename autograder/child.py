"""The child process: import a submission's code and run one question's probes on it.

``entry`` runs in a process forked from the zygote (zygote.py, started by sandbox.py). It writes its outputs
(``torch.save``: ``{probe name: {"ok": plain value} | {"error": message}}``) and everything it prints into two
anonymous in-memory files that the zygote created before the fork (``memfd_create``): no name in any folder, so
nothing the child does to its folder (a link to another file, a FIFO in the place of a file) can make the zygote or
the deciding process read something else or wait. The deciding process loads the outputs with
``torch.load(weights_only=True)``, which builds tensors and plain containers only, and checks every value itself;
this process is never trusted with a verdict.
"""
from __future__ import annotations

import io
import itertools
import os
import random
import resource
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import numpy as np
import torch

from autograder import isolation
from autograder.registry import PROBES, Submission

MAX_DEPTH = 8


def plain(value: Any, depth: int = 0) -> Any:
    """Convert a probe's result to data that ``torch.load(weights_only=True)`` accepts.

    Tensors become plain CPU tensors (subclasses are stripped); containers are rebuilt; objects of any other
    type become ``{"__type__": name, "__object__": n}`` so that a check can say what came back instead of
    crashing, and with a number of its own, so that no two of them are ever equal (an object "equal to
    everything" that a student returns twice must not pass a check that two results agree).
    """
    if depth > MAX_DEPTH:
        return {"__type__": "too deeply nested", "__object__": next(_OBJECTS)}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().as_subclass(torch.Tensor).to("cpu").clone()
    if isinstance(value, np.ndarray) and value.dtype != object:
        return torch.from_numpy(np.array(value))
    if isinstance(value, np.generic):
        return value.item()
    if type(value) in (list, tuple):
        return type(value)(plain(item, depth + 1) for item in value)
    if type(value) is dict:
        return {str(key): plain(item, depth + 1) for key, item in value.items()}
    return {"__type__": type(value).__name__, "__object__": next(_OBJECTS)}


_OBJECTS = itertools.count()


def describe_error(error: BaseException, submission: Path) -> str:
    """A student-facing account of an exception: its type and message, and only the frames of student files."""
    if isinstance(error, NotImplementedError):
        head = "not implemented yet: the stub still raises NotImplementedError"
    elif isinstance(error, SystemExit):
        head = f"your code called sys.exit({error.code!r}); a function must return, not end the program"
    else:
        head = f"{type(error).__name__}: {error}"
        head = head[:head.rfind("\n", 0, 500)] if len(head) > 500 and "\n" in head[:500] else head[:500]
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if Path(frame.filename).resolve().is_relative_to(submission)]
    lines = [head]
    for frame in frames[-3:]:
        where = Path(frame.filename).resolve().relative_to(submission)
        lines.append(f"  at {where}, line {frame.lineno}, in {frame.name}: {(frame.line or '').strip()}"[:300])
    return "\n".join(lines)


def run(submission: Path, qid: str) -> dict[str, dict[str, Any]]:
    """Run ``qid``'s probes (imported by the zygote, see preload.py) on ``submission``; never raises."""
    probes = PROBES.get(qid)
    if probes is None:
        raise SystemExit(f"unknown question {qid}")
    sys.path.insert(0, str(submission))  # after torch and the probes are imported: a student torch.py shadows nothing
    student = Submission()
    results: dict[str, dict[str, Any]] = {}
    for name, fn in probes.items():
        random.seed(0)
        np.random.seed(0)
        torch.manual_seed(0)
        try:
            results[name] = {"ok": plain(fn(student))}
        except BaseException as error:  # noqa: BLE001 - SystemExit and KeyboardInterrupt from student code included
            results[name] = {"error": describe_error(error, submission)}
    return results


def _address_space() -> int:
    """Bytes of address space this process maps now (Linux; 0 where /proc is absent)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def entry(request: dict[str, Any], status_fd: int, printed_fd: int, outputs_fd: int) -> None:
    """The child's whole life, forked from the zygote: isolate, report on ``status_fd`` whether every defence is
    in place ("ok", or why not: then no student code runs), run the probes, save the outputs into ``outputs_fd``,
    and exit at once. Everything it prints goes to ``printed_fd``."""
    folder = request["folder"]
    os.setsid()  # its own process group: the parent kills the group, whatever the student code started
    os.dup2(printed_fd, 1)
    os.dup2(printed_fd, 2)
    os.close(printed_fd)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.chdir(folder)
    os.umask(0o077)
    os.environ.clear()
    os.environ.update(request["env"])
    tempfile.tempdir = None  # the zygote cached its own temporary folder: use TMPDIR (this child's folder) instead
    try:
        for name, value in request["limits"].items():
            if name == "RLIMIT_AS":  # on top of what the preloaded libraries already map
                value += _address_space()
            resource.setrlimit(getattr(resource, name), (value, value))
        torch.set_num_threads(1)  # the same arithmetic in every child, whatever the machine: results compare exactly
        # From here on: its own uid, no network, and (Landlock) only the submission, the probes, Python and the
        # system readable, only this child's folder writable; see isolation.py.
        isolation.apply(request["defences"], request["uid"], request["submission"], folder, request["readable"])
    except BaseException as error:  # noqa: BLE001 - any failure to isolate: report it, run nothing
        os.write(status_fd, f"{type(error).__name__}: {error}".encode()[:1000])
        os._exit(71)
    os.write(status_fd, b"ok")
    os.close(status_fd)
    results = run(Path(request["submission"]), request["qid"])
    saved = io.BytesIO()
    torch.save(results, saved)
    os.ftruncate(outputs_fd, 0)  # whatever student code wrote there before is gone
    os.pwrite(outputs_fd, saved.getbuffer(), 0)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter shutdown: student atexit hooks and finalisers cannot change what was written
