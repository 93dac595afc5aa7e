"""Provided code comes from the release when grading (autograder/provided.py): a submission that deleted, edited
or kept an older copy of provided code neither loses nor gains points by it, and its answers are graded as
written (helpers, imports and extra methods included)."""
from __future__ import annotations

import ast
import shutil
import textwrap
from pathlib import Path

import pytest

from autograder.provided import RELEASE, Overlay, merge_module, overlay
from autograder.submission import read_package
from tests.helpers import SOLUTION, STUB, graded

RELEASE_TEXT = textwrap.dedent('''\
    """A module with two questions."""
    from __future__ import annotations

    import math

    SCALE = 2


    def provided(x):
        return x * SCALE


    def answer(x):
        """Q1."""
        # YOUR CODE HERE
        raise NotImplementedError()


    class Model:
        """Half provided."""

        size = 3

        def __init__(self):
            self.n = 1

        def forward(self, x):
            # YOUR CODE HERE
            raise NotImplementedError()
    ''')


def _merged(student: str) -> tuple[str, Overlay]:
    report = Overlay()
    return merge_module(RELEASE_TEXT, textwrap.dedent(student), "m.py", report), report


def _run(code: str) -> dict:
    scope: dict = {}
    exec(compile(code, "m.py", "exec"), scope)  # noqa: S102 (our own test text)
    return scope


def test_answers_kept_provided_code_restored():
    student = RELEASE_TEXT.replace("return x * SCALE", "return -1").replace("SCALE = 2", "SCALE = 5")
    student = student.replace('''    """Q1."""
    # YOUR CODE HERE
    raise NotImplementedError()''', '''    """Q1."""
    return _helper(x) + math.floor(0.5)''')
    student = student.replace('''    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError()''', '''    def forward(self, x):
        return self._twice(x) + self.n

    def _twice(self, x):
        return 2 * x''')
    student = student.replace("self.n = 1", "self.n = 100") + "\n\ndef _helper(x):\n    return provided(x) + 1\n"
    code, report = _merged(student)
    scope = _run(code)
    assert scope["provided"](1) == 2 and scope["SCALE"] == 2
    assert scope["answer"](1) == 3                      # the student's answer and helper, the release's provided()
    assert scope["Model"]().forward(1) == 3             # the student's methods, the release's __init__
    assert sorted(report.replaced) == ["m.py Model.__init__", "m.py SCALE", "m.py provided"]
    assert "neither cost nor earned points" in report.note()


def test_deleted_provided_definitions_come_back():
    student = '''\
        import math

        def answer(x):
            return provided(x) + math.pi * 0

        class Model:
            def forward(self, x):
                return x + self.n
        '''
    code, report = _merged(student)
    scope = _run(code)
    assert scope["answer"](2) == 4 and scope["Model"]().forward(1) == 2 and scope["Model"].size == 3
    assert sorted(report.restored) == ["m.py Model.__init__", "m.py provided"]


def test_unanswered_stays_a_stub_and_reindented_answers_work():
    student = RELEASE_TEXT.replace('''    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError()''', '''    def forward(self, x):
        return x''').replace("    ", "  ")  # two-space indentation throughout
    code, _ = _merged(student)
    scope = _run(code)
    assert scope["Model"]().forward(7) == 7
    with pytest.raises(NotImplementedError):
        scope["answer"](1)


def test_a_module_that_does_not_parse_is_graded_as_written():
    broken = RELEASE_TEXT.replace("return x * SCALE", "return x *")
    assert _merged(broken)[0] == broken


def test_edited_docstrings_and_comments_are_no_change():
    student = RELEASE_TEXT.replace('"""A module with two questions."""', '"""My notes."""\n# a comment')
    code, report = _merged(student)
    assert not report.replaced and not report.restored
    ast.parse(code)


def test_the_release_and_the_solution_are_their_own_overlay():
    for folder in (SOLUTION, STUB):
        tree = read_package(folder)
        before = dict(tree.files)
        report = overlay(tree, RELEASE)
        assert tree.files == before and not report.note()


def test_missing_and_edited_provided_modules(tmp_path):
    sub = tmp_path / "s"
    shutil.copytree(SOLUTION, sub, ignore=shutil.ignore_patterns("__pycache__"))
    (sub / "seq2seq" / "checkpoint.py").unlink()
    (sub / "seq2seq" / "search.py").write_text("raise ImportError('old copy')\n", encoding="utf-8")
    tree = read_package(sub)
    report = overlay(tree, RELEASE)
    assert tree.files == read_package(SOLUTION).files
    assert report.restored == ["checkpoint.py"] and report.replaced == ["search.py"]


def _without_provided(tmp: Path) -> Path:
    """The solution with every provided module deleted (the modules with no question in the release)."""
    sub = tmp / "deleted"
    shutil.copytree(SOLUTION, sub, ignore=shutil.ignore_patterns("__pycache__"))
    for path in RELEASE.glob("*.py"):
        if "# YOUR CODE HERE" not in path.read_text(encoding="utf-8"):
            (sub / "seq2seq" / path.name).unlink()
    return sub


def _edited_provided(tmp: Path) -> Path:
    """The solution with provided code edited to return wrong values: a module with no question (corpora.py, which
    Q5's probe calls; search.py, which the evaluation questions call) and provided parts of answered modules."""
    sub = tmp / "edited"
    shutil.copytree(SOLUTION, sub, ignore=shutil.ignore_patterns("__pycache__"))
    pkg = sub / "seq2seq"
    for name in ("corpora.py", "search.py"):
        text = (pkg / name).read_text(encoding="utf-8")
        (pkg / name).write_text(text + "\n\ndef __getattr__(name):\n    return None\n", encoding="utf-8")
    corpora = (pkg / "corpora.py").read_text(encoding="utf-8")
    first = corpora.index("def load_tatoeba")
    (pkg / "corpora.py").write_text(corpora[:first] + "def load_tatoeba(*a, **k):\n    return [], [], []\n\n\n"
                                    "def _unused" + corpora[first + len("def load_tatoeba"):], encoding="utf-8")
    data = (pkg / "data.py").read_text(encoding="utf-8")
    (pkg / "data.py").write_text(data.replace("        return len(self.itos)\n", "        return 0\n", 1),
                                 encoding="utf-8")
    return sub


@pytest.mark.slow
def test_provided_code_neither_costs_nor_earns_points(tmp_path):
    """Acceptance: the solution's answers with every provided module deleted, and with provided code edited to
    return wrong values, score exactly what they score on the untouched release (full marks), and the feedback
    says the edits were not graded."""
    expected, _ = graded(SOLUTION)
    for build in (_without_provided, _edited_provided):
        scores, _ = graded(build(tmp_path))
        assert scores == expected, (build.__name__, {q: s for q, s in scores.items() if s != expected[q]})


def test_a_folder_where_a_given_module_belongs_gives_way(tmp_path):
    """A submission holding a folder named ``checkpoint.py`` (with a file in it): the release's module takes its
    place, and the tree can still be written (a student-made shape never becomes the grader's failure)."""
    sub = tmp_path / "s"
    shutil.copytree(SOLUTION, sub, ignore=shutil.ignore_patterns("__pycache__"))
    (sub / "seq2seq" / "checkpoint.py").unlink()
    (sub / "seq2seq" / "checkpoint.py" / "inner").mkdir(parents=True)
    (sub / "seq2seq" / "checkpoint.py" / "inner" / "x.py").write_text("x = 1\n")
    tree = read_package(sub)
    report = overlay(tree, RELEASE)
    assert tree.files == read_package(SOLUTION).files and report.restored == ["checkpoint.py"]
    written = tree.write(tmp_path / "staged")
    assert (written / "seq2seq" / "checkpoint.py").read_bytes() == (RELEASE / "checkpoint.py").read_bytes()
