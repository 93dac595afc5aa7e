"""A generated class of submissions, for tests and benchmarks that need many students (grade-all, the report,
exports): copies of the solution, the untouched stub release, catalogued mutants (the realistic mistakes of the
graders' own tests, each shown there to cost its question), partial answers (the solution with some modules
replaced by the stub's), and empty folders (no submission: flagged).

    members = build_class(root, MIXED)     # writes root/s00/seq2seq/..., ...; returns {"s00": Member, ...}
    grade_all(root, out, questions=MIXED_QUESTIONS)

``MIXED`` is a class of 44 whose mistakes all fall in ``MIXED_QUESTIONS``, six quick questions (about 0.5 s per
student together once the reference is computed), and whose most frequent mistake is planted in Q13:
``Q13 missing_sqrt`` (dot-product scores divided by d, not sqrt(d)), 10 students.
"""
from __future__ import annotations

import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import SOLUTION, STUB, catalogue

IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.ipynb")


@dataclass(frozen=True)
class Member:
    """One student of a generated class."""

    kind: str                      # "solution", "stub", "mutant", "partial" or "empty"
    mutant: str = ""               # kind "mutant": its name in tests.helpers.catalogue(), e.g. "Q13 missing_sqrt"
    modules: tuple[str, ...] = ()  # kind "partial": the files taken from the stub, e.g. ("seq2seq/attention.py",)

    def __str__(self) -> str:
        detail = {"mutant": f" {self.mutant}", "partial": f" (stub's {', '.join(self.modules)})"}
        return self.kind + detail.get(self.kind, "")


def solution() -> Member:
    return Member("solution")


def stub() -> Member:
    return Member("stub")


def bug(name: str) -> Member:
    if name not in catalogue():
        raise KeyError(f"no mutant {name!r} in the catalogue")
    return Member("mutant", mutant=name)


def partial(*modules: str) -> Member:
    missing = [m for m in modules if not (STUB / m).is_file()]
    if missing or not modules:
        raise ValueError(f"no such stub modules: {missing or 'none given'}")
    return Member("partial", modules=tuple(modules))


def empty() -> Member:
    return Member("empty")


def _write(member: Member, target: Path) -> None:
    if member.kind == "empty":
        target.mkdir(parents=True)
    elif member.kind in ("solution", "stub"):
        shutil.copytree(SOLUTION if member.kind == "solution" else STUB, target, ignore=IGNORE)
    elif member.kind == "partial":
        shutil.copytree(SOLUTION, target, ignore=IGNORE)
        for module in member.modules:
            shutil.copyfile(STUB / module, target / module)
    elif member.kind == "mutant":
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copytree(catalogue()[member.mutant].build(Path(tmp)), target, ignore=IGNORE)
    else:
        raise ValueError(f"unknown kind of student: {member.kind!r}")


def build_class(root: Path, plan: list[Member], *, nbgrader: bool = False, prefix: str = "s") -> dict[str, Member]:
    """Write one folder per member of ``plan``: ``root/<prefix>00/seq2seq/...`` (or nbgrader's
    ``root/submitted/<id>/attention_seq2seq/seq2seq/...``); return ``{student id: Member}``, in id order."""
    members = {f"{prefix}{i:02d}": member for i, member in enumerate(plan)}
    for student, member in members.items():
        folder = root / "submitted" / student / "attention_seq2seq" if nbgrader else root / student
        _write(member, folder)
    return members


MIXED_QUESTIONS = ["Q4", "Q7", "Q12", "Q13", "Q14", "Q17"]
_ATT, _DEC, _DATA, _ENV = "seq2seq/attention.py", "seq2seq/decoder.py", "seq2seq/data.py", "seq2seq/environment.py"
MIXED: list[Member] = [
    *[solution()] * 6, *[stub()] * 4,
    partial(_ATT), partial(_ENV), partial(_DEC), partial(_DATA), partial(_ENV, _ATT), partial(_DATA, _DEC),
    *[bug("Q13 missing_sqrt")] * 10, *[bug("Q13 additive_without_tanh")] * 3, *[bug("Q13 additive_with_bias")] * 2,
    *[bug("Q12 mask_after_softmax")] * 3, *[bug("Q12 softmax_wrong_axis")] * 2,
    *[bug("Q14 context_from_keys")] * 2, *[bug("Q17 projection_order_swapped")] * 2,
    *[bug("Q4 python unseeded")] * 2, bug("Q7 specials after the tokens"), empty(),
]
random.Random(15).shuffle(MIXED)  # students of every kind throughout the id range, the same order every time
