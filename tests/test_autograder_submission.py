"""The grader's edges (issue #26): what a submission may hold, and how the grader reads it with its own rights.

``autograder/submission.py`` is the one reader: nothing a student made is followed (links, hard links to files
outside), opened as anything but a regular file (FIFOs, sockets, devices), or read past the limits (a sparse
2 GB file, 100,000 empty files); a student's folder reached through a link is not theirs. Everything that reads a
submission goes through it: the staging of ``grade`` and ``grade-all``, ``gradescope-run``'s search for the
package, and the similarity report. The zygote's reply has a deadline. The class-level attacks (links in the
place of the files a child once returned, a FIFO there) are in tests/test_autograder_class_hostile.py.
"""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from autograder import gradescope, isolation, sandbox
from autograder.harness import grade
from autograder.results import FLAGGED, InfrastructureError, status
from autograder.similarity.extract import load_release, read_submission
from autograder.submission import LIMITS, Refused, find_package, read_package, read_zip
from tests.helpers import SOLUTION, bind_socket

QUESTIONS = ["Q1", "Q2", "Q3", "Q4"]


def _copy(tmp: Path, name: str = "sub") -> Path:
    target = tmp / name / "attention_seq2seq"
    shutil.copytree(SOLUTION, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _secret(tmp: Path) -> Path:
    secret = tmp / "secret.txt"
    secret.write_text("SECRET: the grader's own file\n")
    secret.chmod(0o600)
    return secret


def test_only_folders_and_regular_files_are_read(tmp_path):
    sub = _copy(tmp_path)
    package, secret = sub / "seq2seq", _secret(tmp_path)
    (package / "link.txt").symlink_to(secret)
    (package / "folder_link").symlink_to(tmp_path, target_is_directory=True)
    os.link(secret, package / "hard.txt")                # a second name of a file outside the submission
    (package / "inside.txt").write_text("mine")
    os.link(package / "inside.txt", package / "inside_again.txt")  # both names inside: kept
    os.mkfifo(package / "pipe.py")
    bind_socket(package / "sock")
    (package / os.fsdecode(b"bad-\xff.py")).write_text("x")
    (package / ("n" * 252 + ".py")).write_text("# a 255-byte name\n")
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.pyc").write_bytes(b"cache")
    started = time.monotonic()
    tree = read_package(sub)
    assert time.monotonic() - started < 10  # the FIFO was never opened (opening it would block)
    left = {entry.split(" (")[0]: entry.split(" (", 1)[1] for entry in tree.left_out}
    assert left == {"seq2seq/link.txt": "a symbolic link)", "seq2seq/folder_link": "a symbolic link)",
                    "seq2seq/hard.txt": "a hard link to a file outside the submission)",
                    "seq2seq/pipe.py": "a named pipe (FIFO))", "seq2seq/sock": "a socket)",
                    "seq2seq/bad-\\udcff.py": "a name that is not UTF-8)"}
    assert tree.files["seq2seq/inside.txt"] == tree.files["seq2seq/inside_again.txt"] == b"mine"
    assert f"seq2seq/{'n' * 252}.py" in tree.files
    assert not any("__pycache__" in name for name in [*tree.files, *tree.folders])
    assert tree.files["seq2seq/attention.py"] == (SOLUTION / "seq2seq" / "attention.py").read_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root makes device nodes")
def test_a_device_is_left_out(tmp_path):
    sub = _copy(tmp_path)
    os.mknod(sub / "seq2seq" / "zero", 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    assert read_package(sub).left_out == ["seq2seq/zero (a device)"]


def test_a_student_folder_reached_through_a_link_is_refused(tmp_path):
    klass = tmp_path / "class"
    bob = _copy(klass, "bob")
    (klass / "dave").symlink_to(klass / "bob", target_is_directory=True)   # dave's folder is bob's
    (klass / "erin").mkdir()
    (klass / "erin" / "attention_seq2seq").symlink_to(bob, target_is_directory=True)
    (klass / "fay").mkdir()
    (klass / "fay" / "seq2seq").symlink_to(bob / "seq2seq", target_is_directory=True)
    assert "seq2seq/attention.py" in read_package(bob, below=klass).files
    for folder, shown in ((klass / "dave" / "attention_seq2seq", "dave"),
                          (klass / "erin" / "attention_seq2seq", "erin/attention_seq2seq"),
                          (klass / "fay", "fay/seq2seq")):
        with pytest.raises(Refused, match=f"^{shown} is a symbolic link"):
            read_package(folder, below=klass)


def test_a_sparse_2gb_file_is_refused_at_a_glance(tmp_path):
    sub = _copy(tmp_path)
    with open(sub / "seq2seq" / "weights.bin", "wb") as handle:
        handle.truncate(2 << 30)  # 2 GB that take no disk
    started = time.monotonic()
    with pytest.raises(Refused, match=r"more than 16 MiB in seq2seq/ \(seq2seq/weights.bin is 2,147,483,648 bytes"):
        read_package(sub)
    got = grade(sub, questions=QUESTIONS)
    seconds = time.monotonic() - started
    assert seconds < 10, seconds
    assert status(got) == FLAGGED and got["score"] == 0 and "weights.bin" in got["extra_data"]["reason"]
    assert len(got["tests"]) == len(QUESTIONS)


@pytest.mark.slow
def test_100000_empty_files_are_refused_at_a_glance(tmp_path):
    sub = _copy(tmp_path)
    many = sub / "seq2seq" / "many"
    many.mkdir()
    for i in range(100_000):
        os.close(os.open(many / str(i), os.O_CREAT | os.O_WRONLY, 0o644))
    started = time.monotonic()
    got = grade(sub, questions=QUESTIONS)
    assert time.monotonic() - started < 10
    assert status(got) == FLAGGED and got["score"] == 0
    assert f"more than {LIMITS.files:,} files and folders" in got["extra_data"]["reason"]


def test_links_are_left_out_and_named_and_the_rest_is_graded(tmp_path):
    """A submission that carries a link to a file the grader may read (its own secret) and code that prints the
    linked copy: the copy is not there, the result says what was left out, the answers keep their points."""
    sub = _copy(tmp_path)
    secret = _secret(tmp_path)
    (sub / "seq2seq" / "shadow_copy.txt").symlink_to(secret)
    env = sub / "seq2seq" / "environment.py"
    env.write_text(env.read_text().replace(
        "def get_device(", "print(open(__file__.replace('environment.py', 'shadow_copy.txt')).read())\n\n\n"
        "def get_device(", 1))
    got = grade(sub, questions=QUESTIONS)
    text = json.dumps(got)
    assert "SECRET" not in text and status(got) == FLAGGED, text[:2000]
    assert "seq2seq/shadow_copy.txt (a symbolic link)" in got["extra_data"]["reason"]
    assert "shadow_copy.txt (a symbolic link)" in got["output"]
    assert got["score"] == 0  # the module fails to import: FileNotFoundError, not the secret


def test_gradescope_finds_the_package_without_following_links(tmp_path):
    upload = tmp_path / "submission"
    upload.mkdir()
    os.mkfifo(upload / "notes.txt")
    (upload / "elsewhere").symlink_to(SOLUTION, target_is_directory=True)  # a link is no way in
    assert find_package(upload) is None
    _copy(upload, "deep")
    assert find_package(upload) == upload / "deep" / "attention_seq2seq"
    (upload / "seq2seq").symlink_to(SOLUTION / "seq2seq", target_is_directory=True)
    assert find_package(upload) == upload  # the shallowest, and refused when read:
    root = tmp_path / "autograder"
    root.mkdir()
    upload.rename(root / "submission")
    gradescope.run(root)
    got = json.loads((root / "results" / "results.json").read_text())
    assert status(got) == FLAGGED and got["score"] == 0 and "seq2seq is a symbolic link" in got["output"]


def test_similarity_reads_no_link_and_opens_no_fifo(tmp_path):
    sub = _copy(tmp_path)
    package = sub / "seq2seq"
    (package / "attention.py").unlink()
    os.mkfifo(package / "attention.py")
    (package / "model.py").unlink()
    (package / "model.py").symlink_to(SOLUTION / "seq2seq" / "model.py")
    started = time.monotonic()
    found = read_submission("s", package, load_release())
    assert time.monotonic() - started < 30
    assert "seq2seq/attention.py" not in found.problems
    assert {"attention.py (a named pipe (FIFO)): not compared", "model.py (a symbolic link): not compared",
            "attention.py: missing", "model.py: missing"} <= set(found.problems), found.problems


def test_a_zygote_that_never_answers_is_the_graders_failure(monkeypatch):
    monkeypatch.setattr(sandbox, "REPLY_GRACE", 0.5)
    process = subprocess.Popen(["sleep", "60"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    hung = sandbox._Zygote(process.stdin.fileno(), process.stdout.fileno(), process)
    started = time.monotonic()
    try:
        with pytest.raises(InfrastructureError, match="did not answer within"):
            hung.run({"timeout": 0.5})
    finally:
        hung.close()
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_a_child_folder_nested_thousands_deep_is_removed(tmp_path):
    folder = tmp_path / "child"
    os.makedirs(folder)
    fd = os.open(folder, os.O_RDONLY)
    for _ in range(3000):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    sandbox.remove(folder)
    assert not folder.exists()


def _zip(path: Path, members: dict[str, bytes | None], links: dict[str, str] | None = None) -> Path:
    """A zip archive with ``members`` (None: a folder entry) and symbolic-link members ``links``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            if data is None:
                archive.writestr(zipfile.ZipInfo(name + "/"), b"")
            else:
                archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def test_an_uploaded_zip_is_read_without_extracting_it(tmp_path):
    modules = {f"attention_seq2seq/seq2seq/{p.name}": p.read_bytes() for p in (SOLUTION / "seq2seq").glob("*.py")}
    archive = _zip(tmp_path / "upload.zip", {"attention_seq2seq/notes.txt": b"beside", **modules,
                                             "attention_seq2seq/seq2seq/../../evil.py": b"x",
                                             "attention_seq2seq/seq2seq/sub": None},
                   links={"attention_seq2seq/seq2seq/shadow.txt": "/etc/shadow"})
    tree = read_zip(archive)
    assert set(tree.files) == {f"seq2seq/{p.name}" for p in (SOLUTION / "seq2seq").glob("*.py")}
    assert tree.folders == ["seq2seq", "seq2seq/sub"]
    assert sorted(tree.left_out) == ["seq2seq/../../evil.py (a name that leaves the archive's folder)",
                                     "seq2seq/shadow.txt (a symbolic link)"]
    written = tree.write(tmp_path / "written")
    assert (written / "seq2seq" / "model.py").read_bytes() == (SOLUTION / "seq2seq" / "model.py").read_bytes()
    assert not (tmp_path / "evil.py").exists()


def test_a_zip_bomb_or_an_empty_zip_is_refused(tmp_path):
    bomb = _zip(tmp_path / "bomb.zip", {"seq2seq/__init__.py": b"", "seq2seq/zeros.bin": bytes(64 << 20)})
    assert bomb.stat().st_size < 1 << 20  # 64 MiB of zeros deflate to almost nothing
    started = time.monotonic()
    with pytest.raises(Refused, match="more than 16 MiB"):
        read_zip(bomb)
    assert time.monotonic() - started < 5
    with pytest.raises(Refused, match="no seq2seq/ folder"):
        read_zip(_zip(tmp_path / "empty.zip", {"notes.txt": b"x"}))
    (tmp_path / "not.zip").write_text("not an archive")
    with pytest.raises(Refused, match="not a zip archive"):
        read_zip(tmp_path / "not.zip")


def test_folders_of_killed_grading_processes_are_swept(tmp_path):
    """An interrupted run (killed before its exit handlers) leaves its private folder behind; the next grading
    process removes it, and never a live process's folder."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"autograder-{dead.pid}-abc"
    (stale / "deep" / "er").mkdir(parents=True)
    live = tmp_path / f"autograder-{os.getpid()}-xyz"
    live.mkdir()
    other = tmp_path / "autograder-notapid-x"
    other.mkdir()
    assert isolation.sweep_stale("autograder-", str(tmp_path)) == [stale]
    assert not stale.exists() and live.exists() and other.exists()
