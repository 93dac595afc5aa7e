"""What the check modules share: reading a probe's output with hints for the student's likely mistake
(:func:`hinted`).

Not a check module (no ``grade_`` prefix: pytest does not collect it); like the checks, imported by the deciding
process only.
"""
from __future__ import annotations

from typing import Any

from autograder.harness import Outputs, StudentCodeError


def hinted(out: Outputs, name: str, hints: dict[str, str]) -> Any:
    """``out[name]``, the student's output of probe ``name``; when the student's code failed there, with an error
    whose text contains a key of ``hints``, the check fails with that error and the key's hint (the likely cause,
    in the student's terms; the first key found wins)::

        got = hinted(out, "q24_perplexity", {"OverflowError": "math.exp overflows for large losses: catch ..."})

    Any other failure of the student's code is reported as it is ("your code failed: ...")."""
    try:
        return out[name]
    except StudentCodeError as error:
        text = str(error)
        for clue, hint in hints.items():
            if clue in text:
                raise AssertionError(f"your code failed: {text}\n{hint}") from None
        raise
