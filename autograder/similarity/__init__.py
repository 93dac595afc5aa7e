"""Code similarity between students, question by question: ``python -m autograder similarity SUBMISSIONS_DIR
--out SIM_DIR``.

    extract.py    which code a student wrote (the release's given code and stubs never count) and for which
                  question (the map function -> question comes from source/'s solution regions)
    normalise.py  what is compared: tokens read off the syntax tree, names, layout, comments and order aside
    compare.py    what a pair shares that independent students would not (the reference solution's code and
                  code common in the class discounted), per question and overall, and when a pair is flagged
    report.py     overall.csv, questions.csv, index.html and a side-by-side page per pair

SUBMISSIONS_DIR has the layouts grade-all reads (``autograder.bulk.find_submissions``). No student code runs:
submissions are parsed, never imported.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder.similarity.compare import DEFAULTS, Settings, score_class
from autograder.similarity.extract import RELEASE, SOURCE, load_release, read_submission
from autograder.similarity.report import write


@dataclass(frozen=True)
class Summary:
    """What one run found, for the command's last line."""

    students: int
    pairs_flagged: int
    pages: int
    pages_omitted: int
    problems: int


def similarity(root: Path, out: Path, settings: Settings = DEFAULTS, *, release: Path = RELEASE,
               source: Path = SOURCE, reference: Path | None = SOURCE, max_pages: int = 500) -> Summary:
    """Compare every submission under ``root`` with every other and write the report to ``out``.

    ``reference``: the package whose answers are expected (the reference solution: ``source/``'s, whose solution
    regions are plain code); None: none, every shared fingerprint is weighed by the class alone.

    Raises:
        ValueError: ``root`` holds no student folder, or the release does not match ``source/``.
    """
    from autograder.bulk import class_folder, find_submissions

    found = find_submissions(root)
    if not found:
        raise ValueError(f"{root} holds no student folder")
    modules = load_release(release, source)
    below = class_folder(root)
    submissions = [read_submission(student, None if folder is None else folder / "seq2seq", modules, below=below)
                   for student, folder in found.items()]
    expected = None if reference is None else read_submission("(reference solution)", reference, modules)
    table = score_class(submissions, settings, expected)
    counts = write(out, submissions, table, settings, max_pages=max_pages)
    return Summary(len(submissions), counts["pairs_flagged"], counts["pages"], counts["pages_omitted"],
                   sum(len(s.problems) for s in submissions))
