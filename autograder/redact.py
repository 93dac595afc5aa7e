"""The second line of defence for hidden code: no text a student's code controls carries it out.

Children cannot read the checks or the reference solution (``landlock.py``, their own uid) and never have them in
memory (they import the probes only), but a kernel without Landlock, or a grader mistake, should still not let
student code print or raise hidden code into its own feedback. Every piece of text that student code controls
(what it printed, its error messages, every string it returned, which a check's message may quote) goes through
:func:`redact`, which removes each line that shares a run of ``WINDOW`` characters with the *code* of the hidden
graders (the checks, and the probes with their stand-in implementations: names, operators, numbers, comments) or
of the reference solution's answers (its code lines that the student release does not have), or equals a whole
line of the graders' files (``SHORTEST`` characters or more, docstrings included), compared without white space
(and, for the code, without quoted strings). Tails of long texts are cut at line starts (:func:`tail`) so that lines are
compared whole. The checks' own messages are not filtered: they are what feedback is meant to show.
"""
from __future__ import annotations

import functools
import io
import re
import tokenize
from pathlib import Path
from typing import Any

from autograder.provided import RELEASE

GRADERS_DIR = Path(__file__).resolve().parent / "graders"
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "solutions" / "attention_seq2seq" / "seq2seq"
PROBES_DIR = Path(__file__).resolve().parent / "probes"  # hidden too: the stand-in implementations live there
WINDOW = 32
SHORTEST = 16
REMOVED = "[a line that quotes hidden code (the autograder's or the reference solution's) was removed]"
_SKIPPED = {tokenize.STRING, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
            tokenize.ENDMARKER}  # Python 3.11: an f-string is one STRING token


def _code_lines(source: str) -> list[str]:
    """Each line's code without string literals and white space."""
    lines: dict[int, list[str]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in _SKIPPED and not (token.type == tokenize.NAME and token.string in ("import", "from")):
            lines.setdefault(token.start[0], []).append(token.string)
    return ["".join("".join(parts).split()) for parts in lines.values()]


def hidden_sources() -> list[Path]:
    """The files whose code must never reach a student."""
    return sorted([*GRADERS_DIR.glob("*.py"), *PROBES_DIR.glob("*.py")])


def code_lines(path: Path) -> list[str]:
    """``path``'s code lines as :func:`redact` compares them (no strings, no white space)."""
    return _code_lines(path.read_text(encoding="utf-8"))


def reference_lines() -> list[str]:
    """The reference solution's answers: its code lines (as :func:`code_lines`) that the release's module of the
    same name does not have (all of them where there is no release beside it)."""
    lines = []
    for path in sorted(REFERENCE_DIR.glob("*.py")):
        release = RELEASE / path.name
        if release.is_file() and release.read_bytes() == path.read_bytes():
            continue  # provided code, the same in both: nothing of it is hidden
        given = set(code_lines(release)) if release.is_file() else set()
        lines += [line for line in code_lines(path) if line not in given]
    return lines


@functools.cache
def _windows() -> frozenset[str]:
    found: set[str] = set()
    for line in [*(line for path in hidden_sources() for line in code_lines(path)), *reference_lines()]:
        found.update(line[i:i + WINDOW] for i in range(len(line) - WINDOW + 1))
    return frozenset(found)


def _normalise(line: str) -> str:
    """A line of text as it is compared: quoted strings and white space taken out (as the code lines are)."""
    return "".join(_QUOTED.sub("", line).split())


_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'")


@functools.cache
def _lines() -> frozenset[str]:
    """Every whole line of the hidden files (docstrings and imports too), white space taken out."""
    return frozenset(line for path in hidden_sources() for raw in path.read_text(encoding="utf-8").splitlines()
                     if len(line := "".join(raw.split())) >= SHORTEST)


def quotes_graders(line: str) -> bool:
    """Whether ``line`` holds ``WINDOW`` characters of the hidden graders' code (white space and quoted strings
    ignored on both sides), or is one whole line of those files of ``SHORTEST`` characters or more (white space
    ignored)."""
    if "".join(line.split()) in _lines():
        return True
    squeezed, windows = _normalise(line), _windows()
    return any(squeezed[i:i + WINDOW] in windows for i in range(len(squeezed) - WINDOW + 1))


def tail(text: str, size: int) -> str:
    """The last ``size`` characters of ``text`` or fewer, starting at a line's beginning (so that lines are
    compared whole)."""
    if len(text) <= size:
        return text
    cut = text[-size:]
    return cut[cut.index("\n") + 1:] if "\n" in cut else ""


def redact(text: str) -> str:
    """``text`` with every line that quotes the check modules' code replaced by a notice."""
    return "\n".join(REMOVED if quotes_graders(line) else line for line in text.split("\n"))


def scrub(value: Any) -> Any:
    """``value`` (a student's probe output: plain data) with every string, dict keys included, redacted."""
    if isinstance(value, str):
        return redact(value)
    if type(value) in (list, tuple):
        return type(value)(scrub(item) for item in value)
    if type(value) is dict:
        return {scrub(key): scrub(item) for key, item in value.items()}
    return value
