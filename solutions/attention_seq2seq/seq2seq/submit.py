"""``python -m seq2seq submit [--out PATH]``: check the package, then write the zip to hand in.

Modelled on otter-grader's ``export``: before a student uploads, it says what the grader will find.

1. every module of ``seq2seq/`` imports (otherwise: an error naming the module and the exception, exit 2);
2. the package holds only what the grader reads: folders and regular files within the grader's limits (a symbolic
   link, a FIFO, a socket, a device, a hard link to a file outside the package or a name that is not UTF-8 would
   be left out of grading, so it is refused here, by name; ``__pycache__`` and ``*.pyc`` are skipped);
3. the visible checks of every question run (quietly: passed and failed counts, the failing questions);
4. the questions whose functions still hold the stub are listed;
5. the zip is written: ``seq2seq/`` and nothing else (the grader reads nothing beside it; the notebook's outputs
   are not graded).

Failing checks and unanswered questions are warnings: the zip is written all the same and the command exits 0,
since a partial submission earns the points of what works.
"""
from __future__ import annotations

import importlib
import os
import stat
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

from seq2seq import PACKAGE_DIR
from seq2seq.check import run_checks, spans, unanswered

DEFAULT_OUT = "attention_seq2seq_submission.zip"
# The grader's limits on a submission's seq2seq/ (the course's autograder refuses a package past them, whole):
# entries (files and folders), bytes of the files added up, folders below seq2seq/.
MAX_ENTRIES, MAX_BYTES, MAX_DEPTH = 1_000, 16 << 20, 16
_KINDS = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a device", stat.S_IFBLK: "a device"}


class SubmitError(ValueError):
    """The package cannot be submitted as it is; the message says why and what to do."""


def import_modules(package: Path = PACKAGE_DIR) -> int:
    """Import every module of the package, as the grader will; returns how many.

    Raises:
        SubmitError: a module fails to import (the message names it and the exception).
    """
    names = sorted(path.stem for path in package.glob("*.py") if path.stem not in ("__init__", "__main__"))
    for name in names:
        try:
            importlib.import_module(f"{package.name}.{name}")
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as error:  # noqa: B036 (a student's module may raise anything, SystemExit included)
            raise SubmitError(f"seq2seq does not import: seq2seq/{name}.py raises {type(error).__name__}: {error}. "
                              "The grader cannot run a package that does not import: fix it, then submit again "
                              f"(python -c \"import seq2seq.{name}\" shows the traceback)") from None
    return len(names) + 1


def _walk(folder: Path, shown: str, depth: int) -> Iterator[tuple[Path, str, os.stat_result, int]]:
    """``(path, shown path, lstat, depth)`` of everything below ``folder``, by name, no link followed; caches
    skipped, as the grader skips them."""
    for entry in sorted(os.scandir(folder), key=lambda entry: entry.name):
        if entry.name == "__pycache__" or entry.name.endswith(".pyc"):
            continue
        path, info = Path(entry.path), entry.stat(follow_symlinks=False)
        yield path, shown + entry.name, info, depth
        if stat.S_ISDIR(info.st_mode) and depth < MAX_DEPTH:
            yield from _walk(path, shown + entry.name + "/", depth + 1)


def package_files(package: Path = PACKAGE_DIR) -> dict[str, Path]:
    """``{path in the zip: file}`` for the package's regular files ("seq2seq/attention.py").

    Raises:
        SubmitError: the package holds something the grader would leave out (named), or is past its limits.
    """
    files, refused, entries, size = {}, [], 0, 0
    linked: dict[tuple[int, int], list[str]] = {}  # files with several names, by (device, inode)
    links: dict[tuple[int, int], int] = {}
    for path, shown, info, depth in _walk(package, f"{package.name}/", 0):
        entries += 1
        if entries > MAX_ENTRIES:
            raise SubmitError(f"seq2seq/ holds more than {MAX_ENTRIES:,} files and folders (at {shown}): the grader "
                              "refuses such a submission; remove what is not your code and submit again")
        try:
            shown.encode("utf-8")
        except UnicodeEncodeError:
            refused.append(f"{ascii(shown)[1:-1]} (a name that is not UTF-8)")
            continue
        kind = stat.S_IFMT(info.st_mode)
        if kind == stat.S_IFDIR and depth + 1 > MAX_DEPTH:
            raise SubmitError(f"{shown} is more than {MAX_DEPTH} folders deep: the grader refuses such a "
                              "submission; submit a flatter package")
        if kind == stat.S_IFREG:
            size += info.st_size
            if size > MAX_BYTES:
                raise SubmitError(f"seq2seq/ holds more than {MAX_BYTES >> 20} MiB ({shown} is {info.st_size:,} "
                                  "bytes): the grader refuses such a submission; remove what is not your code")
            files[shown] = path
            if info.st_nlink > 1:
                linked.setdefault((info.st_dev, info.st_ino), []).append(shown)
                links[info.st_dev, info.st_ino] = info.st_nlink
        elif kind != stat.S_IFDIR:
            refused.append(f"{shown} ({_KINDS.get(kind, 'not a regular file')})")
    # A file with more names than the package holds is a hard link to a file outside: the grader leaves it out.
    refused += [f"{name} (a hard link to a file outside seq2seq/)" for key, names in linked.items()
                if len(names) < links[key] for name in names]
    if refused:
        raise SubmitError("seq2seq/ holds what the grader leaves out (a submission holds folders and regular files "
                          f"only): {', '.join(refused)}. Replace a link by a copy of its file, remove "
                          "the rest, and submit again")
    return files


def write_zip(files: dict[str, Path], out: Path, package: Path = PACKAGE_DIR) -> Path:
    """Write ``files`` into the zip ``out`` (a folder: the default name in it); returns the zip's full path.

    Raises:
        SubmitError: ``out`` is inside the package (the zip would submit itself next time), or cannot be
            written.
    """
    out = Path(out)
    if out.is_dir():
        out = out / DEFAULT_OUT
    out = out.resolve()
    if package.resolve() in out.parents:
        raise SubmitError(f"{out} is inside seq2seq/: write the zip beside the package (run the command from the "
                          "folder that holds seq2seq/, or give --out)")
    partial = out.with_name(out.name + ".part")
    try:
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, strict_timestamps=False) as archive:
            for name, path in files.items():
                archive.write(path, name)
        os.replace(partial, out)
    except OSError as error:
        raise SubmitError(f"cannot write {out}: {error}") from None
    finally:
        partial.unlink(missing_ok=True)
    return out


def _report_checks() -> None:
    """Run every visible check quietly and print the counts (and the failing questions)."""
    try:
        run = run_checks("ALL")
    except FileNotFoundError as error:
        print(f"visible checks: not run ({error})")
        return
    if run is not None and not run.outcomes and run.returncode != 0:
        print(f"visible checks: could not run them (pytest: {run.summary}); python -m seq2seq check all shows why")
        return
    outcomes = run.outcomes if run else []
    failed = [o for o in outcomes if not o.passed]
    print(f"visible checks: {len(outcomes) - len(failed)} passed, {len(failed)} failed")
    if failed:
        questions = [o.question for o in failed if o.question]
        where = spans(questions) if questions else ", ".join(o.test for o in failed)
        print(f"  warning: failing: {where} (python -m seq2seq check Qn shows why)")


def _report_unanswered(package: Path) -> None:
    """Print the questions whose functions still hold the stub, with those functions."""
    left = unanswered(package)
    print(f"unanswered questions: {sum(q != 'other' for q in left)}"
          + (" (these functions still hold the stub, raise NotImplementedError)" if left else ""))
    for question, stubs in left.items():
        modules = dict.fromkeys(d.module for d in stubs)
        where = "; ".join(f"seq2seq/{m}: " + ", ".join(d.name for d in stubs if d.module == m) for m in modules)
        print(f"  {question:<5} {where}")
    if left:
        print("  warning: a partial submission: it earns the points of what works; the zip is written all the same")


def submit(out: Path | str = DEFAULT_OUT, package: Path = PACKAGE_DIR) -> Path:
    """Check the package, write the zip to ``out`` and say what to do with it; returns the zip's path.

    Raises:
        SubmitError: the package does not import, holds what the grader leaves out, or is past its limits (no zip
            is written then).
    """
    count = import_modules(package)
    print(f"seq2seq imports: all {count} modules")
    files = package_files(package)
    print("running the visible checks of every question (a minute at most)...", flush=True)
    _report_checks()
    _report_unanswered(package)
    path = write_zip(files, Path(out), package)
    print(f"wrote {path}: seq2seq/ with {len(files)} files")
    print(f"next: upload {path.name} to Gradescope as it is (where your course collects the folder instead, with\n"
          "      nbgrader, hand in the folder that holds seq2seq/). Only seq2seq/ is graded, by hidden graders that\n"
          "      check much more than the visible checks; the notebook's outputs are not graded.")
    sys.stdout.flush()
    return path
