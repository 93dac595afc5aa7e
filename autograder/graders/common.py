"""What the check modules share: reading a probe's output with hints for the student's likely mistake
(:func:`hinted`), and comparing tensors (:func:`close`, :func:`shape`).

Not a check module (no ``grade_`` prefix: pytest does not collect it); like the checks, imported by the deciding
process only. A check module imports this module, probe modules and the registry, never another check module or
the harness (``tests/test_autograder_layout.py``).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from autograder.harness import Outputs, StudentCodeError

ATOL = 1e-5


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


def close(a: Any, b: Any, atol: float = ATOL) -> bool:
    """``a`` and ``b`` are tensors of the same shape, equal to ``atol`` (absolute and relative), in float64."""
    return (isinstance(a, Tensor) and isinstance(b, Tensor) and a.shape == b.shape
            and torch.allclose(a.double(), b.double(), atol=atol, rtol=atol))


def shape(value: Any) -> list[int] | str:
    """A tensor's shape as a list, or the type name of anything else (for messages and shape checks)."""
    return list(value.shape) if isinstance(value, Tensor) else type(value).__name__
