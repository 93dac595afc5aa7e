"""Confinement of a grading child with Linux Landlock (kernel 5.13+), before student code runs.

Without it, student code runs with the grader's own rights: it could read the reference solution (and return
its answers), other students' submissions or the hidden graders, connect to a server, or signal the processes
that grade. After :func:`confine` the child may only

* read (and execute) the Python installation, the system libraries and ``/proc``, ``/sys``, ``/dev``;
* read its own submission and the probes (``autograder/probes``, already imported, but Python may look again);
* read and write its own folder (its working directory, home and TMPDIR), and write ``/dev/null`` & co.;
  nothing else is writable, so shared places such as ``/tmp`` and ``/dev/shm`` are no channel between children;
* (ABI 4+) neither bind nor connect a TCP socket;
* (ABI 6+) signal only itself and the processes it started, and reach no abstract unix socket made outside.

Landlock is unprivileged and stacks: a child cannot undo it. Each feature is used where the kernel has it, and
:func:`confine` returns what was enforced, so that every grading can say which defences were active
(``isolation.py``). Where the kernel lacks Landlock altogether it enforces nothing and says so.
"""
from __future__ import annotations

import ctypes
import os
import sys
import sysconfig
from pathlib import Path

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # syscall numbers, the same on every architecture
_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS = 38

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
TRUNCATE = 1 << 14
READ = EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | (1 << 15)  # what a rule on a file (not a folder) may grant
# Every filesystem right each Landlock ABI version knows (v2 adds REFER, v3 TRUNCATE, v5 IOCTL_DEV).
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1                 # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1      # ABI 6
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/sys", "/opt", "/dev")
DEVICES_WRITABLE = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom", "/dev/random")


class _RulesetAttr(ctypes.Structure):  # struct landlock_ruleset_attr; older kernels take a prefix of it
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 when it has none."""
    libc = ctypes.CDLL(None, use_errno=True)
    version = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_VERSION))
    return max(int(version), 0)


def features(abi: int) -> dict[str, bool]:
    """What a child confined on a kernel of Landlock ABI ``abi`` is denied."""
    return {"files": abi >= 1, "tcp": abi >= 4, "signals": abi >= 6, "abstract_unix_sockets": abi >= 6}


def python_roots() -> list[str]:
    """Folders holding the interpreter, the standard library and the installed packages."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             *(sysconfig.get_paths().get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib"))}
    return sorted(p for p in paths if p)


def confine(readable: list[str | Path], writable: list[str | Path]) -> dict[str, bool]:
    """Allow this process (and what it starts) to read ``readable`` and the system and to write ``writable``
    only; deny TCP and outside signals where the kernel can. Returns :func:`features` of what is enforced
    (all False, changing nothing, when Landlock is unavailable)."""
    abi = abi_version()
    if abi <= 0:
        return features(0)
    handled = _FS_BY_ABI.get(abi, _FS_BY_ABI[5])
    attr = _RulesetAttr(handled, (NET_BIND_TCP | NET_CONNECT_TCP) if abi >= 4 else 0,
                        (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    libc = ctypes.CDLL(None, use_errno=True)
    ruleset = libc.syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset")
    try:
        # No network rule at all: with TCP handled, every bind and connect is denied.
        rules = [(p, READ) for p in [*SYSTEM_READ, *python_roots(), *readable]]
        rules += [(p, READ_FILE | WRITE_FILE | TRUNCATE) for p in DEVICES_WRITABLE] + [(p, handled) for p in writable]
        for path, access in rules:
            if not os.path.exists(path):
                continue
            access &= handled if os.path.isdir(path) else handled & FILE_RIGHTS
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = _PathBeneath(access, fd)
                if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)):
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule {path}")
            finally:
                os.close(fd)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) or libc.syscall(_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)):
            raise OSError(ctypes.get_errno(), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return features(abi)
