"""What keeps a grading child from touching anything but its own answer: decided once per grading process,
applied in every child before student code is imported, and recorded in every results.json.

The defences, each used where this machine allows it (:func:`plan` finds out, :func:`apply` enforces):

* **Landlock** (``landlock.py``): files (read the submission, Python and the system; write only the child's own
  folder), TCP bind/connect (ABI 4+), signals and abstract unix sockets scoped to the child (ABI 6+).
* **Its own uid** (when grading as root): every child drops to an unprivileged uid and gid, no supplementary
  groups. The reference solution's children get one uid, each submission's children another, claimed while its
  grading runs so that no other grading process on the machine gives it to a student at the same time
  (``AUTOGRADER_UID_BASE``, default 64000: uids BASE .. BASE+999 must belong to nobody else). A child cannot
  signal, trace or write what belongs to root or to another uid, nor raise its resource limits. Where the Python
  installation is not readable by other users (under ``/root``, say) and Landlock confines reads, the child
  keeps CAP_DAC_READ_SEARCH (reading, never writing) so that Python can still import; Landlock decides what it
  reads.
* **No network**: a seccomp filter lets a child open unix sockets only (``socket()`` for any other family, and
  ``io_uring_setup``, fail with EACCES), so no TCP, UDP or raw socket exists to reach a listener on the machine;
  when grading as root, a network namespace of its own (no interface but a loopback that is down) on top, and
  Landlock's TCP rules (ABI 4+) as a third layer.

Submissions (and the reference) are staged into private copies readable only by the uid of their children
(:func:`stage`). ``AUTOGRADER_LANDLOCK=0`` and ``AUTOGRADER_DROP_PRIVILEGES=0`` turn defences off (for kernels
where they misbehave and for the tests of the fallbacks); the record then says they are off.
"""
from __future__ import annotations

import ctypes
import fcntl
import functools
import itertools
import os
import platform
import pwd
import stat
import subprocess
import sys
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder import landlock
from autograder.results import InfrastructureError
from autograder.submission import Tree

UID_BASE = int(os.environ.get("AUTOGRADER_UID_BASE", "64000"))
UID_COUNT = 1000
CLONE_NEWNET = 0x40000000
CAP_DAC_READ_SEARCH = 2
_PR_SET_KEEPCAPS = 8
_CAP_VERSION_3 = 0x20080522


@dataclass(frozen=True)
class Plan:
    """The defences every child of this grading process gets; ``missing`` says in words what is not enforced."""

    landlock_abi: int = 0
    landlock: dict[str, bool] = field(default_factory=lambda: landlock.features(0))
    drop_uid: bool = False
    keep_read_search: bool = False
    network_namespace: bool = False
    socket_filter: bool = False
    missing: tuple[str, ...] = ()

    def record(self) -> dict[str, Any]:
        """What results.json's ``extra_data["defences"]`` says."""
        return asdict(self) | {"missing": list(self.missing)}

    def summary(self) -> str:
        """One line for the ``grade``/``grade-all`` output."""
        active = [f"Landlock ABI {self.landlock_abi} ({', '.join(k for k, on in self.landlock.items() if on)})"
                  if self.landlock_abi else "", "own uid per submission" if self.drop_uid else "",
                  "unix sockets only" if self.socket_filter else "",
                  "own network namespace" if self.network_namespace else ""]
        text = "isolation: " + (", ".join(a for a in active if a) or "none beyond separate processes")
        return text + "".join(f"\n  NOT ENFORCED: {m}" for m in self.missing)


def _readable_by_others(path: str) -> bool:
    """Whether a user that is neither the owner nor in the group can read ``path`` (every folder above it too)."""
    current = Path(path).resolve()
    for folder in [current, *current.parents]:
        try:
            mode = folder.stat().st_mode
        except OSError:
            return False
        if not mode & stat.S_IXOTH or (folder == current and not mode & stat.S_IROTH):
            return False
    return True


def _network_namespace_works() -> bool:
    code = f"import ctypes, sys; sys.exit(ctypes.CDLL(None, use_errno=True).unshare({CLONE_NEWNET:d}) != 0)"
    return subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


@functools.cache
def plan() -> Plan:
    """Find out once which defences this machine allows (and which the environment turned off)."""
    missing = []
    abi = landlock.abi_version() if os.environ.get("AUTOGRADER_LANDLOCK", "1") != "0" else 0
    features = landlock.features(abi)
    if not abi:
        missing.append("Landlock is unavailable or turned off: a child can read every file its uid can read "
                       "(and, grading as root without a uid drop, write them)")
    elif not features["signals"]:
        missing.append(f"Landlock ABI {abi} < 6: signals are not scoped (the uid drop still protects root's "
                       "processes)")
    root = os.geteuid() == 0
    drop = root and os.environ.get("AUTOGRADER_DROP_PRIVILEGES", "1") != "0"
    taken = [user.pw_name for user in pwd.getpwall() if UID_BASE <= user.pw_uid < UID_BASE + UID_COUNT]
    if drop and taken:
        drop = False
        missing.append(f"no uid drop: uids {UID_BASE}-{UID_BASE + UID_COUNT - 1} are not free ({', '.join(taken[:3])}"
                       " has one): set AUTOGRADER_UID_BASE to a free range of 1000")
    keep = False
    if drop and not all(_readable_by_others(p) for p in landlock.python_roots()):
        if features["files"]:
            keep = True  # Landlock, not the file modes, decides what the child reads
        else:
            drop = False
            missing.append("no uid drop: the Python installation is not readable by other users and Landlock is "
                           "off (make it world-readable, e.g. chmod o+rX, to separate uids)")
    if not root:
        missing.append("not running as root: children keep the grader's uid (Landlock is what separates them)")
    elif not drop and os.environ.get("AUTOGRADER_DROP_PRIVILEGES", "1") == "0":
        missing.append("uid drop turned off (AUTOGRADER_DROP_PRIVILEGES=0): children run as root")
    netns = root and _network_namespace_works()
    sockets = _ARCH.get(platform.machine()) is not None
    if not sockets and not netns:
        missing.append("no socket filter (unknown architecture) and no network namespace (needs root): " + (
            "TCP is denied by Landlock, UDP is not" if features["tcp"] else "student code can use the network"))
    return Plan(abi, features, drop, keep, netns, sockets, tuple(missing))


# -- who a child runs as ----------------------------------------------------------------------------------------
_OWNERS: dict[str, int] = {}
_NEXT = itertools.count(1)
_OWNERS_LOCK = threading.Lock()
_CLAIMED: dict[int, int] = {}  # uid -> the descriptor of its claim file, held (flock) until release_uid
UID_CLAIMS = "autograder-uids"  # folder (in the temporary folder) of one claim file per uid, private to the grader


def _claim_folder() -> int:
    """A descriptor of the claim folder, made private (0700) by this user; refused when it is a link or another
    user's (someone else could then hold claims, or read them)."""
    path = os.path.join(tempfile.gettempdir(), UID_CLAIMS)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as error:  # a link or a file in its place
        raise InfrastructureError(f"{path} is not a folder of this user's: uids for students cannot be claimed "
                                  f"({error})") from None
    info = os.fstat(fd)
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        os.close(fd)
        raise InfrastructureError(f"{path} is not this user's private folder: uids for students cannot be claimed")
    return fd


def _claim(uid: int, folder: int) -> bool:
    """Claim ``uid`` for this process (True), unless another grading process on the machine holds it."""
    if uid in _CLAIMED:
        return True
    fd = os.open(str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    _CLAIMED[uid] = fd
    return True


def owner_uid(key: str, *, reference: bool = False) -> int | None:
    """The uid of ``key``'s children (a submission's staged path): the reference's own, else one per submission.

    A student's uid is claimed machine-wide (a lock on a file of its own, held until :func:`release_uid` or the end
    of this process), so that two grading processes at once (two ``grade-all`` of two sections, nbgrader beside
    ``grade``) never give two students the same uid; the reference's uid is shared, for the reference's code is the
    grader's own."""
    if not plan().drop_uid:
        return None
    if reference:
        return UID_BASE
    with _OWNERS_LOCK:
        if key not in _OWNERS:
            folder = _claim_folder()
            try:
                for _ in range(UID_COUNT - 1):
                    uid = UID_BASE + 1 + (next(_NEXT) - 1) % (UID_COUNT - 1)
                    if _claim(uid, folder):
                        break
                else:
                    raise InfrastructureError(f"all {UID_COUNT - 1} student uids from {UID_BASE + 1} are held by "
                                              "other grading processes on this machine")
            finally:
                os.close(folder)
            _OWNERS[key] = uid
        return _OWNERS[key]


def release_uid(key: str) -> None:
    """Give ``key``'s uid back once its grading is over and every child of it is gone (a class of a thousand
    students would otherwise hold a thousand claim files open)."""
    with _OWNERS_LOCK:
        uid = _OWNERS.pop(key, None)
        if uid is not None and uid not in _OWNERS.values() and uid in _CLAIMED:
            os.close(_CLAIMED.pop(uid))  # closing the descriptor ends its lock


def stage(tree: Tree, into: Path, uid: int | None) -> Path:
    """Write ``tree`` (``submission.read_package``) to ``into`` (a new folder), readable by ``uid``'s group only
    (owner root), or by this process's user alone when children keep its uid; return ``into``."""
    if uid is None:
        return tree.write(into)
    return tree.write(into, file_mode=0o640, folder_mode=0o750, group=uid)


def private_folder(prefix: str, mode: int = 0o711) -> Path:
    """A folder of the grading process's own, that children may pass through but not list. Its name carries this
    process's id, so that the folders of grading processes that were killed (an interrupted ``make test``, a
    ``kill -9``, whose exit handlers never ran) are removed by the next one (:func:`sweep_stale`)."""
    sweep_stale(prefix)
    folder = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    os.chmod(folder, mode)
    return folder


def sweep_stale(prefix: str, where: str | None = None) -> list[Path]:
    """Remove ``where``'s (the temporary folder's) folders named ``<prefix><pid>-...``, owned by this user, whose
    process is gone; return them. A live process's folder is never touched (a reused pid only delays removal)."""
    removed = []
    root = Path(where or tempfile.gettempdir())
    for entry in root.glob(f"{prefix}*-*"):
        pid = entry.name[len(prefix):].split("-", 1)[0]
        try:
            if not pid.isdigit() or entry.is_symlink() or entry.lstat().st_uid != os.geteuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            subprocess.run(["rm", "-rf", "--one-file-system", "--", str(entry)], check=False)
            removed.append(entry)
        except OSError:  # EPERM: the process lives (under another user); or the entry vanished meanwhile
            continue
    return removed


# -- in the child, before student code ----------------------------------------------------------------------------
class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_uid(uid: int, keep_read_search: bool) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if keep_read_search and libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_KEEPCAPS)")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if keep_read_search:  # permitted = effective = {CAP_DAC_READ_SEARCH}; everything else is gone
        data = (_CapData * 2)()
        data[0].effective = data[0].permitted = 1 << CAP_DAC_READ_SEARCH
        if libc.capset(ctypes.byref(_CapHeader(_CAP_VERSION_3, 0)), data):
            raise OSError(ctypes.get_errno(), "capset")
        libc.prctl(_PR_SET_KEEPCAPS, 0, 0, 0, 0)
    if os.getuid() != uid or os.geteuid() != uid or os.getgroups():
        raise OSError("the uid drop did not take")


# seccomp: (audit arch, socket, io_uring_setup) per machine; a classic BPF program over struct seccomp_data
_ARCH = {"x86_64": (0xC000003E, 41, 425), "aarch64": (0xC00000B7, 198, 425)}
_LD_W_ABS, _JEQ_K, _JGE_K, _RET_K = 0x20, 0x15, 0x35, 0x06
_X32_SYSCALL_BIT = 0x40000000
_SECCOMP_RET_ALLOW, _SECCOMP_RET_ERRNO, _SECCOMP_RET_KILL_PROCESS = 0x7FFF0000, 0x00050000, 0x80000000
_EACCES, _AF_UNIX = 13, 1
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _deny_sockets() -> None:
    """socket() succeeds for AF_UNIX only, io_uring_setup never: no way to the network from this process on."""
    arch, socket_nr, io_uring_nr = _ARCH[platform.machine()]
    deny = _SECCOMP_RET_ERRNO | _EACCES
    program = [
        (_LD_W_ABS, 0, 0, 4), (_JEQ_K, 1, 0, arch), (_RET_K, 0, 0, _SECCOMP_RET_KILL_PROCESS),  # foreign ABI: die
        (_LD_W_ABS, 0, 0, 0), (_JGE_K, 0, 1, _X32_SYSCALL_BIT), (_RET_K, 0, 0, deny),  # x32 numbers: denied
        (_JEQ_K, 0, 1, io_uring_nr), (_RET_K, 0, 0, deny),
        (_JEQ_K, 0, 3, socket_nr), (_LD_W_ABS, 0, 0, 16), (_JEQ_K, 1, 0, _AF_UNIX), (_RET_K, 0, 0, deny),
        (_RET_K, 0, 0, _SECCOMP_RET_ALLOW)]
    filters = (_SockFilter * len(program))(*[_SockFilter(*op) for op in program])
    libc = ctypes.CDLL(None, use_errno=True)
    prog = _SockFprog(len(program), filters)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) or libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER,
                                                                   ctypes.byref(prog), 0, 0):
        raise OSError(ctypes.get_errno(), "seccomp filter")


def apply(defences: dict[str, Any], uid: int | None, submission: str, folder: str, readable: list[str]) -> None:
    """Enforce ``defences`` (a :meth:`Plan.record`) on this child; raise if any of them cannot be enforced."""
    if defences["network_namespace"]:
        if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET):
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
    if uid is not None:
        _drop_uid(uid, defences["keep_read_search"])
    if defences["landlock_abi"]:
        got = landlock.confine(readable=[submission, *readable], writable=[folder])
        if got != defences["landlock"]:
            raise OSError(f"Landlock enforced {got}, not {defences['landlock']}")
    if defences["socket_filter"]:
        _deny_sockets()
