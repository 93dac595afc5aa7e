"""Filesystem confinement of a grading child with Linux Landlock (kernel 5.13+), before student code runs.

Without it, student code runs with the instructor's file permissions: it could read the reference solution
(and return its answers), other students' submissions, or the hidden graders. After :func:`confine` the child
may only

* read (and execute) the Python installation, the system libraries and ``/proc``, ``/sys``, ``/dev``;
* read its own submission and the ``autograder`` package (already imported, but Python may look again);
* read and write its own temporary folder (its working directory, home and TMPDIR);

everything else, the reference solution included, fails with ``PermissionError``. Landlock is unprivileged and
stacks: a child cannot undo it. Where the kernel lacks Landlock (older kernels, some containers) ``confine``
does nothing and returns False; the other defences (fingerprints of the grader and the reference, one
process per question, outputs checked in the parent) still apply.
"""
from __future__ import annotations

import ctypes
import os
import sys
import sysconfig
from pathlib import Path

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # syscall numbers, the same on every architecture
_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
READ = EXECUTE | READ_FILE | READ_DIR
# Every filesystem right each Landlock ABI version knows (v2 adds REFER, v3 TRUNCATE, v5 IOCTL_DEV).
_ALL_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/sys", "/opt")


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 when it has none."""
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION))
    return max(int(version), 0)


def python_roots() -> list[str]:
    """Folders holding the interpreter, the standard library and the installed packages."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *(sysconfig.get_paths().get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib"))}
    return sorted(p for p in paths if p)


def confine(readable: list[str | Path], writable: list[str | Path]) -> bool:
    """Allow this process (and what it starts) to read ``readable`` and the system, and to write
    ``writable`` only. Returns False, changing nothing, when Landlock is unavailable."""
    abi = abi_version()
    if abi <= 0:
        return False
    handled = _ALL_BY_ABI.get(abi, _ALL_BY_ABI[5])
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.c_uint64(handled)  # struct landlock_ruleset_attr, its first field only (accepted by every ABI)
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(8), ctypes.c_uint32(0))
    if ruleset < 0:
        return False
    try:
        rules = [(p, READ) for p in [*SYSTEM_READ, *python_roots(), *readable]]
        rules += [("/dev", READ | WRITE_FILE)] + [(p, handled) for p in writable]
        for path, access in rules:
            if not os.path.isdir(path):
                continue
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(access & handled, fd)
                if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)):
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) or libc.syscall(_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)):
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return True
