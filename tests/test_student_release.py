"""The student's front door (issue #27): the release's README, ``python -m seq2seq submit``, unknown question ids,
``check all`` in question order, and every file the release mentions being in it.

Commands a student types run as subprocesses (tests.helpers.run_seq2seq); the rest in this process, on the
solution package. ``submit`` on the solution runs every visible check (about 20 s here): once, in a fixture.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.registry import question_ids
from autograder.submission import LIMITS, Refused, read_package, read_zip
from tests.helpers import REPO, SOLUTION, STUB, run_seq2seq

sys.path.insert(0, str(SOLUTION))
from seq2seq import check as checks  # noqa: E402
from seq2seq import submit as submitting  # noqa: E402

QUESTIONS = question_ids()  # the course's questions, as declared; the package's docstrings must name the same
UNKNOWN = f"Q{len(QUESTIONS) + 1}"
NOTEBOOK = "attention_seq2seq.ipynb"
# Paths the README and the notebook mention that the student's own commands make: not shipped, rightly.
MADE_BY_THE_STUDENT = (".venv", "__pycache__", submitting.DEFAULT_OUT)


def _release_copy(tmp: Path, base: Path = STUB) -> Path:
    """A copy of a release folder (package, public tests, README...) to change or write into."""
    target = tmp / "attention_seq2seq"
    shutil.copytree(base, target, ignore=shutil.ignore_patterns("__pycache__", "*.zip", ".venv"))
    return target


def _package_py_files(release: Path) -> set[str]:
    package = release / "seq2seq"
    return {f"seq2seq/{p.relative_to(package).as_posix()}" for p in package.rglob("*.py")
            if "__pycache__" not in p.parts}


# ======================================================================================================= submit
@pytest.fixture(scope="module")
def solution_submit(tmp_path_factory):
    out = tmp_path_factory.mktemp("solution") / "handin.zip"
    return run_seq2seq(SOLUTION, "submit", "--out", str(out)), out


@pytest.fixture(scope="module")
def stub_submit(tmp_path_factory):
    """``python -m seq2seq submit`` as written in the README (no --out) in a copy of the student release."""
    release = _release_copy(tmp_path_factory.mktemp("stub"))
    return run_seq2seq(release, "submit"), release


@pytest.mark.slow
def test_submit_on_the_solution_zips_exactly_the_package(solution_submit):
    done, out = solution_submit
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == sorted(_package_py_files(SOLUTION))
        assert archive.read("seq2seq/attention.py") == (SOLUTION / "seq2seq" / "attention.py").read_bytes()
    graded = read_zip(out)  # what the grader reads of the upload: the folder's package, byte for byte
    assert graded.files == read_package(SOLUTION).files and not graded.left_out
    assert "unanswered questions: 0" in done.stdout
    assert re.search(r"^visible checks: [1-9]\d* passed, 0 failed$", done.stdout, re.M), done.stdout
    assert f"wrote {out}: seq2seq/ with {len(_package_py_files(SOLUTION))} files" in done.stdout
    assert "Gradescope" in done.stdout and "warning" not in done.stdout


@pytest.mark.slow
def test_submit_on_the_stub_lists_every_question_and_still_writes_the_zip(stub_submit):
    done, release = stub_submit
    assert done.returncode == 0, done.stdout + done.stderr
    listed = re.findall(r"^  (Q\d+) +seq2seq/", done.stdout, re.M)
    assert listed == QUESTIONS, done.stdout
    assert f"unanswered questions: {len(QUESTIONS)}" in done.stdout and "0 passed" in done.stdout and "warning" in done.stdout
    assert "seq2seq/environment.py: package_versions, check_requirements" in done.stdout
    with zipfile.ZipFile(release / submitting.DEFAULT_OUT) as archive:  # the default: the current folder
        assert sorted(archive.namelist()) == sorted(_package_py_files(release))


def test_a_symbolic_link_in_the_package_is_refused_by_name(tmp_path):
    release = _release_copy(tmp_path)
    (release / "seq2seq" / "notes.md").symlink_to("../README.md")
    done = run_seq2seq(release, "submit")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "seq2seq/notes.md (a symbolic link)" in done.stderr
    assert not (release / submitting.DEFAULT_OUT).exists()


def test_a_module_that_does_not_import_is_named_and_check_still_runs(tmp_path):
    release = _release_copy(tmp_path)
    with (release / "seq2seq" / "attention.py").open("a", encoding="utf-8") as module:
        module.write("\ndef (\n")
    done = run_seq2seq(release, "submit")
    assert done.returncode == 2 and "seq2seq/attention.py raises SyntaxError" in done.stderr, done.stderr
    assert not (release / submitting.DEFAULT_OUT).exists()
    done = run_seq2seq(release, "check", "Q13")  # the command line itself does not import attention.py
    assert done.returncode == 1 and "test_model.py: the test file could not be loaded" in done.stdout, done.stderr


def test_submit_refuses_what_the_grader_leaves_out_within_the_same_limits(tmp_path):
    assert (submitting.MAX_ENTRIES, submitting.MAX_BYTES, submitting.MAX_DEPTH) == \
        (LIMITS.files, LIMITS.bytes, LIMITS.depth)
    package = tmp_path / "seq2seq"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"skipped")
    (package / "notes.md").symlink_to(tmp_path / "anywhere.md")
    os.mkfifo(package / "pipe")
    (tmp_path / "outside.py").write_text("x = 1\n", encoding="utf-8")
    os.link(tmp_path / "outside.py", package / "linked.py")
    left_out = read_package(tmp_path).left_out
    assert len(left_out) == 3
    with pytest.raises(submitting.SubmitError) as error:
        submitting.package_files(package)
    for entry in left_out:
        assert entry.split(" (")[0] + " (" in str(error.value), (entry, str(error.value))
    for name in ("notes.md", "pipe", "linked.py"):
        (package / name).unlink()
    deep = package.joinpath(*["d"] * LIMITS.depth)
    deep.mkdir(parents=True)
    assert set(submitting.package_files(package)) == set(read_package(tmp_path).files) == {"seq2seq/__init__.py"}
    (deep / "d").mkdir()
    with pytest.raises(Refused, match="folders deep"):
        read_package(tmp_path)
    with pytest.raises(submitting.SubmitError, match="folders deep"):
        submitting.package_files(package)


def test_the_zip_is_never_written_inside_the_package(tmp_path):
    with pytest.raises(submitting.SubmitError, match="inside seq2seq/"):
        submitting.write_zip({}, SOLUTION / "seq2seq" / "x.zip", SOLUTION / "seq2seq")
    out = submitting.write_zip({"seq2seq/__init__.py": SOLUTION / "seq2seq" / "__init__.py"}, tmp_path)
    assert out == tmp_path / submitting.DEFAULT_OUT and zipfile.ZipFile(out).namelist() == ["seq2seq/__init__.py"]


# ================================================================================================ question ids
def test_the_known_questions_come_from_the_package_docstrings():
    assert checks.known_questions(SOLUTION / "seq2seq") == QUESTIONS == checks.known_questions(STUB / "seq2seq")
    assert list(checks.unanswered(STUB / "seq2seq")) == QUESTIONS
    assert checks.unanswered(SOLUTION / "seq2seq") == {}


def test_an_unknown_question_is_an_error_that_lists_the_questions(capsys):
    for question in (UNKNOWN, "Q0"):
        with pytest.raises(ValueError, match=rf"unknown question '{question}': the questions are Q1 to {QUESTIONS[-1]}"):
            checks.check(question)
    assert capsys.readouterr().out == ""
    done = run_seq2seq(SOLUTION, "check", UNKNOWN)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"unknown question '{UNKNOWN}': the questions are Q1 to {QUESTIONS[-1]}" in done.stderr and done.stdout == ""


@pytest.mark.slow
def test_check_all_lists_its_results_in_question_order():
    """On the release every question's visible checks all fail, each saying the stub is not implemented yet (with
    tests/test_public_checks.py's run on the solution: every visible check tells the two apart)."""
    done = run_seq2seq(STUB, "check", "all")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.findall(r"^(Q\d+): ", done.stdout, re.M) == QUESTIONS, done.stdout
    counts = re.findall(r"^Q\d+: (\d+) of (\d+) visible checks failed:$", done.stdout, re.M)
    assert len(counts) == len(QUESTIONS) and all(failed == total for failed, total in counts), done.stdout
    failures = re.findall(r"^  x test_q\d+_\w+: (.*)$", done.stdout, re.M)
    assert len(failures) == sum(int(total) for _, total in counts), done.stdout
    assert all("NotImplementedError" in line for line in failures), done.stdout
    assert done.stdout.rstrip().splitlines()[-1].startswith("ALL: some visible checks failed")


# ============================================================================================ what the release says
def _readme() -> str:
    return (STUB / "README.md").read_text(encoding="utf-8")


def _markdown_cells() -> list[str]:
    cells = json.loads((STUB / NOTEBOOK).read_text(encoding="utf-8"))["cells"]
    return ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown"]


def _mentioned_paths(text: str) -> set[str]:
    """File and folder paths in the code of a markdown text (`spans` and fenced blocks), URLs left out."""
    code = re.findall(r"```.*?```|`[^`\n]+`", text, re.S)
    found = set()
    for snippet in (re.sub(r"\w+://\S+", " ", s) for s in code):
        found |= set(re.findall(r"(?<![\w./\\-])((?:[\w.-]+/)+[\w.-]*|[\w.-]+\.(?:py|txt|yml|yaml|ipynb|md|ini|"
                                r"zip|json|csv|cfg|toml))(?![\w/*])", snippet))
    return found


def test_every_file_the_readme_and_the_notebook_mention_is_in_the_release():
    mentioned = _mentioned_paths(_readme())
    for cell in _markdown_cells():
        mentioned |= _mentioned_paths(cell)
    assert {"requirements.txt", "environment.yml", NOTEBOOK, "seq2seq/attention.py"} <= mentioned
    for release in (STUB, SOLUTION):
        missing = sorted(path for path in mentioned if not (release / path).exists()
                         and not path.startswith(MADE_BY_THE_STUDENT))
        assert not missing, f"{release.relative_to(REPO)} lacks {missing}"


def test_the_readme_maps_the_notebook_sections_to_the_modules_of_their_questions():
    rows = re.findall(r"^\| (\d+)\. ([^|]+?) +\| ([^|]*?) *\| ([^|]*?) *\|$", _readme(), re.M)
    headings = [re.match(r"## (\d+)\. (.*)", cell)[2] for cell in _markdown_cells() if re.match(r"## \d+\. ", cell)]
    assert [title for _, title, _, _ in rows] == headings
    found, _ = checks.definitions(STUB / "seq2seq")
    covered = []
    for _, title, module, questions in rows:
        if not questions:
            continue
        first, last = map(int, re.fullmatch(r"Q(\d+)–Q(\d+)", questions).groups())
        name = re.fullmatch(r"`seq2seq/(\w+\.py)`", module)[1]
        asked = sorted({d.question for d in found if d.module == name and d.question}, key=lambda q: int(q[1:]))
        assert asked == [f"Q{n}" for n in range(first, last + 1)], title
        covered += asked
    assert covered == QUESTIONS


def test_the_readme_commands_are_the_ones_tested_here():
    commands = set(re.findall(r"^python -m seq2seq ([^#\n]+?)\s*(?:#.*)?$", _readme(), re.M))
    assert commands == {"check Q4", "check all", "submit"}
    assert "python3.11 -m venv .venv" in _readme() and "pip install -r requirements.txt" in _readme()
    assert "--index-url https://download.pytorch.org/whl/cpu" in _readme()


def test_the_shipped_environment_yml_agrees_with_the_repository_s():
    def settings(path: Path) -> list[str]:
        return [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    assert settings(STUB / "environment.yml") == settings(REPO / "environment.yml")


def test_the_notebook_says_how_to_install_before_any_cell_imports_torch():
    cells = json.loads((STUB / NOTEBOOK).read_text(encoding="utf-8"))["cells"]
    texts = ["".join(cell["source"]) for cell in cells]
    install = next(i for i, text in enumerate(texts) if "pip install -r requirements.txt" in text)
    torch = next(i for i, (cell, text) in enumerate(zip(cells, texts))
                 if cell["cell_type"] == "code" and re.search(r"^\s*(import|from) torch\b", text, re.M))
    assert install < torch and "python3.11 -m venv .venv" in texts[install] and "README.md" in texts[install]
