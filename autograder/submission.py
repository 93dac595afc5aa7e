"""What a submission may hold, and the one way the grader reads it: with the grader's rights (root, as a rule), so
nothing a student made is followed, waited on, or read past a limit.

A submission is the ``seq2seq/`` package of a folder: folders and regular files, at most ``LIMITS.files`` entries,
``LIMITS.bytes`` bytes and ``LIMITS.depth`` folders deep. Nothing beside the package (the notebook, data, a virtual
environment) is read. :func:`read_tree`, the only reader (staging a submission, the reference, a class, and the
similarity report all use it):

* opens every folder and file relative to its parent's descriptor with ``O_NOFOLLOW``, so that no symbolic link is
  followed anywhere below the folder the caller trusts (a student's folder that is itself a link included), and
  with ``O_NONBLOCK``, so that a FIFO or a device swapped in is never waited on; ``fstat`` then checks that what
  was opened is the regular file (or folder) that was listed;
* leaves out, and names in :attr:`Tree.left_out`, every symbolic link, FIFO, socket and device, a file hard-linked
  to a file outside the tree (its other names are not in it), and a name that is not UTF-8; ``__pycache__`` and
  ``*.pyc`` are skipped silently (compiled caches, never needed);
* refuses the whole submission (:class:`Refused`) past the limits, from the sizes and counts the folders report,
  before the first byte is read: a 2 GB sparse file or 100,000 empty files cost a directory listing.
"""
from __future__ import annotations

import errno
import os
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "seq2seq"


@dataclass(frozen=True)
class Limits:
    files: int = 1_000        # entries (files, folders, and whatever is left out)
    bytes: int = 16 << 20     # the regular files' sizes added up
    depth: int = 16           # folders below the package


LIMITS = Limits()
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_KINDS = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}


class Refused(ValueError):
    """The submission is not graded as it is (over a limit, a link where a folder should be); the message says why,
    in the student's terms."""


@dataclass
class Tree:
    """What was read: ``files`` ``{relative path: content}``, ``folders`` (relative paths, parents first) and
    ``left_out`` (``"seq2seq/notes.txt (a symbolic link)"``)."""

    files: dict[str, bytes] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)

    def write(self, into: Path, *, file_mode: int = 0o600, folder_mode: int = 0o700, group: int | None = None) -> Path:
        """Create ``into`` (a new folder) holding the tree; ``group``: the gid that owns every entry (owner root)."""
        into.mkdir(mode=folder_mode)
        for name in self.folders:
            (into / name).mkdir(mode=folder_mode)
        for name, data in self.files.items():
            fd = os.open(into / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, file_mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        for name in [".", *self.folders, *self.files]:  # modes explicitly: the umask must not widen or narrow them
            os.chmod(into / name, folder_mode if name == "." or name in self.folders else file_mode)
            if group is not None:
                os.chown(into / name, 0, group)
        return into


def find_package(upload: Path, *, depth: int = 4, limits: Limits = LIMITS) -> Path | None:
    """The shallowest folder within ``depth`` levels of ``upload`` that holds an entry named ``seq2seq`` (a
    Gradescope upload may hold the package at any depth), breadth first; no link is followed on the way, and at
    most ``limits.files`` entries are looked at. None when there is none."""
    level, seen = [upload], 0
    for _ in range(depth + 1):
        below = []
        for folder in level:
            try:
                listing = sorted(os.scandir(folder), key=lambda entry: entry.name)
            except OSError:
                continue
            seen += len(listing)
            if seen > limits.files:
                return None
            if any(entry.name == PACKAGE for entry in listing):
                return folder
            below += [Path(e.path) for e in listing if e.is_dir(follow_symlinks=False) and e.name != "__pycache__"]
        level = below
    return None


def read_zip(path: Path, *, limits: Limits = LIMITS) -> Tree:
    """The ``seq2seq/`` package inside zip archive ``path`` (an upload that is the archive ``python -m seq2seq
    submit`` writes, or a zip of the assignment folder), at its shallowest place in the archive, as
    :func:`read_package` gives a folder's: the same kinds left out (a member that is a link or special file, or
    whose name leaves the archive), the same limits, checked on the sizes the archive declares and again on the bytes
    it really inflates to, so that a zip bomb costs no more than the limit.

    Raises:
        Refused: not a regular file or not a zip archive, no package in it, or over the limits.
    """
    fd = os.open(path, _FILE)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise Refused(f"{path.name} is not a regular file")
    with os.fdopen(fd, "rb") as handle:
        try:
            archive = zipfile.ZipFile(handle)
        except zipfile.BadZipFile:
            raise Refused(f"{path.name} is not a zip archive") from None
        with archive:
            members = archive.infolist()
            if len(members) > 10 * limits.files:
                raise Refused(f"{path.name} holds {len(members):,} entries: zip the {PACKAGE}/ folder alone")
            return _zip_package(archive, members, limits)


def _zip_package(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], limits: Limits) -> Tree:
    places = {tuple(m.filename.split("/")[:m.filename.split("/").index(PACKAGE)]) for m in members
              if PACKAGE in m.filename.split("/")[:-1]}
    if not places:
        raise Refused(f"the archive holds no {PACKAGE}/ folder")
    prefix = "/".join([*min(places, key=len), PACKAGE]) + "/"
    walk, tree = _Walk(limits), Tree(folders=[PACKAGE])
    for member in members:
        if not member.filename.startswith(prefix) or member.filename == prefix:
            continue
        path = PACKAGE + "/" + member.filename[len(prefix):].rstrip("/")
        parts = path.split("/")
        if "__pycache__" in parts or path.endswith(".pyc"):
            continue
        kind = stat.S_IFMT(member.external_attr >> 16)
        walk._count(path, member.file_size)
        if ".." in parts or "" in parts or member.filename.startswith("/") or "\\" in path:
            tree.left_out.append(f"{ascii(path)[1:-1]} (a name that leaves the archive's folder)")
        elif len(parts) - 1 > limits.depth:
            raise Refused(f"{path} is more than {limits.depth} folders deep: submit a flatter package")
        elif member.is_dir():
            tree.folders.append(path)
        elif kind not in (0, stat.S_IFREG):
            tree.left_out.append(f"{path} ({_KINDS.get(kind, 'not a regular file')})")
        else:
            with archive.open(member) as source:
                data = source.read(limits.bytes + 1)
            walk._count(path, len(data) - member.file_size, extra=0)  # what it really inflated to
            tree.files[path] = data
    for name in list(tree.files):  # folders the archive does not list as members of their own
        parents = name.split("/")[1:-1]
        for depth in range(len(parents)):
            folder = "/".join([PACKAGE, *parents[:depth + 1]])
            if folder not in tree.folders:
                tree.folders.append(folder)
    tree.folders = sorted(dict.fromkeys(tree.folders), key=lambda name: name.count("/"))
    return tree


def read_package(folder: Path, *, below: Path | None = None, limits: Limits = LIMITS) -> Tree:
    """``folder``'s ``seq2seq/`` package, its paths relative to ``folder`` (``"seq2seq/attention.py"``)."""
    tree = read_tree(folder / PACKAGE, below=below or folder, limits=limits, prefix=f"{PACKAGE}/")
    tree.folders.insert(0, PACKAGE)
    return tree


def read_tree(folder: Path, *, below: Path | None = None, limits: Limits = LIMITS, prefix: str = "") -> Tree:
    """Everything below ``folder`` that a submission may hold (module docstring), paths relative to ``folder``
    (with ``prefix`` before them).

    ``below``: a folder the caller trusts (the class folder; default ``folder`` itself), opened as named; no part
    of the way from it down to ``folder`` may be a symbolic link.

    Raises:
        Refused: ``folder`` is missing, is no folder or is reached through a link, or holds more than the limits.
    """
    trusted = below if below is not None else folder
    steps = Path(os.path.relpath(os.path.abspath(folder), os.path.abspath(trusted))).parts if below is not None else ()
    if ".." in steps:
        raise ValueError(f"{folder} is not below {below}")
    fd = _descend(os.open(trusted, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), [s for s in steps if s != "."])
    walk = _Walk(limits)
    try:
        walk.folder(fd, prefix, 0)
        walk.hard_links(fd, prefix)
    finally:
        os.close(fd)
    return walk.tree


def _descend(fd: int, steps: list[str]) -> int:
    """The folder ``steps`` below folder ``fd`` (which is closed), no step followed if it is a link."""
    try:
        for depth, step in enumerate(steps):
            inner = _open_folder(fd, step, "/".join(steps[:depth + 1]))
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_folder(parent: int, name: str, shown: str) -> int:
    """Open folder ``name`` of ``parent`` without following a link."""
    try:
        return os.open(name, _DIRECTORY, dir_fd=parent)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Refused(f"{shown} is a symbolic link or not a folder: it is not graded as this student's "
                          "work (a submission holds folders and regular files only)") from None
        if error.errno == errno.ENOENT:
            raise Refused(f"{shown} is missing") from None
        raise


class _Walk:
    def __init__(self, limits: Limits) -> None:
        self.limits, self.tree = limits, Tree()
        self.entries = self.size = 0
        self.linked: dict[tuple[int, int], list[str]] = {}  # files with other names: read once all names are seen
        self.links: dict[tuple[int, int], int] = {}

    def _count(self, path: str, size: int = 0, *, extra: int = 1) -> None:
        self.entries += extra
        self.size += size
        if self.entries > self.limits.files:
            raise Refused(f"the submission holds more than {self.limits.files:,} files and folders in "
                          f"{PACKAGE}/ (at {path}): remove what is not your code and submit again")
        if self.size > self.limits.bytes:
            raise Refused(f"the submission holds more than {self.limits.bytes >> 20} MiB in {PACKAGE}/ "
                          f"({path} is {size:,} bytes): remove what is not your code and submit again")

    def folder(self, fd: int, prefix: str, depth: int) -> None:
        """Read folder ``fd`` (owned by the caller), its entries' paths starting with ``prefix``."""
        entries = []
        with os.scandir(fd) as listing:
            for entry in listing:  # counted while listed: a folder of 100,000 entries is refused at the limit
                entries.append(entry)
                if self.entries + len(entries) > self.limits.files:
                    self._count(prefix + entry.name, 0, extra=len(entries))
        for entry in sorted(entries, key=lambda entry: entry.name):
            name, path = entry.name, prefix + entry.name
            if name == "__pycache__" or name.endswith(".pyc"):
                continue
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                path = ascii(path)[1:-1]
                self._count(path)
                self.tree.left_out.append(f"{path} (a name that is not UTF-8)")
                continue
            info = entry.stat(follow_symlinks=False)
            kind = stat.S_IFMT(info.st_mode)
            self._count(path, info.st_size if kind == stat.S_IFREG else 0)
            if kind == stat.S_IFDIR:
                if depth + 1 > self.limits.depth:
                    raise Refused(f"{path} is more than {self.limits.depth} folders deep: submit a flatter package")
                self.tree.folders.append(path)
                inner = _open_folder(fd, name, path)
                try:
                    self.folder(inner, path + "/", depth + 1)
                finally:
                    os.close(inner)
            elif kind != stat.S_IFREG:
                self.tree.left_out.append(f"{path} ({_KINDS.get(kind, 'not a regular file')})")
            elif info.st_nlink > 1:
                key = (info.st_dev, info.st_ino)
                self.linked.setdefault(key, []).append(path)
                self.links[key] = info.st_nlink
            else:
                self.tree.files[path] = _read(fd, name, info)

    def hard_links(self, root: int, prefix: str) -> None:
        """Files with several names: kept when every name is in the tree, else left out unread."""
        for key, paths in self.linked.items():
            if len(paths) < self.links[key]:
                self.tree.left_out.extend(f"{p} (a hard link to a file outside the submission)" for p in paths)
                continue
            *parents, name = paths[0].removeprefix(prefix).split("/")
            fd = _descend(os.dup(root), parents)
            try:
                data = _read(fd, name, os.stat(name, dir_fd=fd, follow_symlinks=False))
            finally:
                os.close(fd)
            self.tree.files.update(dict.fromkeys(paths, data))


def _read(folder: int, name: str, listed: os.stat_result) -> bytes:
    """The content of regular file ``name`` in ``folder``, as listed (same file, at most the listed size)."""
    fd = os.open(name, _FILE, dir_fd=folder)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) != (listed.st_dev, listed.st_ino):
            raise Refused(f"{name} changed while it was read: submit again")
        chunks, left = [], listed.st_size
        while left > 0 and (chunk := os.read(fd, min(left, 1 << 20))):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def left_out_reason(left_out: list[str]) -> str:
    """What the student's result says of what was left out ("" when nothing was)."""
    if not left_out:
        return ""
    shown = ", ".join(left_out[:10]) + (f" and {len(left_out) - 10} more" if len(left_out) > 10 else "")
    return f"left out of grading (a submission holds folders and regular files only): {shown}"
